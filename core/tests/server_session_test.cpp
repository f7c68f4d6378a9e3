// ServerSession: the reference server, driven with raw client bytes (what a real client, or an
// attacker, sends). Every test also checks that the internal ServerModel judged every reply OK
// when no quirk is set.
#include "smtp/server_session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grind.h"
#include "smtp/sasl.h"

namespace smtp {
namespace {

/// A ServerSession plus helpers: send bytes, get the reply bytes back.
struct Srv {
  explicit Srv(ServerProfile p = {}, ServerOptions o = {}) : s(std::move(p), o) {
    greeting = out();
  }
  std::string out() {
    std::string o(s.pending_output());
    s.consume_output(o.size());
    return o;
  }
  std::string send(std::string_view bytes) {
    s.receive(bytes);
    drain();
    return out();
  }
  /// Code of the first reply in `wire` ("250-..." -> 250).
  static int code(const std::string& wire) {
    return wire.size() >= 3 ? std::stoi(wire.substr(0, 3)) : 0;
  }
  int cmd(std::string_view line) { return code(send(std::string(line) + "\r\n")); }
  void drain() {
    while (auto e = s.next_event()) {
      if (auto* x = std::get_if<Exchange>(&*e)) {
        if (s.profile().quirks.empty()) {
          EXPECT_TRUE(x->verdict.ok())
              << "reply " << x->reply.serialize() << " to "
              << (x->command ? serialize(*x->command) : std::string(to_string(x->to))) << ": "
              << x->verdict.reason;
        }
        exchanges.push_back(std::move(*x));
      } else if (auto* m = std::get_if<MessageReceived>(&*e)) {
        messages.push_back(std::move(*m));
      } else if (auto* v = std::get_if<Violation>(&*e)) {
        violations.push_back(std::move(*v));
      } else if (std::holds_alternative<TlsWanted>(*e)) {
        ++tls_wanted;
      } else if (auto* a = std::get_if<AuthResult>(&*e)) {
        auths.push_back(*a);
      } else if (auto* c = std::get_if<Closed>(&*e)) {
        closed.push_back(*c);
      }
    }
  }
  void ehlo() { ASSERT_EQ(cmd("EHLO client.example"), 250); }
  void starttls() {
    ASSERT_EQ(cmd("STARTTLS"), 220);
    s.tls_established();
    drain();
  }

