// Tests for core/include/smtp/command.h: verbs, per-verb grammar (RFC 5321 §4.1.1 and the
// extension RFCs), Mail-/Rcpt-parameters, limits, line-level findings, tolerances,
// serialize() round trips and the streaming CommandParser (ground at every split).
#include "smtp/command.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "grind.h"

namespace smtp {
namespace {

std::string esc(std::string_view s) { return test::escape(s); }

std::string errors_of(const Command& c) {
  std::string s;
  for (const auto& e : c.errors) {
    if (!s.empty()) s += ' ';
    s += std::string(to_string(e.code)) + "@" + std::to_string(e.offset);
  }
  return s;
}

/// Everything observable about a command, as one line (for grind comparisons).
std::string describe(const Command& c) {
  std::string s = "off=" + std::to_string(c.offset) + " wire=" + std::to_string(c.wire_size) +
                  " verb=" + std::string(to_string(c.verb)) + " text='" + esc(c.verb_text) +
                  "' arg='" + esc(c.argument) + "'";
  if (c.path) s += " path=" + esc(c.path->serialize());
  for (const auto& p : c.params) s += " " + p.keyword + (p.value ? "=" + esc(*p.value) : "");
  if (!c.mechanism.empty()) s += " mech=" + c.mechanism;
  if (c.initial_response) s += " ir=" + *c.initial_response;
  if (c.verb == Verb::bdat) s += " size=" + std::to_string(c.chunk_size) + (c.last ? " LAST" : "");
  if (!c.errors.empty()) s += " errors=[" + errors_of(c) + "]";
  for (unsigned i = 0; i < static_cast<unsigned>(Tolerance::count_); ++i) {
    const auto t = static_cast<Tolerance>(i);
    if (c.tolerances.fired(t)) {
      s += std::string(" tol=") + to_string(t) + "@" + std::to_string(c.tolerances.first_offset(t));
    }
  }
  return s;
}

Command parse(std::string_view line, const CommandOptions& opt = {}) {
  return parse_command_line(line, opt);
}

// ---- Verbs ------------------------------------------------------------------------------

TEST(Verb, NamesRoundTrip) {
  for (unsigned i = 1; i < static_cast<unsigned>(Verb::count_); ++i) {
    const auto v = static_cast<Verb>(i);
    const std::string name(to_string(v));
    ASSERT_FALSE(name.empty());
    EXPECT_EQ(verb_from_string(name), v) << name;
    std::string lower = name;
    for (char& ch : lower) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    EXPECT_EQ(verb_from_string(lower), v) << lower;
  }
  EXPECT_EQ(to_string(Verb::unknown), "");
  EXPECT_EQ(verb_from_string("MaIl"), Verb::mail);
  EXPECT_EQ(verb_from_string("StartTls"), Verb::starttls);
  for (const char* w : {"", "MAI", "MAILS", "XYZZ", "STARTTLX", "HELO ", "EHL0", "\xc3\x89HLO"}) {
    EXPECT_EQ(verb_from_string(w), Verb::unknown) << esc(w);
  }
}

TEST(Verb, AllVerbsRecognised) {
  const std::vector<std::pair<std::string, Verb>> table = {
      {"HELO a", Verb::helo},        {"EHLO a", Verb::ehlo},       {"MAIL FROM:<>", Verb::mail},
      {"RCPT TO:<a@b>", Verb::rcpt}, {"DATA", Verb::data},         {"RSET", Verb::rset},
      {"VRFY a", Verb::vrfy},        {"EXPN a", Verb::expn},       {"HELP", Verb::help},
      {"NOOP", Verb::noop},          {"QUIT", Verb::quit},         {"SEND FROM:<>", Verb::send},
      {"SOML FROM:<>", Verb::soml},  {"SAML FROM:<>", Verb::saml}, {"TURN", Verb::turn},
      {"STARTTLS", Verb::starttls},  {"AUTH PLAIN", Verb::auth},   {"BDAT 1", Verb::bdat},
      {"ETRN a", Verb::etrn},        {"ATRN", Verb::atrn},
  };
  for (const auto& [line, verb] : table) {
    const Command c = parse(line);
    EXPECT_EQ(c.verb, verb) << line;
    EXPECT_TRUE(c.ok()) << line << " " << errors_of(c);
  }
}

TEST(Verb, UnknownKeepsText) {
  const Command c = parse("XFOO bar baz");
  EXPECT_EQ(c.verb, Verb::unknown);
  EXPECT_EQ(c.verb_text, "XFOO");
  EXPECT_EQ(c.argument, "bar baz");
  EXPECT_FALSE(c.ok());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].code, errc::unknown_command);
  EXPECT_EQ(c.errors[0].offset, 0u);
  EXPECT_FALSE(c.errors[0].reason.empty());
}

TEST(Verb, CaseKeptInVerbText) {
  const Command c = parse("mAiL fRoM:<a@b>");
  EXPECT_TRUE(c.ok()) << errors_of(c);
  EXPECT_EQ(c.verb, Verb::mail);
  EXPECT_EQ(c.verb_text, "mAiL");
}

// ---- Per-verb grammar: table of valid and invalid lines ------------------------------------

struct Case {
  std::string line;
  std::string errors;  // "" = valid; else "code@offset ..." (all errors, in order)
};

void run_table(const std::vector<Case>& cases, const CommandOptions& opt = {}) {
  for (const auto& tc : cases) {
    const Command c = parse_command_line(tc.line, opt);
    EXPECT_EQ(errors_of(c), tc.errors) << "line: " << esc(tc.line);
    if (tc.errors.empty()) {
      EXPECT_TRUE(c.ok()) << esc(tc.line);
    } else {
      EXPECT_FALSE(c.ok()) << esc(tc.line);
    }
    for (const auto& e : c.errors) {
      EXPECT_FALSE(e.reason.empty()) << esc(tc.line);
      EXPECT_EQ(e.reason.back(), '.') << "one sentence: " << e.reason;
    }
  }
}

TEST(Grammar, Unknown) {
  run_table({
      {"", "unknown_command@0"},
      {"FOO", "unknown_command@0"},
      {"FOO bar", "unknown_command@0"},
      {"MAILX FROM:<>", "unknown_command@0"},
      {"HELO1 a", "unknown_command@0"},
      {" HELO a", "unknown_command@0"},
      {"\xc3\x89HLO a", "unknown_command@0"},
  });
}

TEST(Grammar, VerbDelimiter) {
  run_table({
      {"QUIT\t", "bad_command_syntax@4"},
      {"MAIL\tFROM:<>", "bad_command_syntax@4"},
      {"DATA:", "bad_command_syntax@4"},
  });
}

TEST(Grammar, Helo) {
  run_table({
      {"HELO example.com", ""},
      {"helo a", ""},
      {"HELO a-b.c-d.e", ""},
      {"HELO 1.2.3", ""},
      {"HELO xn--bcher-kva.example", ""},
      {"HELO", "bad_command_syntax@4"},
      {"HELO ", "bad_domain@5"},
      {"HELO  a", "bad_command_syntax@5"},
      {"HELO a b", "bad_command_syntax@6"},
      {"HELO a ", "bad_command_syntax@6"},
      {"HELO [192.0.2.1]", "bad_domain@5"},
      {"HELO -a", "bad_domain@5"},
      {"HELO a-", "bad_domain@6"},
      {"HELO a-.b", "bad_domain@6"},
      {"HELO a..b", "bad_domain@7"},
      {"HELO a.", "bad_domain@7"},
      {"HELO .a", "bad_domain@5"},
      {"HELO a_b", "bad_command_syntax@6"},
      {"HELO b\xc3\xbc"
       "cher.de",
       "non_ascii@6"},
  });
}

TEST(Grammar, Ehlo) {
  run_table({
      {"EHLO example.com", ""},
      {"EHLO [192.0.2.1]", ""},
      {"EHLO [IPv6:2001:db8::1]", ""},
      {"EHLO [IPv6:::1]", ""},
      {"EHLO [ipv6:::1]", ""},
      {"EHLO [x-tag:abc]", ""},
      {"EHLO", "bad_command_syntax@4"},
      {"EHLO [1.2.3.256]", "bad_address_literal@12"},
      {"EHLO [1.2.3]", "bad_address_literal@11"},
      {"EHLO [1.2.3.4", "bad_address_literal@13"},
      {"EHLO []", "bad_address_literal@6"},
      {"EHLO [1.2.3.4] x", "bad_command_syntax@14"},
  });
}

