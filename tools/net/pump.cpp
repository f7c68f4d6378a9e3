// Pump: Connection <-> bytes-in/bytes-out consumer, with timeouts, deadlines and caps.
#include "net/pump.h"

#include <algorithm>
#include <chrono>
#include <optional>

namespace smtp::net {

using Clock = std::chrono::steady_clock;

/// The deadline of one call, turned into per-operation timeouts.
struct Pump::Budget {
  Millis deadline{0};  // relative deadline, for messages (0: none or absolute only)
  std::optional<Clock::time_point> until;
  std::uint64_t max_input = 0;
  std::uint64_t read = 0;  // bytes read during this call

  explicit Budget(const RunLimits& limits) : max_input(limits.max_input) {
    const auto now = Clock::now();
    if (limits.deadline.count() > 0) {
      until = now + limits.deadline;
      deadline = limits.deadline;
    }
    if (limits.until && (!until || *limits.until < *until)) {
      until = limits.until;
      deadline = Millis{0};
    }
  }
  [[nodiscard]] bool expired() const { return until && Clock::now() >= *until; }
  /// The timeout for the next operation; `limited` says the deadline shortened it.
  [[nodiscard]] Millis timeout(Millis op_timeout, bool& limited) const {
    limited = false;
    if (!until) return op_timeout;
    const auto left = std::chrono::ceil<Millis>(*until - Clock::now());
    if (left < op_timeout) {
      limited = true;
      return std::max(left, Millis{0});
    }
    return op_timeout;
  }
  [[nodiscard]] Error deadline_error(const Connection& c, Op op, std::string_view what) const {
    const std::string peer = c.peer().empty() ? std::string{} : c.peer() + ": ";
    const std::string of = deadline.count() > 0
                               ? "deadline of " + std::to_string(deadline.count()) + " ms"
                               : std::string("deadline");
    return Error{make_error_code(errc::deadline), op,
                 peer + of + " passed during " + std::string(what), make_error_code(errc::timeout)};
  }
};

Pump::Pump(Connection& connection, PumpOptions options)
    : connection_(&connection), options_(options) {}

void Pump::note_peak(std::size_t chunk) noexcept {
  peak_buffered_ = std::max(peak_buffered_, input_.size() + output_.size() + chunk);
}

Result<void> Pump::send(std::string_view bytes) {
  if (output_.size() + bytes.size() > options_.max_output) {
    return fail(errc::output_limit, Op::queue,
                connection_->peer() + ": more than " + std::to_string(options_.max_output) +
                    " bytes of output queued");
  }
  output_.append(bytes);
  note_peak(0);
  return {};
}

std::string Pump::take_input() {
  std::string out;
  out.swap(input_);
  return out;
}

asio::awaitable<Result<void>> Pump::flush_within(const Budget& budget) {
  if (output_.empty()) co_return Result<void>{};
  bool limited = false;
  const Millis timeout = budget.timeout(options_.write_timeout, limited);
  if (limited && timeout.count() <= 0) {
    connection_->close();
    co_return tl::make_unexpected(budget.deadline_error(*connection_, Op::write, "write"));
  }
  const std::uint64_t before = connection_->bytes_written();
  auto written = co_await connection_->write(output_, timeout);
  bytes_out_ += connection_->bytes_written() - before;
  if (!written) {
    if (limited && written.error().is(errc::timeout)) {
      co_return tl::make_unexpected(budget.deadline_error(*connection_, Op::write, "write"));
    }
    co_return tl::make_unexpected(std::move(written.error()));
  }
  output_.clear();
  co_return Result<void>{};
}

asio::awaitable<Result<std::string_view>> Pump::read_within(const Budget& budget) {
  bool limited = false;
  const Millis timeout = budget.timeout(options_.read_timeout, limited);
  if (limited && timeout.count() <= 0) {
    co_return tl::make_unexpected(budget.deadline_error(*connection_, Op::read, "read"));
  }
  auto chunk = co_await connection_->read_some(timeout);
  if (!chunk) {
    if (limited && chunk.error().is(errc::timeout)) {
      co_return tl::make_unexpected(budget.deadline_error(*connection_, Op::read, "read"));
    }
    co_return tl::make_unexpected(std::move(chunk.error()));
  }
  bytes_in_ += chunk->size();
  note_peak(chunk->size());
  co_return *chunk;
}

asio::awaitable<Result<void>> Pump::flush(RunLimits limits) {
  const Budget budget(limits);
  co_return co_await flush_within(budget);
}

asio::awaitable<Result<void>> Pump::run(const InputHandler& on_input, RunLimits limits) {
  Budget budget(limits);
  if (budget.expired()) {
    co_return tl::make_unexpected(budget.deadline_error(*connection_, Op::read, "read"));
  }
  if (!input_.empty()) {
    const std::string pending = take_input();
    if (on_input(pending) == Flow::done) co_return co_await flush_within(budget);
  }
  for (;;) {
    if (auto flushed = co_await flush_within(budget); !flushed) co_return flushed;
    auto chunk = co_await read_within(budget);
    if (!chunk) co_return tl::make_unexpected(std::move(chunk.error()));
    budget.read += chunk->size();
    const Flow flow = on_input(*chunk);
    if (budget.max_input != 0 && budget.read > budget.max_input) {
      co_return fail(errc::input_limit, Op::read,
                     connection_->peer() + ": read " + std::to_string(budget.read) +
                         " bytes, more than the limit of " + std::to_string(budget.max_input));
    }
    if (flow == Flow::done) co_return co_await flush_within(budget);
  }
}

asio::awaitable<Result<std::string>> Pump::read_line(RunLimits limits) {
  Budget budget(limits);
  if (budget.expired()) {
    co_return tl::make_unexpected(budget.deadline_error(*connection_, Op::read, "read"));
  }
  std::size_t scan_from = 0;
  for (;;) {
    const auto pos = input_.find("\r\n", scan_from);
    if (pos != std::string::npos && pos + 2 <= options_.max_line) {
      std::string line = input_.substr(0, pos);
      input_.erase(0, pos + 2);
      co_return line;
    }
    if (pos != std::string::npos || input_.size() >= options_.max_line) {
      const std::size_t held = input_.size();
      input_.clear();
      co_return fail(errc::line_too_long, Op::read,
                     connection_->peer() + ": line longer than " +
                         std::to_string(options_.max_line) + " bytes without CRLF (" +
                         std::to_string(held) + " bytes buffered, dropped)");
    }
    scan_from = input_.empty() ? 0 : input_.size() - 1;
    if (auto flushed = co_await flush_within(budget); !flushed) {
      co_return tl::make_unexpected(std::move(flushed.error()));
    }
    auto chunk = co_await read_within(budget);
    if (!chunk) {
      Error error = std::move(chunk.error());
      if (error.is(errc::closed) && !input_.empty()) {
        error.message +=
            " in the middle of a line (" + std::to_string(input_.size()) + " bytes without CRLF)";
      }
      co_return tl::make_unexpected(std::move(error));
    }
    budget.read += chunk->size();
    input_.append(*chunk);
    if (budget.max_input != 0 && budget.read > budget.max_input) {
      co_return fail(errc::input_limit, Op::read,
                     connection_->peer() + ": read " + std::to_string(budget.read) +
                         " bytes, more than the limit of " + std::to_string(budget.max_input));
    }
  }
}

}  // namespace smtp::net
