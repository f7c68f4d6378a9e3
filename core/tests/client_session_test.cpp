// ClientSession against scripted server bytes: reply matching, pipelining, STARTTLS, AUTH,
// DATA/BDAT, deadlines, §4.3.2 checks (one test per row), and the secret-free transcript.
#include "smtp/client_session.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "smtp/dot_stuffing.h"
#include "smtp/sasl.h"

namespace smtp {
namespace {

struct Cli {
  explicit Cli(ClientConfig cfg = {}) : c(cfg) {}
  std::string out() {
    std::string o(c.pending_output());
    c.consume_output(o.size());
    return o;
  }
  void in(std::string_view s) {
    c.receive(s);
    drain();
  }
  void drain() {
    while (auto e = c.next_event()) ev.push_back(std::move(*e));
  }
  template <class T>
  std::vector<T> all() const {
    std::vector<T> v;
    for (const auto& e : ev) {
      if (auto* x = std::get_if<T>(&e)) v.push_back(*x);
    }
    return v;
  }
  std::vector<ReplyEvent> replies() const { return all<ReplyEvent>(); }
  std::vector<Violation> violations() const { return all<Violation>(); }
  /// Greeting + EHLO with these keywords, then clear events.
  void start(std::vector<std::string> keywords = {"PIPELINING", "SIZE 1000", "CHUNKING",
                                                  "BINARYMIME", "8BITMIME", "STARTTLS",
                                                  "AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2"}) {
    in("220 mx.example ESMTP\r\n");
    EXPECT_FALSE(c.ehlo("client.example"));
    EXPECT_EQ(out(), "EHLO client.example\r\n");
    keywords.insert(keywords.begin(), "mx.example");
    in(make_reply(250, keywords).serialize());
    ev.clear();
  }

  ClientSession c;
  std::vector<ClientEvent> ev;
};

TEST(ClientSession, NothingBeforeGreetingThenGreetingMatched) {
  Cli t;
  EXPECT_FALSE(t.c.ehlo("client.example"));
  EXPECT_EQ(t.out(), "");  // waits for the greeting
  EXPECT_EQ(t.c.waiting_for(), TimeoutKind::initial);
  t.in("220 mx.example ESMTP\r\n");
  ASSERT_EQ(t.replies().size(), 1u);
  EXPECT_EQ(t.replies()[0].to, ReplyTo::greeting);
  EXPECT_EQ(t.replies()[0].reply.code, 220);
  EXPECT_EQ(t.c.phase(), Phase::greeted);
  EXPECT_EQ(t.out(), "EHLO client.example\r\n");
  t.in("250-mx.example\r\n250 PIPELINING\r\n");
  EXPECT_EQ(t.c.phase(), Phase::ready);
  ASSERT_TRUE(t.c.capabilities().has_value());
  EXPECT_TRUE(t.c.pipelining_active());
  EXPECT_TRUE(t.violations().empty());
}

TEST(ClientSession, NoPipeliningOneAtATime) {
  Cli t;
  t.start({"SIZE 1000"});
  EXPECT_FALSE(t.c.pipelining_active());
  EXPECT_FALSE(t.c.mail_from("a@b.example"));
  EXPECT_FALSE(t.c.rcpt_to("<x@example.test>"));
  EXPECT_FALSE(t.c.data("hello\r\n"));
  EXPECT_EQ(t.out(), "MAIL FROM:<a@b.example>\r\n");
  t.in("250 ok\r\n");
  EXPECT_EQ(t.out(), "RCPT TO:<x@example.test>\r\n");
  t.in("250 ok\r\n");
  EXPECT_EQ(t.out(), "DATA\r\n");
  EXPECT_EQ(t.c.waiting_for(), TimeoutKind::data_init);
  t.in("354 go\r\n");
  EXPECT_EQ(t.c.phase(), Phase::data);
  EXPECT_EQ(t.out(), "hello\r\n.\r\n");
  EXPECT_EQ(t.c.waiting_for(), TimeoutKind::data_term);
  t.in("250 queued\r\n");
  EXPECT_EQ(t.c.phase(), Phase::ready);
  const auto r = t.replies();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].command->verb, Verb::mail);
  EXPECT_EQ(r[1].sent, "RCPT TO:<x@example.test>");
  EXPECT_EQ(r[2].reply.code, 354);
  EXPECT_EQ(r[3].to, ReplyTo::data_end);
  EXPECT_EQ(r[3].data_size, 7u);
  EXPECT_TRUE(t.violations().empty());
}

