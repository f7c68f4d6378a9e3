// The reference server (tools/server) in-process over loopback: delivery byte-exact, STARTTLS,
// implicit TLS, AUTH, 200 concurrent sessions, 421 on shutdown and on idle timeout, session
// limit, quirks, the JSON Lines and maildir stores, own-thread mode, `serve` option handling.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "cli/cmd_serve.h"
#include "net/pump.h"
#include "net/tls.h"
#include "net/transport.h"
#include "server/message_store.h"
#include "server/reference_server.h"
#include "smtp/sasl.h"
#include "support/io_run.h"

namespace {

using namespace std::chrono_literals;
namespace net = smtp::net;
namespace srv = smtp::server;
using smtp::testing::read_reply;
using smtp::testing::run_io;
using srv::ListenerKind;
using srv::ReferenceServer;

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

net::ConnectionOptions quick() {
  net::ConnectionOptions o;
  o.timeouts.connect = 5000ms;
  o.timeouts.tls_handshake = 10000ms;
  o.timeouts.read = 10000ms;
  o.timeouts.write = 10000ms;
  return o;
}

net::PumpOptions pump_quick() {
  net::PumpOptions o;
  o.read_timeout = 10000ms;
  o.write_timeout = 10000ms;
  o.max_line = 4096;
  return o;
}

/// One self-signed certificate for the whole binary (key generation is the slow part).
const net::CertificatePem& test_certificate() {
  static const net::CertificatePem pem = [] {
    auto made = net::make_self_signed();
    if (!made) throw std::runtime_error(made.error().message);
    return *made;
  }();
  return pem;
}

srv::ReferenceServerOptions test_options() {
  srv::ReferenceServerOptions o = srv::embedded_options();
  o.certificate = test_certificate();
  o.idle_timeout = 30s;
  o.write_timeout = 10s;
  o.shutdown_grace = 10s;
  return o;
}

/// A client connection with a line-mode pump.
struct Client {
  std::unique_ptr<net::Connection> conn;
  std::unique_ptr<net::Pump> pump;
};

asio::awaitable<net::Result<Client>> connect_to(std::string target) {
  Client c;
  c.conn = std::make_unique<net::Connection>(co_await asio::this_coro::executor, quick());
  auto r = co_await c.conn->connect(target);
  if (!r) co_return tl::make_unexpected(std::move(r.error()));
  c.pump = std::make_unique<net::Pump>(*c.conn, pump_quick());
  co_return c;
}

/// Send `line` (CRLF appended unless empty) and return the reply's lines joined by "\n", or
/// "ERR <reason>" ("ERR closed" when the server closed the connection).
asio::awaitable<std::string> ask(net::Pump& pump, std::string_view line) {
  if (!line.empty()) {
    auto q = pump.send(std::string(line) + "\r\n");
    if (!q) co_return "ERR " + q.error().message;
  }
  auto reply = co_await read_reply(pump);
  if (!reply) {
    co_return reply.error().is(net::errc::closed) ? std::string("ERR closed")
                                                  : "ERR " + reply.error().message;
  }
  std::string out;
  for (const std::string& l : *reply) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  co_return out;
}

/// Send raw bytes and read one reply.
asio::awaitable<std::string> send_raw(net::Pump& pump, std::string_view bytes) {
  auto q = pump.send(bytes);
  if (!q) co_return "ERR " + q.error().message;
  co_return co_await ask(pump, "");
}

/// TLS client context that verifies the server's own certificate.
net::ClientTls client_tls(const ReferenceServer& server) {
  net::TlsClientOptions o;
  o.verify = true;
  o.ca_pem = server.certificate_pem();
  auto tls = net::make_client_tls(o);
  if (!tls) throw std::runtime_error(tls.error().message);
  return *tls;
}

std::string code_of(const std::string& reply) { return reply.substr(0, 3); }

bool has_line(const std::string& reply, std::string_view text) {
  return reply.find(text) != std::string::npos;
}

/// MAIL, RCPT, DATA, body, QUIT on an open session; the replies in order.
asio::awaitable<std::vector<std::string>> send_message(net::Pump& pump, std::string from,
                                                       std::string to, std::string wire_body) {
  std::vector<std::string> r;
  r.push_back(co_await ask(pump, "MAIL FROM:<" + from + ">"));
  r.push_back(co_await ask(pump, "RCPT TO:<" + to + ">"));
  r.push_back(co_await ask(pump, "DATA"));
  if (code_of(r.back()) == "354") r.push_back(co_await send_raw(pump, wire_body));
  r.push_back(co_await ask(pump, "QUIT"));
  co_return r;
}

// ---------------------------------------------------------------------------------------------

TEST(Serve, DeliversExactBytesOverPlainTcp) {
  asio::io_context io;
  ReferenceServer server(test_options());
  auto bound = server.start(io);
  ASSERT_TRUE(bound) << bound.error().message;
  ASSERT_EQ(bound->size(), 2u);
  EXPECT_EQ((*bound)[0].kind, ListenerKind::plain);
  EXPECT_EQ((*bound)[1].kind, ListenerKind::implicit_tls);
  EXPECT_TRUE((*bound)[0].endpoint.address().is_loopback());
  EXPECT_NE((*bound)[0].endpoint.port(), 0);
  const std::string target = server.endpoint()->to_string();

  // Dot-stuffed line, a line that is only "..", 8-bit octets, an empty line, trailing CRLF.
  const std::string wire =
      "Subject: exact\r\n\r\n..leading dot\r\n...\r\nbytes \xC3\xA9\xFF\r\n\r\nend\r\n.\r\n";
  const std::string expected =
      "Subject: exact\r\n\r\n.leading dot\r\n..\r\nbytes \xC3\xA9\xFF\r\n\r\nend\r\n";

  auto replies = run_io(
      io,
      [&]() -> asio::awaitable<std::vector<std::string>> {
        auto c = co_await connect_to(target);
        if (!c) co_return std::vector<std::string>{"ERR " + c.error().message};
        std::vector<std::string> r;
        r.push_back(co_await ask(*c->pump, ""));
        r.push_back(co_await ask(*c->pump, "EHLO client.example"));
        auto rest =
            co_await send_message(*c->pump, "sender@client.example", "alice@example.test", wire);
        r.insert(r.end(), rest.begin(), rest.end());
        co_return r;
      }(),
      [&] { server.stop(); });

  ASSERT_EQ(replies.size(), 7u) << replies.front();
  EXPECT_EQ(code_of(replies[0]), "220") << replies[0];
  EXPECT_TRUE(has_line(replies[0], "mx.example.test"));
  EXPECT_EQ(code_of(replies[1]), "250");
  EXPECT_TRUE(has_line(replies[1], "STARTTLS"));
  EXPECT_TRUE(has_line(replies[1], "PIPELINING"));
  EXPECT_EQ(code_of(replies[2]), "250") << replies[2];
  EXPECT_EQ(code_of(replies[3]), "250") << replies[3];
  EXPECT_EQ(code_of(replies[4]), "354") << replies[4];
  EXPECT_EQ(code_of(replies[5]), "250") << replies[5];
  EXPECT_EQ(code_of(replies[6]), "221") << replies[6];

  EXPECT_TRUE(server.is_stopped());
  const auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u);
  const srv::DeliveredMessage& m = messages[0];
  EXPECT_EQ(m.data, expected);
  EXPECT_EQ(m.id, 1u);
  EXPECT_EQ(m.session, 1u);
  EXPECT_EQ(m.mail_from(), "sender@client.example");
  EXPECT_EQ(m.rcpt_to(), std::vector<std::string>{"alice@example.test"});
  EXPECT_EQ(m.envelope.helo, "client.example");
  EXPECT_TRUE(m.envelope.extended);
  EXPECT_FALSE(m.envelope.tls);
  EXPECT_TRUE(m.envelope.auth_user.empty());
  EXPECT_EQ(m.listener_kind, ListenerKind::plain);
  EXPECT_EQ(m.listener, target);
  EXPECT_EQ(m.client.rfind("127.0.0.1:", 0), 0u) << m.client;
  EXPECT_FALSE(m.bdat);
  EXPECT_FALSE(m.ended_by.has_value());
  EXPECT_EQ(m.received_at.size(), 24u) << m.received_at;
  EXPECT_EQ(server.message_count(), 1u);
  EXPECT_EQ(server.stats().sessions_total, 1u);
  EXPECT_EQ(server.stats().sessions_active, 0u);
}

