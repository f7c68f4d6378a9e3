/// @file transport.h
/// @brief Connection: one TCP connection, plain or TLS, with STARTTLS upgrade in place; every
///        connect, read, write and handshake under a timeout; one capped read buffer.
///
/// Asio (standalone), C++20 coroutines: every operation is an `asio::awaitable` returning
/// `Result<...>` (never throws for network events). Use it from one thread (one io_context,
/// or a strand): at most one read and one write may be in flight at a time.
///
/// Timeouts (Timeouts, per connection; each read/write call can pass its own):
///  - read: a timeout cancels only that read and returns errc::timeout; the connection stays
///    usable (a scenario's "no reply within T" is a read timeout), plain and TLS alike;
///  - connect, write, TLS handshake, shutdown: a timeout is fatal, the socket is closed.
///
/// STARTTLS: after the plain exchange (e.g. "STARTTLS" / "220"), call start_tls_client() (or
/// start_tls_server()). The TCP socket stays; an asio::ssl::stream is layered over it. Bytes
/// that were already read in plain text are never lost: whatever the caller passes as
/// `already_read` is replayed into the TLS engine before the socket is read again (and counted
/// in replayed_into_tls()); bytes it does not pass were delivered to it and are its to account
/// for (e.g. a response injection after "220" is the session's finding, not TLS input).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl/stream.hpp>

#include "net/address.h"
#include "net/error.h"
#include "net/tls.h"