TEST(ClientSession, PipeliningRespectsGroupEnds) {
  Cli t;
  t.start();
  ASSERT_FALSE(t.c.mail_from("a@b.example"));
  ASSERT_FALSE(t.c.rcpt_to("x@example.test"));
  ASSERT_FALSE(t.c.rcpt_to("y@example.test"));
  ASSERT_FALSE(t.c.data(".leading dot\r\n"));
  ASSERT_FALSE(t.c.mail_from("c@d.example"));
  ASSERT_FALSE(t.c.rcpt_to("z@example.test"));
  ASSERT_FALSE(t.c.noop());
  ASSERT_FALSE(t.c.rset());
  // One group up to DATA (RFC 2920 §3.1).
  EXPECT_EQ(t.out(),
            "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@example.test>\r\nRCPT TO:<y@example.test>\r\n"
            "DATA\r\n");
  EXPECT_EQ(t.c.in_flight(), 4u);
  t.in("250 ok\r\n250 ok\r\n550 no\r\n");
  EXPECT_EQ(t.out(), "");
  t.in("354 go\r\n");
  // Content, then the next group up to NOOP.
  EXPECT_EQ(
      t.out(),
      "..leading dot\r\n.\r\nMAIL FROM:<c@d.example>\r\nRCPT TO:<z@example.test>\r\nNOOP\r\n");
  t.in("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n");
  EXPECT_EQ(t.out(), "RSET\r\n");
  t.in("250 ok\r\n");
  EXPECT_EQ(t.c.in_flight(), 0u);
  EXPECT_TRUE(t.violations().empty());
  EXPECT_EQ(t.c.phase(), Phase::ready);
}

TEST(ClientSession, PipelineModeNeverAndAlways) {
  ClientConfig never;
  never.pipelining = PipelineMode::never;
  Cli n(never);
  n.start();
  ASSERT_FALSE(n.c.mail_from("a@b.example"));
  ASSERT_FALSE(n.c.rcpt_to("x@example.test"));
  EXPECT_EQ(n.out(), "MAIL FROM:<a@b.example>\r\n");

  ClientConfig always;
  always.pipelining = PipelineMode::always;
  Cli a(always);
  ASSERT_FALSE(a.c.ehlo("c.example"));
  ASSERT_FALSE(a.c.mail_from("a@b.example"));
  ASSERT_FALSE(a.c.rcpt_to("x@example.test"));
  ASSERT_FALSE(a.c.data("m\r\n"));
  ASSERT_FALSE(a.c.quit());
  // Everything at once, before the greeting, content without waiting for 354.
  EXPECT_EQ(a.out(),
            "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@example.test>\r\nDATA\r\n"
            "m\r\n.\r\nQUIT\r\n");
  a.in("220 hi\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n");
  const auto r = a.replies();
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(r[5].to, ReplyTo::data_end);
  EXPECT_EQ(r[6].command->verb, Verb::quit);
  EXPECT_TRUE(a.c.closed());
  EXPECT_TRUE(a.violations().empty());
}

TEST(ClientSession, UnsolicitedReply) {
  Cli t;
  t.start();
  t.in("250 surprise\r\n");
  ASSERT_EQ(t.violations().size(), 1u);
  EXPECT_EQ(t.violations()[0].code, errc::unsolicited_reply);
  ASSERT_EQ(t.replies().size(), 1u);
  EXPECT_FALSE(t.replies()[0].solicited);
}

TEST(ClientSession, MalformedReplyIsFatal) {
  Cli t;
  t.in("220 hi\r\n");
  t.in("2x0 bad\r\n");
  ASSERT_EQ(t.violations().size(), 1u);
  EXPECT_EQ(t.violations()[0].code, errc::bad_reply_code);
  ASSERT_EQ(t.all<Closed>().size(), 1u);
  EXPECT_FALSE(t.all<Closed>()[0].clean);
  EXPECT_TRUE(t.c.closed());
  EXPECT_EQ(t.c.noop(), make_error_code(errc::out_of_sequence));
  Cli m;
  m.in("220 hi\r\n");
  ASSERT_FALSE(m.c.ehlo("c.example"));
  m.in("250-mx\r\n251 PIPELINING\r\n");  // wrong code on a continuation
  ASSERT_FALSE(m.violations().empty());
  EXPECT_EQ(m.violations()[0].code, errc::multiline_code_mismatch);
  EXPECT_TRUE(m.c.closed());
}