TEST(Serve, PipelinedTransactionAndBdat) {
  asio::io_context io;
  ReferenceServer server(test_options());
  auto bound = server.start(io);
  ASSERT_TRUE(bound) << bound.error().message;
  const std::string target = server.endpoint()->to_string();

  auto replies = run_io(
      io,
      [&]() -> asio::awaitable<std::vector<std::string>> {
        auto c = co_await connect_to(target);
        if (!c) co_return std::vector<std::string>{"ERR " + c.error().message};
        std::vector<std::string> r;
        r.push_back(co_await ask(*c->pump, ""));
        r.push_back(co_await ask(*c->pump, "EHLO client.example"));
        // RFC 2920: MAIL, RCPT, RCPT and DATA in one write; four replies in order.
        (void)c->pump->send(
            "MAIL FROM:<a@client.example> SIZE=20\r\nRCPT TO:<bob@example.test>\r\n"
            "RCPT TO:<postmaster@example.test>\r\nDATA\r\n");
        for (int i = 0; i < 4; ++i) r.push_back(co_await ask(*c->pump, ""));
        r.push_back(co_await send_raw(*c->pump, "one\r\n.\r\n"));
        // RFC 3030: BDAT chunks, the second LAST; binary-safe (a bare LF and NUL inside).
        r.push_back(co_await ask(*c->pump, "MAIL FROM:<> BODY=BINARYMIME"));
        r.push_back(co_await ask(*c->pump, "RCPT TO:<alice@example.test>"));
        r.push_back(co_await send_raw(*c->pump, std::string("BDAT 4\r\nab\n\0", 12)));
        r.push_back(co_await send_raw(*c->pump, "BDAT 3 LAST\r\n.\r\n"));
        r.push_back(co_await ask(*c->pump, "QUIT"));
        co_return r;
      }(),
      [&] { server.stop(); });

  ASSERT_EQ(replies.size(), 12u);
  for (std::size_t i : {2u, 3u, 4u, 6u, 7u, 8u, 9u, 10u}) {
    EXPECT_EQ(code_of(replies[i]), "250") << i << ": " << replies[i];
  }
  EXPECT_EQ(code_of(replies[5]), "354") << replies[5];
  const auto messages = server.messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].data, "one\r\n");
  EXPECT_EQ(messages[0].rcpt_to(),
            (std::vector<std::string>{"bob@example.test", "postmaster@example.test"}));
  ASSERT_EQ(messages[0].envelope.mail_params.size(), 1u);
  EXPECT_EQ(messages[0].envelope.mail_params[0].keyword, "SIZE");
  EXPECT_EQ(messages[0].envelope.mail_params[0].value.value_or(""), "20");
  EXPECT_TRUE(messages[1].bdat);
  EXPECT_EQ(messages[1].data, std::string("ab\n\0.\r\n", 7));
  EXPECT_EQ(messages[1].mail_from(), "");
  EXPECT_TRUE(messages[1].envelope.reverse_path.null);
}