TEST(Grammar, MailFrom) {
  run_table({
      {"MAIL FROM:<>", ""},
      {"MAIL FROM:<a@b>", ""},
      {"mail from:<a@b>", ""},
      {"MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME", ""},
      {"MAIL FROM:<@hosta.int,@jkl.org:userc@d.bar.org>", ""},
      {"MAIL FROM:<\"a b\"@[192.0.2.1]>", ""},
      {"MAIL FROM:<a@b> X-UNKNOWN=whatever FLAG", ""},
      {"MAIL", "bad_command_syntax@4"},
      {"MAIL ", "bad_command_syntax@5"},
      {"MAIL FROM", "bad_command_syntax@9"},
      {"MAIL FROM:", "bad_path@10"},
      {"MAIL FROM:a@b", "bad_path@10"},
      {"MAIL FROM:<a@b", "bad_path@14"},
      {"MAIL FROM: <a@b>", "bad_path@10"},
      {"MAIL FROM :<a@b>", "bad_command_syntax@9"},
      {"MAIL  FROM:<a@b>", "bad_command_syntax@5"},
      {"MAIL TO:<a@b>", "bad_command_syntax@5"},
      {"MAIL FROM:<a@b>x", "bad_command_syntax@15"},
      {"MAIL FROM:<a@b> ", "bad_parameter@16"},
      {"MAIL FROM:<a@b>  SIZE=1", "bad_parameter@16"},
      {"MAIL FROM:<Postmaster>", "bad_path@21"},
      {"MAIL FROM:<<a@b>>", "bad_local_part@11"},
      {"MAIL FROM:<@a>", "bad_path@13"},
      {"MAIL FROM:<@a,b:c@d>", "bad_path@14"},
      {"MAIL FROM:<@a:>", "bad_local_part@14"},
  });
}

TEST(Grammar, MailFromSpaceAfterColonStillShowsPath) {
  const Command c = parse("MAIL FROM: <a@b>");
  ASSERT_TRUE(c.path);
  EXPECT_EQ(c.path->address(), "a@b");
  EXPECT_EQ(c.argument, " <a@b>");
  EXPECT_FALSE(c.tolerances.any());
}

TEST(Grammar, SpaceAfterColonTolerance) {
  CommandOptions opt;
  opt.lenient.allow(Tolerance::space_after_colon);
  for (std::string_view line : {"MAIL FROM: <a@b> SIZE=1", "RCPT TO: <a@b>", "MAIL FROM:  <>"}) {
    const Command c = parse_command_line(line, opt, 100);
    EXPECT_TRUE(c.ok()) << line << " " << errors_of(c);
    ASSERT_TRUE(c.path) << line;
    EXPECT_TRUE(c.tolerances.fired(Tolerance::space_after_colon));
    EXPECT_EQ(c.tolerances.first_offset(Tolerance::space_after_colon), 100 + line.find(':') + 1);
  }
  // Without the space the tolerance does not fire.
  const Command c = parse_command_line("MAIL FROM:<a@b>", opt);
  EXPECT_TRUE(c.ok());
  EXPECT_FALSE(c.tolerances.any());
  EXPECT_STREQ(to_string(Tolerance::space_after_colon), "space_after_colon");
}

TEST(Grammar, RcptTo) {
  run_table({
      {"RCPT TO:<a@b>", ""},
      {"RCPT TO:<Postmaster>", ""},
      {"rcpt to:<postmaster>", ""},
      {"RCPT TO:<POSTMASTER>", ""},
      {"RCPT TO:<Postmaster@example.com>", ""},
      {"RCPT TO:<Postmaster> NOTIFY=NEVER", ""},
      {"RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>", ""},
      {"RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b", ""},
      {"RCPT TO:", "bad_path@8"},
      {"RCPT TO:<>", "bad_path@9"},
      {"RCPT TO:<a>", "bad_path@10"},
      {"RCPT TO:<Postmaster", "bad_path@19"},
      {"RCPT TO:<@a:Postmaster>", "bad_path@22"},
      {"RCPT TO:<.a@b>", "bad_local_part@9"},
      {"RCPT TO:<a.@b>", "bad_local_part@11"},
      {"RCPT TO:<a..b@c>", "bad_local_part@11"},
      {"RCPT TO:<a b@c>", "bad_path@10"},
      {"RCPT TO:<a@b>>", "bad_command_syntax@13"},
      {"RCPT FROM:<a@b>", "bad_command_syntax@5"},
      {"RCPT TO:a@b", "bad_path@8"},
  });
}

TEST(Grammar, RcptPostmasterFields) {
  const Command c = parse("RCPT TO:<postMaster>");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.path);
  EXPECT_TRUE(c.path->postmaster);
  EXPECT_FALSE(c.path->null);
  EXPECT_EQ(c.path->local_part, "postMaster");
  EXPECT_EQ(c.path->domain, "");
  EXPECT_EQ(c.path->address(), "postMaster");
  EXPECT_EQ(c.path->serialize(), "<postMaster>");
  const Command d = parse("RCPT TO:<Postmaster@Example.COM>");
  ASSERT_TRUE(d.path);
  EXPECT_FALSE(d.path->postmaster);
  EXPECT_EQ(d.path->address(), "Postmaster@Example.COM");
}

TEST(Grammar, NoArgumentVerbs) {
  run_table({
      {"DATA", ""},
      {"data", ""},
      {"RSET", ""},
      {"QUIT", ""},
      {"STARTTLS", ""},
      {"TURN", ""},
      {"DATA x", "bad_command_syntax@4"},
      {"DATA ", "bad_command_syntax@4"},
      {"RSET now", "bad_command_syntax@4"},
      {"QUIT please", "bad_command_syntax@4"},
      {"STARTTLS x", "bad_command_syntax@8"},
      {"TURN x", "bad_command_syntax@4"},
  });
}

TEST(Grammar, StringArguments) {
  run_table({
      {"VRFY Smith", ""},
      {"VRFY \"John Smith\"", ""},
      {"VRFY \"a\\\"b\"", ""},
      {"EXPN Example-People", ""},
      {"HELP", ""},
      {"HELP MAIL", ""},
      {"NOOP", ""},
      {"NOOP x", ""},
      {"NOOP \"\"", ""},
      {"VRFY", "bad_command_syntax@4"},
      {"VRFY ", "bad_command_syntax@5"},
      {"VRFY a b", "bad_command_syntax@6"},
      // RFC 5321 §3.5.1, §3.5.3: the VRFY/EXPN argument may be a mailbox as well as a String.
      {"VRFY a@b", ""},
      {"VRFY \"a b\"@example.test", ""},
      {"EXPN list@[127.0.0.1]", ""},
      {"VRFY a@b c", "bad_command_syntax@8"},
      {"VRFY a@", "bad_command_syntax@6"},
      {"VRFY a.b", "bad_command_syntax@6"},
      {"VRFY Smith SMTPUTF8", "bad_command_syntax@10"},  // only when SMTPUTF8 is on
      {"VRFY \"a", "bad_command_syntax@7"},
      {"VRFY \"a\\\x01\"", "bad_command_syntax@8"},
      {"EXPN", "bad_command_syntax@4"},
      {"HELP ", "bad_command_syntax@5"},
      {"HELP a b", "bad_command_syntax@6"},
      {"NOOP  x", "bad_command_syntax@5"},
      {"NOOP \xc3\xa9", "non_ascii@5"},
  });
}

// RFC 6531 §3.7.4.2: "VRFY" SP String [SP "SMTPUTF8"], likewise EXPN.
TEST(Grammar, VrfyExpnSmtputf8) {
  CommandOptions opt;
  opt.smtputf8 = true;
  run_table(
      {
          {"VRFY Smith SMTPUTF8", ""},
          {"VRFY a@b smtputf8", ""},
          {"EXPN list SMTPUTF8", ""},
          {"VRFY Smith SMTPUTF8=x", "bad_command_syntax@10"},
          {"VRFY Smith SMTPUTF8 SMTPUTF8", "bad_command_syntax@10"},
          {"VRFY Smith BODY", "bad_command_syntax@10"},
      },
      opt);
  const Command c = parse_command_line("VRFY Smith SMTPUTF8", opt);
  EXPECT_EQ(c.argument, "Smith");
  ASSERT_EQ(c.params.size(), 1u);
  EXPECT_EQ(c.params[0].keyword, "SMTPUTF8");
  EXPECT_EQ(serialize(c), "VRFY Smith SMTPUTF8\r\n");
}