// RFC 5321 §4.3.2: one case per row. `good` is in the row, `bad` is not.
struct RowCase {
  const char* name;
  std::function<std::error_code(ClientSession&)> intent;
  ReplyTo to;
  std::uint16_t good;
  std::uint16_t bad;
};

TEST(ClientSession, EveryRowOf4_3_2) {
  const RowCase rows[] = {
      {"HELO", [](ClientSession& c) { return c.helo("c.example"); }, ReplyTo::command, 250, 354},
      {"EHLO", [](ClientSession& c) { return c.ehlo("c.example"); }, ReplyTo::command, 250, 251},
      {"MAIL", [](ClientSession& c) { return c.mail_from("a@b.example"); }, ReplyTo::command, 552,
       251},
      {"RCPT", [](ClientSession& c) { return c.rcpt_to("x@y.example"); }, ReplyTo::command, 251,
       354},
      {"DATA", [](ClientSession& c) { return c.data("m\r\n"); }, ReplyTo::command, 354, 250},
      {"RSET", [](ClientSession& c) { return c.rset(); }, ReplyTo::command, 250, 550},
      {"VRFY", [](ClientSession& c) { return c.vrfy("alice"); }, ReplyTo::command, 252, 354},
      {"EXPN", [](ClientSession& c) { return c.expn("list"); }, ReplyTo::command, 250, 251},
      {"HELP", [](ClientSession& c) { return c.help(); }, ReplyTo::command, 214, 250},
      {"NOOP", [](ClientSession& c) { return c.noop(); }, ReplyTo::command, 250, 550},
      {"QUIT", [](ClientSession& c) { return c.quit(); }, ReplyTo::command, 221, 250},
      {"SEND", [](ClientSession& c) { return c.send_from("a@b.example"); }, ReplyTo::command, 502,
       354},
      {"SOML", [](ClientSession& c) { return c.soml_from("a@b.example"); }, ReplyTo::command, 250,
       354},
      {"SAML", [](ClientSession& c) { return c.saml_from("a@b.example"); }, ReplyTo::command, 250,
       354},
      {"TURN", [](ClientSession& c) { return c.turn(); }, ReplyTo::command, 502, 354},
      {"STARTTLS", [](ClientSession& c) { return c.starttls(); }, ReplyTo::command, 454, 250},
      {"AUTH",
       [](ClientSession& c) {
         return c.auth("PLAIN", {"", "u", "p", ""});
       },
       ReplyTo::command, 535, 250},
      {"BDAT", [](ClientSession& c) { return c.bdat("abc", true); }, ReplyTo::bdat_last, 250, 354},
      {"ETRN", [](ClientSession& c) { return c.etrn("example.test"); }, ReplyTo::command, 253, 354},
      {"ATRN", [](ClientSession& c) { return c.atrn(); }, ReplyTo::command, 453, 354},
  };
  ClientConfig cfg;
  cfg.enforce_sequence = false;
  cfg.enforce_capabilities = false;
  for (const RowCase& row : rows) {
    for (const bool good : {true, false}) {
      Cli t(cfg);
      t.in("220 mx\r\n");
      ASSERT_FALSE(row.intent(t.c)) << row.name;
      EXPECT_NE(t.out(), "") << row.name;
      const std::uint16_t code = good ? row.good : row.bad;
      t.in(std::to_string(code) + " reply\r\n");
      const auto r = t.replies();
      ASSERT_EQ(r.size(), 2u) << row.name;
      EXPECT_EQ(r[1].to, row.to) << row.name;
      EXPECT_EQ(r[1].kind == ReplyKind::not_allowed, !good) << row.name << " " << code;
      const auto v = t.violations();
      if (good) {
        EXPECT_TRUE(v.empty()) << row.name << " " << code;
      } else {
        ASSERT_EQ(v.size(), 1u) << row.name << " " << code;
        EXPECT_EQ(v[0].code, errc::reply_not_allowed);
        EXPECT_FALSE(v[0].rfc.empty());
      }
    }
  }
  // The greeting row and the end-of-data row.
  Cli g;
  g.in("250 hello\r\n");
  ASSERT_EQ(g.violations().size(), 1u);
  EXPECT_EQ(g.violations()[0].code, errc::reply_not_allowed);
  Cli d(cfg);
  d.in("220 mx\r\n");
  ASSERT_FALSE(d.c.data("m\r\n"));
  d.in("354 go\r\n");
  d.in("221 bye?\r\n");
  ASSERT_EQ(d.violations().size(), 1u);
  EXPECT_EQ(d.replies().back().to, ReplyTo::data_end);
}

