// smtp::net: address policy, Connection (TCP, implicit TLS, STARTTLS with replay), Pump, and
// the project's private Postfix (suite PostfixNet*, which CTest runs with the "postfix"
// fixture). Loopback only.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "net/address.h"
#include "net/pump.h"
#include "net/tls.h"
#include "net/transport.h"
#include "support/io_run.h"

namespace {

using namespace std::chrono_literals;
namespace net = smtp::net;
using net::Connection;
using net::ConnectionOptions;
using net::errc;
using net::Flow;
using net::Op;
using net::Pump;
using net::Result;
using net::RunLimits;
using smtp::testing::command;
using smtp::testing::read_reply;
using smtp::testing::reply_code;
using smtp::testing::ReplyLines;
using smtp::testing::run_io;

ConnectionOptions quick() {
  ConnectionOptions o;
  o.timeouts.connect = 3000ms;
  o.timeouts.tls_handshake = 5000ms;
  o.timeouts.read = 5000ms;
  o.timeouts.write = 5000ms;
  return o;
}

net::PumpOptions pump_quick() {
  net::PumpOptions o;
  o.read_timeout = 5000ms;
  o.write_timeout = 5000ms;
  o.max_line = 4096;
  return o;
}

std::string errtext(const net::Error& e) {
  return std::string(e.code.message()) + " | " + e.message;
}

// ---------------------------------------------------------------------------------------------
// Addresses and the loopback policy (no sockets).

TEST(NetAddress, ParsesHostPortForms) {
  auto a = net::parse_target("127.0.0.1:2525");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 2525);
  auto b = net::parse_target("[::1]:25");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->to_string(), "[::1]:25");
  auto c = net::parse_target("localhost:587");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to_string(), "localhost:587");
  auto z = net::parse_target("127.0.0.1:0", /*allow_port_zero=*/true);
  ASSERT_TRUE(z);
  EXPECT_EQ(z->port, 0);
}

TEST(NetAddress, RejectsMalformedTargets) {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":25", "::1:25", "[::1]25", "[::1",
                          "[127.0.0.1]:25", "127.0.0.1:65536", "127.0.0.1:0", "127.0.0.1:2x",
                          "host name:25", "127.0.0.1:-1", "127.0.0.1:000025"}) {
    auto r = net::parse_target(bad);
    ASSERT_FALSE(r) << "accepted \"" << bad << "\"";
    EXPECT_TRUE(r.error().is(errc::bad_address)) << bad;
    EXPECT_EQ(r.error().op, Op::resolve);
    EXPECT_NE(r.error().message.find("bad address"), std::string::npos) << r.error().message;
  }
}

TEST(NetAddress, ResolvesLoopbackLiteralsAndLocalhostOnly) {
  auto l = net::resolve("localhost:25");
  ASSERT_TRUE(l) << l.error().message;
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ(net::to_string((*l)[0]), "127.0.0.1:25");
  EXPECT_EQ(net::to_string((*l)[1]), "[::1]:25");
  for (const char* ok :
       {"127.0.0.1:25", "127.1.2.3:25", "[::1]:25", "[::ffff:127.0.0.1]:25", "LOCALHOST.:25"}) {
    auto r = net::resolve(ok);
    EXPECT_TRUE(r) << ok << ": " << (r ? "" : r.error().message);
  }
}

TEST(NetAddress, RefusesNonLoopbackUnlessAllowed) {
  for (const char* far : {"10.0.0.1:25", "192.0.2.1:25", "0.0.0.0:25", "[2001:db8::1]:25",
                          "[::]:25", "[::ffff:10.0.0.1]:25"}) {
    auto r = net::resolve(far);
    ASSERT_FALSE(r) << far;
    EXPECT_TRUE(r.error().is(errc::not_loopback)) << far << ": " << r.error().message;
    EXPECT_NE(r.error().message.find("non-loopback"), std::string::npos);
    auto allowed = net::resolve(far, net::ResolveOptions{true});
    EXPECT_TRUE(allowed) << far;
  }
}

TEST(NetAddress, NeverResolvesHostNames) {
  for (const char* name : {"example.com:25", "mail:25", "localhost.localdomain:25"}) {
    auto r = net::resolve(name, net::ResolveOptions{true});
    ASSERT_FALSE(r) << name;
    EXPECT_TRUE(r.error().is(errc::name_not_allowed)) << r.error().message;
    EXPECT_NE(r.error().message.find("no DNS"), std::string::npos) << r.error().message;
  }
}

// ---------------------------------------------------------------------------------------------
// Plain TCP connections.

TEST(NetConnect, ListenRefusesNonLoopback) {
  asio::io_context io;
  auto any = net::listen(io.get_executor(), "0.0.0.0:0");
  ASSERT_FALSE(any);
  EXPECT_TRUE(any.error().is(errc::not_loopback));
  EXPECT_EQ(any.error().op, Op::listen);
  auto lo = net::listen(io.get_executor(), "127.0.0.1:0");
  ASSERT_TRUE(lo) << lo.error().message;
  EXPECT_NE(lo->local_endpoint().port(), 0);
}