namespace smtp::net {

using Millis = std::chrono::milliseconds;

/// Per-operation timeouts. Defaults follow RFC 5321 §4.5.3.2 in spirit (minutes for replies);
/// the CLI's --timeout and the tests set them much shorter.
struct Timeouts {
  Millis connect{10'000};
  Millis tls_handshake{10'000};
  Millis read{300'000};  ///< RFC 5321 §4.5.3.2: 5 minutes for most replies
  Millis write{60'000};
  Millis shutdown{1'000};  ///< TLS close_notify exchange on shutdown()
};

struct ConnectionOptions {
  Timeouts timeouts;
  /// Size of the connection's only read buffer: the cap on the bytes one read returns.
  std::size_t read_chunk = 16 * 1024;
  /// Allow targets outside 127.0.0.0/8 and ::1 (see address.h). Never set in tests.
  bool allow_non_loopback = false;
};

enum class Transport : std::uint8_t { plain, tls };

namespace detail {

/// The layer under asio::ssl::stream: the connection's own TCP socket, with a replay buffer
/// served first (bytes that were read before the upgrade and belong to the TLS handshake).
class ReplaySocket {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;
  using lowest_layer_type = asio::ip::tcp::socket::lowest_layer_type;

  ReplaySocket(asio::ip::tcp::socket& socket, std::string replay)
      : socket_(&socket), replay_(std::move(replay)) {}

  executor_type get_executor() noexcept { return socket_->get_executor(); }
  lowest_layer_type& lowest_layer() noexcept { return socket_->lowest_layer(); }
  const lowest_layer_type& lowest_layer() const noexcept { return socket_->lowest_layer(); }
  [[nodiscard]] std::size_t replay_pending() const noexcept { return replay_.size() - pos_; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& bufs) {
          if (pos_ < replay_.size()) {
            const std::size_t n = asio::buffer_copy(bufs, asio::buffer(replay_) + pos_);
            pos_ += n;
            if (pos_ == replay_.size()) {
              replay_.clear();
              pos_ = 0;
            }
            auto ex = asio::get_associated_executor(handler, socket_->get_executor());
            asio::post(
                ex, [h = std::move(handler), n]() mutable { std::move(h)(std::error_code{}, n); });
          } else {
            socket_->async_read_some(bufs, std::move(handler));
          }
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return socket_->async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  asio::ip::tcp::socket* socket_;
  std::string replay_;
  std::size_t pos_ = 0;
};

}  // namespace detail

/// One connection (client or accepted), plain or TLS. Not copyable or movable: hold it in a
/// unique_ptr or a coroutine frame; keep it alive until its operations complete.
class Connection {
 public:
  using executor_type = asio::any_io_executor;

  /// An unconnected client connection; call connect().
  explicit Connection(const executor_type& executor, ConnectionOptions options = {});
  /// A connection around an accepted socket (server side).
  explicit Connection(asio::ip::tcp::socket socket, ConnectionOptions options = {});
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  /// Parse "HOST:PORT" / "[V6]:PORT", resolve without DNS under the loopback policy, connect
  /// to each candidate endpoint in turn (timeouts.connect each). Errors (op resolve/connect):
  /// errc::bad_address, name_not_allowed, not_loopback, timeout, or the system code
  /// (e.g. asio::error::connection_refused) with "connect to 127.0.0.1:25 failed: ...".
  [[nodiscard]] asio::awaitable<Result<void>> connect(std::string_view target);
  [[nodiscard]] asio::awaitable<Result<void>> connect(const Target& target);

  /// Client TLS handshake over this connection: implicit TLS right after connect(), or the
  /// STARTTLS upgrade after the server's 220. `already_read`: plain-text bytes already read
  /// that belong to the TLS stream (replayed into the engine first). Fills tls_info() (also on
  /// failure, as far as known). Errors (op tls_handshake, fatal: the connection is closed):
  /// errc::tls_handshake with OpenSSL's reason ("certificate verify failed (self-signed
  /// certificate)", "wrong version number"), errc::timeout, errc::closed, errc::already_tls,
  /// errc::not_connected, errc::tls_setup.
  [[nodiscard]] asio::awaitable<Result<void>> start_tls_client(const ClientTls& tls,
                                                               std::string_view already_read = {});
  /// Server TLS handshake (implicit-TLS listener, or after answering "220" to STARTTLS).
  /// Same errors and replay rule as start_tls_client().
  [[nodiscard]] asio::awaitable<Result<void>> start_tls_server(const ServerTls& tls,
                                                               std::string_view already_read = {});

  /// Read what arrives, at most options().read_chunk bytes. The view is valid until the next
  /// read or close. Errors (op read): errc::timeout (not fatal), errc::closed (peer closed;
  /// TLS without close_notify says so), errc::not_connected, or the system code.
  [[nodiscard]] asio::awaitable<Result<std::string_view>> read_some();
  [[nodiscard]] asio::awaitable<Result<std::string_view>> read_some(Millis timeout);

  /// Write all of `bytes`. Errors (op write): errc::timeout (fatal), errc::not_connected, or the
  /// system code (broken pipe, reset).
  [[nodiscard]] asio::awaitable<Result<void>> write(std::string_view bytes);
  [[nodiscard]] asio::awaitable<Result<void>> write(std::string_view bytes, Millis timeout);

  /// Graceful close: TLS close_notify (bounded by timeouts.shutdown), TCP shutdown, close.
  /// Never fails.
  asio::awaitable<void> shutdown();
  /// Abortive close: cancels pending operations. Idempotent.
  void close() noexcept;

  [[nodiscard]] bool is_open() const noexcept { return socket_.is_open(); }
  /// True once the peer closed its side (a read returned errc::closed).
  [[nodiscard]] bool peer_closed() const noexcept { return peer_closed_; }
  [[nodiscard]] Transport transport() const noexcept {
    return tls_ ? Transport::tls : Transport::plain;
  }
  /// Filled by the TLS handshake; empty before.
  [[nodiscard]] const TlsInfo& tls_info() const noexcept { return tls_info_; }
  /// "127.0.0.1:2525" (the peer), or the target text before connect.
  [[nodiscard]] const std::string& peer() const noexcept { return peer_; }
  /// Application bytes read/written (after TLS decryption / before encryption).
  [[nodiscard]] std::uint64_t bytes_read() const noexcept { return bytes_read_; }
  [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }
  /// Plain-text bytes handed back to the TLS engine by start_tls_*(already_read).
  [[nodiscard]] std::uint64_t replayed_into_tls() const noexcept { return replayed_into_tls_; }
  /// Capacity of the one read buffer (== options().read_chunk).
  [[nodiscard]] std::size_t read_buffer_size() const noexcept { return read_buffer_.size(); }

  [[nodiscard]] const ConnectionOptions& options() const noexcept { return options_; }
  /// Change timeouts between operations (e.g. a scenario step's own timeout).
  [[nodiscard]] Timeouts& timeouts() noexcept { return options_.timeouts; }
  [[nodiscard]] executor_type get_executor() noexcept { return socket_.get_executor(); }
  /// The TCP socket (e.g. for endpoints or socket options). Do not read or write it directly.
  [[nodiscard]] asio::ip::tcp::socket& socket() noexcept { return socket_; }

 private:
  asio::awaitable<Result<void>> handshake(bool client, std::string_view already_read);
  [[nodiscard]] std::string where(std::string_view what, Millis timeout) const;

  ConnectionOptions options_;
  asio::ip::tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // keeps OpenSSL's SSL_CTX alive
  std::unique_ptr<asio::ssl::stream<detail::ReplaySocket>> tls_;
  std::vector<char> read_buffer_;
  asio::cancellation_signal read_cancel_;
  TlsInfo tls_info_;
  std::string peer_;
  std::string target_host_;
  std::uint64_t bytes_read_ = 0;
  std::uint64_t bytes_written_ = 0;
  std::uint64_t replayed_into_tls_ = 0;
  bool peer_closed_ = false;
};

struct ListenOptions {
  bool allow_non_loopback = false;  ///< same policy as for targets
  int backlog = asio::socket_base::max_listen_connections;
};

/// Bind and listen on "HOST:PORT" (port 0: ephemeral; read acceptor.local_endpoint()).
/// Errors (op listen): errc::bad_address, name_not_allowed, not_loopback, or the system code
/// (address in use).
[[nodiscard]] Result<asio::ip::tcp::acceptor> listen(const asio::any_io_executor& executor,
                                                     std::string_view address,
                                                     ListenOptions options = {});

/// Accept one connection. Errors (op accept): the system code (operation_aborted when the
/// acceptor was closed).
[[nodiscard]] asio::awaitable<Result<std::unique_ptr<Connection>>> accept(
    asio::ip::tcp::acceptor& acceptor, ConnectionOptions options = {});

}  // namespace smtp::net
