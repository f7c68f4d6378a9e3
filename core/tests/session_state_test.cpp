// session_state.h: the sequencing, transition and pipelining tables.
#include "smtp/session_state.h"

#include <gtest/gtest.h>

namespace smtp {
namespace {

SessionFlags hello(bool extended = true) {
  SessionFlags f;
  f.hello = true;
  f.extended = extended;
  return f;
}

TEST(SessionState, SequenceRulesIndexedByVerb) {
  for (unsigned i = 0; i < static_cast<unsigned>(Verb::count_); ++i) {
    const auto v = static_cast<Verb>(i);
    EXPECT_EQ(sequence_rule(v).verb, v);
    EXPECT_FALSE(sequence_rule(v).rfc.empty());
  }
}

TEST(SessionState, AnywhereCommands) {
  // RFC 5321 §4.1.4: RSET, NOOP, VRFY, EXPN, HELP (and QUIT, EHLO) in every command phase.
  for (const Verb v : {Verb::rset, Verb::noop, Verb::vrfy, Verb::expn, Verb::help, Verb::quit,
                       Verb::ehlo, Verb::helo}) {
    for (const Phase p : {Phase::greeted, Phase::ready, Phase::mail, Phase::rcpt, Phase::bdat}) {
      EXPECT_TRUE(check_sequence(p, p == Phase::greeted ? SessionFlags{} : hello(), v).ok)
          << to_string(v) << " in " << to_string(p);
    }
    EXPECT_FALSE(check_sequence(Phase::data, hello(), v).ok);
    EXPECT_FALSE(check_sequence(Phase::auth, hello(), v).ok);
    EXPECT_FALSE(check_sequence(Phase::tls, hello(), v).ok);
  }
}

TEST(SessionState, TransactionOrder) {
  EXPECT_FALSE(check_sequence(Phase::greeted, {}, Verb::mail).ok);  // MAIL before EHLO
  EXPECT_TRUE(check_sequence(Phase::ready, hello(), Verb::mail).ok);
  EXPECT_FALSE(check_sequence(Phase::mail, hello(), Verb::mail).ok);  // nested
  EXPECT_FALSE(check_sequence(Phase::ready, hello(), Verb::rcpt).ok);
  EXPECT_TRUE(check_sequence(Phase::mail, hello(), Verb::rcpt).ok);
  EXPECT_TRUE(check_sequence(Phase::rcpt, hello(), Verb::rcpt).ok);
  const SequenceCheck d = check_sequence(Phase::mail, hello(), Verb::data);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.code, 503);
  EXPECT_EQ(d.alt_code, 554);  // §3.3
  EXPECT_TRUE(check_sequence(Phase::rcpt, hello(), Verb::data).ok);
  EXPECT_FALSE(check_sequence(Phase::bdat, hello(), Verb::data).ok);  // RFC 3030
  EXPECT_TRUE(check_sequence(Phase::bdat, hello(), Verb::bdat).ok);
  SessionFlags bin = hello();
  bin.binarymime = true;
  EXPECT_FALSE(check_sequence(Phase::rcpt, bin, Verb::data).ok);
  EXPECT_TRUE(check_sequence(Phase::rcpt, bin, Verb::bdat).ok);
}

TEST(SessionState, AuthAndStartTls) {
  EXPECT_TRUE(check_sequence(Phase::ready, hello(), Verb::auth).ok);
  EXPECT_FALSE(check_sequence(Phase::ready, hello(false), Verb::auth).ok);  // HELO only
  EXPECT_FALSE(check_sequence(Phase::mail, hello(), Verb::auth).ok);
  SessionFlags authed = hello();
  authed.authenticated = true;
  EXPECT_FALSE(check_sequence(Phase::ready, authed, Verb::auth).ok);
  EXPECT_TRUE(check_sequence(Phase::greeted, {}, Verb::starttls).ok);
  EXPECT_TRUE(check_sequence(Phase::ready, hello(), Verb::starttls).ok);
  EXPECT_FALSE(check_sequence(Phase::rcpt, hello(), Verb::starttls).ok);
  SessionFlags tls = hello();
  tls.tls = true;
  EXPECT_FALSE(check_sequence(Phase::ready, tls, Verb::starttls).ok);
  const SequenceCheck a = check_sequence(Phase::ready, hello(), Verb::atrn);
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(a.code, 530);
}

TEST(SessionState, Transitions) {
  const SessionFlags none;
  EXPECT_EQ(next_phase(Phase::connect, none, ReplyTo::greeting, Verb::unknown, 220),
            Phase::greeted);
  EXPECT_EQ(next_phase(Phase::greeted, none, ReplyTo::command, Verb::ehlo, 250), Phase::ready);
  EXPECT_EQ(next_phase(Phase::greeted, none, ReplyTo::command, Verb::ehlo, 502), Phase::greeted);
  EXPECT_EQ(next_phase(Phase::ready, hello(), ReplyTo::command, Verb::mail, 250), Phase::mail);
  EXPECT_EQ(next_phase(Phase::mail, hello(), ReplyTo::command, Verb::rcpt, 550), Phase::mail);
  EXPECT_EQ(next_phase(Phase::mail, hello(), ReplyTo::command, Verb::rcpt, 250), Phase::rcpt);
  EXPECT_EQ(next_phase(Phase::rcpt, hello(), ReplyTo::command, Verb::data, 354), Phase::data);
  EXPECT_EQ(next_phase(Phase::rcpt, hello(), ReplyTo::command, Verb::data, 554), Phase::rcpt);
  EXPECT_EQ(next_phase(Phase::data, hello(), ReplyTo::data_end, Verb::unknown, 250), Phase::ready);
  EXPECT_EQ(next_phase(Phase::data, hello(), ReplyTo::data_end, Verb::unknown, 552), Phase::ready);
  EXPECT_EQ(next_phase(Phase::rcpt, hello(), ReplyTo::bdat, Verb::bdat, 250), Phase::bdat);
  EXPECT_EQ(next_phase(Phase::bdat, hello(), ReplyTo::bdat, Verb::bdat, 552), Phase::bdat);
  EXPECT_EQ(next_phase(Phase::bdat, hello(), ReplyTo::bdat_last, Verb::bdat, 552), Phase::ready);
  EXPECT_EQ(next_phase(Phase::rcpt, hello(), ReplyTo::bdat_last, Verb::bdat, 503), Phase::rcpt);
  EXPECT_EQ(next_phase(Phase::rcpt, hello(), ReplyTo::command, Verb::rset, 250), Phase::ready);
  EXPECT_EQ(next_phase(Phase::greeted, none, ReplyTo::command, Verb::rset, 250), Phase::greeted);
  EXPECT_EQ(next_phase(Phase::ready, hello(), ReplyTo::command, Verb::starttls, 220), Phase::tls);
  EXPECT_EQ(next_phase(Phase::ready, hello(), ReplyTo::command, Verb::auth, 334), Phase::auth);
  EXPECT_EQ(next_phase(Phase::auth, hello(), ReplyTo::sasl, Verb::unknown, 235), Phase::ready);
  EXPECT_EQ(next_phase(Phase::auth, hello(), ReplyTo::sasl, Verb::unknown, 501), Phase::ready);
  EXPECT_EQ(next_phase(Phase::rcpt, hello(), ReplyTo::command, Verb::quit, 221), Phase::closed);
  for (const Phase p : {Phase::greeted, Phase::rcpt, Phase::data, Phase::auth}) {
    EXPECT_EQ(next_phase(p, hello(), ReplyTo::command, Verb::noop, 421), Phase::closed);
  }
  EXPECT_EQ(next_phase(Phase::rcpt, hello(), ReplyTo::raw, Verb::unknown, 250), Phase::rcpt);
}

TEST(SessionState, Flags) {
  SessionFlags f = next_flags({}, ReplyTo::command, Verb::ehlo, 250);
  EXPECT_TRUE(f.hello && f.extended);
  f = next_flags(f, ReplyTo::command, Verb::helo, 250);
  EXPECT_TRUE(f.hello && !f.extended);
  f = next_flags(hello(), ReplyTo::command, Verb::mail, 250, true);
  EXPECT_TRUE(f.binarymime);
  EXPECT_FALSE(next_flags(f, ReplyTo::bdat_last, Verb::bdat, 250).binarymime);
  EXPECT_TRUE(next_flags(f, ReplyTo::bdat_last, Verb::bdat, 503).binarymime);
  EXPECT_TRUE(next_flags(hello(), ReplyTo::sasl, Verb::unknown, 235).authenticated);
  EXPECT_TRUE(next_flags(hello(), ReplyTo::command, Verb::auth, 235).authenticated);
  EXPECT_FALSE(next_flags(hello(), ReplyTo::command, Verb::auth, 535).authenticated);
  EXPECT_TRUE(flags_after_tls().tls);
  EXPECT_FALSE(flags_after_tls().hello);
}

TEST(SessionState, PipelineGroupEnders) {
  // RFC 2920 §3.1 list, plus STARTTLS (RFC 3207) and AUTH (RFC 4954 §4).
  for (const Verb v : {Verb::ehlo, Verb::data, Verb::vrfy, Verb::expn, Verb::turn, Verb::quit,
                       Verb::noop, Verb::starttls, Verb::auth, Verb::atrn, Verb::helo}) {
    EXPECT_TRUE(ends_pipeline_group(v)) << to_string(v);
  }
  for (const Verb v : {Verb::mail, Verb::rcpt, Verb::rset, Verb::bdat, Verb::help, Verb::etrn}) {
    EXPECT_FALSE(ends_pipeline_group(v)) << to_string(v);
  }
  EXPECT_FALSE(ends_pipeline_group(Verb::auth, true));  // AUTH PLAIN with initial response
}

TEST(SessionState, Timeouts) {
  const Timeouts t;
  EXPECT_EQ(t.get(TimeoutKind::initial), 300000u);
  EXPECT_EQ(t.get(TimeoutKind::mail), 300000u);
  EXPECT_EQ(t.get(TimeoutKind::rcpt), 300000u);
  EXPECT_EQ(t.get(TimeoutKind::data_init), 120000u);
  EXPECT_EQ(t.get(TimeoutKind::data_block), 180000u);
  EXPECT_EQ(t.get(TimeoutKind::data_term), 600000u);
  EXPECT_EQ(timeout_for(ReplyTo::greeting, Verb::unknown), TimeoutKind::initial);
  EXPECT_EQ(timeout_for(ReplyTo::command, Verb::mail), TimeoutKind::mail);
  EXPECT_EQ(timeout_for(ReplyTo::command, Verb::rcpt), TimeoutKind::rcpt);
  EXPECT_EQ(timeout_for(ReplyTo::command, Verb::data), TimeoutKind::data_init);
  EXPECT_EQ(timeout_for(ReplyTo::data_end, Verb::unknown), TimeoutKind::data_term);
  EXPECT_EQ(timeout_for(ReplyTo::bdat_last, Verb::bdat), TimeoutKind::data_term);
  EXPECT_EQ(timeout_for(ReplyTo::command, Verb::noop), TimeoutKind::other);
}

TEST(SessionState, Names) {
  for (unsigned i = 0; i < static_cast<unsigned>(Phase::count_); ++i) {
    EXPECT_NE(to_string(static_cast<Phase>(i)), "?");
  }
  for (unsigned i = 0; i < static_cast<unsigned>(ReplyTo::count_); ++i) {
    EXPECT_NE(to_string(static_cast<ReplyTo>(i)), "?");
  }
  for (unsigned i = 0; i < static_cast<unsigned>(TimeoutKind::count_); ++i) {
    EXPECT_NE(to_string(static_cast<TimeoutKind>(i)), "?");
  }
  EXPECT_FALSE(transition_table().empty());
}

}  // namespace
}  // namespace smtp