// Tolerance::trailing_whitespace: off by default (the §4.1.1 grammar has no trailing SP);
// when allowed, SP/HTAB before CRLF are ignored and the tolerance is recorded where they start.
TEST(Grammar, TrailingWhitespace) {
  run_table({
      {"RSET ", "bad_command_syntax@4"},
      {"NOOP ", "bad_command_syntax@5"},
      {"MAIL FROM:<a@b> ", "bad_parameter@16"},
  });
  CommandOptions opt;
  opt.lenient.allow(Tolerance::trailing_whitespace);
  run_table(
      {
          {"RSET ", ""},
          {"QUIT \t ", ""},
          {"NOOP\t", ""},
          {"MAIL FROM:<a@b> ", ""},
          {"MAIL FROM:<a@b> SIZE=10\t", ""},
          {"RSET x ", "bad_command_syntax@4"},
          {" ", "unknown_command@0"},
      },
      opt);
  const Command c = parse_command_line("RSET  ", opt, 100);
  EXPECT_TRUE(c.ok());
  EXPECT_TRUE(c.tolerances.fired(Tolerance::trailing_whitespace));
  EXPECT_EQ(c.tolerances.first_offset(Tolerance::trailing_whitespace), 104u);
  EXPECT_FALSE(parse_command_line("RSET", opt).tolerances.any());
}

TEST(Grammar, Auth) {
  run_table({
      {"AUTH PLAIN", ""},
      {"AUTH PLAIN dGVzdA==", ""},
      {"AUTH PLAIN dGVzdA1=", ""},
      {"AUTH PLAIN dGVzdGVz", ""},
      {"AUTH PLAIN =", ""},
      {"AUTH CRAM-MD5", ""},
      {"AUTH X_Y-Z9", ""},
      {"AUTH ABCDEFGHIJKLMNOPQRST", ""},
      {"AUTH", "bad_command_syntax@4"},
      {"AUTH ", "bad_command_syntax@5"},
      {"AUTH plain", "bad_command_syntax@5"},
      {"AUTH ABCDEFGHIJKLMNOPQRSTU", "bad_command_syntax@25"},
      {"AUTH PLAIN dGVzdA=", "bad_command_syntax@18"},
      {"AUTH PLAIN dGVzd", "bad_command_syntax@16"},
      {"AUTH PLAIN dG=zdA==", "bad_command_syntax@13"},
      {"AUTH PLAIN dGVz=A==", "bad_command_syntax@15"},
      {"AUTH PLAIN dGVzd===", "bad_command_syntax@16"},
      {"AUTH PLAIN dG*z", "bad_command_syntax@13"},
      {"AUTH PLAIN a b", "bad_command_syntax@12"},
      {"AUTH PLAIN ", "bad_command_syntax@11"},
      {"AUTH PLAIN:x", "bad_command_syntax@10"},
  });
}

TEST(Grammar, AuthFields) {
  const Command c = parse("AUTH PLAIN AHVzZXIAcGFzcw==");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.mechanism, "PLAIN");
  ASSERT_TRUE(c.initial_response);
  EXPECT_EQ(*c.initial_response, "AHVzZXIAcGFzcw==");
  const Command e = parse("AUTH EXTERNAL =");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e.initial_response, "=");
  const Command n = parse("AUTH LOGIN");
  EXPECT_FALSE(n.initial_response);
  // Reported, but the mechanism is still shown (upper case).
  EXPECT_EQ(parse("AUTH plain").mechanism, "PLAIN");
}

TEST(Grammar, Bdat) {
  run_table({
      {"BDAT 0", ""},
      {"BDAT 0 LAST", ""},
      {"BDAT 1000", ""},
      {"BDAT 1000 last", ""},
      {"BDAT 007", ""},
      {"BDAT 9223372036854775808", ""},
      {"BDAT", "bad_command_syntax@4"},
      {"BDAT x", "bad_command_syntax@5"},
      {"BDAT -1", "bad_command_syntax@5"},
      {"BDAT 10 LAS", "bad_command_syntax@11"},
      {"BDAT 10 LASTX", "bad_command_syntax@12"},
      {"BDAT 10 LAST ", "bad_command_syntax@12"},
      {"BDAT 10 FIRST", "bad_command_syntax@8"},
      {"BDAT 10x", "bad_command_syntax@7"},
      {"BDAT 9223372036854775809", "bad_command_syntax@23"},
      {"BDAT 99999999999999999999", "bad_command_syntax@23"},
      {"BDAT 184467440737095516160", "bad_command_syntax@24"},
  });
}

TEST(Grammar, BdatFields) {
  Command c = parse("BDAT 9223372036854775808 LAST");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.chunk_size, std::uint64_t{1} << 63);
  EXPECT_TRUE(c.last);
  c = parse("BDAT 42");
  EXPECT_EQ(c.chunk_size, 42u);
  EXPECT_FALSE(c.last);
}

TEST(Grammar, EtrnAtrn) {
  run_table({
      {"ETRN example.com", ""},
      {"ETRN @example.com", ""},
      {"ETRN #queue1", ""},
      {"ETRN", "bad_command_syntax@4"},
      {"ETRN #", "bad_command_syntax@6"},
      {"ETRN @", "bad_domain@6"},
      {"ETRN a b", "bad_command_syntax@6"},
      {"ETRN #q x", "bad_command_syntax@7"},
      {"ATRN", ""},
      {"ATRN a.com", ""},
      {"ATRN a.com,b.org,c", ""},
      {"ATRN ", "bad_domain@5"},
      {"ATRN a,", "bad_domain@7"},
      {"ATRN a b", "bad_command_syntax@6"},
      {"ATRN a,,b", "bad_domain@7"},
  });
}

TEST(Grammar, LegacySendSomlSaml) {
  run_table({
      {"SEND FROM:<a@b>", ""},
      {"SOML FROM:<>", ""},
      {"SAML FROM:<a@b> SIZE=1", ""},
      {"SEND TO:<a@b>", "bad_command_syntax@5"},
      {"SAML FROM:<Postmaster>", "bad_path@21"},
  });
}

// ---- Mail-/Rcpt-parameters --------------------------------------------------------------

TEST(Params, ParsedUpperCasedInOrder) {
  const Command c = parse("MAIL FROM:<a@b> size=100 Body=8bitmime x-Foo ret=HDRS");
  ASSERT_TRUE(c.ok()) << errors_of(c);
  ASSERT_EQ(c.params.size(), 4u);
  EXPECT_EQ(c.params[0], (Param{"SIZE", "100"}));
  EXPECT_EQ(c.params[1], (Param{"BODY", "8bitmime"}));
  EXPECT_EQ(c.params[2], (Param{"X-FOO", std::nullopt}));
  EXPECT_EQ(c.params[3], (Param{"RET", "HDRS"}));
  ASSERT_NE(c.param("Size"), nullptr);
  EXPECT_EQ(*c.param("size")->value, "100");
  EXPECT_EQ(c.param("x-foo")->value, std::nullopt);
  EXPECT_EQ(c.param("ENVID"), nullptr);
}