TEST(ClientSession, IntentsAreValidated) {
  Cli t;
  t.start();
  EXPECT_EQ(t.c.mail_from("a b@c"), make_error_code(errc::invalid_argument));
  EXPECT_EQ(t.c.ehlo("x\r\nRSET"), make_error_code(errc::invalid_argument));
  EXPECT_EQ(t.c.vrfy("a\r\nDATA"), make_error_code(errc::invalid_argument));
  EXPECT_EQ(t.c.rcpt_to("x@example.test"), make_error_code(errc::out_of_sequence));
  EXPECT_EQ(t.c.data("m"), make_error_code(errc::out_of_sequence));
  EXPECT_EQ(t.c.auth("SCRAM-SHA-1", {}), make_error_code(errc::invalid_argument));
  // Not advertised: DSN is absent.
  EXPECT_EQ(t.c.mail_from("a@b.example", {{"RET", "HDRS"}}),
            make_error_code(errc::out_of_sequence));
  EXPECT_FALSE(t.c.mail_from("a@b.example", {{"SIZE", "10"}, {"BODY", "8BITMIME"}}));
  EXPECT_EQ(t.c.mail_from("a@b.example"), make_error_code(errc::out_of_sequence));  // nested
  EXPECT_EQ(t.out(), "MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME\r\n");
  EXPECT_EQ(t.c.etrn("x.example"), make_error_code(errc::out_of_sequence));
  // The projection assumes success: RCPT and DATA after a queued MAIL are fine.
  EXPECT_FALSE(t.c.rcpt_to("x@example.test"));
  EXPECT_FALSE(t.c.data("m"));
  EXPECT_FALSE(t.c.quit());
  EXPECT_EQ(t.c.noop(), make_error_code(errc::out_of_sequence));  // after QUIT
}

TEST(ClientSession, RuleBreakingWhenAsked) {
  ClientConfig cfg;
  cfg.enforce_sequence = false;
  cfg.enforce_capabilities = false;
  Cli t(cfg);
  t.start({"SIZE 10"});
  EXPECT_FALSE(t.c.rcpt_to("x@example.test"));
  EXPECT_EQ(t.out(), "RCPT TO:<x@example.test>\r\n");
  t.in("503 5.5.1 need MAIL\r\n");
  EXPECT_FALSE(t.c.bdat("x", true));  // CHUNKING not advertised
  EXPECT_EQ(t.out(), "BDAT 1 LAST\r\nx");
  EXPECT_TRUE(t.violations().empty());
}

TEST(ClientSession, SendRawIsMarkedAndMatched) {
  Cli t;
  t.c.send_raw("EHLO pre-greet\r\n", 1);  // before the banner, on purpose
  EXPECT_EQ(t.out(), "EHLO pre-greet\r\n");
  t.in("220 mx\r\n");
  t.in("250 mx\r\n");
  const auto r = t.replies();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].to, ReplyTo::greeting);  // replies match in order
  EXPECT_EQ(r[1].to, ReplyTo::raw);
  EXPECT_EQ(r[1].sent, "EHLO pre-greet");
  EXPECT_EQ(t.c.phase(), Phase::greeted);  // raw bytes do not move the state
  ASSERT_FALSE(t.c.transcript().empty());
  EXPECT_TRUE(t.c.transcript()[0].raw);
  EXPECT_EQ(t.c.transcript()[0].direction, Direction::sent);
  // Two commands in one raw write, two replies.
  t.c.send_raw("NOOP\r\nNOOP\r\n", 2);
  t.in("250 a\r\n250 b\r\n");
  EXPECT_EQ(t.replies().size(), 4u);
  EXPECT_TRUE(t.violations().empty());
  t.in("250 c\r\n");
  EXPECT_EQ(t.violations().size(), 1u);
}