TEST(NetConnect, RefusedSaysSo) {
  asio::io_context io;
  std::uint16_t port = 0;
  {
    auto acceptor = net::listen(io.get_executor(), "127.0.0.1:0");
    ASSERT_TRUE(acceptor);
    port = acceptor->local_endpoint().port();
  }  // closed: nothing listens there now
  auto r = run_io(io, [](std::string target) -> asio::awaitable<Result<void>> {
    Connection conn(co_await asio::this_coro::executor, quick());
    co_return co_await conn.connect(target);
  }("127.0.0.1:" + std::to_string(port)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, asio::error::connection_refused) << errtext(r.error());
  EXPECT_EQ(r.error().op, Op::connect);
  EXPECT_NE(r.error().message.find("connect to 127.0.0.1:"), std::string::npos);
  EXPECT_NE(r.error().message.find("refused"), std::string::npos) << r.error().message;
}

TEST(NetConnect, NonLoopbackTargetIsRefusedBeforeAnyTraffic) {
  asio::io_context io;
  bool opened = true;
  auto r = run_io(io, [&]() -> asio::awaitable<Result<void>> {
    Connection conn(co_await asio::this_coro::executor, quick());
    auto c = co_await conn.connect("192.0.2.1:25");
    opened = conn.is_open();
    co_return c;
  }());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::not_loopback)) << errtext(r.error());
  EXPECT_FALSE(opened) << "no socket was even opened";
}

TEST(NetConnect, ConnectTimesOutWhenTheListenQueueIsFull) {
  // A listener with backlog 0 that never accepts: once its queue is full the kernel drops
  // further SYNs, so a connect can only end by our timeout.
  asio::io_context io;
  auto acceptor = net::listen(io.get_executor(), "127.0.0.1:0", net::ListenOptions{false, 0});
  ASSERT_TRUE(acceptor);
  const std::string target = "127.0.0.1:" + std::to_string(acceptor->local_endpoint().port());
  auto r = run_io(io, [](std::string t) -> asio::awaitable<std::optional<net::Error>> {
    std::vector<std::unique_ptr<Connection>> held;
    for (int i = 0; i < 16; ++i) {
      ConnectionOptions o = quick();
      o.timeouts.connect = 300ms;
      auto conn = std::make_unique<Connection>(co_await asio::this_coro::executor, o);
      auto c = co_await conn->connect(t);
      if (!c) co_return c.error();
      held.push_back(std::move(conn));
    }
    co_return std::nullopt;
  }(target));
  ASSERT_TRUE(r.has_value()) << "16 connects to a full listen queue all succeeded";
  EXPECT_TRUE(r->is(errc::timeout)) << errtext(*r);
  EXPECT_EQ(r->op, Op::connect);
  EXPECT_NE(r->message.find("timeout after 300 ms"), std::string::npos) << r->message;
}

/// Runs `server(connection)` on one accepted connection and `client(target)` at once.
template <class T, class ServerFn, class ClientFn>
T with_server(ServerFn server, ClientFn client, ConnectionOptions server_options = quick()) {
  asio::io_context io;
  auto acceptor = net::listen(io.get_executor(), "127.0.0.1:0");
  if (!acceptor) throw std::runtime_error(acceptor.error().message);
  const std::string target = "127.0.0.1:" + std::to_string(acceptor->local_endpoint().port());
  std::exception_ptr server_error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto conn = co_await net::accept(*acceptor, server_options);
        if (!conn) co_return;
        co_await server(**conn);
      },
      [&](std::exception_ptr e) { server_error = e; });
  T out = run_io(io, client(target), [&] {
    std::error_code ignored;
    acceptor->close(ignored);
  });
  if (server_error) std::rethrow_exception(server_error);
  return out;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

TEST(NetConnect, ReadTimeoutLeavesThePlainConnectionUsable) {
  struct Seen {
    std::optional<net::Error> first;
    std::string second;
  };
  auto seen = with_server<Seen>(
      [](Connection& c) -> asio::awaitable<void> {
        co_await sleep_for(600ms);
        (void)co_await c.write("hello\r\n");
        (void)co_await c.read_some(2000ms);  // until the client closes
      },
      [](std::string target) -> asio::awaitable<Seen> {
        Seen s;
        Connection conn(co_await asio::this_coro::executor, quick());
        (void)co_await conn.connect(target);
        auto r1 = co_await conn.read_some(150ms);
        if (!r1) s.first = r1.error();
        auto r2 = co_await conn.read_some(5000ms);
        if (r2) s.second = std::string(*r2);
        co_return s;
      });
  ASSERT_TRUE(seen.first);
  EXPECT_TRUE(seen.first->is(errc::timeout)) << errtext(*seen.first);
  EXPECT_NE(seen.first->message.find("timeout after 150 ms during read"), std::string::npos);
  EXPECT_EQ(seen.second, "hello\r\n");
}

TEST(NetConnect, PeerCloseIsReportedAsClosed) {
  struct Seen {
    std::string data;
    std::optional<net::Error> end;
    bool peer_closed = false;
  };
  auto seen = with_server<Seen>(
      [](Connection& c) -> asio::awaitable<void> {
        (void)co_await c.write("221 bye\r\n");
        co_await c.shutdown();
      },
      [](std::string target) -> asio::awaitable<Seen> {
        Seen s;
        Connection conn(co_await asio::this_coro::executor, quick());
        (void)co_await conn.connect(target);
        for (int i = 0; i < 10; ++i) {
          auto r = co_await conn.read_some();
          if (!r) {
            s.end = r.error();
            break;
          }
          s.data += *r;
        }
        s.peer_closed = conn.peer_closed();
        co_return s;
      });
  EXPECT_EQ(seen.data, "221 bye\r\n");
  ASSERT_TRUE(seen.end);
  EXPECT_TRUE(seen.end->is(errc::closed)) << errtext(*seen.end);
  EXPECT_NE(seen.end->message.find("connection closed by peer"), std::string::npos);
  EXPECT_TRUE(seen.peer_closed);
}