TEST(Serve, StartTlsUpgradeVerifiesCertificateAndResetsState) {
  asio::io_context io;
  ReferenceServer server(test_options());
  auto bound = server.start(io);
  ASSERT_TRUE(bound) << bound.error().message;
  const std::string target = server.endpoint()->to_string();
  const net::ClientTls tls = client_tls(server);
  EXPECT_NE(server.certificate_subject().find("CN=localhost"), std::string::npos);

  struct Out {
    std::vector<std::string> r;
    net::TlsInfo info;
    std::string error;
  };
  auto out = run_io(
      io,
      [&]() -> asio::awaitable<Out> {
        Out o;
        auto c = co_await connect_to(target);
        if (!c) {
          o.error = c.error().message;
          co_return o;
        }
        o.r.push_back(co_await ask(*c->pump, ""));
        o.r.push_back(co_await ask(*c->pump, "EHLO client.example"));
        o.r.push_back(co_await ask(*c->pump, "STARTTLS"));
        auto hs = co_await c->conn->start_tls_client(tls, c->pump->take_input());
        if (!hs) {
          o.error = hs.error().message;
          co_return o;
        }
        o.info = c->conn->tls_info();
        // RFC 3207 §4.2: the EHLO state is gone; MAIL before a new EHLO gets 503.
        o.r.push_back(co_await ask(*c->pump, "MAIL FROM:<a@client.example>"));
        o.r.push_back(co_await ask(*c->pump, "EHLO client.example"));
        auto rest = co_await send_message(*c->pump, "a@client.example", "bob@example.test",
                                          "over tls\r\n.\r\n");
        o.r.insert(o.r.end(), rest.begin(), rest.end());
        co_return o;
      }(),
      [&] { server.stop(); });

  ASSERT_TRUE(out.error.empty()) << out.error;
  ASSERT_EQ(out.r.size(), 10u);
  EXPECT_EQ(code_of(out.r[2]), "220") << out.r[2];
  EXPECT_TRUE(out.info.verified) << out.info.verify_error;
  EXPECT_FALSE(out.info.version.empty());
  EXPECT_EQ(code_of(out.r[3]), "503") << out.r[3];
  EXPECT_EQ(code_of(out.r[4]), "250");
  EXPECT_FALSE(has_line(out.r[4], "STARTTLS")) << out.r[4];
  EXPECT_EQ(code_of(out.r[8]), "250") << out.r[8];
  const auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0].envelope.tls);
  EXPECT_EQ(messages[0].tls_version, out.info.version);
  EXPECT_FALSE(messages[0].tls_cipher.empty());
  EXPECT_EQ(messages[0].data, "over tls\r\n");
  EXPECT_EQ(server.stats().tls_handshakes, 1u);
}

TEST(Serve, ImplicitTlsListener) {
  asio::io_context io;
  ReferenceServer server(test_options());
  auto bound = server.start(io);
  ASSERT_TRUE(bound) << bound.error().message;
  const auto implicit = server.endpoint(ListenerKind::implicit_tls);
  ASSERT_TRUE(implicit.has_value());
  const std::string target = implicit->to_string();
  const net::ClientTls tls = client_tls(server);

  struct Out {
    std::vector<std::string> r;
    std::string error;
  };
  auto out = run_io(
      io,
      [&]() -> asio::awaitable<Out> {
        Out o;
        auto c = co_await connect_to(target);
        if (!c) {
          o.error = c.error().message;
          co_return o;
        }
        auto hs = co_await c->conn->start_tls_client(tls);
        if (!hs) {
          o.error = hs.error().message;
          co_return o;
        }
        o.r.push_back(co_await ask(*c->pump, ""));
        o.r.push_back(co_await ask(*c->pump, "EHLO client.example"));
        auto rest = co_await send_message(*c->pump, "a@client.example", "alice@example.test",
                                          "implicit\r\n.\r\n");
        o.r.insert(o.r.end(), rest.begin(), rest.end());
        co_return o;
      }(),
      [&] { server.stop(); });

  ASSERT_TRUE(out.error.empty()) << out.error;
  ASSERT_EQ(out.r.size(), 7u);
  EXPECT_EQ(code_of(out.r[0]), "220") << out.r[0];
  EXPECT_FALSE(has_line(out.r[1], "STARTTLS")) << "STARTTLS offered on a TLS connection";
  EXPECT_TRUE(has_line(out.r[1], "AUTH"));
  EXPECT_EQ(code_of(out.r[5]), "250") << out.r[5];
  const auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].listener_kind, ListenerKind::implicit_tls);
  EXPECT_TRUE(messages[0].envelope.tls);
  EXPECT_EQ(messages[0].data, "implicit\r\n");
}

