/// @file io_run.h
/// @brief Test helpers for smtp::net: run a coroutine on an io_context to completion (bounded),
///        and a tiny line-based reply reader for transport tests.
///
/// GoogleTest's ASSERT_* cannot be used inside coroutines (they `return`); test coroutines
/// return their observations and the test asserts after run_io().
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "net/error.h"
#include "net/pump.h"

namespace smtp::testing {

/// Run `task` on `io` until it completes (then call `on_done`, e.g. to stop test servers) and
/// until `io` runs out of work, at most `limit`. Rethrows the task's exception; throws if it
/// did not finish within the limit.
template <class T>
T run_io(asio::io_context& io, asio::awaitable<T> task, const std::function<void()>& on_done = {},
         std::chrono::seconds limit = std::chrono::seconds(60)) {
  std::optional<T> out;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) out.emplace(std::move(value));
    if (on_done) on_done();
  });
  io.run_for(limit);
  if (error) std::rethrow_exception(error);
  if (!out) throw std::runtime_error("test coroutine did not finish in time");
  return std::move(*out);
}

/// A reply as lines (without CRLF), e.g. {"250-host", "250 OK"}.
using ReplyLines = std::vector<std::string>;

/// Read one SMTP reply in line mode: lines until one with "NNN " (or just "NNN"). Validates
/// the shape only (three digits, then SP, "-" or end): a transport test helper, not the
/// core's ReplyParser. Malformed input gives an Error with std::errc::protocol_error.
/// At most `max_lines` lines.
inline asio::awaitable<net::Result<ReplyLines>> read_reply(net::Pump& pump,
                                                           net::RunLimits limits = {},
                                                           std::size_t max_lines = 1000) {
  ReplyLines lines;
  for (;;) {
    auto line = co_await pump.read_line(limits);
    if (!line) co_return tl::make_unexpected(std::move(line.error()));
    const std::string& l = *line;
    const bool shape = l.size() >= 3 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' &&
                       l[2] >= '0' && l[2] <= '9' && (l.size() == 3 || l[3] == ' ' || l[3] == '-');
    if (!shape || (!lines.empty() && l.compare(0, 3, lines.front(), 0, 3) != 0)) {
      co_return net::fail(std::make_error_code(std::errc::protocol_error), net::Op::read,
                          "malformed reply line: " + l.substr(0, 40));
    }
    lines.push_back(l);
    if (l.size() == 3 || l[3] == ' ') co_return lines;
    if (lines.size() >= max_lines) {
      co_return net::fail(std::make_error_code(std::errc::protocol_error), net::Op::read,
                          "reply has more than " + std::to_string(max_lines) + " lines");
    }
  }
}

/// Send `command` (CRLF appended) and read its reply.
inline asio::awaitable<net::Result<ReplyLines>> command(net::Pump& pump, std::string_view command,
                                                        net::RunLimits limits = {}) {
  auto queued = pump.send(std::string(command) + "\r\n");
  if (!queued) co_return tl::make_unexpected(std::move(queued.error()));
  co_return co_await read_reply(pump, limits);
}

/// The reply code of the first line, or 0.
inline int reply_code(const ReplyLines& lines) {
  if (lines.empty() || lines.front().size() < 3) return 0;
  return std::stoi(lines.front().substr(0, 3));
}

}  // namespace smtp::testing