TEST(Params, Values) {
  const std::string m = "MAIL FROM:<a@b> ";  // parameters start at offset 16
  const std::string r = "RCPT TO:<a@b> ";    // at offset 14
  run_table({
      {m + "SIZE=0", ""},
      {m + "SIZE=12345678901234567890", ""},
      {m + "SIZE=123456789012345678901", "bad_parameter@41"},
      {m + "SIZE=12a", "bad_parameter@23"},
      {m + "SIZE", "bad_parameter@20"},
      {m + "BODY=7BIT", ""},
      {m + "BODY=8bitmime", ""},
      {m + "BODY=BINARYMIME", ""},
      {m + "BODY=9BIT", "bad_parameter@21"},
      {m + "BODY", "bad_parameter@20"},
      {m + "SMTPUTF8", ""},
      {m + "SMTPUTF8=yes", "bad_parameter@25"},
      {m + "REQUIRETLS", ""},
      {m + "REQUIRETLS=1", "bad_parameter@27"},
      {m + "RET=FULL", ""},
      {m + "RET=hdrs", ""},
      {m + "RET=ALL", "bad_parameter@20"},
      {m + "ENVID=QQ314159", ""},
      {m + "ENVID=a+2Bb+3D", ""},
      {m + "ENVID=a+2b", "bad_parameter@25"},
      {m + "ENVID=a+", "bad_parameter@24"},
      {m + "ENVID=a+2", "bad_parameter@25"},
      {m + "AUTH=<>", ""},
      {m + "AUTH=e+3Dmc2@example.com", ""},
      {m + "AUTH=a+zz", "bad_parameter@23"},
      {m + "AUTH", "bad_parameter@20"},
      {m + "BY=120;R", ""},
      {m + "BY=-10;NT", ""},
      {m + "BY=+999999999;r", ""},
      {m + "BY=120", "bad_parameter@22"},
      {m + "BY=1234567890;R", "bad_parameter@28"},
      {m + "BY=120;X", "bad_parameter@23"},
      {m + "BY=120;RTX", "bad_parameter@25"},
      {m + "BY=;R", "bad_parameter@19"},
      {m + "MT-PRIORITY=-9", ""},
      {m + "MT-PRIORITY=9", ""},
      {m + "MT-PRIORITY=+3", ""},
      {m + "MT-PRIORITY=10", "bad_parameter@29"},
      {m + "MT-PRIORITY=-", "bad_parameter@29"},
      {m + "MT-PRIORITY=x", "bad_parameter@28"},
      {m + "HOLDFOR=90", ""},
      {m + "HOLDUNTIL=2024-01-01T00:00:00Z", ""},
      {m + "HOLDFOR", "bad_parameter@23"},
      {r + "NOTIFY=NEVER", ""},
      {r + "NOTIFY=SUCCESS,DELAY", ""},
      {r + "NOTIFY=success,failure,delay", ""},
      {r + "NOTIFY=NEVER,SUCCESS", "bad_parameter@21"},
      {r + "NOTIFY=SUCCESS,", "bad_parameter@29"},
      {r + "NOTIFY=SUCCESS,OFTEN", "bad_parameter@29"},
      {r + "ORCPT=rfc822;a@b", ""},
      {r + "ORCPT=rfc822;a+2Bb@c", ""},
      {r + "ORCPT=rfc822", "bad_parameter@26"},
      {r + "ORCPT=;a", "bad_parameter@20"},
      {r + "ORCPT=rfc822;", "bad_parameter@27"},
      {r + "ORCPT=rf(c;a", "bad_parameter@22"},
  });
}

TEST(Params, Syntax) {
  const std::string m = "MAIL FROM:<a@b> ";
  run_table({
      {m + "X-1=a", ""},
      {m + "9Z=a", ""},
      {m + "K=!\"#$%&'()*+,-./0123456789:;<>?@[\\]^_`{|}~", ""},
      {m + "-X=1", "bad_parameter@16"},
      {m + "A_B=1", "bad_parameter@17"},
      {m + "K=", "bad_parameter@18"},
      {m + "K=a=b", "bad_parameter@19"},
      {m + "K=a\x7f", "bad_parameter@19"},
      {m + "K=a\x01", "bad_parameter@19"},
      {m + "K=\xc3\xa9", "non_ascii@18"},
      {m + "SIZE=1 size=2", "duplicate_parameter@23"},
      {m + "A B C A", "duplicate_parameter@22"},
      // Errors do not stop the following parameters.
      {m + "K= SIZE=x A_B SIZE=1 J=",
       "bad_parameter@18 bad_parameter@24 bad_parameter@27 duplicate_parameter@30 "
       "bad_parameter@39"},
  });
}

TEST(Params, BadParamIsSkippedOthersKept) {
  const Command c = parse("MAIL FROM:<a@b> A_B=1 SIZE=10 SIZE=11");
  EXPECT_EQ(errors_of(c), "bad_parameter@17 duplicate_parameter@30");
  ASSERT_EQ(c.params.size(), 1u);
  EXPECT_EQ(c.params[0], (Param{"SIZE", "10"}));
}

// ---- RFC 6531 (SMTPUTF8) ----------------------------------------------------------------

TEST(Utf8, OffUsesNonAscii) {
  run_table({
      {"MAIL FROM:<j\xc3\xb6"
       "e@example.com>",
       "non_ascii@12"},
      {"MAIL FROM:<joe@ex\xc3\xa4mple.com>", "non_ascii@17"},
      {"RCPT TO:<\"\xc3\xb6\"@a>", "non_ascii@10"},
      {"EHLO \xc3\xa4.example", "non_ascii@5"},
  });
}

TEST(Utf8, OnAcceptsWellFormed) {
  CommandOptions opt;
  opt.smtputf8 = true;
  run_table(
      {
          {"MAIL FROM:<j\xc3\xb6"
           "e@ex\xc3\xa4mple.com> SMTPUTF8",
           ""},
          {"RCPT TO:<\"j\xc3\xb6 e\"@b\xc3\xbc"
           "cher.de>",
           ""},
          {"RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8>",
           ""},
          {"RCPT TO:<\xf0\x9f\x98\x80@a>", ""},
          {"HELO b\xc3\xbc"
           "cher.de",
           ""},
          {"VRFY \xc3\xb6", ""},
          {"MAIL FROM:<a@b> X-K=\xc3\xa9", ""},
          // Malformed UTF-8: overlong, surrogate, truncated, out of range, stray continuation.
          {"RCPT TO:<a\xc0\xaf@b>", "bad_local_part@10"},
          {"RCPT TO:<a\xe0\x80\xaf@b>", "bad_local_part@10"},
          {"RCPT TO:<a\xed\xa0\x80@b>", "bad_local_part@10"},
          {"RCPT TO:<a\xe2\x82@b>", "bad_local_part@10"},
          {"RCPT TO:<a\xf4\x90\x80\x80@b>", "bad_local_part@10"},
          {"RCPT TO:<a\xf5\x80\x80\x80@b>", "bad_local_part@10"},
          {"RCPT TO:<a\x80@b>", "bad_local_part@10"},
          {"RCPT TO:<a@b\xc3>", "bad_domain@12"},
          {"RCPT TO:<a@[1.2.3.4]\xc3>", "bad_path@20"},
          {"HELO -\xc3\xbc", "bad_domain@5"},
          // UTF-8 is not allowed in address literals or xtext.
          {"EHLO [1.2.3.\xc3\xa4]", "bad_address_literal@12"},
          {"MAIL FROM:<a@b> ENVID=\xc3\xa4", "bad_parameter@22"},
      },
      opt);
}

// ---- Limits (RFC 5321 §4.5.3.1) ----------------------------------------------------------

TEST(Limits, CommandLineAt512) {
  // "NOOP " + 505 atext = 510 octets + CRLF = 512: at the limit.
  const std::string at = "NOOP " + std::string(505, 'a');
  EXPECT_TRUE(parse(at).ok());
  const std::string over = at + "a";
  const Command c = parse_command_line(over, {}, 1000);
  EXPECT_EQ(errors_of(c), "line_too_long@1512");
  EXPECT_EQ(c.wire_size, 513u);
  // An explicit wire size (e.g. the line arrived with a longer terminator) counts.
  EXPECT_EQ(errors_of(parse_command_line("QUIT", {}, 0, 513)), "line_too_long@512");
  EXPECT_TRUE(parse_command_line("QUIT", {}, 0, 512).ok());
  // Tolerated: recorded, not an error.
  CommandOptions opt;
  opt.lenient.allow(Tolerance::long_line);
  const Command t = parse_command_line(over, opt, 7);
  EXPECT_TRUE(t.ok());
  EXPECT_TRUE(t.tolerances.fired(Tolerance::long_line));
  EXPECT_EQ(t.tolerances.first_offset(Tolerance::long_line), 7u);
  // Configurable.
  CommandOptions small;
  small.limits.command_line = 8;
  EXPECT_TRUE(parse_command_line("NOOP a", small).ok());
  EXPECT_EQ(errors_of(parse_command_line("NOOP ab", small)), "line_too_long@8");
}