TEST(Serve, AuthPlainAndTheAuthUserOnTheMessage) {
  asio::io_context io;
  srv::ReferenceServerOptions options = test_options();
  options.profile.auth_users = {smtp::AuthUser{"carol", "s3cret"}};
  ReferenceServer server(std::move(options));
  auto bound = server.start(io);
  ASSERT_TRUE(bound) << bound.error().message;
  const std::string target = server.endpoint()->to_string();

  auto r = run_io(
      io,
      [&]() -> asio::awaitable<std::vector<std::string>> {
        auto c = co_await connect_to(target);
        if (!c) co_return std::vector<std::string>{"ERR " + c.error().message};
        std::vector<std::string> out;
        out.push_back(co_await ask(*c->pump, ""));
        out.push_back(co_await ask(*c->pump, "EHLO client.example"));
        out.push_back(co_await ask(
            *c->pump, "AUTH PLAIN " + smtp::base64_encode(smtp::sasl_plain("", "carol", "wrong"))));
        out.push_back(co_await ask(*c->pump, "AUTH PLAIN " + smtp::base64_encode(smtp::sasl_plain(
                                                                 "", "carol", "s3cret"))));
        auto rest = co_await send_message(*c->pump, "carol@client.example", "bob@example.test",
                                          "authenticated\r\n.\r\n");
        out.insert(out.end(), rest.begin(), rest.end());
        co_return out;
      }(),
      [&] { server.stop(); });

  ASSERT_EQ(r.size(), 9u) << r.front();
  EXPECT_TRUE(has_line(r[1], "AUTH PLAIN")) << r[1];
  EXPECT_EQ(code_of(r[2]), "535") << r[2];
  EXPECT_EQ(code_of(r[3]), "235") << r[3];
  EXPECT_EQ(code_of(r[7]), "250") << r[7];
  const auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].envelope.auth_user, "carol");
}

TEST(Serve, AuthRequiresTlsOnlyAfterStartTls) {
  asio::io_context io;
  srv::ReferenceServerOptions options = test_options();
  options.profile.auth_requires_tls = true;
  ReferenceServer server(std::move(options));
  auto bound = server.start(io);
  ASSERT_TRUE(bound) << bound.error().message;
  const std::string target = server.endpoint()->to_string();
  const net::ClientTls tls = client_tls(server);
  const std::string auth =
      "AUTH PLAIN " + smtp::base64_encode(smtp::sasl_plain("", "bench", "benchpass"));
  auto r = run_io(
      io,
      [&]() -> asio::awaitable<std::vector<std::string>> {
        auto c = co_await connect_to(target);
        if (!c) co_return std::vector<std::string>{"ERR " + c.error().message};
        std::vector<std::string> out;
        out.push_back(co_await ask(*c->pump, ""));
        out.push_back(co_await ask(*c->pump, "EHLO client.example"));
        out.push_back(co_await ask(*c->pump, auth));
        out.push_back(co_await ask(*c->pump, "STARTTLS"));
        auto hs = co_await c->conn->start_tls_client(tls, c->pump->take_input());
        if (!hs) co_return std::vector<std::string>{"ERR " + hs.error().message};
        out.push_back(co_await ask(*c->pump, "EHLO client.example"));
        out.push_back(co_await ask(*c->pump, auth));
        out.push_back(co_await ask(*c->pump, "QUIT"));
        co_return out;
      }(),
      [&] { server.stop(); });
  ASSERT_EQ(r.size(), 7u) << r.front();
  EXPECT_FALSE(has_line(r[1], "AUTH")) << r[1];
  EXPECT_EQ(r[2][0], '5') << r[2];
  EXPECT_TRUE(has_line(r[4], "AUTH PLAIN")) << r[4];
  EXPECT_EQ(code_of(r[5]), "235") << r[5];
}

TEST(Serve, TwoHundredConcurrentSessionsEachDeliverAMessage) {
  constexpr int kClients = 200;
  asio::io_context io;
  ReferenceServer server(test_options());
  auto bound = server.start(io);
  ASSERT_TRUE(bound) << bound.error().message;
  const std::string target = server.endpoint()->to_string();

  std::vector<std::string> results(kClients);
  int done = 0;
  // Every client connects first and waits until all are connected (so the sessions are
  // really concurrent), then sends its message.
  int connected = 0;
  asio::steady_timer all_connected(io, std::chrono::steady_clock::time_point::max());
  for (int i = 0; i < kClients; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<std::string> {
          auto c = co_await connect_to(target);
          if (!c) co_return "ERR " + c.error().message;
          const std::string greeting = co_await ask(*c->pump, "");
          if (++connected == kClients) all_connected.cancel();
          while (connected < kClients) (void)co_await all_connected.async_wait(use_tuple);
          std::string trace = code_of(greeting);
          trace += code_of(co_await ask(*c->pump, "EHLO c" + std::to_string(i) + ".example"));
          auto rest = co_await send_message(*c->pump, "s" + std::to_string(i) + "@client.example",
                                            "alice@example.test",
                                            "message " + std::to_string(i) + "\r\n.\r\n");
          for (const auto& x : rest) trace += code_of(x);
          co_return trace;
        },
        [&, i](std::exception_ptr e, std::string trace) {
          results[static_cast<std::size_t>(i)] = e ? std::string("exception") : trace;
          if (++done == kClients) server.stop();
        });
  }
  io.run_for(120s);
  ASSERT_EQ(done, kClients);
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(results[static_cast<std::size_t>(i)], "220250250250354250221") << "client " << i;
  }
  EXPECT_TRUE(server.is_stopped());
  EXPECT_EQ(server.message_count(), static_cast<std::uint64_t>(kClients));
  const auto messages = server.messages();
  std::set<std::string> bodies;
  std::set<std::uint64_t> sessions;
  for (const auto& m : messages) {
    bodies.insert(m.data);
    sessions.insert(m.session);
    // Each message carries its own session's envelope.
    const std::string n = m.data.substr(8, m.data.size() - 10);
    EXPECT_EQ(m.envelope.helo, "c" + n + ".example");
    EXPECT_EQ(m.mail_from(), "s" + n + "@client.example");
  }
  EXPECT_EQ(bodies.size(), static_cast<std::size_t>(kClients));
  EXPECT_EQ(sessions.size(), static_cast<std::size_t>(kClients));
  EXPECT_EQ(server.stats().sessions_peak, static_cast<std::uint64_t>(kClients));
}

