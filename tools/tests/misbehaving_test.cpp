// smtp::net against servers that misbehave: every case ends in a clear error within the
// configured timeout, with the bytes the pump holds bounded by its caps. Loopback only.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>

#include "net/pump.h"
#include "net/tls.h"
#include "net/transport.h"
#include "support/io_run.h"
#include "support/misbehaving_server.h"

namespace {

using namespace std::chrono_literals;
using smtp::net::Connection;
using smtp::net::ConnectionOptions;
using smtp::net::errc;
using smtp::net::Error;
using smtp::net::Flow;
using smtp::net::Op;
using smtp::net::Pump;
using smtp::net::PumpOptions;
using smtp::net::Result;
using smtp::net::RunLimits;
using smtp::testing::MisbehavingServer;
using smtp::testing::Misbehaviour;
using smtp::testing::run_io;

constexpr std::size_t kChunk = 16 * 1024;
constexpr std::size_t kMaxLine = 4096;

ConnectionOptions short_timeouts() {
  ConnectionOptions o;
  o.read_chunk = kChunk;
  o.timeouts.connect = 2000ms;
  o.timeouts.tls_handshake = 500ms;
  o.timeouts.read = 500ms;
  o.timeouts.write = 500ms;
  return o;
}

PumpOptions pump_options() {
  PumpOptions o;
  o.read_timeout = 500ms;
  o.write_timeout = 500ms;
  o.max_line = kMaxLine;
  return o;
}

/// What a client run observed.
struct Outcome {
  Result<void> result;
  std::vector<std::string> lines;  // the first lines read before the error (line mode)
  std::uint64_t line_count = 0;    // all lines read before the error
  std::size_t peak_buffered = 0;
  std::uint64_t bytes_in = 0;
  bool still_open = false;
};

/// Connect, then read lines until an error (line mode).
asio::awaitable<Outcome> read_lines(std::string target, RunLimits limits,
                                    PumpOptions popts = pump_options()) {
  Outcome out;
  Connection conn(co_await asio::this_coro::executor, short_timeouts());
  if (auto c = co_await conn.connect(target); !c) {
    out.result = tl::make_unexpected(c.error());
    co_return out;
  }
  Pump pump(conn, popts);
  // `limits.deadline` spans all lines.
  RunLimits left = limits;
  if (limits.deadline.count() > 0) {
    left.until = std::chrono::steady_clock::now() + limits.deadline;
    left.deadline = {};
  }
  // Bounded by the deadline (every caller sets one or a read timeout); the count is only a
  // backstop. A fast machine reads millions of flood lines within the deadline, so only the
  // first lines are kept.
  for (std::uint64_t i = 0; i < 1'000'000'000; ++i) {
    auto line = co_await pump.read_line(left);
    if (!line) {
      out.result = tl::make_unexpected(line.error());
      break;
    }
    ++out.line_count;
    if (out.lines.size() < 64) out.lines.push_back(std::move(*line));
  }
  out.peak_buffered = pump.peak_buffered();
  out.bytes_in = pump.bytes_in();
  out.still_open = conn.is_open();
  co_return out;
}

/// Connect, then run the bytes pump with a consumer that never has enough.
asio::awaitable<Outcome> pump_bytes(std::string target, RunLimits limits,
                                    std::string first_command = {}) {
  Outcome out;
  Connection conn(co_await asio::this_coro::executor, short_timeouts());
  if (auto c = co_await conn.connect(target); !c) {
    out.result = tl::make_unexpected(c.error());
    co_return out;
  }
  Pump pump(conn, pump_options());
  if (!first_command.empty()) (void)pump.send(first_command);
  out.result = co_await pump.run([](std::string_view) { return Flow::more; }, limits);
  out.peak_buffered = pump.peak_buffered();
  out.bytes_in = pump.bytes_in();
  out.still_open = conn.is_open();
  co_return out;
}

Outcome run_against(Misbehaviour m, const std::function<asio::awaitable<Outcome>(std::string)>& f,
                    smtp::testing::MisbehaviourOptions mo = {}) {
  asio::io_context io;
  MisbehavingServer server(io, m, mo);
  return run_io(io, f(server.target()), [&] { server.stop(); });
}

void expect_error(const Outcome& o, errc code, Op op) {
  ASSERT_FALSE(o.result.has_value()) << "expected an error";
  EXPECT_EQ(o.result.error().code, make_error_code(code))
      << o.result.error().code.message() << ": " << o.result.error().message;
  EXPECT_EQ(o.result.error().op, op) << o.result.error().message;
  EXPECT_FALSE(o.result.error().message.empty());
}

void expect_bounded(const Outcome& o) {
  EXPECT_LE(o.peak_buffered, kChunk + kMaxLine) << "pump held more than a chunk + a line";
}

TEST(Misbehaving, NeverGreetEndsInReadTimeout) {
  auto o = run_against(Misbehaviour::never_greet,
                       [](std::string t) { return read_lines(std::move(t), {}); });
  expect_error(o, errc::timeout, Op::read);
  EXPECT_NE(o.result.error().message.find("timeout after 500 ms during read"), std::string::npos)
      << o.result.error().message;
  EXPECT_TRUE(o.lines.empty());
  EXPECT_TRUE(o.still_open) << "a read timeout leaves the connection usable";
}

TEST(Misbehaving, NeverGreetEndsAtTheDeadline) {
  auto o = run_against(Misbehaviour::never_greet, [](std::string t) {
    PumpOptions p = pump_options();
    p.read_timeout = 10'000ms;  // the deadline is shorter than one read
    return read_lines(std::move(t), RunLimits{300ms, 0}, p);
  });
  expect_error(o, errc::deadline, Op::read);
  EXPECT_NE(o.result.error().message.find("deadline passed during read"), std::string::npos)
      << o.result.error().message;
}

TEST(Misbehaving, DripOneByteASecondHitsTheReadTimeout) {
  auto o =
      run_against(Misbehaviour::drip, [](std::string t) { return read_lines(std::move(t), {}); });
  expect_error(o, errc::timeout, Op::read);
  EXPECT_TRUE(o.lines.empty());
  expect_bounded(o);
}

TEST(Misbehaving, FastDripHitsTheDeadlineNotTheReadTimeout) {
  smtp::testing::MisbehaviourOptions mo;
  mo.drip_interval = 50ms;  // each read succeeds; the whole greeting would take 1.2 s
  auto o = run_against(
      Misbehaviour::drip,
      [](std::string t) {
        return read_lines(std::move(t), RunLimits{400ms, 0});
      },
      mo);
  expect_error(o, errc::deadline, Op::read);
  EXPECT_TRUE(o.lines.empty());
  EXPECT_GT(o.bytes_in, 0u) << "some bytes trickled in before the deadline";
  expect_bounded(o);
}

TEST(Misbehaving, EndlessMultilineReplyHitsTheInputLimit) {
  auto o = run_against(Misbehaviour::endless_multiline, [](std::string t) {
    return pump_bytes(std::move(t), RunLimits{5000ms, 256 * 1024});
  });
  expect_error(o, errc::input_limit, Op::read);
  expect_bounded(o);
}

TEST(Misbehaving, EndlessMultilineReplyHitsTheDeadline) {
  auto o = run_against(Misbehaviour::endless_multiline, [](std::string t) {
    return pump_bytes(std::move(t), RunLimits{300ms, 0});
  });
  expect_error(o, errc::deadline, Op::read);
  EXPECT_GT(o.bytes_in, 0u);
  expect_bounded(o);
}

TEST(Misbehaving, EndlessMultilineReplyInLineModeIsBoundedByLineCount) {
  auto o = run_against(Misbehaviour::endless_multiline, [](std::string t) {
    return [](std::string target) -> asio::awaitable<Outcome> {
      Outcome out;
      Connection conn(co_await asio::this_coro::executor, short_timeouts());
      if (auto c = co_await conn.connect(target); !c) {
        out.result = tl::make_unexpected(c.error());
        co_return out;
      }
      Pump pump(conn, pump_options());
      auto reply = co_await smtp::testing::read_reply(pump, RunLimits{2000ms, 0}, 100);
      if (!reply) out.result = tl::make_unexpected(reply.error());
      out.peak_buffered = pump.peak_buffered();
      co_return out;
    }(std::move(t));
  });
  ASSERT_FALSE(o.result.has_value());
  EXPECT_NE(o.result.error().message.find("more than 100 lines"), std::string::npos)
      << o.result.error().message;
  expect_bounded(o);
}

TEST(Misbehaving, TenMegabyteLineWithoutCrlfIsCutAtTheLineCap) {
  auto o = run_against(Misbehaviour::long_line, [](std::string t) {
    return read_lines(std::move(t), RunLimits{5000ms, 0});
  });
  expect_error(o, errc::line_too_long, Op::read);
  EXPECT_NE(o.result.error().message.find("4096"), std::string::npos) << o.result.error().message;
  EXPECT_LT(o.bytes_in, 1024u * 1024u) << "stopped long before the 10 MB";
  expect_bounded(o);
}

TEST(Misbehaving, TenMegabyteLineInBytesModeHitsTheInputLimit) {
  auto o = run_against(Misbehaviour::long_line, [](std::string t) {
    return pump_bytes(std::move(t), RunLimits{5000ms, 1024 * 1024});
  });
  expect_error(o, errc::input_limit, Op::read);
  EXPECT_LE(o.peak_buffered, kChunk) << "bytes mode holds one chunk at most";
}

TEST(Misbehaving, BinaryGarbageIsRejected) {
  auto o = run_against(Misbehaviour::binary_garbage, [](std::string t) {
    return [](std::string target) -> asio::awaitable<Outcome> {
      Outcome out;
      Connection conn(co_await asio::this_coro::executor, short_timeouts());
      if (auto c = co_await conn.connect(target); !c) {
        out.result = tl::make_unexpected(c.error());
        co_return out;
      }
      PumpOptions p = pump_options();
      p.max_line = 512;  // RFC 5321 §4.5.3.1.5: reply lines are at most 512 octets
      Pump pump(conn, p);
      auto reply = co_await smtp::testing::read_reply(pump, RunLimits{2000ms, 0});
      if (!reply) out.result = tl::make_unexpected(reply.error());
      out.peak_buffered = pump.peak_buffered();
      co_return out;
    }(std::move(t));
  });
  ASSERT_FALSE(o.result.has_value());
  const auto& e = o.result.error();
  EXPECT_TRUE(e.is(errc::line_too_long) || e.code == std::errc::protocol_error)
      << e.code.message() << ": " << e.message;
  EXPECT_LE(o.peak_buffered, kChunk + 512);
}

TEST(Misbehaving, BinaryGarbageInBytesModeHitsTheInputLimit) {
  auto o = run_against(Misbehaviour::binary_garbage, [](std::string t) {
    return pump_bytes(std::move(t), RunLimits{5000ms, 512 * 1024});
  });
  expect_error(o, errc::input_limit, Op::read);
  EXPECT_LE(o.peak_buffered, kChunk);
}

TEST(Misbehaving, CloseMidReplySaysSo) {
  auto o = run_against(Misbehaviour::close_mid_reply, [](std::string t) {
    return read_lines(std::move(t), RunLimits{2000ms, 0});
  });
  expect_error(o, errc::closed, Op::read);
  ASSERT_EQ(o.lines.size(), 1u);
  EXPECT_EQ(o.lines[0], "250-first line");
  EXPECT_NE(o.result.error().message.find("in the middle of a line (13 bytes without CRLF)"),
            std::string::npos)
      << o.result.error().message;
}

smtp::net::TlsClientOptions insecure() {
  smtp::net::TlsClientOptions o;
  o.verify = false;
  return o;
}

asio::awaitable<Outcome> implicit_tls(std::string target) {
  Outcome out;
  Connection conn(co_await asio::this_coro::executor, short_timeouts());
  if (auto c = co_await conn.connect(target); !c) {
    out.result = tl::make_unexpected(c.error());
    co_return out;
  }
  auto tls = smtp::net::make_client_tls(insecure());
  if (!tls) {
    out.result = tl::make_unexpected(tls.error());
    co_return out;
  }
  out.result = co_await conn.start_tls_client(*tls);
  out.still_open = conn.is_open();
  co_return out;
}

TEST(Misbehaving, GarbageInsteadOfATlsHandshakeFailsWithOpenSslsReason) {
  auto o = run_against(Misbehaviour::tls_garbage, implicit_tls);
  expect_error(o, errc::tls_handshake, Op::tls_handshake);
  const auto& e = o.result.error();
  EXPECT_NE(e.message.find("TLS handshake with 127.0.0.1:"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("failed: "), std::string::npos) << e.message;
  EXPECT_TRUE(e.cause) << "the OpenSSL error code is kept";
  EXPECT_FALSE(o.still_open) << "a failed handshake closes the connection";
}

TEST(Misbehaving, SilenceInsteadOfATlsHandshakeTimesOut) {
  auto o = run_against(Misbehaviour::never_greet, implicit_tls);
  expect_error(o, errc::timeout, Op::tls_handshake);
  EXPECT_NE(o.result.error().message.find("timeout after 500 ms during TLS handshake"),
            std::string::npos)
      << o.result.error().message;
  EXPECT_FALSE(o.still_open);
}

TEST(Misbehaving, GarbageAfterStarttlsFailsTheUpgrade) {
  auto o = run_against(Misbehaviour::starttls_garbage, [](std::string t) {
    return [](std::string target) -> asio::awaitable<Outcome> {
      Outcome out;
      Connection conn(co_await asio::this_coro::executor, short_timeouts());
      if (auto c = co_await conn.connect(target); !c) {
        out.result = tl::make_unexpected(c.error());
        co_return out;
      }
      Pump pump(conn, pump_options());
      const RunLimits limits{2000ms, 0};
      auto greeting = co_await smtp::testing::read_reply(pump, limits);
      auto ehlo = co_await smtp::testing::command(pump, "EHLO client.example", limits);
      auto starttls = co_await smtp::testing::command(pump, "STARTTLS", limits);
      if (!greeting || !ehlo || !starttls || smtp::testing::reply_code(*starttls) != 220) {
        out.result = smtp::net::fail(errc::not_connected, Op::read, "STARTTLS dialogue failed");
        co_return out;
      }
      auto tls = smtp::net::make_client_tls(insecure());
      out.result = co_await conn.start_tls_client(*tls, pump.take_input());
      co_return out;
    }(std::move(t));
  });
  expect_error(o, errc::tls_handshake, Op::tls_handshake);
}

TEST(Misbehaving, UnsolicitedFloodHitsTheInputLimit) {
  auto o = run_against(Misbehaviour::unsolicited_flood, [](std::string t) {
    return pump_bytes(std::move(t), RunLimits{5000ms, 256 * 1024}, "EHLO client.example\r\n");
  });
  expect_error(o, errc::input_limit, Op::read);
  EXPECT_LE(o.peak_buffered, kChunk + 64);
}

TEST(Misbehaving, UnsolicitedFloodHitsTheDeadline) {
  auto o = run_against(Misbehaviour::unsolicited_flood, [](std::string t) {
    return pump_bytes(std::move(t), RunLimits{300ms, 0}, "EHLO client.example\r\n");
  });
  expect_error(o, errc::deadline, Op::read);
  EXPECT_LE(o.peak_buffered, kChunk + 64);
}

TEST(Misbehaving, UnsolicitedFloodInLineModeStaysBounded) {
  auto o = run_against(Misbehaviour::unsolicited_flood, [](std::string t) {
    return read_lines(std::move(t), RunLimits{300ms, 0});
  });
  ASSERT_FALSE(o.result.has_value());
  EXPECT_TRUE(o.result.error().is(errc::deadline)) << o.result.error().message;
  EXPECT_GT(o.line_count, 1u);
  expect_bounded(o);
}

}  // namespace