  ServerSession s;
  std::string greeting;
  std::vector<Exchange> exchanges;
  std::vector<MessageReceived> messages;
  std::vector<Violation> violations;
  std::vector<AuthResult> auths;
  std::vector<Closed> closed;
  int tls_wanted = 0;
};

ServerProfile open_profile() {
  ServerProfile p;
  p.auth_requires_tls = false;
  return p;
}

TEST(ServerSession, GreetsWith220) {
  Srv t;
  EXPECT_EQ(t.greeting, "220 mx.example.test ESMTP smtp-harness reference server\r\n");
  EXPECT_EQ(t.s.phase(), Phase::greeted);
}

TEST(ServerSession, EhloAdvertisesProfile) {
  Srv t;
  const std::string r = t.send("EHLO client.example\r\n");
  EXPECT_EQ(r,
            "250-mx.example.test greets you\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n"
            "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n"
            "250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n");  // no AUTH before TLS
  t.starttls();
  const std::string after = t.send("EHLO client.example\r\n");
  EXPECT_EQ(after.find("STARTTLS"), std::string::npos);
  EXPECT_NE(after.find("250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2\r\n"), std::string::npos);
}

TEST(ServerSession, HeloHasNoExtensions) {
  Srv t;
  EXPECT_EQ(t.send("HELO client.example\r\n"), "250 mx.example.test greets client.example\r\n");
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example> SIZE=10"), 555);  // no extensions after HELO
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 250);
}

TEST(ServerSession, DeliversMessageByteExact) {
  Srv t;
  t.ehlo();
  EXPECT_EQ(t.send("MAIL FROM:<sender@remote.example>\r\n"), "250 2.1.0 Sender OK\r\n");
  EXPECT_EQ(t.send("RCPT TO:<alice@example.test>\r\n"), "250 2.1.5 Recipient OK\r\n");
  EXPECT_EQ(t.send("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(t.s.phase(), Phase::data);
  EXPECT_EQ(t.send("Subject: x\r\n\r\n..dot\r\nbare\nlf\r\n"), "");
  EXPECT_EQ(t.send(".\r\n"), "250 2.0.0 OK: message accepted\r\n");
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0].data, "Subject: x\r\n\r\n.dot\r\nbare\nlf\r\n");
  EXPECT_FALSE(t.messages[0].bdat);
  EXPECT_EQ(t.messages[0].envelope.reverse_path.address(), "sender@remote.example");
  ASSERT_EQ(t.messages[0].envelope.recipients.size(), 1u);
  EXPECT_EQ(t.messages[0].envelope.recipients[0].address(), "alice@example.test");
  EXPECT_EQ(t.messages[0].envelope.helo, "client.example");
  EXPECT_EQ(t.s.phase(), Phase::ready);
  // The bare LF in the data is reported as a client violation.
  ASSERT_FALSE(t.violations.empty());
  EXPECT_EQ(t.violations[0].code, errc::bare_lf);
}

TEST(ServerSession, BareLfDotLfNeverEndsData) {
  Srv t;
  t.ehlo();
  t.cmd("MAIL FROM:<>");
  t.cmd("RCPT TO:<alice@example.test>");
  t.cmd("DATA");
  for (const char* eod : {"\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\n", "\r\n\0.\r\n"}) {
    EXPECT_EQ(t.send(std::string("x") + eod + "MAIL FROM:<evil@x.example>\r\n"), "");
  }
  EXPECT_EQ(t.s.phase(), Phase::data);
  EXPECT_EQ(Srv::code(t.send("\r\n.\r\n")), 250);
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_NE(t.messages[0].data.find("MAIL FROM:<evil@x.example>"), std::string::npos);
  bool smuggle_reported = false;
  for (const auto& v : t.violations) smuggle_reported |= v.code == errc::non_canonical_end_of_data;
  EXPECT_TRUE(smuggle_reported);
}

TEST(ServerSession, SequencingPerRfc5321Section414) {
  Srv t;
  // Allowed before EHLO: RSET, NOOP, VRFY, EXPN, HELP (§4.1.4).
  EXPECT_EQ(t.cmd("RSET"), 250);
  EXPECT_EQ(t.cmd("NOOP"), 250);
  EXPECT_EQ(t.cmd("VRFY alice"), 252);
  EXPECT_EQ(t.cmd("EXPN list"), 502);
  EXPECT_EQ(t.cmd("HELP"), 214);
  // MAIL needs EHLO/HELO first.
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 503);
  EXPECT_EQ(t.cmd("RCPT TO:<alice@example.test>"), 503);
  EXPECT_EQ(t.cmd("DATA"), 503);
  t.ehlo();
  EXPECT_EQ(t.cmd("RCPT TO:<alice@example.test>"), 503);  // RCPT before MAIL
  EXPECT_EQ(t.cmd("DATA"), 503);                          // DATA before MAIL
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 250);
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 503);  // nested MAIL
  EXPECT_EQ(t.cmd("DATA"), 503);                     // no recipient yet
  EXPECT_EQ(t.cmd("RCPT TO:<alice@example.test>"), 250);
  EXPECT_EQ(t.cmd("NOOP"), 250);
  EXPECT_EQ(t.cmd("VRFY bob"), 252);
  EXPECT_EQ(t.s.phase(), Phase::rcpt);  // NOOP and VRFY do not end the transaction
  t.ehlo();                             // EHLO resets the transaction
  EXPECT_EQ(t.s.phase(), Phase::ready);
  EXPECT_EQ(t.cmd("RCPT TO:<alice@example.test>"), 503);
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 250);
  EXPECT_EQ(t.cmd("RSET"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<alice@example.test>"), 503);
}

TEST(ServerSession, ErrorCodes) {
  Srv t;
  t.ehlo();
  EXPECT_EQ(t.send("XYZZY\r\n"), "500 5.5.2 Command unrecognized\r\n");
  EXPECT_EQ(t.cmd("MAIL FROM:<a b@c>"), 501);
  EXPECT_EQ(t.cmd("MAIL FROM:a@b.example"), 501);
  EXPECT_EQ(t.cmd("RSET now"), 501);
  EXPECT_EQ(t.cmd("QUIT now"), 501);
  EXPECT_EQ(t.cmd("VRFY"), 501);
  EXPECT_EQ(t.cmd("EHLO"), 501);
  EXPECT_EQ(t.cmd("TURN"), 502);
  EXPECT_EQ(t.cmd("SEND FROM:<a@b.example>"), 502);
  EXPECT_EQ(t.cmd("ATRN"), 502);
  EXPECT_EQ(t.cmd("ETRN example.test"), 502);  // ETRN not offered
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example> FROB=1"), 555);
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example> BODY=9BIT"), 501);
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example> BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<alice@example.test> NOTIFY=NEVER"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<alice@example.test> FROB"), 555);
  EXPECT_EQ(t.cmd(std::string("NOOP ") + std::string(600, 'x')), 500);  // line too long
}