/// Connect (over implicit TLS if `tls`), greet, EHLO, optionally start DATA, then stop the
/// server; what the client sees.
std::vector<std::string> shutdown_seen(srv::ReferenceServerOptions options, bool in_data,
                                       bool tls = false) {
  asio::io_context io;
  ReferenceServer server(std::move(options));
  auto bound = server.start(io);
  if (!bound) return {"ERR " + bound.error().message};
  const std::string target =
      server.endpoint(tls ? ListenerKind::implicit_tls : ListenerKind::plain)->to_string();
  const net::ClientTls client = client_tls(server);
  return run_io(io, [&]() -> asio::awaitable<std::vector<std::string>> {
    auto c = co_await connect_to(target);
    if (!c) co_return std::vector<std::string>{"ERR " + c.error().message};
    if (tls) {
      auto hs = co_await c->conn->start_tls_client(client);
      if (!hs) co_return std::vector<std::string>{"ERR " + hs.error().message};
    }
    std::vector<std::string> out;
    out.push_back(co_await ask(*c->pump, ""));
    out.push_back(co_await ask(*c->pump, "EHLO client.example"));
    if (in_data) {
      out.push_back(co_await ask(*c->pump, "MAIL FROM:<a@client.example>"));
      out.push_back(co_await ask(*c->pump, "RCPT TO:<alice@example.test>"));
      out.push_back(co_await ask(*c->pump, "DATA"));
      (void)c->pump->send("partial line of a message\r\n");
      (void)co_await c->pump->flush();
    }
    server.stop();  // from the io thread: returns at once
    out.push_back(co_await ask(*c->pump, ""));
    if (out.back().rfind("ERR", 0) != 0) out.push_back(co_await ask(*c->pump, ""));
    co_return out;
  }());
}

TEST(Serve, ShutdownSends421ToEverySession) {
  const auto idle = shutdown_seen(test_options(), false);
  ASSERT_EQ(idle.size(), 4u) << idle.front();
  EXPECT_EQ(code_of(idle[2]), "421") << idle[2];
  EXPECT_TRUE(has_line(idle[2], "4.3.2")) << idle[2];
  EXPECT_EQ(idle[3], "ERR closed");

  const auto data = shutdown_seen(test_options(), true);
  ASSERT_EQ(data.size(), 7u) << data.front();
  EXPECT_EQ(code_of(data[4]), "354") << data[4];
  EXPECT_EQ(code_of(data[5]), "421") << data[5];
  EXPECT_EQ(data[6], "ERR closed");

  // The same over TLS: the pending TLS read is interrupted, the 421 goes out encrypted.
  const auto tls = shutdown_seen(test_options(), true, /*tls=*/true);
  ASSERT_EQ(tls.size(), 7u) << tls.front();
  EXPECT_EQ(code_of(tls[4]), "354") << tls[4];
  EXPECT_EQ(code_of(tls[5]), "421") << tls[5];
  EXPECT_EQ(tls[6], "ERR closed");
}

TEST(Serve, QuirkNo421OnShutdownClosesSilently) {
  srv::ReferenceServerOptions options = test_options();
  options.profile.quirks.set(smtp::Quirk::no_421_on_shutdown);
  const auto seen = shutdown_seen(std::move(options), false);
  ASSERT_EQ(seen.size(), 3u) << seen.front();
  EXPECT_EQ(code_of(seen[1]), "250");
  EXPECT_EQ(seen[2], "ERR closed");
}

TEST(Serve, QuirkAcceptLfDotLfEndsDataEarly) {
  // SMTP smuggling: with the quirk "\n.\n" ends the message; the rest is read as commands.
  for (const bool quirk : {false, true}) {
    asio::io_context io;
    srv::ReferenceServerOptions options = test_options();
    if (quirk) options.profile.quirks.set(smtp::Quirk::accept_lf_dot_lf);
    ReferenceServer server(std::move(options));
    auto bound = server.start(io);
    ASSERT_TRUE(bound) << bound.error().message;
    const std::string target = server.endpoint()->to_string();
    const std::string body = "first\n.\nRSET\r\nsecond\r\n.\r\n";
    auto r = run_io(
        io,
        [&]() -> asio::awaitable<std::vector<std::string>> {
          auto c = co_await connect_to(target);
          if (!c) co_return std::vector<std::string>{"ERR " + c.error().message};
          std::vector<std::string> out;
          out.push_back(co_await ask(*c->pump, ""));
          out.push_back(co_await ask(*c->pump, "EHLO client.example"));
          out.push_back(co_await ask(*c->pump, "MAIL FROM:<a@client.example>"));
          out.push_back(co_await ask(*c->pump, "RCPT TO:<alice@example.test>"));
          out.push_back(co_await ask(*c->pump, "DATA"));
          out.push_back(co_await send_raw(*c->pump, body));
          out.push_back(co_await ask(*c->pump, "QUIT"));
          co_return out;
        }(),
        [&] { server.stop(); });
    const auto messages = server.messages();
    ASSERT_EQ(messages.size(), 1u) << "quirk " << quirk;
    if (quirk) {
      EXPECT_EQ(messages[0].data, "first\n");  // the LF before "." belongs to the text
      ASSERT_TRUE(messages[0].ended_by.has_value());
      EXPECT_EQ(*messages[0].ended_by, smtp::EodCandidate::lf_dot_lf);
    } else {
      EXPECT_EQ(messages[0].data, "first\n.\nRSET\r\nsecond\r\n");
      EXPECT_FALSE(messages[0].ended_by.has_value());
    }
  }
}