TEST(Limits, LocalPart64) {
  const std::string lp64(64, 'l');
  EXPECT_TRUE(parse("RCPT TO:<" + lp64 + "@example.com>").ok());
  const Command c = parse("RCPT TO:<" + lp64 + "l@example.com>");
  EXPECT_EQ(errors_of(c), "local_part_too_long@73");  // 9 + 64
  ASSERT_TRUE(c.path);                                // still parsed
  EXPECT_EQ(c.path->local_part.size(), 65u);
  // Quoted local part: the quotes count.
  const std::string q62 = "\"" + std::string(62, 'q') + "\"";
  EXPECT_TRUE(parse("RCPT TO:<" + q62 + "@x>").ok());
  EXPECT_EQ(errors_of(parse("RCPT TO:<\"" + std::string(63, 'q') + "\"@x>")),
            "local_part_too_long@73");
}

std::string domain_of_length(std::size_t n) {
  // Labels of up to 63 octets separated by dots, exactly n octets.
  std::string d;
  while (d.size() < n) {
    if (!d.empty()) d += '.';
    const std::size_t room = n - d.size();
    d += std::string(std::min<std::size_t>(63, room), 'd');
  }
  if (d.back() == '.') d.back() = 'e';
  return d;
}

TEST(Limits, Domain255) {
  const std::string d255 = domain_of_length(255);
  ASSERT_EQ(d255.size(), 255u);
  const std::string d256 = domain_of_length(256);
  ASSERT_EQ(d256.size(), 256u);
  EXPECT_TRUE(parse("EHLO " + d255).ok());
  EXPECT_TRUE(parse("HELO " + d255).ok());
  EXPECT_EQ(errors_of(parse("EHLO " + d256)), "domain_too_long@260");
  EXPECT_EQ(errors_of(parse("HELO " + d256)), "domain_too_long@260");
  EXPECT_EQ(errors_of(parse("ETRN @" + d256)), "domain_too_long@261");
  EXPECT_EQ(errors_of(parse("ATRN a," + d256)), "domain_too_long@262");
  // In a path the 256-octet path limit also applies.
  const Command c = parse("RCPT TO:<a@" + d256 + ">");
  EXPECT_EQ(errors_of(c), "path_too_long@264 domain_too_long@266");
  ASSERT_TRUE(c.path);
  EXPECT_EQ(c.path->domain, d256);
}

TEST(Limits, Path256) {
  // "<" + 64 + "@" + 189 + ">" = 256 octets.
  const std::string lp(64, 'p');
  const std::string at = "<" + lp + "@" + domain_of_length(189) + ">";
  ASSERT_EQ(at.size(), 256u);
  EXPECT_TRUE(parse("MAIL FROM:" + at).ok());
  const std::string over = "<" + lp + "@" + domain_of_length(190) + ">";
  const Command c = parse("MAIL FROM:" + over);
  EXPECT_EQ(errors_of(c), "path_too_long@266");  // 10 + 256
  ASSERT_TRUE(c.path);
  // The source route counts toward the path.
  const std::string routed =
      "<@" + domain_of_length(60) + ":" + lp + "@" + domain_of_length(128) + ">";
  ASSERT_EQ(routed.size(), 257u);
  EXPECT_EQ(errors_of(parse("RCPT TO:" + routed)), "path_too_long@264");
}

// ---- Line-level findings ----------------------------------------------------------------

TEST(LineLevel, BareCrLfNul) {
  run_table({
      {"NOOP\rx", "bare_cr@4 bad_command_syntax@4"},
      {"MAIL FROM:<a@b>\nRCPT TO:<c@d>", "bare_lf@15 bad_command_syntax@15"},
      {std::string("NOOP a\0", 7), "nul_byte@6 bad_command_syntax@6"},
      {std::string("QUIT\0", 5), "nul_byte@4 bad_command_syntax@4"},
      {"RSET\r\r\n\n", "bare_cr@4 bad_command_syntax@4 bare_lf@6"},
  });
}

TEST(LineLevel, TolerancesSuppressTheFindingOnly) {
  CommandOptions opt;
  opt.lenient.allow(Tolerance::bare_cr).allow(Tolerance::nul).allow(Tolerance::bare_lf);
  const Command c = parse_command_line("NOOP\rx", opt, 10);
  EXPECT_EQ(errors_of(c), "bad_command_syntax@14");
  EXPECT_TRUE(c.tolerances.fired(Tolerance::bare_cr));
  EXPECT_EQ(c.tolerances.first_offset(Tolerance::bare_cr), 14u);
  const Command n = parse_command_line(std::string_view("NOOP a\0", 7), opt);
  EXPECT_EQ(errors_of(n), "bad_command_syntax@6");
  EXPECT_TRUE(n.tolerances.fired(Tolerance::nul));
}

TEST(LineLevel, FromFramedLine) {
  Line l;
  l.text = "QUIT";
  l.offset = 40;
  l.wire_size = 5;
  l.ending = LineEnding::eof;
  Command c = parse_command(l);
  EXPECT_EQ(c.verb, Verb::quit);
  EXPECT_EQ(errors_of(c), "unexpected_eof@44");
  l.ending = LineEnding::crlf;
  l.wire_size = 6;
  EXPECT_TRUE(parse_command(l).ok());
  l.over_limit = true;
  EXPECT_EQ(errors_of(parse_command(l)), "line_too_long@552");
  l.over_limit = false;
  l.text = "QUIT\rX";
  l.bare_cr_at = 44;
  EXPECT_EQ(errors_of(parse_command(l)), "bare_cr@44 bad_command_syntax@44");
}

// ---- RFC 5321 examples ------------------------------------------------------------------

TEST(Rfc5321, AppendixDScenarios) {
  // D.1 - D.4 client commands.
  const char* lines[] = {
      "EHLO bar.com",
      "MAIL FROM:<Smith@bar.com>",
      "RCPT TO:<Jones@foo.com>",
      "RCPT TO:<Green@foo.com>",
      "RCPT TO:<Brown@foo.com>",
      "DATA",
      "QUIT",
      "RSET",
      "EHLO foo.com",
      "MAIL FROM:<JQP@bar.com>",
      "RCPT TO:<Jones@XYZ.COM>",
      "VRFY Crispin",
      "MAIL FROM:<EAK@bar.com>",
      "RCPT TO:<Admin.MRC@foo.com>",
      "EXPN Example-People",
      "HELP",
      "NOOP",
      "RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>",
  };
  for (const char* line : lines) {
    const Command c = parse(line);
    EXPECT_TRUE(c.ok()) << line << ": " << errors_of(c);
    EXPECT_EQ(serialize(c), std::string(line) + "\r\n");
  }
  const Command r = parse("RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>");
  ASSERT_TRUE(r.path);
  EXPECT_EQ(r.path->source_route, (std::vector<std::string>{"hosta.int", "jkl.org"}));
  EXPECT_EQ(r.path->local_part, "userc");
  EXPECT_EQ(r.path->domain, "d.bar.org");
  EXPECT_EQ(r.path->address(), "userc@d.bar.org");
}

TEST(Rfc5321, MailFields) {
  const Command c = parse_command_line("MAIL FROM:<Smith@bar.com> SIZE=500", {}, 123, 36);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.offset, 123u);
  EXPECT_EQ(c.wire_size, 36u);
  EXPECT_EQ(c.argument, "<Smith@bar.com> SIZE=500");
  ASSERT_TRUE(c.path);
  EXPECT_FALSE(c.path->null);
  EXPECT_EQ(c.path->local_part, "Smith");
  EXPECT_EQ(c.path->domain, "bar.com");
  const Command n = parse("MAIL FROM:<>");
  ASSERT_TRUE(n.path);
  EXPECT_TRUE(n.path->null);
  EXPECT_EQ(n.path->address(), "");
  EXPECT_EQ(n.path->serialize(), "<>");
}

TEST(Rfc5321, OffsetsAreStreamOffsets) {
  const Command c = parse_command_line("RCPT TO:<a..b@c>", {}, 1000);
  EXPECT_EQ(errors_of(c), "bad_local_part@1011");
}

// ---- serialize() and round trips --------------------------------------------------------