TEST(ServerSession, BareCrOrLfInCommandRejected) {
  Srv t;
  t.ehlo();
  EXPECT_EQ(t.send("MAIL FROM:<a@b.example>\nRCPT TO:<alice@example.test>\r\n"),
            "501 5.5.2 Bare CR or LF, or NUL, in the command line\r\n");
  EXPECT_EQ(Srv::code(t.send("NOOP\rRSET\r\n")), 501);
  EXPECT_EQ(Srv::code(t.send("XX\nYY\r\n")), 500);
  EXPECT_EQ(t.s.phase(), Phase::ready);
}

TEST(ServerSession, PostmasterAndNullPathAlwaysAccepted) {
  ServerProfile p;
  p.relay = RelayPolicy::nobody;
  p.users = {"alice"};
  Srv t(p);
  t.ehlo();
  EXPECT_EQ(t.cmd("MAIL FROM:<>"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<Postmaster>"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<postmaster@example.test>"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<PostMaster@EXAMPLE.test>"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<nobody@example.test>"), 550);
  EXPECT_EQ(t.cmd("RCPT TO:<alice@elsewhere.example>"), 550);  // relay denied
}

// RFC 5321 §4.1.2: quoted and unquoted forms of a local part are equivalent; §4.5.1: Postmaster
// in any case.
TEST(ServerSession, QuotedLocalPartEquivalentToUnquoted) {
  ServerProfile p;
  p.users = {"alice"};
  Srv t(p);
  t.ehlo();
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<\"postmaster\"@example.test>"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<\"PostMaster\"@example.test>"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<\"post\\master\"@example.test>"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<\"alice\"@example.test>"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<\"nobody\"@example.test>"), 550);
  EXPECT_EQ(t.cmd("RCPT TO:<\"postmaster \"@example.test>"), 550);
}

// Liberal where the RFC allows it: trailing white space (tolerance trailing_whitespace,
// recorded), NOOP's ignored parameter string (§4.1.1.9), VRFY with a mailbox (§3.5.1) and with
// SMTPUTF8 (RFC 6531 §3.7.4.2).
TEST(ServerSession, TrailingWhitespaceNoopTextVrfyForms) {
  Srv t;
  t.ehlo();
  EXPECT_EQ(t.cmd("NOOP "), 250);
  ASSERT_FALSE(t.exchanges.empty());
  ASSERT_TRUE(t.exchanges.back().command.has_value());
  EXPECT_TRUE(t.exchanges.back().command->tolerances.fired(Tolerance::trailing_whitespace));
  EXPECT_EQ(t.cmd("RSET \t"), 250);
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example> "), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<alice@example.test>\t"), 250);
  EXPECT_EQ(t.cmd("NOOP smtp-harness was here"), 250);
  EXPECT_EQ(t.cmd("VRFY alice@example.test"), 252);
  EXPECT_EQ(t.cmd("VRFY postmaster SMTPUTF8"), 252);
  EXPECT_EQ(t.cmd("VRFY postmaster BOGUS"), 501);
  EXPECT_EQ(t.cmd("RSET x"), 501);
  EXPECT_EQ(t.cmd("QUIT "), 221);
}

TEST(ServerSession, RelayOnlyAfterAuth) {
  Srv t(open_profile());
  t.ehlo();
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 250);
  EXPECT_EQ(t.send("RCPT TO:<x@remote.example>\r\n"), "550 5.7.1 Relaying denied\r\n");
  EXPECT_EQ(t.cmd("RSET"), 250);
  EXPECT_EQ(t.cmd("AUTH PLAIN " + base64_encode(sasl_plain("", "alice", "wonderland"))), 235);
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<x@remote.example>"), 250);
}

TEST(ServerSession, TooManyRecipients) {
  ServerProfile p;
  p.max_recipients = 3;
  p.users.clear();  // every local part exists
  Srv t(p);
  t.ehlo();
  t.cmd("MAIL FROM:<a@b.example>");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(t.cmd("RCPT TO:<u" + std::to_string(i) + "@example.test>"), 250);
  EXPECT_EQ(t.send("RCPT TO:<u9@example.test>\r\n"), "452 4.5.3 Too many recipients\r\n");
  EXPECT_EQ(t.cmd("RCPT TO:<postmaster@example.test>"), 250);  // postmaster still accepted
}