TEST(ClientSession, StartTlsDiscardsInjectedPlaintextAndForgetsCapabilities) {
  Cli t;
  t.start();
  ASSERT_FALSE(t.c.starttls());
  ASSERT_FALSE(t.c.ehlo("client.example"));
  EXPECT_EQ(t.out(), "STARTTLS\r\n");  // STARTTLS ends the group
  // A man in the middle appends a reply after the 220, in plaintext.
  t.in("220 2.0.0 go ahead\r\n250-mx\r\n250 AUTH PLAIN\r\n");
  EXPECT_TRUE(t.c.tls_requested());
  ASSERT_EQ(t.all<TlsRequested>().size(), 1u);
  ASSERT_EQ(t.violations().size(), 1u);
  EXPECT_EQ(t.violations()[0].code, errc::out_of_sequence);
  EXPECT_EQ(t.violations()[0].rfc, "RFC3207#4.2");
  t.in("250 more\r\n");  // still before the handshake: discarded
  EXPECT_EQ(t.violations().size(), 2u);
  EXPECT_EQ(t.out(), "");
  EXPECT_EQ(t.c.waiting_for(), std::nullopt);
  t.c.tls_established();
  EXPECT_FALSE(t.c.capabilities().has_value());
  EXPECT_TRUE(t.c.flags().tls);
  EXPECT_EQ(t.c.phase(), Phase::greeted);
  EXPECT_EQ(t.out(), "EHLO client.example\r\n");  // the queued EHLO goes out over TLS
  t.in("250-mx\r\n250 AUTH PLAIN\r\n");
  EXPECT_TRUE(t.c.capabilities()->auth("PLAIN"));
  EXPECT_EQ(t.replies().size(), 2u);
}

TEST(ClientSession, StartTlsRequiresEhloAgain) {
  Cli t;
  t.start();
  ASSERT_FALSE(t.c.starttls());
  t.out();
  // With STARTTLS pending, the projection assumes the handshake: MAIL needs EHLO first.
  EXPECT_EQ(t.c.mail_from("a@b.example"), make_error_code(errc::out_of_sequence));
  EXPECT_EQ(t.c.starttls(), make_error_code(errc::out_of_sequence));
}

bool contains_secret(const Cli& t, const std::vector<std::string>& secrets) {
  std::string all;
  for (const auto& e : t.c.transcript()) all += e.bytes;
  for (const auto& ev : t.ev) {
    if (auto* r = std::get_if<ReplyEvent>(&ev)) {
      all += r->sent;
      if (r->command) {
        all += serialize(*r->command);
        all += r->command->argument;
      }
    }
    if (auto* v = std::get_if<Violation>(&ev)) all += v->text;
  }
  for (const auto& s : secrets) {
    if (all.find(s) != std::string::npos) return true;
  }
  return false;
}

TEST(ClientSession, AuthPlainInitialResponseRedacted) {
  Cli t;
  t.start();
  ASSERT_FALSE(t.c.auth("plain", {"", "alice", "s3cret-pw", ""}));
  const std::string ir = base64_encode(sasl_plain("", "alice", "s3cret-pw"));
  EXPECT_EQ(t.out(), "AUTH PLAIN " + ir + "\r\n");
  t.in("235 2.7.0 ok\r\n");
  EXPECT_TRUE(t.c.flags().authenticated);
  const auto& tr = t.c.transcript();
  bool found = false;
  for (const auto& e : tr) {
    if (e.bytes == "AUTH PLAIN <redacted>\r\n") {
      found = true;
      EXPECT_TRUE(e.redacted);
      EXPECT_EQ(e.wire_size, ir.size() + 13);
    }
  }
  EXPECT_TRUE(found);
  EXPECT_FALSE(contains_secret(t, {"s3cret-pw", ir, base64_encode("s3cret-pw")}));
  EXPECT_EQ(t.replies()[0].sent, "AUTH PLAIN <redacted>");
  EXPECT_EQ(*t.replies()[0].command->initial_response, "<redacted>");
}