TEST(NetConnect, WriteTimeoutClosesTheConnection) {
  struct Seen {
    std::optional<net::Error> error;
    bool open = true;
  };
  auto seen = with_server<Seen>(
      [](Connection&) -> asio::awaitable<void> {
        co_await sleep_for(1500ms);  // never reads
      },
      [](std::string target) -> asio::awaitable<Seen> {
        Seen s;
        Connection conn(co_await asio::this_coro::executor, quick());
        (void)co_await conn.connect(target);
        const std::string big(64u * 1024u * 1024u, 'x');  // more than the socket buffers hold
        auto w = co_await conn.write(big, 300ms);
        if (!w) s.error = w.error();
        s.open = conn.is_open();
        co_return s;
      });
  ASSERT_TRUE(seen.error);
  EXPECT_TRUE(seen.error->is(errc::timeout)) << errtext(*seen.error);
  EXPECT_EQ(seen.error->op, Op::write);
  EXPECT_NE(seen.error->message.find("timeout after 300 ms during write"), std::string::npos)
      << seen.error->message;
  EXPECT_FALSE(seen.open);
}

// ---------------------------------------------------------------------------------------------
// Pump.

TEST(NetPump, RunWritesQueuedBytesAndHandsOverInputUntilDone) {
  struct Seen {
    Result<void> result;
    std::string input;
    std::string server_got;
  };
  std::string server_got;
  auto seen = with_server<Seen>(
      [&](Connection& c) -> asio::awaitable<void> {
        Pump p(c, pump_quick());
        auto line = co_await p.read_line();
        if (line) server_got = *line;
        (void)p.send("250-one\r\n250-two\r\n");
        (void)co_await p.flush();
        co_await sleep_for(50ms);
        (void)p.send("250 three\r\n");
        (void)co_await p.flush();
        (void)co_await c.read_some(2000ms);
      },
      [](std::string target) -> asio::awaitable<Seen> {
        Seen s;
        Connection conn(co_await asio::this_coro::executor, quick());
        (void)co_await conn.connect(target);
        Pump pump(conn, pump_quick());
        (void)pump.send("EHLO client.example\r\n");
        s.result = co_await pump.run(
            [&](std::string_view bytes) {
              s.input += bytes;
              return s.input.find("250 three\r\n") != std::string::npos ? Flow::done : Flow::more;
            },
            RunLimits{3000ms, 0});
        co_return s;
      });
  ASSERT_TRUE(seen.result) << errtext(seen.result.error());
  EXPECT_EQ(seen.input, "250-one\r\n250-two\r\n250 three\r\n");
  EXPECT_EQ(server_got, "EHLO client.example");
}

TEST(NetPump, LineModeKeepsTheRestForRun) {
  struct Seen {
    std::vector<std::string> lines;
    std::string rest;
  };
  auto seen = with_server<Seen>(
      [](Connection& c) -> asio::awaitable<void> {
        (void)co_await c.write("220 a\r\n250 b\r\nTAIL");
        (void)co_await c.read_some(2000ms);
      },
      [](std::string target) -> asio::awaitable<Seen> {
        Seen s;
        Connection conn(co_await asio::this_coro::executor, quick());
        (void)co_await conn.connect(target);
        Pump pump(conn, pump_quick());
        for (int i = 0; i < 2; ++i) {
          auto l = co_await pump.read_line(RunLimits{2000ms, 0});
          if (l) s.lines.push_back(*l);
        }
        (void)co_await pump.run(
            [&](std::string_view b) {
              s.rest += b;
              return s.rest.size() >= 4 ? Flow::done : Flow::more;
            },
            RunLimits{2000ms, 0});
        co_return s;
      });
  EXPECT_EQ(seen.lines, (std::vector<std::string>{"220 a", "250 b"}));
  EXPECT_EQ(seen.rest, "TAIL");
}

TEST(NetPump, OutputIsCapped) {
  asio::io_context io;
  Connection conn(io.get_executor(), quick());
  net::PumpOptions o;
  o.max_output = 10;
  Pump pump(conn, o);
  EXPECT_TRUE(pump.send("0123456789"));
  auto r = pump.send("x");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::output_limit));
  EXPECT_EQ(r.error().op, Op::queue);
  EXPECT_EQ(pump.pending_output(), "0123456789");
}

TEST(NetPump, ExpiredDeadlineFailsAtOnce) {
  asio::io_context io;
  auto r = run_io(io, []() -> asio::awaitable<Result<std::string>> {
    Connection conn(co_await asio::this_coro::executor, quick());
    Pump pump(conn);
    RunLimits limits;
    limits.until = std::chrono::steady_clock::now() - 1ms;
    co_return co_await pump.read_line(limits);
  }());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::deadline)) << errtext(r.error());
}