TEST(Serialize, CanonicalForms) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"mail from:<a@b> size=10 body=8BITMIME", "MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME\r\n"},
      {"rcpt to:<postmaster>", "RCPT TO:<postmaster>\r\n"},
      {"helo Example.COM", "HELO Example.COM\r\n"},
      {"bdat 007 last", "BDAT 7 LAST\r\n"},
      {"auth PLAIN =", "AUTH PLAIN =\r\n"},
      {"starttls", "STARTTLS\r\n"},
      {"help", "HELP\r\n"},
      {"noop \"x y\"", "NOOP \"x y\"\r\n"},
      {"atrn a,b", "ATRN a,b\r\n"},
      {"etrn #q", "ETRN #q\r\n"},
      {"soml from:<>", "SOML FROM:<>\r\n"},
  };
  for (const auto& [in, out] : table) {
    const Command c = parse(in);
    EXPECT_TRUE(c.ok()) << in << " " << errors_of(c);
    EXPECT_EQ(serialize(c), out) << in;
  }
  CommandOptions tol;
  tol.lenient.allow(Tolerance::space_after_colon);
  EXPECT_EQ(serialize(parse_command_line("MAIL FROM: <a@b>", tol)), "MAIL FROM:<a@b>\r\n");
}

// Semantic equality per command.h: verb, path, params, mechanism, response, size, last and
// (when `with_argument`) argument.
void expect_same(const Command& a, const Command& b, bool with_argument, const std::string& ctx) {
  EXPECT_EQ(a.verb, b.verb) << ctx;
  EXPECT_EQ(a.path, b.path) << ctx;
  EXPECT_EQ(a.params, b.params) << ctx;
  EXPECT_EQ(a.mechanism, b.mechanism) << ctx;
  EXPECT_EQ(a.initial_response, b.initial_response) << ctx;
  EXPECT_EQ(a.chunk_size, b.chunk_size) << ctx;
  EXPECT_EQ(a.last, b.last) << ctx;
  if (with_argument) {
    EXPECT_EQ(a.argument, b.argument) << ctx;
  }
}

/// A deterministic generator of valid command lines: `text` as sent (verbs and literal
/// keywords in random case), `canonical` as serialize() must print it.
class Gen {
 public:
  explicit Gen(std::uint32_t seed) : rng_(seed) {}

  struct Out {
    std::string text, canonical;
  };

  Out command() {
    static constexpr Verb kVerbs[] = {
        Verb::helo, Verb::ehlo,     Verb::mail, Verb::rcpt, Verb::data, Verb::rset, Verb::vrfy,
        Verb::expn, Verb::help,     Verb::noop, Verb::quit, Verb::send, Verb::soml, Verb::saml,
        Verb::turn, Verb::starttls, Verb::auth, Verb::bdat, Verb::etrn, Verb::atrn};
    const Verb v = kVerbs[pick(std::size(kVerbs))];
    const std::string name(to_string(v));
    Out o{mixed_case(name), name};
    auto both = [&](const std::string& s) {
      o.text += s;
      o.canonical += s;
    };
    switch (v) {
      case Verb::helo:
        both(" " + domain());
        break;
      case Verb::ehlo:
        both(" " + (coin() ? domain() : literal()));
        break;
      case Verb::mail:
      case Verb::send:
      case Verb::soml:
      case Verb::saml:
      case Verb::rcpt: {
        const bool rcpt = v == Verb::rcpt;
        o.text += mixed_case(rcpt ? " TO:" : " FROM:");
        o.canonical += rcpt ? " TO:" : " FROM:";
        if (!rcpt && pick(6) == 0) {
          both("<>");
        } else if (rcpt && pick(6) == 0) {
          const std::string pm = mixed_case("Postmaster");
          both("<" + pm + ">");
        } else {
          both(path());
        }
        both(params(rcpt));
        break;
      }
      case Verb::vrfy:
      case Verb::expn:
        both(" " + string_arg());
        break;
      case Verb::help:
      case Verb::noop:
        if (coin()) both(" " + string_arg());
        break;
      case Verb::auth: {
        std::string mech;
        const std::size_t n = 1 + pick(20);
        for (std::size_t i = 0; i < n; ++i) mech += from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
        both(" " + mech);
        if (coin()) both(" " + (pick(4) == 0 ? std::string("=") : base64()));
        break;
      }
      case Verb::bdat: {
        const std::uint64_t size = pick(3) == 0 ? rng_() : pick(100000);
        both(" " + std::to_string(size));
        if (coin()) {
          o.text += " " + mixed_case("LAST");
          o.canonical += " LAST";
        }
        break;
      }
      case Verb::etrn: {
        const std::size_t k = pick(3);
        both(k == 0 ? " " + domain() : k == 1 ? " @" + domain() : " #" + atom() + "." + atom());
        break;
      }
      case Verb::atrn:
        if (coin()) {
          std::string list = domain();
          for (std::size_t i = pick(3); i > 0; --i) list += "," + domain();
          both(" " + list);
        }
        break;
      default:
        break;
    }
    return o;
  }

 private:
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  bool coin() { return (rng_() & 1) != 0; }
  char from(std::string_view chars) { return chars[pick(chars.size())]; }
  std::string mixed_case(std::string_view s) {
    std::string o(s);
    for (char& ch : o) {
      if (ch >= 'A' && ch <= 'Z' && coin()) ch = static_cast<char>(ch - 'A' + 'a');
    }
    return o;
  }
  static std::string upper(std::string s) {
    for (char& ch : s) {
      if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    }
    return s;
  }
  std::string label() {
    static constexpr std::string_view kLd =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string l(1, from(kLd));
    const std::size_t n = pick(8);
    for (std::size_t i = 0; i < n; ++i) l += from("abcdefghijklmnopqrstuvwxyz0123456789--");
    if (n > 0) l += from(kLd);
    return l;
  }
  std::string domain() {
    std::string d = label();
    for (std::size_t i = pick(4); i > 0; --i) d += "." + label();
    return d;
  }
  std::string hex_group() {
    std::string g;
    for (std::size_t i = 1 + pick(4); i > 0; --i) g += from("0123456789abcdefABCDEF");
    return g;
  }
  std::string ipv4() {
    return std::to_string(pick(256)) + "." + std::to_string(pick(256)) + "." +
           std::to_string(pick(256)) + "." + std::to_string(pick(256));
  }
  std::string groups(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += (i ? ":" : "") + hex_group();
    return s;
  }
  std::string literal() {
    switch (pick(6)) {
      case 0:
        return "[" + ipv4() + "]";
      case 1:
        return "[IPv6:" + groups(8) + "]";
      case 2: {
        const std::size_t total = pick(7);
        const std::size_t left = pick(total + 1);
        return "[IPv6:" + groups(left) + "::" + groups(total - left) + "]";
      }
      case 3:
        return "[IPv6:" + groups(6) + ":" + ipv4() + "]";
      case 4: {
        const std::size_t total = pick(5);
        const std::size_t left = pick(total + 1);
        const std::size_t right = total - left;
        return "[IPv6:" + groups(left) + "::" + groups(right) + (right ? ":" : "") + ipv4() + "]";
      }
      default:
        return "[x-" + label() + ":" + atom() + "]";
    }
  }
  std::string atom() {
    static constexpr std::string_view kAtext =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~";
    std::string a;
    for (std::size_t i = 1 + pick(8); i > 0; --i) a += from(kAtext);
    return a;
  }
  std::string quoted() {
    std::string q = "\"";
    for (std::size_t i = pick(10); i > 0; --i) {
      const auto c = static_cast<char>(32 + pick(95));
      if (c == '"' || c == '\\' || pick(5) == 0) {
        q += '\\';
      }
      q += c;
    }
    return q + "\"";
  }
  std::string local_part() {
    if (pick(4) == 0) return quoted();
    std::string l = atom();
    for (std::size_t i = pick(3); i > 0; --i) l += "." + atom();
    return l;
  }
  std::string path() {
    std::string p = "<";
    if (pick(4) == 0) {
      for (std::size_t i = 1 + pick(2); i > 0; --i) {
        p += (p.size() > 1 ? ",@" : "@") + (pick(5) == 0 ? literal() : domain());
      }
      p += ":";
    }
    return p + local_part() + "@" + (pick(5) == 0 ? literal() : domain()) + ">";
  }
  std::string string_arg() { return coin() ? atom() : quoted(); }
  std::string xtext() {
    std::string x;
    for (std::size_t i = 1 + pick(8); i > 0; --i) {
      if (pick(4) == 0) {
        x += '+';
        x += from("0123456789ABCDEF");
        x += from("0123456789ABCDEF");
      } else {
        char c;
        do c = static_cast<char>(33 + pick(94));
        while (c == '+' || c == '=');
        x += c;
      }
    }
    return x;
  }
  std::string base64() {
    static constexpr std::string_view kB64 =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string b;
    for (std::size_t i = pick(5); i > 0; --i) {
      for (int k = 0; k < 4; ++k) b += from(kB64);
    }
    switch (pick(3)) {
      case 0:
        b += std::string(1, from(kB64)) + from(kB64) + "==";
        break;
      case 1:
        b += std::string(1, from(kB64)) + from(kB64) + from(kB64) + "=";
        break;
      default:
        if (b.empty()) b = "AAAA";
        break;
    }
    return b;
  }
  std::string params(bool rcpt) {
    std::vector<std::string> pool;
    if (rcpt) {
      pool = {"NOTIFY=NEVER", "NOTIFY=SUCCESS,FAILURE,DELAY", "NOTIFY=DELAY",
              "ORCPT=rfc822;" + xtext()};
    } else {
      pool = {"SIZE=" + std::to_string(rng_()),
              "BODY=8BITMIME",
              "BODY=7BIT",
              "BODY=BINARYMIME",
              "SMTPUTF8",
              "RET=FULL",
              "RET=HDRS",
              "ENVID=" + xtext(),
              "AUTH=<>",
              "AUTH=" + xtext(),
              "REQUIRETLS",
              "BY=" + std::to_string(pick(1000)) + ";R",
              "MT-PRIORITY=" + std::to_string(static_cast<int>(pick(19)) - 9),
              "HOLDFOR=60"};
    }
    pool.push_back("X-" + upper(label()) + "=" + xtext());
    pool.push_back("XYZ" + std::to_string(pick(1000)));
    std::string out;
    std::vector<std::string> used;  // keywords already present
    for (std::size_t i = pick(4); i > 0; --i) {
      const std::string& param = pool[pick(pool.size())];
      const std::string keyword = param.substr(0, param.find('='));
      if (std::find(used.begin(), used.end(), keyword) != used.end()) continue;
      used.push_back(keyword);
      out += " " + param;
    }
    return out;
  }