TEST(ClientSession, AuthLoginAndCramMd5AnswerChallenges) {
  Cli t;
  t.start();
  ASSERT_FALSE(t.c.auth("LOGIN", {"", "alice", "pw-login-XYZ", ""}));
  EXPECT_EQ(t.out(), "AUTH LOGIN\r\n");
  t.in("334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(t.out(), base64_encode("alice") + "\r\n");
  EXPECT_EQ(t.c.phase(), Phase::auth);
  t.in("334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(t.out(), base64_encode("pw-login-XYZ") + "\r\n");
  t.in("235 ok\r\n");
  EXPECT_TRUE(t.c.flags().authenticated);
  EXPECT_EQ(t.c.phase(), Phase::ready);
  const auto ch = t.all<AuthChallenge>();
  ASSERT_EQ(ch.size(), 2u);
  EXPECT_EQ(ch[0].decoded, "Username:");
  EXPECT_EQ(ch[1].mechanism, "LOGIN");
  EXPECT_FALSE(contains_secret(t, {"pw-login-XYZ", base64_encode("pw-login-XYZ")}));
  EXPECT_EQ(t.replies()[1].to, ReplyTo::sasl);
  EXPECT_EQ(t.replies()[1].sent, "<redacted>");

  Cli c;
  c.start();
  ASSERT_FALSE(c.c.auth("CRAM-MD5", {"", "tim", "tanstaaftanstaaf", ""}));
  EXPECT_EQ(c.out(), "AUTH CRAM-MD5\r\n");
  c.in("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
  EXPECT_EQ(c.out(), "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");  // RFC 2195
  c.in("235 ok\r\n");
  EXPECT_TRUE(c.violations().empty());
  EXPECT_FALSE(
      contains_secret(c, {"tanstaaftanstaaf", "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"}));
}

TEST(ClientSession, AuthXoauth2ErrorFlow) {
  Cli t;
  t.start();
  ASSERT_FALSE(t.c.auth("XOAUTH2", {"", "alice", "", "tok-SECRET"}));
  EXPECT_EQ(t.out(), "AUTH XOAUTH2 " + base64_encode(sasl_xoauth2("alice", "tok-SECRET")) + "\r\n");
  t.in("334 eyJzdGF0dXMiOiI0MDEifQ==\r\n");
  EXPECT_EQ(t.out(), "\r\n");  // empty response to the error challenge
  t.in("535 5.7.8 no\r\n");
  EXPECT_FALSE(t.c.flags().authenticated);
  EXPECT_FALSE(
      contains_secret(t, {"tok-SECRET", base64_encode(sasl_xoauth2("alice", "tok-SECRET"))}));
}

TEST(ClientSession, AuthManualAndCancel) {
  Cli t;
  t.start();
  AuthOptions o;
  o.manual = true;
  o.initial_response = false;
  ASSERT_FALSE(t.c.auth("PLAIN", {}, o));
  EXPECT_EQ(t.out(), "AUTH PLAIN\r\n");
  EXPECT_EQ(t.c.auth_cancel(), make_error_code(errc::out_of_sequence));  // no challenge yet
  ASSERT_FALSE(t.c.noop());  // queued behind the exchange
  t.in("334 \r\n");
  EXPECT_EQ(t.out(), "");
  ASSERT_FALSE(t.c.auth_cancel());
  EXPECT_EQ(t.out(), "*\r\n");
  t.in("501 5.7.0 cancelled\r\n");
  EXPECT_TRUE(t.replies().back().sasl_cancelled);
  EXPECT_EQ(t.replies().back().sent, "*");
  EXPECT_EQ(t.out(), "NOOP\r\n");
  EXPECT_EQ(t.c.phase(), Phase::ready);
}

TEST(ClientSession, LongInitialResponseGoesAfterChallenge) {
  Cli t;
  t.start();
  ASSERT_FALSE(t.c.auth("PLAIN", {"", "alice", std::string(600, 'p'), ""}));
  EXPECT_EQ(t.out(), "AUTH PLAIN\r\n");  // the line would exceed 512 octets
  t.in("334 \r\n");
  EXPECT_EQ(t.out(), base64_encode(sasl_plain("", "alice", std::string(600, 'p'))) + "\r\n");
}

TEST(ClientSession, DataDotStuffingAndRaw) {
  Cli t;
  t.start();
  ASSERT_FALSE(t.c.mail_from(""));
  ASSERT_FALSE(t.c.rcpt_to("x@example.test"));
  ASSERT_FALSE(t.c.data(".\r\n..\r\nno final crlf"));
  EXPECT_EQ(t.out(), "MAIL FROM:<>\r\nRCPT TO:<x@example.test>\r\nDATA\r\n");
  t.in("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(t.out(), "..\r\n...\r\nno final crlf\r\n.\r\n");
  t.in("250 ok\r\n");
  ASSERT_FALSE(t.c.mail_from("a@b.example"));
  ASSERT_FALSE(t.c.rcpt_to("x@example.test"));
  ASSERT_FALSE(t.c.data_raw("smuggle\n.\n", true));
  t.in("250 ok\r\n250 ok\r\n");
  t.out();
  t.in("354 go\r\n");
  EXPECT_EQ(t.out(), "smuggle\n.\n");
  EXPECT_TRUE(t.c.transcript().back().raw);
  EXPECT_EQ(t.c.waiting_for(), TimeoutKind::data_term);
  t.c.send_raw("\r\n.\r\n");
  EXPECT_EQ(t.out(), "\r\n.\r\n");
  t.in("250 ok\r\n");
  EXPECT_EQ(t.replies().back().to, ReplyTo::data_end);
  EXPECT_TRUE(t.violations().empty());
}

TEST(ClientSession, DataRefusedDropsContent) {
  Cli t;
  t.start();
  ASSERT_FALSE(t.c.mail_from("a@b.example"));
  ASSERT_FALSE(t.c.rcpt_to("x@example.test"));
  ASSERT_FALSE(t.c.data("secret body\r\n"));
  ASSERT_FALSE(t.c.quit());
  t.out();
  t.in("250 ok\r\n550 no\r\n554 no valid recipients\r\n");
  EXPECT_EQ(t.out(), "QUIT\r\n");  // no content
  t.in("221 bye\r\n");
  EXPECT_TRUE(t.c.closed());
  EXPECT_TRUE(t.all<Closed>()[0].clean);
}

TEST(ClientSession, BdatChunks) {
  Cli t;
  t.start();
  ASSERT_FALSE(t.c.mail_from("a@b.example", {{"BODY", "BINARYMIME"}}));
  ASSERT_FALSE(t.c.rcpt_to("x@example.test"));
  EXPECT_EQ(t.c.data("x"), make_error_code(errc::out_of_sequence));  // BINARYMIME: BDAT only
  const std::string c1("\0\r\n.\r\n", 6);
  ASSERT_FALSE(t.c.bdat(c1, false));
  ASSERT_FALSE(t.c.bdat("end", true));
  EXPECT_EQ(t.out(),
            "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\nRCPT TO:<x@example.test>\r\nBDAT 6\r\n" +
                c1 + "BDAT 3 LAST\r\nend");
  t.in("250 ok\r\n250 ok\r\n250 6 octets\r\n");
  EXPECT_EQ(t.c.phase(), Phase::bdat);
  t.in("250 done\r\n");
  EXPECT_EQ(t.c.phase(), Phase::ready);
  EXPECT_EQ(t.replies().back().to, ReplyTo::bdat_last);
  EXPECT_FALSE(t.c.flags().binarymime);
  EXPECT_TRUE(t.violations().empty());
}

TEST(ClientSession, Deadlines) {
  ClientConfig cfg;
  cfg.timeouts.data_init_ms = 1234;
  Cli t(cfg);
  EXPECT_EQ(t.c.deadline(1000), 1000u + 300000u);  // initial 220: 5 min
  EXPECT_EQ(t.c.deadline(5000), 1000u + 300000u);  // same wait, same deadline
  t.in("220 mx\r\n");
  EXPECT_EQ(t.c.deadline(6000), std::nullopt);  // idle: nothing awaited
  ASSERT_FALSE(t.c.ehlo("c.example"));
  EXPECT_EQ(t.c.waiting_for(), TimeoutKind::other);
  t.in("250 mx\r\n");
  ASSERT_FALSE(t.c.mail_from("a@b.example"));
  EXPECT_EQ(t.c.waiting_for(), TimeoutKind::mail);
  EXPECT_EQ(t.c.deadline(7000), 7000u + 300000u);
  t.in("250 ok\r\n");
  ASSERT_FALSE(t.c.rcpt_to("x@example.test"));
  EXPECT_EQ(t.c.waiting_for(), TimeoutKind::rcpt);
  t.in("250 ok\r\n");
  ASSERT_FALSE(t.c.data(std::string(100, 'x')));
  EXPECT_EQ(t.c.deadline(8000), 8000u + 1234u);  // configured DATA initiation
  t.out();
  t.in("354 go\r\n");
  EXPECT_EQ(t.c.waiting_for(), TimeoutKind::data_block);  // content not yet written
  EXPECT_EQ(t.c.deadline(9000), 9000u + 180000u);
  t.c.consume_output(10);
  EXPECT_EQ(t.c.deadline(9500), 9500u + 180000u);  // each send restarts the block timer
  t.out();
  EXPECT_EQ(t.c.waiting_for(), TimeoutKind::data_term);
  EXPECT_EQ(t.c.deadline(10000), 10000u + 600000u);
}

TEST(ClientSession, EofAnd421) {
  Cli t;
  t.start();
  ASSERT_FALSE(t.c.noop());
  t.c.receive_eof();
  t.drain();
  ASSERT_EQ(t.violations().size(), 1u);
  EXPECT_EQ(t.violations()[0].code, errc::unexpected_eof);
  ASSERT_EQ(t.all<Closed>().size(), 1u);
  EXPECT_FALSE(t.all<Closed>()[0].clean);

  Cli s;
  s.start();
  ASSERT_FALSE(s.c.mail_from("a@b.example"));
  ASSERT_FALSE(s.c.rcpt_to("x@example.test"));
  s.in("421 4.3.2 shutting down\r\n");
  EXPECT_TRUE(s.c.closed());
  EXPECT_EQ(s.c.phase(), Phase::closed);
  EXPECT_TRUE(s.violations().empty());  // 421 is allowed for every command

  Cli p;
  p.in("220 mx\r\n");
  p.in("250-partial\r\n");
  p.c.receive_eof();
  p.drain();
  ASSERT_FALSE(p.violations().empty());
  EXPECT_EQ(p.violations()[0].code, errc::unexpected_eof);
}

TEST(ClientSession, TranscriptIsByteExactAndMerged) {
  Cli t;
  t.c.receive("22");
  t.c.receive("0 mx\r\n");
  ASSERT_FALSE(t.c.ehlo("c.example"));
  t.in("250 mx\r\n");
  const auto& tr = t.c.transcript();
  ASSERT_EQ(tr.size(), 3u);
  EXPECT_EQ(tr[0].direction, Direction::received);
  EXPECT_EQ(tr[0].bytes, "220 mx\r\n");
  EXPECT_EQ(tr[0].offset, 0u);
  EXPECT_EQ(tr[1].bytes, "EHLO c.example\r\n");
  EXPECT_EQ(tr[2].offset, 8u);
}

TEST(ClientSession, HostileServerStaysBounded) {
  ClientConfig cfg;
  cfg.max_transcript = 100;
  Cli t(cfg);
  t.in("220 mx\r\n");
  for (int i = 0; i < 100; ++i) t.in("250 unsolicited\r\n");
  std::size_t total = 0;
  for (const auto& e : t.c.transcript()) total += e.bytes.size();
  EXPECT_LE(total, 100u);
  EXPECT_TRUE(t.c.transcript_truncated());
  EXPECT_EQ(t.violations().size(), 100u);
  // A huge line without CRLF is cut by the reply parser and ends the session.
  Cli h;
  for (int i = 0; i < 200; ++i) h.in(std::string(1000, 'x'));
  EXPECT_TRUE(h.c.closed());
  ASSERT_FALSE(h.violations().empty());
  const std::size_t after = h.c.transcript().size();
  h.in("220 late\r\n");  // ignored after close
  EXPECT_EQ(h.c.transcript().size(), after);
  // An endless multi-line reply hits Limits::reply_lines.
  Cli m;
  for (int i = 0; i < 1000 && !m.c.closed(); ++i) m.in("220-more\r\n");
  EXPECT_TRUE(m.c.closed());
}

TEST(ClientSession, ReplyFindingsAreViolations) {
  Cli t;
  t.start({"ENHANCEDSTATUSCODES"});
  ASSERT_FALSE(t.c.noop());
  t.in("250 4.0.0 class mismatch\r\n");
  ASSERT_FALSE(t.violations().empty());
  EXPECT_EQ(t.violations()[0].code, errc::enhanced_status_mismatch);
}

}  // namespace
}  // namespace smtp