// ---------------------------------------------------------------------------------------------
// TLS: certificates, implicit TLS, verification, STARTTLS.

net::CertificatePem& test_cert() {
  static net::CertificatePem pem = [] {
    auto p = net::make_self_signed(net::KeyType::ec_p256);
    if (!p) throw std::runtime_error(p.error().message);
    return *p;
  }();
  return pem;
}

TEST(NetTls, SelfSignedCertificatesAreMadeInMemory) {
  for (auto type : {net::KeyType::ec_p256, net::KeyType::rsa2048}) {
    auto pem = net::make_self_signed(type);
    ASSERT_TRUE(pem) << pem.error().message;
    EXPECT_EQ(pem->cert_pem.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
    EXPECT_NE(pem->key_pem.find("PRIVATE KEY-----"), std::string::npos);
    auto server = net::make_server_tls(*pem);
    ASSERT_TRUE(server) << server.error().message;
    EXPECT_EQ(server->cert_subject, "O=smtp-harness,CN=localhost");
  }
  auto direct = net::make_self_signed_server_tls();
  ASSERT_TRUE(direct) << direct.error().message;
}

TEST(NetTls, BadFilesGiveTlsSetupErrors) {
  auto server = net::make_server_tls_from_files("/nonexistent/cert.pem", "/nonexistent/key.pem");
  ASSERT_FALSE(server);
  EXPECT_TRUE(server.error().is(errc::tls_setup));
  EXPECT_NE(server.error().message.find("/nonexistent/cert.pem"), std::string::npos);
  net::TlsClientOptions o;
  o.ca_file = "/nonexistent/ca.pem";
  auto client = net::make_client_tls(o);
  ASSERT_FALSE(client);
  EXPECT_TRUE(client.error().is(errc::tls_setup));
  EXPECT_NE(client.error().message.find("/nonexistent/ca.pem"), std::string::npos);
  net::CertificatePem mismatched = test_cert();
  mismatched.key_pem = net::make_self_signed()->key_pem;
  auto bad = net::make_server_tls(mismatched);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(errc::tls_setup)) << bad.error().message;
}

struct TlsSeen {
  Result<void> handshake;
  net::TlsInfo client;
  net::TlsInfo server;
  std::string reply;
  bool open = false;
};

/// Implicit TLS against an in-process server with the test certificate.
TlsSeen implicit_tls(net::TlsClientOptions options, const std::string& host,
                     net::KeyType key = net::KeyType::ec_p256) {
  net::CertificatePem pem =
      key == net::KeyType::ec_p256 ? test_cert() : *net::make_self_signed(key);
  auto server_tls = net::make_server_tls(pem);
  if (!server_tls) throw std::runtime_error(server_tls.error().message);
  net::TlsInfo server_info;
  auto seen = with_server<TlsSeen>(
      [&](Connection& c) -> asio::awaitable<void> {
        auto h = co_await c.start_tls_server(*server_tls);
        server_info = c.tls_info();
        if (!h) co_return;
        auto in = co_await c.read_some(2000ms);
        if (in && *in == "EHLO tls.example\r\n") (void)co_await c.write("250 over TLS\r\n");
        (void)co_await c.read_some(2000ms);
        co_await c.shutdown();
      },
      [&](std::string target) -> asio::awaitable<TlsSeen> {
        TlsSeen s;
        if (host == "localhost") target.replace(0, target.find(':'), "localhost");
        auto tls = net::make_client_tls(options);
        if (!tls) {
          s.handshake = tl::make_unexpected(tls.error());
          co_return s;
        }
        Connection conn(co_await asio::this_coro::executor, quick());
        (void)co_await conn.connect(target);
        s.handshake = co_await conn.start_tls_client(*tls);
        s.client = conn.tls_info();
        if (s.handshake) {
          (void)co_await conn.write("EHLO tls.example\r\n");
          auto r = co_await conn.read_some(2000ms);
          if (r) s.reply = std::string(*r);
        }
        s.open = conn.is_open();
        co_await conn.shutdown();
        co_return s;
      });
  seen.server = server_info;
  return seen;
}

net::TlsClientOptions trusting_test_cert() {
  net::TlsClientOptions o;
  o.ca_pem = test_cert().cert_pem;
  return o;
}

TEST(NetTls, ImplicitTlsVerifiedByNameWithSni) {
  auto s = implicit_tls(trusting_test_cert(), "localhost");
  ASSERT_TRUE(s.handshake) << errtext(s.handshake.error());
  EXPECT_EQ(s.client.version.rfind("TLSv1.", 0), 0u) << s.client.version;
  EXPECT_FALSE(s.client.cipher.empty());
  EXPECT_EQ(s.client.peer_subject, "O=smtp-harness,CN=localhost");
  EXPECT_EQ(s.client.peer_issuer, "O=smtp-harness,CN=localhost");
  EXPECT_TRUE(s.client.verified) << s.client.verify_error;
  EXPECT_EQ(s.client.verify_error, "");
  EXPECT_EQ(s.client.sni, "localhost");
  EXPECT_EQ(s.server.sni, "localhost") << "the server received the SNI";
  EXPECT_EQ(s.server.version, s.client.version);
  EXPECT_EQ(s.reply, "250 over TLS\r\n");
}