  std::mt19937 rng_;
};

TEST(RoundTrip, RandomValidCommands) {
  Gen gen(20240501);
  int checked = 0;
  for (int i = 0; i < 20000; ++i) {
    const Gen::Out o = gen.command();
    const Command c = parse(o.text);
    ASSERT_TRUE(c.ok()) << esc(o.text) << " -> " << errors_of(c);
    const std::string wire = serialize(c);
    ASSERT_EQ(wire, o.canonical + "\r\n") << esc(o.text);
    const Command again = parse(std::string_view(wire).substr(0, wire.size() - 2));
    ASSERT_TRUE(again.ok()) << esc(wire) << " -> " << errors_of(again);
    // Same semantics; the argument text is reproduced exactly from canonical input.
    expect_same(c, again, false, esc(o.text));
    expect_same(parse(o.canonical), again, true, esc(o.canonical));
    if (::testing::Test::HasFailure()) return;
    ++checked;
  }
  EXPECT_EQ(checked, 20000);
}

TEST(RoundTrip, NonCanonicalInputReachesAFixedPoint) {
  for (std::string_view in :
       {"mail from:<a@b> size=1 x-y=z", "BDAT 000 last", "RCPT TO:<Postmaster> notify=never"}) {
    const Command c = parse(in);
    ASSERT_TRUE(c.ok()) << in;
    const std::string w1 = serialize(c);
    const Command c2 = parse(std::string_view(w1).substr(0, w1.size() - 2));
    expect_same(c, c2, false, std::string(in));
    const std::string w2 = serialize(c2);
    EXPECT_EQ(w1, w2);
    const Command c3 = parse(std::string_view(w2).substr(0, w2.size() - 2));
    expect_same(c2, c3, true, std::string(in));
  }
}

// ---- CommandParser (streaming) ----------------------------------------------------------

auto runner(CommandOptions opt = {}) {
  return [opt](const std::vector<std::string_view>& parts) {
    CommandParser p(opt);
    std::string log;
    for (auto part : parts) {
      p.feed(part);
      while (auto c = p.next()) log += describe(*c) + "\n";
    }
    p.feed_eof();
    while (auto c = p.next()) log += describe(*c) + "\n";
    const ToleranceLog t = p.tolerances();
    for (unsigned i = 0; i < static_cast<unsigned>(Tolerance::count_); ++i) {
      const auto tol = static_cast<Tolerance>(i);
      if (t.fired(tol)) {
        log += std::string("fired ") + to_string(tol) + "@" + std::to_string(t.first_offset(tol)) +
               "\n";
      }
    }
    return log;
  };
}

// ---- Robustness: mutated commands never crash and keep the invariants ---------------------

std::string mutate(std::string s, std::mt19937& rng) {
  static constexpr char kRaw[] = "<>@.:,\"\\[] =-+/\r\n\0\x80\xc3\xa9\xff\t#;aZ09";
  static constexpr std::string_view kBytes(kRaw, sizeof kRaw - 1);
  const std::size_t n = 1 + rng() % 3;
  for (std::size_t k = 0; k < n; ++k) {
    const char b = kBytes[rng() % kBytes.size()];
    const std::size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 3) {
      case 0:
        s.insert(at, 1, b);
        break;
      case 1:
        if (at < s.size()) s[at] = b;
        break;
      default:
        if (at < s.size()) s.erase(at, 1);
        break;
    }
  }
  return s;
}

TEST(Robustness, MutatedCommandsKeepInvariants) {
  Gen gen(7);
  std::mt19937 rng(11);
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string m = mutate(gen.command().text, rng);
    CommandOptions opt;
    opt.smtputf8 = (i & 1) != 0;
    const Command c = parse_command_line(m, opt, 1000);
    const std::string ctx = esc(m);
    for (std::size_t k = 0; k < c.errors.size(); ++k) {
      const Diagnostic& e = c.errors[k];
      ASSERT_GE(e.offset, 1000u) << ctx;
      ASSERT_LE(e.offset, 1000u + std::max<std::size_t>(m.size(), 512)) << ctx;
      ASSERT_FALSE(e.reason.empty()) << ctx;
      if (k > 0) {
        ASSERT_LE(c.errors[k - 1].offset, e.offset) << ctx;
      }
    }
    if (c.ok()) {
      ++valid;
      const std::string w = serialize(c);
      const Command again = parse_command_line(std::string_view(w).substr(0, w.size() - 2), opt);
      ASSERT_TRUE(again.ok()) << ctx << " -> " << esc(w) << " " << errors_of(again);
      expect_same(c, again, false, ctx);
      EXPECT_EQ(serialize(again), w) << ctx;  // canonical form is a fixed point
      if (::testing::Test::HasFailure()) return;
    }
  }
  EXPECT_GT(valid, 1000);  // the mutations leave a good share valid (e.g. in quoted strings)
}

TEST(Robustness, MutatedStreamsGrind) {
  Gen gen(3);
  std::mt19937 rng(5);
  for (int i = 0; i < 12; ++i) {
    std::string stream;
    for (int k = 0; k < 6; ++k) stream += mutate(gen.command().text, rng) + "\r\n";
    CommandOptions opt;
    if (i % 3 == 1) opt.lenient.allow(Tolerance::bare_lf).allow(Tolerance::space_after_colon);
    if (i % 3 == 2) opt.limits.command_line = 24;
    test::grind(stream, runner(opt));
  }
}

TEST(CommandParser, PipelinedSession) {
  const std::string in =
      "EHLO client.example\r\n"
      "MAIL FROM:<a@b> SIZE=10\r\n"
      "RCPT TO:<c@d>\r\n"
      "RCPT TO:<Postmaster>\r\n"
      "DATA\r\n";
  const std::string expected =
      "off=0 wire=21 verb=EHLO text='EHLO' arg='client.example'\n"
      "off=21 wire=25 verb=MAIL text='MAIL' arg='<a@b> SIZE=10' path=<a@b> SIZE=10\n"
      "off=46 wire=15 verb=RCPT text='RCPT' arg='<c@d>' path=<c@d>\n"
      "off=61 wire=22 verb=RCPT text='RCPT' arg='<Postmaster>' path=<Postmaster>\n"
      "off=83 wire=6 verb=DATA text='DATA' arg=''\n";
  test::grind(in, runner(), &expected);
}