TEST(Serve, IdleTimeoutSends421AndCloses) {
  asio::io_context io;
  srv::ReferenceServerOptions options = test_options();
  options.idle_timeout = 300ms;
  ReferenceServer server(std::move(options));
  auto bound = server.start(io);
  ASSERT_TRUE(bound) << bound.error().message;
  const std::string target = server.endpoint()->to_string();
  auto r = run_io(
      io,
      [&]() -> asio::awaitable<std::vector<std::string>> {
        auto c = co_await connect_to(target);
        if (!c) co_return std::vector<std::string>{"ERR " + c.error().message};
        std::vector<std::string> out;
        out.push_back(co_await ask(*c->pump, ""));
        out.push_back(co_await ask(*c->pump, ""));  // say nothing: the server times out
        out.push_back(co_await ask(*c->pump, ""));
        co_return out;
      }(),
      [&] { server.stop(); });
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(code_of(r[1]), "421") << r[1];
  EXPECT_TRUE(has_line(r[1], "4.4.2")) << r[1];
  EXPECT_EQ(r[2], "ERR closed");
  EXPECT_EQ(server.stats().sessions_timed_out, 1u);
}

TEST(Serve, SessionsBeyondTheLimitGet421) {
  asio::io_context io;
  srv::ReferenceServerOptions options = test_options();
  options.max_sessions = 1;
  ReferenceServer server(std::move(options));
  auto bound = server.start(io);
  ASSERT_TRUE(bound) << bound.error().message;
  const std::string target = server.endpoint()->to_string();
  auto r = run_io(
      io,
      [&]() -> asio::awaitable<std::vector<std::string>> {
        auto first = co_await connect_to(target);
        if (!first) co_return std::vector<std::string>{"ERR " + first.error().message};
        std::vector<std::string> out;
        out.push_back(co_await ask(*first->pump, ""));
        auto second = co_await connect_to(target);
        if (!second) co_return std::vector<std::string>{"ERR " + second.error().message};
        out.push_back(co_await ask(*second->pump, ""));
        out.push_back(co_await ask(*second->pump, ""));
        out.push_back(co_await ask(*first->pump, "NOOP"));
        co_return out;
      }(),
      [&] { server.stop(); });
  ASSERT_EQ(r.size(), 4u) << r.front();
  EXPECT_EQ(code_of(r[0]), "220");
  EXPECT_EQ(code_of(r[1]), "421") << r[1];
  EXPECT_TRUE(has_line(r[1], "4.3.2"));
  EXPECT_EQ(r[2], "ERR closed");
  EXPECT_EQ(code_of(r[3]), "250") << "the first session is unaffected";
  EXPECT_EQ(server.stats().sessions_refused, 1u);
}

TEST(Serve, RefusesNonLoopbackListenAddresses) {
  asio::io_context io;
  srv::ReferenceServerOptions options = test_options();
  options.listeners = {srv::ListenerConfig{"0.0.0.0:0", ListenerKind::plain}};
  ReferenceServer server(std::move(options));
  auto bound = server.start(io);
  ASSERT_FALSE(bound);
  EXPECT_TRUE(bound.error().is(net::errc::not_loopback)) << bound.error().message;
  EXPECT_TRUE(server.listeners().empty());
}

/// Deliver one message to a server storing at `location`; returns the delivered message.
srv::DeliveredMessage deliver_one_stored(const smtp::scenario::StoreLocation& location,
                                         const std::string& wire_body) {
  asio::io_context io;
  srv::ReferenceServerOptions options = test_options();
  options.store = location;
  ReferenceServer server(std::move(options));
  auto bound = server.start(io);
  if (!bound) throw std::runtime_error(bound.error().message);
  const std::string target = server.endpoint()->to_string();
  (void)run_io(
      io,
      [&]() -> asio::awaitable<int> {
        auto c = co_await connect_to(target);
        if (!c) co_return 0;
        (void)co_await ask(*c->pump, "");
        (void)co_await ask(*c->pump, "EHLO client.example");
        (void)co_await send_message(*c->pump, "a@client.example", "alice@example.test", wire_body);
        co_return 0;
      }(),
      [&] { server.stop(); });
  const auto messages = server.messages();
  if (messages.size() != 1 || server.stats().store_errors != 0) {
    throw std::runtime_error("message not delivered or not stored");
  }
  return messages[0];
}

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("smtph-serve-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Serve, JsonLinesStoreKeepsEnvelopeAndExactBytes) {
  const auto dir = fresh_dir("jsonl");
  const auto file = dir / "sub" / "mail.jsonl";
  const auto location = srv::store_location_from_path(file.string());
  ASSERT_EQ(location.format, smtp::scenario::StoreFormat::jsonl);
  const std::string invalid_utf8 = "Subject: b\xFF\xFE\r\n\r\n\xC3\xA9t\xC3\xA9\r\n";
  const auto m1 = deliver_one_stored(location, invalid_utf8 + ".\r\n");
  const auto m2 = deliver_one_stored(location, "second\r\n.\r\n");  // appends
  const std::string text = read_file(file);
  std::istringstream lines(text);
  std::vector<nlohmann::json> objects;
  for (std::string line; std::getline(lines, line);) objects.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(objects.size(), 2u);
  const auto& j = objects[0];
  EXPECT_EQ(j["id"], 1);
  EXPECT_EQ(j["mail_from"], "a@client.example");
  EXPECT_EQ(j["rcpt_to"], nlohmann::json::array({"alice@example.test"}));
  EXPECT_EQ(j["helo"], "client.example");
  EXPECT_EQ(j["esmtp"], true);
  EXPECT_EQ(j["tls"], false);
  EXPECT_TRUE(j["auth_user"].is_null());
  EXPECT_EQ(j["listener_kind"], "plain");
  EXPECT_EQ(j["transfer"], "data");
  EXPECT_EQ(j["size"], invalid_utf8.size());
  EXPECT_EQ(j["sha256"], srv::sha256_hex(invalid_utf8));
  EXPECT_EQ(j["sha256"].get<std::string>().size(), 64u);
  auto decoded = smtp::base64_decode(j["data_base64"].get<std::string>());
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, invalid_utf8);
  EXPECT_EQ(j["data_text"], "Subject: b\xEF\xBF\xBD\xEF\xBF\xBD\r\n\r\n\xC3\xA9t\xC3\xA9\r\n");
  EXPECT_EQ(objects[1]["data_text"], "second\r\n");
  EXPECT_EQ(m1.data, invalid_utf8);
  EXPECT_EQ(m2.data, "second\r\n");
  std::filesystem::remove_all(dir);
}