TEST(NetTls, ImplicitTlsToAnIpSendsNoSniAndVerifiesTheIp) {
  auto s = implicit_tls(trusting_test_cert(), "127.0.0.1");
  ASSERT_TRUE(s.handshake) << errtext(s.handshake.error());
  EXPECT_TRUE(s.client.verified) << s.client.verify_error;
  EXPECT_EQ(s.client.sni, "");
  EXPECT_EQ(s.server.sni, "");
}

TEST(NetTls, RsaCertificateWorksToo) {
  net::TlsClientOptions o;
  o.verify = false;
  auto s = implicit_tls(o, "127.0.0.1", net::KeyType::rsa2048);
  ASSERT_TRUE(s.handshake) << errtext(s.handshake.error());
  EXPECT_EQ(s.client.peer_subject, "O=smtp-harness,CN=localhost");
  EXPECT_EQ(s.reply, "250 over TLS\r\n");
}

TEST(NetTls, VerificationFailsAgainstAnUntrustedCertificate) {
  net::TlsClientOptions o;  // verify on, system store: our self-signed cert is not in it
  auto s = implicit_tls(o, "localhost");
  ASSERT_FALSE(s.handshake);
  EXPECT_TRUE(s.handshake.error().is(errc::tls_handshake)) << errtext(s.handshake.error());
  EXPECT_NE(s.handshake.error().message.find("certificate verify failed"), std::string::npos)
      << s.handshake.error().message;
  EXPECT_NE(s.handshake.error().message.find("self-signed certificate"), std::string::npos)
      << s.handshake.error().message;
  EXPECT_FALSE(s.client.verified);
  EXPECT_FALSE(s.client.verify_error.empty());
  EXPECT_EQ(s.client.peer_subject, "O=smtp-harness,CN=localhost") << "named even on failure";
  EXPECT_FALSE(s.open) << "a failed handshake closes the connection";
}

TEST(NetTls, VerificationChecksTheName) {
  net::TlsClientOptions o = trusting_test_cert();
  o.server_name = "mail.example";
  auto s = implicit_tls(o, "127.0.0.1");
  ASSERT_FALSE(s.handshake);
  EXPECT_NE(s.handshake.error().message.find("hostname mismatch"), std::string::npos)
      << s.handshake.error().message;
  EXPECT_EQ(s.client.sni, "mail.example");
}

TEST(NetTls, InsecureSucceedsAndStillRecordsTheVerifyResult) {
  net::TlsClientOptions o;
  o.verify = false;
  auto s = implicit_tls(o, "localhost");
  ASSERT_TRUE(s.handshake) << errtext(s.handshake.error());
  EXPECT_FALSE(s.client.verified);
  EXPECT_NE(s.client.verify_error.find("self-signed certificate"), std::string::npos)
      << s.client.verify_error;
  EXPECT_EQ(s.reply, "250 over TLS\r\n");
}

TEST(NetTls, ReadTimeoutLeavesTheTlsConnectionUsable) {
  auto server_tls = net::make_server_tls(test_cert());
  ASSERT_TRUE(server_tls);
  struct Seen {
    Result<void> handshake;
    std::optional<net::Error> first;
    std::string second;
  };
  auto seen = with_server<Seen>(
      [&](Connection& c) -> asio::awaitable<void> {
        if (!co_await c.start_tls_server(*server_tls)) co_return;
        co_await sleep_for(600ms);
        (void)co_await c.write("late\r\n");
        (void)co_await c.read_some(2000ms);
      },
      [](std::string target) -> asio::awaitable<Seen> {
        Seen s;
        Connection conn(co_await asio::this_coro::executor, quick());
        (void)co_await conn.connect(target);
        s.handshake = co_await conn.start_tls_client(*net::make_client_tls(trusting_test_cert()));
        auto r1 = co_await conn.read_some(150ms);
        if (!r1) s.first = r1.error();
        auto r2 = co_await conn.read_some(5000ms);
        if (r2) s.second = std::string(*r2);
        co_return s;
      });
  ASSERT_TRUE(seen.handshake) << errtext(seen.handshake.error());
  ASSERT_TRUE(seen.first);
  EXPECT_TRUE(seen.first->is(errc::timeout)) << errtext(*seen.first);
  EXPECT_EQ(seen.second, "late\r\n");
}

TEST(NetTls, PeerCloseWithoutCloseNotifyIsClosed) {
  auto server_tls = net::make_server_tls(test_cert());
  ASSERT_TRUE(server_tls);
  auto seen = with_server<std::optional<net::Error>>(
      [&](Connection& c) -> asio::awaitable<void> {
        if (!co_await c.start_tls_server(*server_tls)) co_return;
        c.close();  // abrupt: no close_notify
      },
      [](std::string target) -> asio::awaitable<std::optional<net::Error>> {
        Connection conn(co_await asio::this_coro::executor, quick());
        (void)co_await conn.connect(target);
        (void)co_await conn.start_tls_client(*net::make_client_tls(trusting_test_cert()));
        auto r = co_await conn.read_some(3000ms);
        if (r) co_return std::nullopt;
        co_return r.error();
      });
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->is(errc::closed)) << errtext(*seen);
  EXPECT_NE(seen->message.find("without TLS close_notify"), std::string::npos) << seen->message;
}

