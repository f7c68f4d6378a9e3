/// @file pump.h
/// @brief Pump: moves bytes between a Connection and a bytes-in / bytes-out consumer (a
///        ClientSession, a ServerSession, a test), with per-operation timeouts, an optional
///        deadline and input budget per call, and capped buffers.
///
/// Independent of the session classes: the consumer gets every chunk that arrives through a
/// callback (`Flow on_input(std::string_view)`) and queues what it wants written with send().
/// run() loops: write everything queued, read one chunk (at most the connection's read_chunk,
/// 16 KiB by default), hand it over, until the callback says Flow::done, the peer closes, or a
/// limit or timeout ends it. A line mode (read_line()) serves simple consumers and tests.
///
/// Memory: the only input buffer is the connection's read buffer (read_chunk), plus in line
/// mode one partial line (< max_line); queued output is capped at max_output. peak_buffered()
/// reports the most bytes the pump held at once (input chunk + partial line + queued output).
///
/// Timeouts: every read uses read_timeout, every write write_timeout, each shortened to what
/// is left of RunLimits::deadline; running out of the deadline gives errc::deadline (a read
/// deadline leaves the connection usable, a write one closes it, like Connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include "net/error.h"
#include "net/transport.h"

namespace smtp::net {

/// What the input callback wants next.
enum class Flow : std::uint8_t {
  more,  ///< keep reading
  done,  ///< stop: run() writes what is queued and returns success
};

struct PumpOptions {
  Millis read_timeout{300'000};      ///< per read (RFC 5321 §4.5.3.2: 5 minutes for most replies)
  Millis write_timeout{60'000};      ///< per write of the queued output
  std::size_t max_line = 64 * 1024;  ///< line mode: longest line incl. CRLF
  std::size_t max_output = 1024 * 1024;  ///< cap on queued, unwritten bytes
};

/// Limits of one run() / read_line() / flush() call.
struct RunLimits {
  Millis deadline{0};           ///< for the whole call; 0 = none (per-operation timeouts only)
  std::uint64_t max_input = 0;  ///< bytes read in this call; 0 = unlimited
  /// An absolute deadline spanning several calls (e.g. a scenario step); the earlier of this
  /// and `deadline` applies. A call that starts after it fails at once with errc::deadline.
  std::optional<std::chrono::steady_clock::time_point> until{};
};

class Pump {
 public:
  using InputHandler = std::function<Flow(std::string_view bytes)>;

  /// The connection must outlive the pump.
  explicit Pump(Connection& connection, PumpOptions options = {});

  /// Queue bytes for writing (written by the next flush(), run() or read_line()).
  /// Errors (op queue): errc::output_limit when more than max_output would be queued.
  [[nodiscard]] Result<void> send(std::string_view bytes);

  /// Write everything queued. Errors (op write): as Connection::write, errc::deadline.
  [[nodiscard]] asio::awaitable<Result<void>> flush(RunLimits limits = {});

  /// Flush, then read and hand each chunk to `on_input` until it returns Flow::done (then
  /// flush again and succeed). Bytes left over from read_line() are handed over first.
  /// Errors: errc::closed (peer closed: tell the session, e.g. receive_eof()), errc::timeout,
  /// errc::deadline, errc::input_limit (after the chunk that crossed it was handed over), and
  /// Connection's errors. The view passed to on_input is valid during the call only.
  [[nodiscard]] asio::awaitable<Result<void>> run(const InputHandler& on_input,
                                                  RunLimits limits = {});

  /// Line mode: flush, then return the next line without its CRLF (a bare LF stays in the
  /// text). Errors: errc::line_too_long (max_line bytes without CRLF; the partial line is
  /// dropped), errc::closed (with "in the middle of a line" when a partial line was pending),
  /// and those of run().
  [[nodiscard]] asio::awaitable<Result<std::string>> read_line(RunLimits limits = {});

  /// Input read by read_line() but not yet returned as a line; the pump forgets it. For
  /// STARTTLS: bytes after the "220" are either an injection to report or TLS bytes to pass
  /// to start_tls_*(already_read) - the caller decides.
  [[nodiscard]] std::string take_input();
  [[nodiscard]] std::string_view buffered_input() const noexcept { return input_; }
  [[nodiscard]] std::string_view pending_output() const noexcept { return output_; }

  /// Bytes held now / at most so far (input chunk + partial line + queued output).
  [[nodiscard]] std::size_t buffered() const noexcept { return input_.size() + output_.size(); }
  [[nodiscard]] std::size_t peak_buffered() const noexcept { return peak_buffered_; }
  [[nodiscard]] std::uint64_t bytes_in() const noexcept { return bytes_in_; }
  [[nodiscard]] std::uint64_t bytes_out() const noexcept { return bytes_out_; }

  [[nodiscard]] Connection& connection() noexcept { return *connection_; }
  [[nodiscard]] PumpOptions& options() noexcept { return options_; }

 private:
  struct Budget;
  asio::awaitable<Result<void>> flush_within(const Budget& budget);
  asio::awaitable<Result<std::string_view>> read_within(const Budget& budget);
  void note_peak(std::size_t chunk) noexcept;

  Connection* connection_;
  PumpOptions options_;
  std::string input_;   // line mode: unconsumed input (< max_line + one chunk)
  std::string output_;  // queued output (<= max_output)
  std::size_t peak_buffered_ = 0;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
};

}  // namespace smtp::net