TEST(CommandParser, BareLfInPipelinedStreamStrict) {
  const std::string in = "MAIL FROM:<a@b>\nRCPT TO:<c@d>\r\nQUIT\r\n";
  const std::string expected =
      "off=0 wire=31 verb=MAIL text='MAIL' arg='<a@b>\\nRCPT TO:<c@d>' path=<a@b> "
      "errors=[bare_lf@15 bad_command_syntax@15]\n"
      "off=31 wire=6 verb=QUIT text='QUIT' arg=''\n";
  test::grind(in, runner(), &expected);
}

TEST(CommandParser, BareLfInPipelinedStreamTolerated) {
  CommandOptions opt;
  opt.lenient.allow(Tolerance::bare_lf);
  const std::string in = "MAIL FROM:<a@b>\nRCPT TO:<c@d>\r\nQUIT\n";
  const std::string expected =
      "off=0 wire=16 verb=MAIL text='MAIL' arg='<a@b>' path=<a@b> tol=bare_lf@15\n"
      "off=16 wire=15 verb=RCPT text='RCPT' arg='<c@d>' path=<c@d>\n"
      "off=31 wire=5 verb=QUIT text='QUIT' arg='' tol=bare_lf@35\n"
      "fired bare_lf@15\n";
  test::grind(in, runner(opt), &expected);
}

TEST(CommandParser, BareCrAndNulInStream) {
  const std::string in = std::string("NOOP a\rb\r\nNOOP \0\r\nRSET\r\n", 24);
  const std::string expected =
      "off=0 wire=10 verb=NOOP text='NOOP' arg='a\\rb' errors=[bare_cr@6 bad_command_syntax@6]\n"
      "off=10 wire=8 verb=NOOP text='NOOP' arg='\\x00' errors=[nul_byte@15 bad_command_syntax@15]\n"
      "off=18 wire=6 verb=RSET text='RSET' arg=''\n";
  test::grind(in, runner(), &expected);
}

TEST(CommandParser, SpaceAfterColonToleranceIsReported) {
  CommandOptions opt;
  opt.lenient.allow(Tolerance::space_after_colon);
  const std::string in = "RSET\r\nMAIL FROM: <a@b>\r\n";
  const std::string expected =
      "off=0 wire=6 verb=RSET text='RSET' arg=''\n"
      "off=6 wire=18 verb=MAIL text='MAIL' arg=' <a@b>' path=<a@b> tol=space_after_colon@16\n"
      "fired space_after_colon@16\n";
  test::grind(in, runner(opt), &expected);
}

TEST(CommandParser, OverlongLineIsCutAndTheNextCommandParsed) {
  CommandOptions opt;
  opt.limits.command_line = 40;
  // 42 octets + CRLF: cut at 40, the rest discarded; the path is still reported.
  const std::string long_mail = "MAIL FROM:<a@b> X-PAD=" + std::string(20, 'p');
  ASSERT_EQ(long_mail.size(), 42u);
  const std::string in = long_mail + "\r\nQUIT\r\n";
  const std::string expected =
      "off=0 wire=41 verb=MAIL text='MAIL' arg='<a@b> X-PAD=pppppppppppppppppp' path=<a@b> "
      "X-PAD=pppppppppppppppppp errors=[line_too_long@40]\n"
      "off=44 wire=6 verb=QUIT text='QUIT' arg=''\n";
  test::grind(in, runner(opt), &expected);
}

TEST(CommandParser, CutInsideAPathReportsOnlyTheLength) {
  CommandOptions opt;
  opt.limits.command_line = 20;
  const std::string expected =
      "off=0 wire=21 verb=MAIL text='MAIL' arg='<abcdefghi' errors=[line_too_long@20]\n"
      "off=29 wire=6 verb=QUIT text='QUIT' arg=''\n";
  test::grind("MAIL FROM:<abcdefghijklm@x>\r\nQUIT\r\n", runner(opt), &expected);
}

TEST(CommandParser, LineOfExactly512AndOneOver) {
  const std::string at = "NOOP " + std::string(505, 'a') + "\r\n";
  const std::string over = "NOOP " + std::string(506, 'a') + "\r\n";
  ASSERT_EQ(at.size(), 512u);
  CommandParser p;
  p.feed(at + over + "QUIT\r\n");
  auto a = p.next();
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->ok()) << errors_of(*a);
  auto b = p.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(errors_of(*b), "line_too_long@1024");
  EXPECT_EQ(b->argument.size(), 506u);  // the CR past the cut is not part of the argument
  auto q = p.next();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->verb, Verb::quit);
  EXPECT_EQ(q->offset, 1025u);
  EXPECT_TRUE(q->ok());
  EXPECT_FALSE(p.next());
}

TEST(CommandParser, EofInsideLine) {
  const std::string expected =
      "off=0 wire=6 verb=RSET text='RSET' arg=''\n"
      "off=6 wire=4 verb=QUIT text='QUIT' arg='' errors=[unexpected_eof@10]\n";
  test::grind("RSET\r\nQUIT", runner(), &expected);
}

TEST(CommandParser, MixedValidAndInvalidStream) {
  const std::string in =
      "ehlo [IPv6:2001:db8::1]\r\n"
      "MAIL FROM:<\"x y\"@[192.0.2.1]> BODY=8BITMIME SMTPUTF8\r\n"
      "RCPT TO:<a..b@c>\r\n"
      "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"
      "BDAT 100 LAST\r\n"
      "XYZZY\r\n";
  const std::string expected =
      "off=0 wire=25 verb=EHLO text='ehlo' arg='[IPv6:2001:db8::1]'\n"
      "off=25 wire=54 verb=MAIL text='MAIL' arg='<\"x y\"@[192.0.2.1]> BODY=8BITMIME SMTPUTF8' "
      "path=<\"x y\"@[192.0.2.1]> BODY=8BITMIME SMTPUTF8\n"
      "off=79 wire=18 verb=RCPT text='RCPT' arg='<a..b@c>' errors=[bad_local_part@90]\n"
      "off=97 wire=29 verb=AUTH text='AUTH' arg='PLAIN AHVzZXIAcGFzcw==' mech=PLAIN "
      "ir=AHVzZXIAcGFzcw==\n"
      "off=126 wire=15 verb=BDAT text='BDAT' arg='100 LAST' size=100 LAST\n"
      "off=141 wire=7 verb= text='XYZZY' arg='' errors=[unknown_command@141]\n";
  test::grind(in, runner(), &expected);
}

TEST(CommandParser, NextIntoReusedCommandEqualsFreshCommands) {
  // Every field must be reset between commands: run a varied stream both ways.
  Gen gen(42);
  std::mt19937 rng(43);
  std::string in;
  for (int i = 0; i < 400; ++i) {
    std::string line = gen.command().text;
    if (i % 5 == 0) line = mutate(line, rng);
    in += line + (i % 17 == 0 ? "\n" : "\r\n");
  }
  in += "MAIL FROM: <a@b> AUTH=<>\r\nBDAT 5 LAST\r\nAUTH PLAIN =\r\nRCPT TO:<@x:y@z>\r\nQUIT";
  CommandOptions opt;
  opt.lenient.allow(Tolerance::space_after_colon);
  CommandParser fresh(opt);
  CommandParser reuse(opt);
  fresh.feed(in);
  reuse.feed(in);
  fresh.feed_eof();
  reuse.feed_eof();
  Command c;
  int n = 0;
  while (auto f = fresh.next()) {
    ASSERT_TRUE(reuse.next(c));
    ASSERT_EQ(describe(c), describe(*f));
    ASSERT_EQ(c.errors, f->errors);  // reasons too
    ++n;
  }
  EXPECT_FALSE(reuse.next(c));
  EXPECT_GT(n, 380);
}

TEST(CommandParser, ResetRestartsOffsets) {
  CommandParser p;
  p.feed("NOOP\r\nQU");
  ASSERT_TRUE(p.next());
  p.reset();
  p.feed("QUIT\r\n");
  auto c = p.next();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->offset, 0u);
  EXPECT_EQ(c->verb, Verb::quit);
  EXPECT_FALSE(p.tolerances().any());
}

}  // namespace
}  // namespace smtp