TEST(NetTls, StarttlsUpgradesTheSameConnection) {
  auto server_tls = net::make_server_tls(test_cert());
  ASSERT_TRUE(server_tls);
  struct Seen {
    Result<void> handshake;
    std::vector<ReplyLines> replies;
    net::Transport before = net::Transport::tls;
    net::Transport after = net::Transport::plain;
    std::uint16_t local_port_before = 0;
    std::uint16_t local_port_after = 0;
    std::uint64_t replayed = 99;
    bool verified = false;
  };
  std::vector<std::string> server_lines;
  auto seen = with_server<Seen>(
      [&](Connection& c) -> asio::awaitable<void> {
        Pump p(c, pump_quick());
        (void)p.send("220 starttls.example ESMTP\r\n");
        for (int i = 0; i < 10; ++i) {
          auto line = co_await p.read_line(RunLimits{3000ms, 0});
          if (!line) co_return;
          server_lines.push_back(*line);
          if (*line == "STARTTLS") {
            (void)p.send("220 2.0.0 go ahead\r\n");
            (void)co_await p.flush();
            if (!co_await c.start_tls_server(*server_tls, p.take_input())) co_return;
          } else if (line->rfind("EHLO", 0) == 0) {
            (void)p.send(c.transport() == net::Transport::tls
                             ? "250 tls.example\r\n"
                             : "250-plain.example\r\n250 STARTTLS\r\n");
          } else if (*line == "QUIT") {
            (void)p.send("221 bye\r\n");
            (void)co_await p.flush();
            co_await c.shutdown();
            co_return;
          }
        }
      },
      [](std::string target) -> asio::awaitable<Seen> {
        Seen s;
        Connection conn(co_await asio::this_coro::executor, quick());
        (void)co_await conn.connect(target);
        Pump pump(conn, pump_quick());
        const RunLimits limits{3000ms, 0};
        if (auto r = co_await read_reply(pump, limits)) s.replies.push_back(*r);
        if (auto r = co_await command(pump, "EHLO client.example", limits)) s.replies.push_back(*r);
        if (auto r = co_await command(pump, "STARTTLS", limits)) s.replies.push_back(*r);
        s.before = conn.transport();
        s.local_port_before = conn.socket().local_endpoint().port();
        s.handshake = co_await conn.start_tls_client(*net::make_client_tls(trusting_test_cert()),
                                                     pump.take_input());
        s.after = conn.transport();
        s.local_port_after = conn.socket().local_endpoint().port();
        s.replayed = conn.replayed_into_tls();
        s.verified = conn.tls_info().verified;
        if (auto r = co_await command(pump, "EHLO client.example", limits)) s.replies.push_back(*r);
        if (auto r = co_await command(pump, "QUIT", limits)) s.replies.push_back(*r);
        co_return s;
      });
  ASSERT_TRUE(seen.handshake) << errtext(seen.handshake.error());
  ASSERT_EQ(seen.replies.size(), 5u);
  EXPECT_EQ(seen.replies[0], (ReplyLines{"220 starttls.example ESMTP"}));
  EXPECT_EQ(seen.replies[1], (ReplyLines{"250-plain.example", "250 STARTTLS"}));
  EXPECT_EQ(seen.replies[2], (ReplyLines{"220 2.0.0 go ahead"}));
  EXPECT_EQ(seen.replies[3], (ReplyLines{"250 tls.example"}));
  EXPECT_EQ(seen.replies[4], (ReplyLines{"221 bye"}));
  EXPECT_EQ(seen.before, net::Transport::plain);
  EXPECT_EQ(seen.after, net::Transport::tls);
  EXPECT_EQ(seen.local_port_before, seen.local_port_after) << "same TCP connection";
  EXPECT_EQ(seen.replayed, 0u);
  EXPECT_TRUE(seen.verified);
  EXPECT_EQ(server_lines, (std::vector<std::string>{"EHLO client.example", "STARTTLS",
                                                    "EHLO client.example", "QUIT"}));
}

TEST(NetTls, BytesReadBeforeTheUpgradeAreReplayedIntoTheHandshake) {
  // A client sends STARTTLS and its ClientHello at once, without waiting for a 220: the
  // server's plain reads hold both. What follows "STARTTLS\r\n" belongs to TLS; passed as
  // `already_read`, it reaches the TLS engine first and the handshake succeeds.
  auto server_tls = net::make_server_tls(test_cert());
  ASSERT_TRUE(server_tls);
  struct ServerSeen {
    std::size_t leftover = 0;
    std::uint64_t replayed = 0;
    Result<void> handshake;
    std::string over_tls;
  } server;
  auto client = with_server<Result<void>>(
      [&](Connection& c) -> asio::awaitable<void> {
        std::string got;
        for (int i = 0; i < 100 && got.size() < 10 + 5; ++i) {
          auto r = co_await c.read_some(3000ms);
          if (!r) co_return;
          got += *r;
        }
        if (got.rfind("STARTTLS\r\n", 0) != 0) co_return;
        const std::string leftover = got.substr(10);
        server.leftover = leftover.size();
        server.handshake = co_await c.start_tls_server(*server_tls, leftover);
        server.replayed = c.replayed_into_tls();
        if (auto r = co_await c.read_some(3000ms)) server.over_tls = std::string(*r);
        co_await c.shutdown();
      },
      [](std::string target) -> asio::awaitable<Result<void>> {
        Connection conn(co_await asio::this_coro::executor, quick());
        (void)co_await conn.connect(target);
        (void)co_await conn.write("STARTTLS\r\n");
        auto h = co_await conn.start_tls_client(*net::make_client_tls(trusting_test_cert()));
        if (!h) co_return h;
        auto w = co_await conn.write("EHLO over.tls\r\n");
        (void)co_await conn.read_some(3000ms);  // until the server closes
        co_return w;
      });
  ASSERT_TRUE(client) << errtext(client.error());
  ASSERT_TRUE(server.handshake) << errtext(server.handshake.error());
  EXPECT_GE(server.leftover, 5u) << "the server's plain reads held TLS bytes";
  EXPECT_EQ(server.replayed, server.leftover);
  EXPECT_EQ(server.over_tls, "EHLO over.tls\r\n");
}