TEST(ServerSession, SizeEnforcedDeclaredAndActual) {
  ServerProfile p;
  p.max_message_size = 100;
  Srv t(p);
  t.ehlo();
  EXPECT_EQ(t.send("MAIL FROM:<a@b.example> SIZE=101\r\n"),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  const int huge = t.cmd("MAIL FROM:<a@b.example> SIZE=99999999999999999999999");
  EXPECT_TRUE(huge == 552 || huge == 501) << huge;
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example> SIZE=100"), 250);
  EXPECT_EQ(t.cmd("RCPT TO:<alice@example.test>"), 250);
  EXPECT_EQ(t.cmd("DATA"), 354);
  EXPECT_EQ(Srv::code(t.send(std::string(200, 'x') + "\r\n.\r\n")), 552);
  EXPECT_TRUE(t.messages.empty());
  EXPECT_EQ(t.s.phase(), Phase::ready);
  // BDAT: the chunk that crosses the limit gets 552; so do later chunks; LAST ends it.
  t.cmd("MAIL FROM:<a@b.example>");
  t.cmd("RCPT TO:<alice@example.test>");
  EXPECT_EQ(Srv::code(t.send("BDAT 60\r\n" + std::string(60, 'a'))), 250);
  EXPECT_EQ(Srv::code(t.send("BDAT 60\r\n" + std::string(60, 'b'))), 552);
  EXPECT_EQ(Srv::code(t.send("BDAT 1 LAST\r\nc")), 552);
  EXPECT_TRUE(t.messages.empty());
  EXPECT_EQ(t.s.phase(), Phase::ready);
}

TEST(ServerSession, EnhancedStatusCodesOnlyWhenAdvertised) {
  ServerProfile p;
  p.extensions.enhancedstatuscodes = false;
  Srv t(p);
  t.ehlo();
  EXPECT_EQ(t.send("NOOP\r\n"), "250 OK\r\n");
  EXPECT_EQ(t.send("MAIL FROM:<>\r\n"), "250 Sender OK\r\n");
  Srv u;
  u.ehlo();
  EXPECT_EQ(u.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
}

TEST(ServerSession, ShutdownSends421) {
  Srv t;
  t.ehlo();
  t.s.shutdown();
  t.drain();
  EXPECT_EQ(t.out(),
            "421 4.3.2 mx.example.test Service not available, closing transmission channel\r\n");
  EXPECT_TRUE(t.s.closed());
  ASSERT_EQ(t.closed.size(), 1u);
  EXPECT_EQ(t.send("NOOP\r\n"), "");  // nothing after close
  Srv u;
  u.s.timeout();
  EXPECT_EQ(Srv::code(u.out()), 421);
}

TEST(ServerSession, QuitCloses) {
  Srv t;
  EXPECT_EQ(t.send("QUIT\r\n"),
            "221 2.0.0 mx.example.test Service closing transmission channel\r\n");
  EXPECT_TRUE(t.s.closed());
  ASSERT_EQ(t.closed.size(), 1u);
  EXPECT_TRUE(t.closed[0].clean);
}

TEST(ServerSession, EofMidCommandIsAViolation) {
  Srv t;
  t.send("NOOP");
  t.s.receive_eof();
  t.drain();
  ASSERT_EQ(t.closed.size(), 1u);
  EXPECT_FALSE(t.closed[0].clean);
  ASSERT_EQ(t.violations.size(), 1u);
  EXPECT_EQ(t.violations[0].code, errc::unexpected_eof);
}

TEST(ServerSession, StartTlsDiscardsPipelinedPlaintextAndResets) {
  Srv t;
  t.ehlo();
  EXPECT_EQ(t.send("STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n"),
            "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_EQ(t.tls_wanted, 1);
  EXPECT_EQ(t.s.phase(), Phase::tls);
  ASSERT_EQ(t.violations.size(), 1u);
  EXPECT_EQ(t.violations[0].code, errc::out_of_sequence);
  EXPECT_EQ(t.violations[0].rfc, "RFC3207#4.2");
  EXPECT_EQ(t.send("RSET\r\n"), "");  // still plaintext: discarded too
  t.s.tls_established();
  t.drain();
  EXPECT_EQ(t.s.phase(), Phase::greeted);
  EXPECT_TRUE(t.s.flags().tls);
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 503);  // EHLO forgotten
  t.ehlo();
  EXPECT_EQ(t.cmd("STARTTLS"), 502);  // not offered inside TLS
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 250);
}

TEST(ServerSession, StartTlsOutOfSequence) {
  Srv t;
  t.ehlo();
  t.cmd("MAIL FROM:<a@b.example>");
  EXPECT_EQ(t.cmd("STARTTLS"), 503);
  EXPECT_EQ(t.cmd("RSET"), 250);
  EXPECT_EQ(t.cmd("STARTTLS x"), 501);
  ServerProfile p;
  p.extensions.starttls = false;
  Srv u(p);
  u.ehlo();
  EXPECT_EQ(u.cmd("STARTTLS"), 502);
}

TEST(ServerSession, ImplicitTls) {
  ServerOptions o;
  o.implicit_tls = true;
  Srv t({}, o);
  const std::string r = t.send("EHLO c.example\r\n");
  EXPECT_EQ(r.find("STARTTLS"), std::string::npos);
  EXPECT_NE(r.find("AUTH PLAIN"), std::string::npos);
}

TEST(ServerSession, AuthPlainWithAndWithoutInitialResponse) {
  Srv t;
  t.ehlo();
  EXPECT_EQ(t.send("AUTH PLAIN " + base64_encode(sasl_plain("", "alice", "wonderland")) + "\r\n"),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
  t.starttls();
  t.ehlo();
  EXPECT_EQ(t.cmd("AUTH PLAIN " + base64_encode(sasl_plain("", "alice", "nope"))), 535);
  EXPECT_EQ(t.send("AUTH PLAIN\r\n"), "334 \r\n");
  EXPECT_EQ(t.s.phase(), Phase::auth);
  EXPECT_EQ(t.send(base64_encode(sasl_plain("", "alice", "wonderland")) + "\r\n"),
            "235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(t.s.authenticated_user(), "alice");
  EXPECT_TRUE(t.s.flags().authenticated);
  EXPECT_EQ(t.s.phase(), Phase::ready);
  EXPECT_EQ(t.cmd("AUTH PLAIN " + base64_encode(sasl_plain("", "alice", "wonderland"))), 503);
  ASSERT_EQ(t.auths.size(), 2u);
  EXPECT_FALSE(t.auths[0].success);
  EXPECT_TRUE(t.auths[1].success);
  // The Exchange event never carries the initial response.
  for (const auto& x : t.exchanges) {
    if (x.command && x.command->initial_response) {
      EXPECT_EQ(*x.command->initial_response, "<redacted>");
    }
  }
}

TEST(ServerSession, AuthLoginCramMd5Xoauth2) {
  Srv t(open_profile());
  t.ehlo();
  EXPECT_EQ(t.send("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(t.send(base64_encode("alice") + "\r\n"), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(Srv::code(t.send(base64_encode("wonderland") + "\r\n")), 235);

  Srv c(open_profile());
  c.ehlo();
  const std::string challenge = "<1896.697170952@mx.example.test>";
  EXPECT_EQ(c.send("AUTH CRAM-MD5\r\n"), "334 " + base64_encode(challenge) + "\r\n");
  EXPECT_EQ(
      Srv::code(c.send(base64_encode(sasl_cram_md5("alice", "wonderland", challenge)) + "\r\n")),
      235);

  Srv c2(open_profile());
  c2.ehlo();
  EXPECT_EQ(c2.cmd("AUTH CRAM-MD5 " + base64_encode("x")), 501);  // server-first mechanism
  c2.send("AUTH CRAM-MD5\r\n");
  EXPECT_EQ(Srv::code(c2.send(base64_encode(sasl_cram_md5("alice", "wrong", challenge)) + "\r\n")),
            535);

  Srv x(open_profile());
  x.ehlo();
  EXPECT_EQ(x.cmd("AUTH XOAUTH2 " + base64_encode(sasl_xoauth2("alice", "wonderland"))), 235);
  Srv y(open_profile());
  y.ehlo();
  const std::string err =
      y.send("AUTH XOAUTH2 " + base64_encode(sasl_xoauth2("alice", "bad")) + "\r\n");
  EXPECT_EQ(Srv::code(err), 334);
  EXPECT_EQ(y.send("\r\n"), "535 5.7.8 Authentication credentials invalid\r\n");
  EXPECT_EQ(y.s.phase(), Phase::ready);
}

TEST(ServerSession, AuthCancelAndErrors) {
  Srv t(open_profile());
  t.ehlo();
  EXPECT_EQ(t.send("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(t.send("*\r\n"), "501 5.7.0 Authentication cancelled\r\n");
  EXPECT_EQ(t.s.phase(), Phase::ready);
  EXPECT_EQ(t.cmd("AUTH FOO"), 504);
  EXPECT_EQ(t.cmd("AUTH PLAIN Zh=="), 501);  // decodes to garbage pad bits: not base64
  t.send("AUTH PLAIN\r\n");
  EXPECT_EQ(t.cmd("!!!"), 501);  // response not base64
  t.cmd("MAIL FROM:<a@b.example>");
  EXPECT_EQ(t.cmd("AUTH PLAIN " + base64_encode(sasl_plain("", "alice", "wonderland"))), 503);
  Srv h(open_profile());
  h.send("HELO c.example\r\n");
  EXPECT_EQ(h.cmd("AUTH PLAIN"), 503);  // AUTH needs EHLO
  Srv g(open_profile());
  EXPECT_EQ(g.cmd("AUTH PLAIN"), 503);  // before any EHLO
}

TEST(ServerSession, AuthLongInitialResponseUpTo12288) {
  ServerProfile p = open_profile();
  p.auth_users.push_back({"bob", std::string(3000, 'p')});
  Srv t(p);
  t.ehlo();
  const std::string line =
      "AUTH PLAIN " + base64_encode(sasl_plain("", "bob", std::string(3000, 'p')));
  ASSERT_GT(line.size(), 512u);
  EXPECT_EQ(t.cmd(line), 235);
  EXPECT_EQ(t.cmd("NOOP " + std::string(3000, 'p')), 500);
  Srv u(p);
  u.ehlo();
  EXPECT_EQ(u.send("AUTH PLAIN\r\n"), "334 \r\n");
  EXPECT_EQ(u.cmd(base64_encode(sasl_plain("", "bob", std::string(3000, 'p')))), 235);
  Srv w(p);
  w.ehlo();
  EXPECT_EQ(w.send("AUTH PLAIN\r\n"), "334 \r\n");
  EXPECT_EQ(w.cmd(std::string(kAuthLineLimit + 10, 'A')), 500);  // over 12288: too long
  EXPECT_EQ(w.s.phase(), Phase::ready);
}

TEST(ServerSession, BdatChunksByteExact) {
  Srv t;
  t.ehlo();
  t.cmd("MAIL FROM:<a@b.example> BODY=BINARYMIME");
  t.cmd("RCPT TO:<alice@example.test>");
  EXPECT_EQ(t.cmd("DATA"), 503);  // BINARYMIME needs BDAT
  const std::string c1("line\n.\r\n\0\r", 11);
  const std::string c2 = "\r\n.\r\nBDAT 5\r\n";
  EXPECT_EQ(t.send("BDAT " + std::to_string(c1.size()) + "\r\n" + c1),
            "250 2.0.0 11 octets received\r\n");
  EXPECT_EQ(t.s.phase(), Phase::bdat);
  EXPECT_EQ(t.cmd("DATA"), 503);  // no DATA after BDAT
  EXPECT_EQ(Srv::code(t.send("BDAT " + std::to_string(c2.size()) + " LAST\r\n" + c2)), 250);
  ASSERT_EQ(t.messages.size(), 1u);
  EXPECT_EQ(t.messages[0].data, c1 + c2);
  EXPECT_TRUE(t.messages[0].bdat);
  EXPECT_EQ(t.s.phase(), Phase::ready);
  // BDAT 0 LAST is a valid empty last chunk.
  t.cmd("MAIL FROM:<a@b.example>");
  t.cmd("RCPT TO:<alice@example.test>");
  EXPECT_EQ(Srv::code(t.send("BDAT 3\r\nabc")), 250);
  EXPECT_EQ(Srv::code(t.send("BDAT 0 LAST\r\n")), 250);
  ASSERT_EQ(t.messages.size(), 2u);
  EXPECT_EQ(t.messages[1].data, "abc");
}

TEST(ServerSession, BdatRefusedStillConsumesChunk) {
  Srv t;
  t.ehlo();
  // Out of sequence: the 6 octets "RSET\r\n" are chunk data, not a command.
  EXPECT_EQ(t.send("BDAT 6 LAST\r\nRSET\r\n"),
            "503 5.5.1 Bad sequence of commands: BDAT without a mail transaction\r\n");
  EXPECT_EQ(t.exchanges.size(), 3u);  // greeting, EHLO, BDAT
  EXPECT_EQ(t.cmd("BDAT x"), 501);
  ServerProfile p;
  p.extensions.chunking = false;
  Srv u(p);
  u.ehlo();
  u.cmd("MAIL FROM:<a@b.example>");
  u.cmd("RCPT TO:<alice@example.test>");
  EXPECT_EQ(Srv::code(u.send("BDAT 6 LAST\r\nQUIT\r\n")), 502);
  EXPECT_FALSE(u.s.closed());
  EXPECT_EQ(u.s.phase(), Phase::rcpt);  // a refused BDAT LAST leaves the transaction alone
  EXPECT_EQ(u.cmd("BDAT x"), 502);      // not offered comes before syntax
}

TEST(ServerSession, OutputIndependentOfChunking) {
  // The same client bytes, split anywhere, give the same reply bytes and the same messages.
  const std::string input =
      "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\n"
      "DATA\r\n.x\r\nhi\n.\n\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.test>\r\n"
      "BDAT 4\r\n\r\n.\rBDAT 2 LAST\r\nzz"
      "RCPT TO:<x@y.example>\r\nNOOP\r\nAUTH LOGIN\r\n*\r\nSTARTTLS\r\nNOOP\r\n";
  auto run = [](const std::vector<std::string_view>& parts) {
    ServerSession s(open_profile());
    for (auto p : parts) s.receive(p);
    std::string log(s.pending_output());
    while (auto e = s.next_event()) {
      if (auto* m = std::get_if<MessageReceived>(&*e)) log += "\n[msg " + m->data + "]";
      if (auto* x = std::get_if<Exchange>(&*e)) {
        if (!x->verdict.ok()) log += "\n[verdict " + x->verdict.reason + "]";
      }
    }
    log += "\n[phase " + std::string(to_string(s.phase())) + "]";
    return log;
  };
  const std::string whole = run({input});
  EXPECT_NE(whole.find("[msg x\r\nhi\n.\n\r\n]"), std::string::npos) << whole;
  EXPECT_NE(whole.find("[msg \r\n.\rzz]"), std::string::npos) << whole;
  EXPECT_EQ(whole.find("[verdict"), std::string::npos) << whole;
  EXPECT_NE(whole.find("[phase tls]"), std::string::npos) << whole;
  test::grind(input, run, &whole);
}

// ---- quirks, each visible on the wire --------------------------------------------------------

Srv with(Quirk q, ServerProfile p = {}) {
  p.quirks.set(q);
  return Srv(p);
}

TEST(ServerQuirks, NamesRoundTrip) {
  ASSERT_EQ(all_quirks().size(), static_cast<std::size_t>(Quirk::count_));
  for (const QuirkInfo& q : all_quirks()) {
    EXPECT_EQ(quirk_from_string(q.name), q.quirk);
    EXPECT_EQ(to_string(q.quirk), q.name);
    EXPECT_FALSE(q.description.empty());
  }
  EXPECT_EQ(quirk_from_string("accept-lf-dot-lf"), Quirk::accept_lf_dot_lf);
  EXPECT_EQ(quirk_from_string("no-such-quirk"), std::nullopt);
}

TEST(ServerQuirks, AcceptEodCandidates) {
  for (std::size_t i = 0; i < kEodCandidateCount; ++i) {
    const auto cand = static_cast<EodCandidate>(i);
    // "\r\r\n.\r\n" contains the canonical CRLF.CRLF: every server ends data there.
    if (cand == EodCandidate::cr_crlf_dot_crlf) continue;
    Srv t = with(static_cast<Quirk>(i));
    t.ehlo();
    t.cmd("MAIL FROM:<a@b.example>");
    t.cmd("RCPT TO:<alice@example.test>");
    t.cmd("DATA");
    // The smuggled end, then a smuggled command that becomes a real one.
    const std::string r = t.send("body" + std::string(eod_bytes(cand)) + "x\r\nNOOP\r\n");
    ASSERT_EQ(t.messages.size(), 1u) << to_string(cand);
    EXPECT_EQ(t.messages[0].ended_by, cand) << to_string(cand);
    EXPECT_EQ(r.substr(0, 4), "250 ") << to_string(cand);
    // Strict server: same bytes are content.
    Srv s;
    s.ehlo();
    s.cmd("MAIL FROM:<a@b.example>");
    s.cmd("RCPT TO:<alice@example.test>");
    s.cmd("DATA");
    EXPECT_EQ(s.send("body" + std::string(eod_bytes(cand)) + "x\r\nNOOP\r\n"), "")
        << to_string(cand);
  }
  Srv any = with(Quirk::accept_any_eod);
  any.ehlo();
  any.cmd("MAIL FROM:<a@b.example>");
  any.cmd("RCPT TO:<alice@example.test>");
  any.cmd("DATA");
  EXPECT_EQ(Srv::code(any.send("x\r.\r")), 250);
}

TEST(ServerQuirks, Skip503) {
  Srv t = with(Quirk::skip_sequence_checks);
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 250);  // before EHLO
  EXPECT_EQ(t.cmd("MAIL FROM:<a@b.example>"), 250);  // nested
  Srv u = with(Quirk::skip_sequence_checks);
  u.ehlo();
  EXPECT_EQ(u.cmd("RCPT TO:<alice@example.test>"), 250);  // no MAIL
  // And the oracle catches it.
  bool failed = false;
  for (const auto& x : u.exchanges) failed |= x.verdict.kind == VerdictKind::failed;
  EXPECT_TRUE(failed);
}

TEST(ServerQuirks, Reply502ToEverything) {
  Srv t = with(Quirk::reply_502_everything);
  EXPECT_EQ(t.cmd("EHLO c.example"), 502);
  EXPECT_EQ(t.cmd("NOOP"), 502);
  EXPECT_EQ(t.cmd("QUIT"), 502);
}

TEST(ServerQuirks, KeepTransactionAcrossStartTls) {
  Srv t = with(Quirk::keep_transaction_across_starttls);
  t.ehlo();
  t.cmd("MAIL FROM:<a@b.example>");
  t.starttls();
  EXPECT_EQ(t.cmd("RCPT TO:<alice@example.test>"), 250);  // strict: 503
}

TEST(ServerQuirks, StartTlsPlaintextInjection) {
  Srv t = with(Quirk::starttls_plaintext_injection);
  t.ehlo();
  EXPECT_EQ(t.send("STARTTLS\r\nNOOP injected\r\n"), "220 2.0.0 Ready to start TLS\r\n");
  t.s.tls_established();
  t.drain();
  EXPECT_EQ(t.out(), "250 2.0.0 OK\r\n");  // the injected NOOP answered inside TLS
}

TEST(ServerQuirks, AcceptBareLf) {
  Srv t = with(Quirk::accept_bare_lf);
  EXPECT_EQ(t.send("EHLO c.example\nNOOP\n").substr(0, 4), "250-");
  Srv u = with(Quirk::accept_bare_lf);
  const std::string r = u.send("NOOP\nNOOP\n");
  EXPECT_EQ(r, "250 2.0.0 OK\r\n250 2.0.0 OK\r\n");
}

TEST(ServerQuirks, No421OnShutdown) {
  Srv t = with(Quirk::no_421_on_shutdown);
  t.s.shutdown();
  EXPECT_EQ(t.out(), "");
  EXPECT_TRUE(t.s.closed());
}

TEST(ServerQuirks, WrongMultilineCode) {
  Srv t = with(Quirk::wrong_multiline_code);
  const std::string r = t.send("EHLO c.example\r\n");
  EXPECT_EQ(r.substr(0, 36), "250-mx.example.test greets you\r\n251-");
  EXPECT_FALSE(parse_reply(r).reply.has_value());  // a strict client rejects it
}

TEST(ServerQuirks, AdvertiseAuthBeforeTls) {
  Srv t = with(Quirk::advertise_auth_before_tls);
  EXPECT_NE(t.send("EHLO c.example\r\n").find("AUTH PLAIN"), std::string::npos);
  EXPECT_EQ(t.cmd("AUTH PLAIN " + base64_encode(sasl_plain("", "alice", "wonderland"))), 235);
}

TEST(ServerQuirks, OpenRelay) {
  Srv t = with(Quirk::open_relay);
  t.ehlo();
  t.cmd("MAIL FROM:<a@b.example>");
  EXPECT_EQ(t.cmd("RCPT TO:<victim@remote.example>"), 250);
}

TEST(ServerQuirks, VrfyLeaksUsers) {
  Srv t = with(Quirk::vrfy_leaks_users);
  EXPECT_EQ(t.cmd("VRFY alice"), 252);
  EXPECT_EQ(t.cmd("VRFY Bob"), 252);
  EXPECT_EQ(t.cmd("VRFY mallory"), 550);
  EXPECT_EQ(t.cmd("VRFY \"alice\""), 252);
  EXPECT_EQ(t.cmd("VRFY alice@example.test"), 252);
  EXPECT_EQ(t.cmd("VRFY mallory@example.test SMTPUTF8"), 550);
  Srv s;
  EXPECT_EQ(s.cmd("VRFY alice"), 252);
  EXPECT_EQ(s.cmd("VRFY mallory"), 252);
}

}  // namespace
}  // namespace smtp