TEST(Serve, MaildirStoreWritesNewFilesAndEnvelopes) {
  const auto dir = fresh_dir("maildir");
  const auto location = srv::store_location_from_path((dir / "Maildir").string());
  ASSERT_EQ(location.format, smtp::scenario::StoreFormat::maildir);
  const std::string body = "Subject: m\r\n\r\nmaildir body\r\n";
  (void)deliver_one_stored(location, body + ".\r\n");
  const auto root = dir / "Maildir";
  for (const char* sub : {"tmp", "new", "cur", "envelope"}) {
    EXPECT_TRUE(std::filesystem::is_directory(root / sub)) << sub;
  }
  EXPECT_TRUE(std::filesystem::is_empty(root / "tmp"));
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(root / "new")) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(read_file(files[0]), body);
  EXPECT_EQ(files[0].filename().string().find(':'), std::string::npos);
  const auto envelope_file = root / "envelope" / (files[0].filename().string() + ".json");
  ASSERT_TRUE(std::filesystem::exists(envelope_file));
  const auto env = nlohmann::json::parse(read_file(envelope_file));
  EXPECT_EQ(env["mail_from"], "a@client.example");
  EXPECT_EQ(env["size"], body.size());
  EXPECT_FALSE(env.contains("data_base64"));
  std::filesystem::remove_all(dir);
}

TEST(Serve, OwnThreadModeWithBlockingAccessors) {
  srv::ReferenceServerOptions options = test_options();
  options.listeners = {srv::ListenerConfig{"127.0.0.1:0", ListenerKind::plain}};
  std::atomic<int> callbacks{0};
  options.on_message = [&](const srv::DeliveredMessage&) { ++callbacks; };
  ReferenceServer server(std::move(options));
  auto bound = server.start();
  ASSERT_TRUE(bound) << bound.error().message;
  ASSERT_EQ(bound->size(), 1u);
  const std::string target = (*bound)[0].to_string();

  asio::io_context client_io;
  auto r = run_io(client_io, [&]() -> asio::awaitable<std::vector<std::string>> {
    auto c = co_await connect_to(target);
    if (!c) co_return std::vector<std::string>{"ERR " + c.error().message};
    std::vector<std::string> out;
    out.push_back(co_await ask(*c->pump, ""));
    out.push_back(co_await ask(*c->pump, "HELO client.example"));
    auto rest =
        co_await send_message(*c->pump, "a@client.example", "bob@example.test", "x\r\n.\r\n");
    out.insert(out.end(), rest.begin(), rest.end());
    co_return out;
  }());
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(code_of(r[5]), "250") << r[5];
  EXPECT_TRUE(server.wait_for_messages(1, 10s));
  EXPECT_FALSE(server.wait_for_messages(2, 10ms));
  const auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_FALSE(messages[0].envelope.extended);
  EXPECT_EQ(callbacks.load(), 1);
  server.clear_messages();
  EXPECT_TRUE(server.messages().empty());
  EXPECT_EQ(server.message_count(), 1u);
  server.stop();
  EXPECT_TRUE(server.is_stopped());
  EXPECT_TRUE(server.wait_stopped(0ms));
}

TEST(Serve, ProfileMappingMatchesTheRunnerDefaults) {
  smtp::scenario::Profile target;
  const smtp::ServerProfile p = srv::server_profile_from(target);
  EXPECT_EQ(p.local_domains, std::vector<std::string>{"example.test"});
  ASSERT_EQ(p.auth_users.size(), 1u);
  EXPECT_EQ(p.auth_users[0].username, target.username);
  EXPECT_EQ(p.auth_users[0].password, target.password);
  EXPECT_EQ(p.auth_requires_tls, target.auth_requires_tls);
  EXPECT_FALSE(p.users.empty());
  EXPECT_EQ(std::count(p.users.begin(), p.users.end(), "no-such-user"), 0);
  EXPECT_GE(p.max_recipients, 100u);

  target.local_domain = "corp.test";
  target.valid_mailbox = "Jane@corp.test";
  target.invalid_mailbox = "ALICE@corp.test";  // even a default user is removed
  const smtp::ServerProfile q = srv::server_profile_from(target);
  EXPECT_EQ(q.local_domains, std::vector<std::string>{"corp.test"});
  EXPECT_EQ(std::count(q.users.begin(), q.users.end(), "Jane"), 1);
  EXPECT_EQ(std::count(q.users.begin(), q.users.end(), "alice"), 0);
}