// ---------------------------------------------------------------------------------------------
// The project's private Postfix (tools/tests/postfix/start.sh). CTest gives every test of a
// suite named Postfix* the "postfix" fixture, which starts and stops it. Run by hand, these
// tests skip when nothing listens on the ports.

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}
std::string postfix_target() { return "127.0.0.1:" + env_or("SMTPH_POSTFIX_PORT", "2525"); }
std::string postfix_tls_target() { return "127.0.0.1:" + env_or("SMTPH_POSTFIX_TLS_PORT", "2465"); }
std::string postfix_ca_file() {
  return env_or("SMTPH_POSTFIX_RUN", "/tmp/smtph-postfix") + "/tls/cert.pem";
}

bool postfix_listening(const std::string& target) {
  asio::io_context io;
  return run_io(io, [](std::string t) -> asio::awaitable<bool> {
    ConnectionOptions o = quick();
    o.timeouts.connect = 1000ms;
    Connection conn(co_await asio::this_coro::executor, o);
    co_return static_cast<bool>(co_await conn.connect(t));
  }(target));
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto byte = [&](std::size_t i) -> std::uint32_t {
    return i < in.size() ? std::uint32_t{static_cast<unsigned char>(in[i])} : 0U;
  };
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::uint32_t v = (byte(i) << 16U) | (byte(i + 1) << 8U) | byte(i + 2);
    out += kAlphabet[(v >> 18U) & 63U];
    out += kAlphabet[(v >> 12U) & 63U];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6U) & 63U] : '=';
    out += i + 2 < in.size() ? kAlphabet[v & 63U] : '=';
  }
  return out;
}

TEST(NetTestSupport, Base64) {
  EXPECT_EQ(base64(std::string("\0bench\0benchpass", 16)), "AGJlbmNoAGJlbmNocGFzcw==");
  EXPECT_EQ(base64("ab"), "YWI=");
  EXPECT_EQ(base64("abc"), "YWJj");
}

bool has_line(const ReplyLines& reply, std::string_view keyword) {
  for (const auto& l : reply) {
    if (l.size() > 4 && std::string_view(l).substr(4) == keyword) return true;
  }
  return false;
}

class PostfixNet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!postfix_listening(postfix_target())) {
      GTEST_SKIP() << "Postfix is not listening on " << postfix_target()
                   << " (run tools/tests/postfix/start.sh, or run the tests through ctest)";
    }
  }
};

struct PostfixSeen {
  std::vector<ReplyLines> replies;  // in order
  Result<void> handshake;
  net::TlsInfo tls;
  std::optional<net::Error> error;
  net::Transport transport = net::Transport::plain;
};

/// greeting, EHLO, STARTTLS, EHLO, AUTH PLAIN, QUIT over one Connection.
asio::awaitable<PostfixSeen> postfix_starttls(std::string target, net::TlsClientOptions tls) {
  PostfixSeen s;
  Connection conn(co_await asio::this_coro::executor, quick());
  if (auto c = co_await conn.connect(target); !c) {
    s.error = c.error();
    co_return s;
  }
  Pump pump(conn, pump_quick());
  const RunLimits limits{5000ms, 0};
  auto step = [&](net::Result<ReplyLines> r) {
    if (r) {
      s.replies.push_back(std::move(*r));
      return true;
    }
    s.error = r.error();
    return false;
  };
  if (!step(co_await read_reply(pump, limits))) co_return s;
  if (!step(co_await command(pump, "EHLO client.example.test", limits))) co_return s;
  if (!step(co_await command(pump, "STARTTLS", limits))) co_return s;
  auto client = net::make_client_tls(tls);
  if (!client) {
    s.handshake = tl::make_unexpected(client.error());
    co_return s;
  }
  s.handshake = co_await conn.start_tls_client(*client, pump.take_input());
  s.tls = conn.tls_info();
  s.transport = conn.transport();
  if (!s.handshake) co_return s;
  if (!step(co_await command(pump, "EHLO client.example.test", limits))) co_return s;
  const std::string plain = base64(std::string("\0bench\0benchpass", 16));
  if (!step(co_await command(pump, "AUTH PLAIN " + plain, limits))) co_return s;
  if (!step(co_await command(pump, "QUIT", limits))) co_return s;
  co_await conn.shutdown();
  co_return s;
}

