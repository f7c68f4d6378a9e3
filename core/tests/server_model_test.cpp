// ServerModel: the oracle. Expectations with their levels, verdicts, state following, and a
// property: every reply of the reference server, for random command streams under several
// profiles, is judged OK.
#include "smtp/server_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "smtp/sasl.h"
#include "smtp/server_session.h"

namespace smtp {
namespace {

Command cmd(std::string_view line) { return parse_command_line(line); }

Reply reply(std::uint16_t code, std::vector<std::string> lines = {"ok"}) {
  return make_reply(code, std::move(lines));
}

Reply reply_esc(std::uint16_t code, const char* esc) {
  return make_reply(code, {"text"}, parse_enhanced_status(esc));
}

const ExpectedCode* find(const Expectation& e, std::uint16_t code) {
  for (const auto& c : e.codes) {
    if (c.code == code) return &c;
  }
  return nullptr;
}

/// A model that has seen the greeting and an EHLO reply with `keywords`.
ServerModel after_ehlo(std::vector<std::string> keywords = {"PIPELINING", "SIZE 1000", "CHUNKING",
                                                            "8BITMIME", "AUTH PLAIN LOGIN", "DSN",
                                                            "STARTTLS"}) {
  ServerModel m;
  m.advance_greeting(reply(220));
  std::vector<std::string> lines = {"mx.example greets"};
  for (auto& k : keywords) lines.push_back(k);
  m.advance(cmd("EHLO c.example"), make_reply(250, lines));
  return m;
}

TEST(ServerModel, GreetingExpectation) {
  ServerModel m;
  const Expectation e = m.expect_greeting();
  EXPECT_EQ(e.level, Requirement::must);
  EXPECT_TRUE(e.allows(220));
  EXPECT_TRUE(e.allows(554));
  EXPECT_TRUE(e.allows(421));
  EXPECT_EQ(ServerModel::judge(e, reply(250)).kind, VerdictKind::failed);
  EXPECT_TRUE(ServerModel::judge(e, reply(220)).ok());
}

TEST(ServerModel, SequencingMusts) {
  ServerModel m = after_ehlo();
  // RCPT before MAIL: 503 MUST (RFC 5321 §3.3).
  Expectation e = m.expect(cmd("RCPT TO:<a@example.test>"));
  EXPECT_EQ(e.level, Requirement::must);
  ASSERT_NE(find(e, 503), nullptr);
  EXPECT_EQ(find(e, 503)->level, Requirement::must);
  EXPECT_EQ(e.rfc, "RFC5321#3.3");
  Verdict v = m.judge(cmd("RCPT TO:<a@example.test>"), reply(250));
  EXPECT_EQ(v.kind, VerdictKind::failed);
  EXPECT_NE(v.reason.find("503"), std::string::npos);
  EXPECT_EQ(m.judge(cmd("RCPT TO:<a@example.test>"), reply_esc(503, "5.5.1")).kind,
            VerdictKind::ok);
  // DATA with no recipient: 503 or 554.
  m.advance(cmd("MAIL FROM:<a@b.example>"), reply(250));
  e = m.expect(cmd("DATA"));
  EXPECT_TRUE(e.allows(503));
  EXPECT_TRUE(e.allows(554));
  EXPECT_FALSE(e.allows(354));
  // Nested MAIL.
  e = m.expect(cmd("MAIL FROM:<a@b.example>"));
  EXPECT_EQ(e.level, Requirement::must);
  EXPECT_TRUE(e.allows(503));
  EXPECT_FALSE(e.allows(250));
  // AUTH inside a transaction: 503 MUST (RFC 4954 §4).
  e = m.expect(cmd("AUTH PLAIN"));
  EXPECT_EQ(e.level, Requirement::must);
  EXPECT_EQ(e.rfc, "RFC4954#4");
}

TEST(ServerModel, MailBeforeEhlo) {
  ServerModel m;
  m.advance_greeting(reply(220));
  const Expectation e = m.expect(cmd("MAIL FROM:<a@b.example>"));
  EXPECT_EQ(e.level, Requirement::must);
  EXPECT_TRUE(e.allows(503));
  // RSET, NOOP, VRFY, EXPN, HELP are fine before EHLO.
  EXPECT_TRUE(m.expect(cmd("NOOP")).allows(250));
  EXPECT_TRUE(m.expect(cmd("VRFY alice")).allows(252));
  EXPECT_TRUE(m.expect(cmd("HELP")).allows(214));
}

TEST(ServerModel, FixedReplies) {
  ServerModel m = after_ehlo();
  Expectation e = m.expect(cmd("QUIT"));
  EXPECT_EQ(e.level, Requirement::must);
  EXPECT_EQ(find(e, 221)->level, Requirement::must);
  EXPECT_EQ(e.rfc, "RFC5321#4.1.1.10");
  EXPECT_EQ(m.judge(cmd("QUIT"), reply(250)).kind, VerdictKind::failed);
  e = m.expect(cmd("NOOP"));
  EXPECT_TRUE(e.allows(250));
  EXPECT_EQ(m.judge(cmd("NOOP"), reply(500)).kind, VerdictKind::failed);
  e = m.expect(cmd("RSET"));
  EXPECT_EQ(find(e, 250)->level, Requirement::must);
}

TEST(ServerModel, UnknownAndNotAdvertised) {
  ServerModel m = after_ehlo({"PIPELINING"});
  Expectation e = m.expect(cmd("XYZZY"));
  EXPECT_EQ(e.level, Requirement::should);
  EXPECT_TRUE(e.allows(500));
  EXPECT_EQ(m.judge(cmd("XYZZY"), reply(502)).kind, VerdictKind::non_strict);
  // BDAT without CHUNKING: 502 should.
  e = m.expect(cmd("BDAT 10 LAST"));
  EXPECT_EQ(find(e, 502)->level, Requirement::should);
  EXPECT_EQ(m.judge(cmd("BDAT 10 LAST"), reply(250)).kind, VerdictKind::non_strict);
  // STARTTLS not advertised.
  EXPECT_TRUE(m.expect(cmd("STARTTLS")).allows(502));
}

TEST(ServerModel, ParametersAndSize) {
  ServerModel m = after_ehlo();
  Expectation e = m.expect(cmd("MAIL FROM:<a@b.example> SIZE=2000"));
  EXPECT_EQ(find(e, 552)->level, Requirement::should);
  EXPECT_EQ(e.rfc, "RFC1870#6");
  EXPECT_EQ(m.judge(cmd("MAIL FROM:<a@b.example> SIZE=2000"), reply(250)).kind,
            VerdictKind::non_strict);
  e = m.expect(cmd("MAIL FROM:<a@b.example> SMTPUTF8"));  // not advertised
  EXPECT_EQ(find(e, 555)->level, Requirement::should);
  e = m.expect(cmd("MAIL FROM:<a@b.example> FOO=BAR"));
  EXPECT_TRUE(e.allows(555));
  e = m.expect(cmd("MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME"));
  EXPECT_EQ(e.level, Requirement::may);
  EXPECT_TRUE(e.allows(250));
  // Null reverse-path: 250 should.
  e = m.expect(cmd("MAIL FROM:<>"));
  EXPECT_EQ(find(e, 250)->level, Requirement::should);
  EXPECT_EQ(m.judge(cmd("MAIL FROM:<>"), reply(550)).kind, VerdictKind::non_strict);
  // End of data larger than SIZE.
  m.advance(cmd("MAIL FROM:<a@b.example>"), reply(250));
  m.advance(cmd("RCPT TO:<x@example.test>"), reply(250));
  m.advance(cmd("DATA"), reply(354));
  EXPECT_EQ(m.state().phase, Phase::data);
  e = m.expect_data_end(5000);
  EXPECT_EQ(find(e, 552)->level, Requirement::should);
  EXPECT_TRUE(m.expect_data_end(10).allows(250));
}

TEST(ServerModel, PostmasterMustBeAccepted) {
  ServerModel m = after_ehlo();
  m.advance(cmd("MAIL FROM:<a@b.example>"), reply(250));
  const Expectation e = m.expect(cmd("RCPT TO:<Postmaster>"));
  EXPECT_EQ(e.level, Requirement::must);
  EXPECT_EQ(e.rfc, "RFC5321#4.5.1");
  EXPECT_EQ(m.judge(cmd("RCPT TO:<Postmaster>"), reply(550)).kind, VerdictKind::failed);
  EXPECT_TRUE(m.judge(cmd("RCPT TO:<Postmaster>"), reply(452)).ok());
}

TEST(ServerModel, OutsideTheRowIsNonStrictOrFailed) {
  ServerModel m = after_ehlo();
  m.advance(cmd("MAIL FROM:<a@b.example>"), reply(250));
  // 554 to RCPT is common (Postfix "Relay access denied") but not in §4.3.2's RCPT row.
  const Verdict v = m.judge(cmd("RCPT TO:<x@remote.example>"), reply(554));
  EXPECT_EQ(v.kind, VerdictKind::non_strict);
  EXPECT_NE(v.reason.find("RFC5321#4.3.2"), std::string::npos);
  EXPECT_EQ(m.judge(cmd("RCPT TO:<x@remote.example>"), reply(354)).kind, VerdictKind::failed);
  EXPECT_TRUE(m.judge(cmd("RCPT TO:<x@remote.example>"), reply(550)).ok());
  EXPECT_TRUE(m.judge(cmd("RCPT TO:<x@remote.example>"), reply(421)).ok());
}

TEST(ServerModel, EnhancedStatusExpectedWhenAdvertised) {
  ServerModel m = after_ehlo({"ENHANCEDSTATUSCODES"});
  EXPECT_EQ(m.judge(cmd("NOOP"), reply(250)).kind, VerdictKind::non_strict);
  EXPECT_TRUE(m.judge(cmd("NOOP"), reply_esc(250, "2.0.0")).ok());
  EXPECT_EQ(m.judge(cmd("NOOP"), reply_esc(250, "5.0.0")).kind, VerdictKind::non_strict);
  ServerModel plain = after_ehlo({});
  EXPECT_TRUE(plain.judge(cmd("NOOP"), reply(250)).ok());
}

TEST(ServerModel, SaslCancel) {
  ServerModel m = after_ehlo();
  m.advance(cmd("AUTH LOGIN"), reply(334, {"VXNlcm5hbWU6"}));
  EXPECT_EQ(m.state().phase, Phase::auth);
  const Expectation e = m.expect_sasl(true);
  EXPECT_EQ(e.level, Requirement::must);
  EXPECT_TRUE(e.allows(501));
  EXPECT_EQ(ServerModel::judge(e, reply(535)).kind, VerdictKind::failed);
  m.advance_sasl(reply(501));
  EXPECT_EQ(m.state().phase, Phase::ready);
  EXPECT_FALSE(m.state().flags.authenticated);
}

TEST(ServerModel, FollowsStateAndTls) {
  ServerModel m = after_ehlo();
  EXPECT_EQ(m.state().phase, Phase::ready);
  ASSERT_TRUE(m.state().capabilities.has_value());
  EXPECT_TRUE(m.state().capabilities->chunking());
  m.advance(cmd("STARTTLS"), reply(220));
  EXPECT_EQ(m.state().phase, Phase::tls);
  m.tls_established();
  EXPECT_EQ(m.state().phase, Phase::greeted);
  EXPECT_TRUE(m.state().flags.tls);
  EXPECT_FALSE(m.state().capabilities.has_value());
  EXPECT_TRUE(m.expect(cmd("MAIL FROM:<a@b.example>")).allows(503));
  m.advance(cmd("EHLO c.example"), reply(250, {"mx", "AUTH PLAIN"}));
  m.advance(cmd("AUTH PLAIN AHUAcA=="), reply(235));
  EXPECT_TRUE(m.state().flags.authenticated);
  EXPECT_TRUE(m.expect(cmd("AUTH PLAIN AHUAcA==")).allows(503));
  EXPECT_EQ(m.expect(cmd("AUTH PLAIN AHUAcA==")).level, Requirement::must);
  m.advance(cmd("QUIT"), reply(221));
  EXPECT_EQ(m.state().phase, Phase::closed);
}

TEST(ServerModel, AnswersForEveryCommandInEveryState) {
  const char* lines[] = {"HELO c.example",
                         "EHLO c.example",
                         "MAIL FROM:<a@b.example>",
                         "RCPT TO:<x@example.test>",
                         "DATA",
                         "RSET",
                         "VRFY x",
                         "EXPN x",
                         "HELP",
                         "NOOP",
                         "QUIT",
                         "SEND FROM:<a@b.example>",
                         "SOML FROM:<a@b.example>",
                         "SAML FROM:<a@b.example>",
                         "TURN",
                         "STARTTLS",
                         "AUTH PLAIN",
                         "BDAT 1",
                         "BDAT 0 LAST",
                         "ETRN example.test",
                         "ATRN",
                         "FOO",
                         "MAIL FROM:<",
                         "RCPT TO:<Postmaster>"};
  for (unsigned p = 0; p < static_cast<unsigned>(Phase::count_); ++p) {
    for (unsigned bits = 0; bits < 32; ++bits) {
      ModelState s;
      s.phase = static_cast<Phase>(p);
      s.flags.hello = bits & 1;
      s.flags.extended = (bits & 3) == 3;
      s.flags.tls = bits & 4;
      s.flags.authenticated = bits & 8;
      s.flags.binarymime = bits & 16;
      for (const char* l : lines) {
        const Command c = cmd(l);
        const Expectation e = ServerModel::expect(s, ServerModel::reply_to(c), &c);
        const bool command_phase = contains(kCommandPhases, s.phase) || s.phase == Phase::connect;
        if (command_phase) {
          EXPECT_FALSE(e.codes.empty()) << l << " in " << to_string(s.phase);
        }
        EXPECT_FALSE(e.reason.empty());
        for (const auto& ec : e.codes) {
          EXPECT_GE(ec.code, 200);
          EXPECT_LE(ec.code, 559);
        }
      }
    }
  }
}

// Property: the reference server's replies are always judged OK by the oracle, for random
// streams of (mostly valid) commands under several profiles. Deterministic seeds.
TEST(ServerModel, ReferenceServerAlwaysConforms) {
  const std::vector<std::string> pool = {
      "EHLO c.example",
      "HELO c.example",
      "MAIL FROM:<a@b.example>",
      "MAIL FROM:<>",
      "MAIL FROM:<a@b.example> SIZE=50",
      "MAIL FROM:<a@b.example> SIZE=999999999",
      "MAIL FROM:<a@b.example> BODY=BINARYMIME",
      "MAIL FROM:<a@b.example> FOO=1",
      "RCPT TO:<alice@example.test>",
      "RCPT TO:<nobody@example.test>",
      "RCPT TO:<Postmaster>",
      "RCPT TO:<x@remote.example>",
      "RCPT TO:<alice@example.test> NOTIFY=NEVER",
      "DATA",
      "BDAT 3\r\nabc",
      "BDAT 2 LAST\r\nxy",
      "BDAT 0 LAST",
      "RSET",
      "VRFY alice",
      "EXPN x",
      "HELP",
      "NOOP",
      "STARTTLS",
      "AUTH PLAIN " + base64_encode(sasl_plain("", "alice", "wonderland")),
      "AUTH PLAIN " + base64_encode(sasl_plain("", "alice", "x")),
      "AUTH LOGIN",
      "AUTH CRAM-MD5",
      "AUTH FOO",
      "*",
      base64_encode("alice"),
      base64_encode("wonderland"),
      "ETRN x.example",
      "ATRN",
      "TURN",
      "SEND FROM:<a@b.example>",
      "XYZZY",
      "MAIL FROM:<bad",
      "RSET x",
      "hello\r\n.\r\n",
      "NOOP\nNOOP",
      "VRFY"};
  for (int profile = 0; profile < 4; ++profile) {
    for (unsigned seed = 1; seed <= 60; ++seed) {
      ServerProfile p;
      p.max_message_size = profile == 1 ? 100 : 10 * 1024 * 1024;
      p.auth_requires_tls = profile != 2;
      p.extensions.enhancedstatuscodes = profile != 3;
      p.extensions.chunking = profile != 3;
      p.extensions.pipelining = profile != 2;
      p.extensions.etrn = profile == 2;
      ServerSession s(p);
      std::mt19937 rng(seed * 7919 + static_cast<unsigned>(profile));
      for (int i = 0; i < 40 && !s.closed(); ++i) {
        s.receive(pool[rng() % pool.size()] + "\r\n");
        if (s.phase() == Phase::tls) s.tls_established();
        while (auto e = s.next_event()) {
          if (auto* x = std::get_if<Exchange>(&*e)) {
            EXPECT_TRUE(x->verdict.ok())
                << "profile " << profile << " seed " << seed << ": " << x->reply.serialize()
                << " to " << (x->command ? serialize(*x->command) : std::string(to_string(x->to)))
                << " in " << to_string(x->before) << ": " << x->verdict.reason;
          }
        }
        s.consume_output(s.pending_output().size());
      }
    }
  }
}

TEST(ServerModel, QuirkyServerIsCaught) {
  // Against quirks that break MUST-level rules, the oracle finds a FAILED verdict.
  struct Case {
    Quirk quirk;
    std::vector<std::string> input;
  };
  const Case cases[] = {
      {Quirk::skip_sequence_checks, {"RCPT TO:<alice@example.test>"}},
      {Quirk::reply_502_everything, {"EHLO c.example", "QUIT"}},
      {Quirk::keep_transaction_across_starttls,
       {"EHLO c.example", "MAIL FROM:<a@b.example>", "STARTTLS", "RCPT TO:<alice@example.test>"}},
  };
  for (const Case& c : cases) {
    ServerProfile p;
    p.quirks.set(c.quirk);
    ServerSession s(p);
    bool failed = false;
    for (const auto& l : c.input) {
      s.receive(l + "\r\n");
      if (s.phase() == Phase::tls) s.tls_established();
    }
    while (auto e = s.next_event()) {
      if (auto* x = std::get_if<Exchange>(&*e)) failed |= x->verdict.kind == VerdictKind::failed;
    }
    EXPECT_TRUE(failed) << to_string(c.quirk);
  }
}

TEST(ServerModel, Names) {
  EXPECT_EQ(to_string(Requirement::must), "MUST");
  EXPECT_EQ(to_string(Requirement::should), "SHOULD");
  EXPECT_EQ(to_string(Requirement::may), "MAY");
  EXPECT_EQ(to_string(VerdictKind::ok), "OK");
  EXPECT_EQ(to_string(VerdictKind::non_strict), "NON-STRICT");
  EXPECT_EQ(to_string(VerdictKind::failed), "FAILED");
}

}  // namespace
}  // namespace smtp