TEST(Serve, LossyUtf8) {
  EXPECT_EQ(srv::lossy_utf8("plain"), "plain");
  EXPECT_EQ(srv::lossy_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"),
            "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  EXPECT_EQ(srv::lossy_utf8("a\xFFz"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(srv::lossy_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(srv::lossy_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(srv::lossy_utf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // truncated
  EXPECT_EQ(srv::lossy_utf8(std::string("\0", 1)), std::string("\0", 1));
}

// ---------------------------------------------------------------------------------------------
// `serve` flags -> server options

TEST(ServeCli, DefaultsAndFlags) {
  smtp::cli::ServeOptions o;
  auto d = smtp::cli::make_server_options(o);
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->listeners.size(), 1u);
  EXPECT_EQ(d->listeners[0].address, "127.0.0.1:2525");
  EXPECT_FALSE(d->profile.auth_requires_tls);
  EXPECT_FALSE(d->store.has_value());

  o.listen = {"127.0.0.1:0"};
  o.implicit_tls_listen = {"[::1]:0"};
  o.users = {"u1:p:with:colons", "u2:"};
  o.mailboxes = {"*"};
  o.auth_requires_tls = true;
  o.size = 1234;
  o.local_domains = {"a.test", "b.test"};
  o.store = "/tmp/x.jsonl";
  o.quirks = {"accept-lf-dot-lf", "no-421-on-shutdown"};
  o.hostname = "smtp.a.test";
  o.idle_timeout = 1.5;
  auto s = smtp::cli::make_server_options(o);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->listeners.size(), 2u);
  EXPECT_EQ(s->listeners[1].kind, ListenerKind::implicit_tls);
  ASSERT_EQ(s->profile.auth_users.size(), 2u);
  EXPECT_EQ(s->profile.auth_users[0].password, "p:with:colons");
  EXPECT_EQ(s->profile.auth_users[1].password, "");
  EXPECT_TRUE(s->profile.users.empty());
  EXPECT_TRUE(s->profile.auth_requires_tls);
  EXPECT_EQ(s->profile.max_message_size, 1234u);
  EXPECT_EQ(s->profile.local_domains, (std::vector<std::string>{"a.test", "b.test"}));
  ASSERT_TRUE(s->store.has_value());
  EXPECT_EQ(s->store->format, smtp::scenario::StoreFormat::jsonl);
  EXPECT_TRUE(s->profile.quirks.has(smtp::Quirk::accept_lf_dot_lf));
  EXPECT_TRUE(s->profile.quirks.has(smtp::Quirk::no_421_on_shutdown));
  EXPECT_EQ(s->profile.hostname, "smtp.a.test");
  EXPECT_EQ(s->idle_timeout, 1500ms);
}

TEST(ServeCli, UsageErrors) {
  const auto error_of = [](smtp::cli::ServeOptions o) {
    auto r = smtp::cli::make_server_options(o);
    return r ? std::string() : std::to_string(r.error().exit_code) + " " + r.error().message;
  };
  smtp::cli::ServeOptions o;
  o.quirks = {"no-such-quirk"};
  EXPECT_NE(error_of(o).find("2 unknown quirk"), std::string::npos) << error_of(o);
  o = {};
  o.listen = {"0.0.0.0:2525"};
  EXPECT_NE(error_of(o).find("--allow-non-loopback"), std::string::npos) << error_of(o);
  o.allow_non_loopback = true;
  EXPECT_EQ(error_of(o), "");
  o = {};
  o.listen = {"mail.example.com:25"};
  EXPECT_EQ(error_of(o).rfind("2 ", 0), 0u);
  o = {};
  o.users = {"nopassword"};
  EXPECT_NE(error_of(o).find("NAME:PASSWORD"), std::string::npos);
  o = {};
  o.mailboxes = {"a@b"};
  EXPECT_NE(error_of(o).find("--mailbox"), std::string::npos);
  o = {};
  o.cert = "/nonexistent.pem";
  EXPECT_NE(error_of(o).find("--cert and --key"), std::string::npos);
  o = {};
  o.idle_timeout = 0;
  EXPECT_NE(error_of(o).find("--idle-timeout"), std::string::npos);
}

TEST(ServeCli, ProfileFileAppliesWhereItFits) {
  const auto dir = fresh_dir("profile");
  const auto file = dir / "p.json";
  std::ofstream(file) << R"({"format": 1, "local_domain": "p.test",
    "valid_mailbox": "postmaster@p.test", "invalid_mailbox": "ghost@p.test",
    "username": "pu", "password": "pp", "auth_requires_tls": true,
    "store": {"path": "/tmp/p-store", "format": "maildir"},
    "target": {"host": "127.0.0.1", "port": 2587, "tls": "implicit"}})";
  smtp::cli::ServeOptions o;
  o.profile = file.string();
  auto s = smtp::cli::make_server_options(o);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->profile.local_domains, std::vector<std::string>{"p.test"});
  ASSERT_EQ(s->profile.auth_users.size(), 1u);
  EXPECT_EQ(s->profile.auth_users[0].username, "pu");
  EXPECT_TRUE(s->profile.auth_requires_tls);
  ASSERT_TRUE(s->store.has_value());
  EXPECT_EQ(s->store->format, smtp::scenario::StoreFormat::maildir);
  ASSERT_EQ(s->listeners.size(), 1u);
  EXPECT_EQ(s->listeners[0].address, "127.0.0.1:2587");
  EXPECT_EQ(s->listeners[0].kind, ListenerKind::implicit_tls);

  std::ofstream(file) << R"({"format": 1, "bogus": true})";
  auto bad = smtp::cli::make_server_options(o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().exit_code, 2);
  EXPECT_NE(bad.error().message.find("bogus"), std::string::npos) << bad.error().message;
  std::filesystem::remove_all(dir);
}

TEST(ServeCli, QuirkListNamesEveryQuirk) {
  const std::string text = smtp::cli::quirk_list_text();
  for (const auto& q : smtp::all_quirks()) {
    EXPECT_NE(text.find(std::string(q.name) + " "), std::string::npos) << q.name;
  }
}

}  // namespace