TEST_F(PostfixNet, GreetingEhloStarttlsVerifiedAndAuth) {
  net::TlsClientOptions tls;
  tls.ca_file = postfix_ca_file();
  asio::io_context io;
  auto s = run_io(io, postfix_starttls(postfix_target(), tls));
  ASSERT_FALSE(s.error) << errtext(*s.error);
  ASSERT_TRUE(s.handshake) << errtext(s.handshake.error());
  ASSERT_EQ(s.replies.size(), 6u);
  EXPECT_EQ(reply_code(s.replies[0]), 220);
  EXPECT_NE(s.replies[0][0].find("ESMTP Postfix"), std::string::npos) << s.replies[0][0];
  EXPECT_EQ(reply_code(s.replies[1]), 250);
  EXPECT_TRUE(has_line(s.replies[1], "STARTTLS"));
  EXPECT_TRUE(has_line(s.replies[1], "AUTH PLAIN LOGIN"));
  EXPECT_EQ(reply_code(s.replies[2]), 220);
  EXPECT_EQ(s.transport, net::Transport::tls);
  EXPECT_EQ(s.tls.version.rfind("TLSv1.", 0), 0u) << s.tls.version;
  EXPECT_FALSE(s.tls.cipher.empty());
  EXPECT_NE(s.tls.peer_subject.find("CN=localhost"), std::string::npos) << s.tls.peer_subject;
  EXPECT_TRUE(s.tls.verified) << s.tls.verify_error;
  EXPECT_EQ(reply_code(s.replies[3]), 250);
  EXPECT_FALSE(has_line(s.replies[3], "STARTTLS")) << "not offered again inside TLS";
  EXPECT_EQ(reply_code(s.replies[4]), 235) << s.replies[4][0];
  EXPECT_EQ(reply_code(s.replies[5]), 221);
}

TEST_F(PostfixNet, InsecureStarttlsRecordsWhyItIsNotVerified) {
  net::TlsClientOptions tls;
  tls.verify = false;  // system store only: the test cert is self-signed
  asio::io_context io;
  auto s = run_io(io, postfix_starttls(postfix_target(), tls));
  ASSERT_FALSE(s.error) << errtext(*s.error);
  ASSERT_TRUE(s.handshake) << errtext(s.handshake.error());
  EXPECT_FALSE(s.tls.verified);
  EXPECT_NE(s.tls.verify_error.find("self-signed"), std::string::npos) << s.tls.verify_error;
  ASSERT_EQ(s.replies.size(), 6u);
  EXPECT_EQ(reply_code(s.replies[5]), 221);
}

TEST_F(PostfixNet, StarttlsOverIpv6Loopback) {
  if (!postfix_listening("[::1]:" + env_or("SMTPH_POSTFIX_PORT", "2525"))) {
    GTEST_SKIP() << "no IPv6 loopback listener";
  }
  net::TlsClientOptions tls;
  tls.ca_file = postfix_ca_file();
  asio::io_context io;
  auto s = run_io(io, postfix_starttls("[::1]:" + env_or("SMTPH_POSTFIX_PORT", "2525"), tls));
  ASSERT_FALSE(s.error) << errtext(*s.error);
  ASSERT_TRUE(s.handshake) << errtext(s.handshake.error());
  EXPECT_TRUE(s.tls.verified) << s.tls.verify_error;  // SAN IP:::1
}

TEST_F(PostfixNet, ImplicitTlsPort) {
  asio::io_context io;
  struct Seen {
    Result<void> handshake;
    net::TlsInfo tls;
    std::vector<ReplyLines> replies;
    std::optional<net::Error> error;
  };
  auto s = run_io(io, [](std::string target) -> asio::awaitable<Seen> {
    Seen out;
    Connection conn(co_await asio::this_coro::executor, quick());
    if (auto c = co_await conn.connect(target); !c) {
      out.error = c.error();
      co_return out;
    }
    net::TlsClientOptions o;
    o.ca_file = postfix_ca_file();
    out.handshake = co_await conn.start_tls_client(*net::make_client_tls(o));
    out.tls = conn.tls_info();
    if (!out.handshake) co_return out;
    Pump pump(conn, pump_quick());
    const RunLimits limits{5000ms, 0};
    for (auto* cmd : {"", "EHLO client.example.test", "QUIT"}) {
      // (no co_await inside ?: - GCC 12 miscompiles it)
      net::Result<ReplyLines> r;
      if (*cmd == '\0') {
        r = co_await read_reply(pump, limits);
      } else {
        r = co_await command(pump, cmd, limits);
      }
      if (!r) {
        out.error = r.error();
        co_return out;
      }
      out.replies.push_back(*r);
    }
    co_await conn.shutdown();
    co_return out;
  }(postfix_tls_target()));
  ASSERT_FALSE(s.error) << errtext(*s.error);
  ASSERT_TRUE(s.handshake) << errtext(s.handshake.error());
  EXPECT_TRUE(s.tls.verified) << s.tls.verify_error;
  EXPECT_FALSE(s.tls.cipher.empty());
  ASSERT_EQ(s.replies.size(), 3u);
  EXPECT_EQ(reply_code(s.replies[0]), 220);
  EXPECT_TRUE(has_line(s.replies[1], "AUTH PLAIN LOGIN"));
  EXPECT_FALSE(has_line(s.replies[1], "STARTTLS"));
  EXPECT_EQ(reply_code(s.replies[2]), 221);
}

}  // namespace
