#include "smtp/ehlo.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace smtp {
namespace {

// Reply bytes as recorded from real servers with swaks (shared/servers/ehlo/*.txt, 2026-11-25,
// Debian 12 packages on loopback). CRLF added to each line as on the wire.
constexpr std::string_view kPostfix =
    "250-postfix.bench.test\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10240000\r\n"
    "250-VRFY\r\n"
    "250-ETRN\r\n"
    "250-STARTTLS\r\n"
    "250-AUTH PLAIN LOGIN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-8BITMIME\r\n"
    "250-DSN\r\n"
    "250-SMTPUTF8\r\n"
    "250 CHUNKING\r\n";

constexpr std::string_view kExim =
    "250-exim.bench.test Hello client.example.test [127.0.0.1]\r\n"
    "250-SIZE 10485760\r\n"
    "250-8BITMIME\r\n"
    "250-PIPELINING\r\n"
    "250-PIPECONNECT\r\n"
    "250-AUTH PLAIN LOGIN\r\n"
    "250-CHUNKING\r\n"
    "250-STARTTLS\r\n"
    "250-SMTPUTF8\r\n"
    "250 HELP\r\n";

constexpr std::string_view kAiosmtpd =
    "250-aiosmtpd.bench.test\r\n"
    "250-SIZE 33554432\r\n"
    "250-8BITMIME\r\n"
    "250-STARTTLS\r\n"
    "250-AUTH LOGIN PLAIN\r\n"
    "250 HELP\r\n";

// aiosmtpd after STARTTLS: no STARTTLS any more.
constexpr std::string_view kAiosmtpdTls =
    "250-aiosmtpd.bench.test\r\n"
    "250-SIZE 33554432\r\n"
    "250-8BITMIME\r\n"
    "250-AUTH LOGIN PLAIN\r\n"
    "250 HELP\r\n";

constexpr std::string_view kNodemailer =
    "250-nodemailer.bench.test Nice to meet you, [127.0.0.1]\r\n"
    "250-PIPELINING\r\n"
    "250-8BITMIME\r\n"
    "250-SMTPUTF8\r\n"
    "250-AUTH PLAIN LOGIN\r\n"
    "250-STARTTLS\r\n"
    "250 SIZE 10485760\r\n";

constexpr std::string_view kOpenSmtpd =
    "250-opensmtpd.bench.test Hello client.example.test [127.0.0.1], pleased to meet you\r\n"
    "250-8BITMIME\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-SIZE 36700160\r\n"
    "250-DSN\r\n"
    "250 HELP\r\n";

// Postfix smtp-sink ends with an empty ehlo-line ("250 " CRLF).
constexpr std::string_view kSmtpSink =
    "250-sink.bench.test\r\n"
    "250-PIPELINING\r\n"
    "250-8BITMIME\r\n"
    "250-AUTH PLAIN LOGIN\r\n"
    "250-XCLIENT NAME HELO\r\n"
    "250-XFORWARD NAME ADDR PROTO HELO\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-DSN\r\n"
    "250 \r\n";

/// Test helper: a Reply built field by field from well-formed wire bytes (each line
/// "NNN-text" / "NNN text" / "NNN" + CRLF). Not a reply parser: no validation.
Reply from_wire(std::string_view wire) {
  Reply r;
  while (!wire.empty()) {
    const std::size_t eol = wire.find("\r\n");
    const std::string_view line = wire.substr(0, eol);
    r.code =
        static_cast<std::uint16_t>((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
    r.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
    r.wire_size += line.size() + 2;
    wire.remove_prefix(eol == std::string_view::npos ? wire.size() : eol + 2);
  }
  return r;
}

Capabilities parse(std::string_view wire) { return parse_ehlo(from_wire(wire)); }

std::vector<std::string> keywords(const Capabilities& c) {
  std::vector<std::string> k;
  for (const auto& cap : c.list) k.push_back(cap.keyword);
  return k;
}

using Strings = std::vector<std::string>;

/// The finding's offset points at `token` in `wire`.
void expect_finding_at(std::string_view wire, const Diagnostic& d, errc code,
                       std::string_view token) {
  EXPECT_EQ(d.code, code) << d.reason;
  ASSERT_LE(d.offset + token.size(), wire.size());
  EXPECT_EQ(wire.substr(d.offset, token.size()), token) << "offset " << d.offset;
}

// --- real servers -------------------------------------------------------------------------------

TEST(Ehlo, Postfix) {
  const Capabilities c = parse(kPostfix);
  EXPECT_EQ(c.domain, "postfix.bench.test");
  EXPECT_EQ(c.greeting, "");
  EXPECT_EQ(keywords(c),
            (Strings{"PIPELINING", "SIZE", "VRFY", "ETRN", "STARTTLS", "AUTH",
                     "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}));
  EXPECT_TRUE(c.findings.empty());
  EXPECT_EQ(c.size(), 10240000u);
  EXPECT_EQ(c.auth_mechanisms(), (Strings{"PLAIN", "LOGIN"}));
  EXPECT_TRUE(c.auth("plain"));
  EXPECT_FALSE(c.auth("CRAM-MD5"));
  EXPECT_TRUE(c.pipelining());
  EXPECT_TRUE(c.eight_bit_mime());
  EXPECT_TRUE(c.smtputf8());
  EXPECT_TRUE(c.chunking());
  EXPECT_FALSE(c.binarymime());
  EXPECT_TRUE(c.dsn());
  EXPECT_TRUE(c.enhanced_status_codes());
  EXPECT_TRUE(c.starttls());
  EXPECT_TRUE(c.etrn());
  EXPECT_FALSE(c.atrn());
  EXPECT_FALSE(c.requiretls());
  EXPECT_TRUE(c.has("vrfy"));
  EXPECT_FALSE(c.limits());
  EXPECT_FALSE(c.deliver_by());
  EXPECT_FALSE(c.mt_priority());
}

TEST(Ehlo, Exim) {
  const Capabilities c = parse(kExim);
  EXPECT_EQ(c.domain, "exim.bench.test");
  EXPECT_EQ(c.greeting, "Hello client.example.test [127.0.0.1]");
  EXPECT_EQ(keywords(c), (Strings{"SIZE", "8BITMIME", "PIPELINING", "PIPECONNECT", "AUTH",
                                  "CHUNKING", "STARTTLS", "SMTPUTF8", "HELP"}));
  EXPECT_TRUE(c.findings.empty());
  EXPECT_EQ(c.size(), 10485760u);
  EXPECT_TRUE(c.has("PIPECONNECT"));  // unknown keyword kept
  EXPECT_TRUE(c.find("PIPECONNECT")->params.empty());
  EXPECT_EQ(c.auth_mechanisms(), (Strings{"PLAIN", "LOGIN"}));
  EXPECT_FALSE(c.dsn());
}

TEST(Ehlo, Aiosmtpd) {
  const Capabilities c = parse(kAiosmtpd);
  EXPECT_EQ(c.domain, "aiosmtpd.bench.test");
  EXPECT_EQ(keywords(c), (Strings{"SIZE", "8BITMIME", "STARTTLS", "AUTH", "HELP"}));
  EXPECT_TRUE(c.findings.empty());
  EXPECT_EQ(c.size(), 33554432u);
  EXPECT_EQ(c.auth_mechanisms(), (Strings{"LOGIN", "PLAIN"}));
  EXPECT_FALSE(c.pipelining());

  const Capabilities tls = parse(kAiosmtpdTls);
  EXPECT_FALSE(tls.starttls());
  EXPECT_TRUE(tls.findings.empty());
}

TEST(Ehlo, Nodemailer) {
  const Capabilities c = parse(kNodemailer);
  EXPECT_EQ(c.domain, "nodemailer.bench.test");
  EXPECT_EQ(c.greeting, "Nice to meet you, [127.0.0.1]");
  EXPECT_EQ(keywords(c),
            (Strings{"PIPELINING", "8BITMIME", "SMTPUTF8", "AUTH", "STARTTLS", "SIZE"}));
  EXPECT_TRUE(c.findings.empty());
  EXPECT_EQ(c.size(), 10485760u);  // on the last line
}

TEST(Ehlo, OpenSmtpd) {
  const Capabilities c = parse(kOpenSmtpd);
  EXPECT_EQ(c.domain, "opensmtpd.bench.test");
  EXPECT_EQ(c.greeting, "Hello client.example.test [127.0.0.1], pleased to meet you");
  EXPECT_EQ(keywords(c), (Strings{"8BITMIME", "ENHANCEDSTATUSCODES", "SIZE", "DSN", "HELP"}));
  EXPECT_TRUE(c.findings.empty());
  EXPECT_EQ(c.size(), 36700160u);
  EXPECT_TRUE(c.auth_mechanisms().empty());
  EXPECT_FALSE(c.auth("PLAIN"));
}

TEST(Ehlo, SmtpSinkEmptyLastLineIsReported) {
  const Capabilities c = parse(kSmtpSink);
  EXPECT_EQ(c.domain, "sink.bench.test");
  EXPECT_EQ(keywords(c), (Strings{"PIPELINING", "8BITMIME", "AUTH", "XCLIENT", "XFORWARD",
                                  "ENHANCEDSTATUSCODES", "DSN"}));
  EXPECT_EQ(c.find("xforward")->params, (Strings{"NAME", "ADDR", "PROTO", "HELO"}));
  ASSERT_EQ(c.findings.size(), 1u);
  EXPECT_EQ(c.findings[0].code, errc::bad_capability);
  EXPECT_EQ(c.findings[0].offset, kSmtpSink.rfind("250 ") + 4);
  EXPECT_EQ(c.findings[0].offset, 169u);
}

TEST(Ehlo, MakeEhloReplyReproducesEveryServer) {
  for (auto wire : {kPostfix, kExim, kAiosmtpd, kAiosmtpdTls, kNodemailer, kOpenSmtpd}) {
    const Reply orig = from_wire(wire);
    const Reply made = make_ehlo_reply(parse_ehlo(orig));
    EXPECT_EQ(made.code, 250);
    EXPECT_EQ(made.lines, orig.lines);
    EXPECT_EQ(made.wire_size, wire.size());
    EXPECT_EQ(parse_ehlo(made).list, parse_ehlo(orig).list);
  }
}

TEST(Ehlo, MakeEhloReplyFromScratch) {
  Capabilities c;
  c.domain = "mx.example.org";
  c.greeting = "at your service";
  c.list = {{"PIPELINING", {}}, {"SIZE", {"35882577"}}, {"AUTH", {"PLAIN", "XOAUTH2"}}};
  const Reply r = make_ehlo_reply(c);
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.lines, (Strings{"mx.example.org at your service", "PIPELINING", "SIZE 35882577",
                              "AUTH PLAIN XOAUTH2"}));
  const Capabilities back = parse_ehlo(r);
  EXPECT_EQ(back.domain, c.domain);
  EXPECT_EQ(back.greeting, c.greeting);
  EXPECT_EQ(back.list, c.list);
  EXPECT_TRUE(back.findings.empty());
  // Only a domain: a one-line reply.
  Capabilities bare;
  bare.domain = "[192.0.2.1]";
  EXPECT_EQ(make_ehlo_reply(bare).lines, (Strings{"[192.0.2.1]"}));
}

// --- grammar -----------------------------------------------------------------------------------

TEST(Ehlo, SingleLineReply) {
  const Capabilities c = parse("250 mx.example.org\r\n");
  EXPECT_EQ(c.domain, "mx.example.org");
  EXPECT_TRUE(c.list.empty());
  EXPECT_TRUE(c.findings.empty());
  EXPECT_FALSE(c.size());
  const Capabilities g = parse("250 [IPv6:2001:db8::1] hi there\r\n");
  EXPECT_EQ(g.domain, "[IPv6:2001:db8::1]");
  EXPECT_EQ(g.greeting, "hi there");
  EXPECT_TRUE(g.findings.empty());
}

TEST(Ehlo, KeywordsUpperCasedParamsKept) {
  const std::string_view w = "250-mx\r\n250-auth plain Login\r\n250 x-Custom a=B c\r\n";
  const Capabilities c = parse(w);
  EXPECT_TRUE(c.findings.empty());
  ASSERT_EQ(c.list.size(), 2u);
  EXPECT_EQ(c.list[0], (Capability{"AUTH", {"plain", "Login"}}));
  EXPECT_EQ(c.list[1], (Capability{"X-CUSTOM", {"a=B", "c"}}));
  EXPECT_EQ(c.auth_mechanisms(), (Strings{"PLAIN", "LOGIN"}));
  EXPECT_TRUE(c.auth("login"));
  EXPECT_TRUE(c.has("x-custom"));
  EXPECT_EQ(c.find("X-Custom"), &c.list[1]);
  EXPECT_EQ(c.find("X-CUSTOMS"), nullptr);
}

TEST(Ehlo, DuplicateKeyword) {
  const std::string_view w = "250-mx\r\n250-PIPELINING\r\n250-SIZE 10\r\n250 pipelining\r\n";
  const Capabilities c = parse(w);
  ASSERT_EQ(c.findings.size(), 1u);
  expect_finding_at(w, c.findings[0], errc::duplicate_capability, "pipelining");
  EXPECT_EQ(c.list.size(), 3u);  // both kept, in order
  EXPECT_EQ(c.find("PIPELINING"), &c.list[0]);
}

TEST(Ehlo, MalformedKeywords) {
  const std::string_view w =
      "250-mx\r\n250--BAD\r\n250-X_Y 1\r\n250-ok\xc3\xa9\r\n250-8BITMIME\r\n250 SIZE 5\r\n";
  const Capabilities c = parse(w);
  ASSERT_EQ(c.findings.size(), 3u);
  expect_finding_at(w, c.findings[0], errc::bad_capability, "-BAD");
  expect_finding_at(w, c.findings[1], errc::bad_capability, "X_Y");
  expect_finding_at(w, c.findings[2], errc::bad_capability, "ok\xc3\xa9");
  // Malformed lines are still listed (upper-cased as given); the rest parses normally.
  EXPECT_EQ(keywords(c), (Strings{"-BAD", "X_Y", "OK\xc3\xa9", "8BITMIME", "SIZE"}));
  EXPECT_EQ(c.size(), 5u);
}

TEST(Ehlo, MalformedParams) {
  const std::string_view w = "250-mx\r\n250-SIZE  100\r\n250-X-A b\x7f\r\n250 X-B c \r\n";
  const Capabilities c = parse(w);
  ASSERT_EQ(c.findings.size(), 3u);
  // "SIZE  100": the empty token between the two SPs.
  EXPECT_EQ(c.findings[0].code, errc::bad_capability);
  EXPECT_EQ(c.findings[0].offset, w.find("  100") + 1);
  expect_finding_at(w, c.findings[1], errc::bad_capability, "b\x7f");
  EXPECT_EQ(c.findings[2].offset, w.find("c \r\n") + 2);  // trailing SP
  EXPECT_EQ(c.find("SIZE")->params, (Strings{"100"}));
  EXPECT_EQ(c.size(), 100u);
}

TEST(Ehlo, LineStartingWithSpaceHasNoKeyword) {
  const std::string_view w = "250-mx\r\n250- PIPELINING\r\n250 DSN\r\n";
  const Capabilities c = parse(w);
  ASSERT_EQ(c.findings.size(), 1u);
  EXPECT_EQ(c.findings[0].offset, w.find(" PIPELINING"));
  EXPECT_EQ(keywords(c), (Strings{"DSN"}));
}

TEST(Ehlo, BadDomain) {
  const std::string_view w = "250-bad_host.example Hi\r\n250 DSN\r\n";
  const Capabilities c = parse(w);
  EXPECT_EQ(c.domain, "bad_host.example");
  ASSERT_EQ(c.findings.size(), 1u);
  expect_finding_at(w, c.findings[0], errc::bad_domain, "bad_host");
  EXPECT_TRUE(c.dsn());
  for (std::string_view bad : {"250 -mx.example\r\n", "250 mx..example\r\n", "250 mx-\r\n",
                               "250 \r\n", "250 [127.0.0.1\r\n", "250 []\r\n"}) {
    const Capabilities b = parse(bad);
    ASSERT_EQ(b.findings.size(), 1u) << bad;
    EXPECT_EQ(b.findings[0].code, errc::bad_domain) << bad;
  }
}

TEST(Ehlo, NotA250Reply) {
  const Capabilities c = parse("502 5.5.1 EHLO not implemented\r\n");
  EXPECT_TRUE(c.list.empty());
  EXPECT_TRUE(c.domain.empty());
  ASSERT_EQ(c.findings.size(), 1u);
  EXPECT_EQ(c.findings[0].code, errc::bad_capability);
  EXPECT_EQ(c.findings[0].offset, 0u);
  Reply empty;
  empty.code = 250;
  const Capabilities e = parse_ehlo(empty);
  EXPECT_TRUE(e.list.empty());
  EXPECT_EQ(e.findings.size(), 1u);
}

TEST(Ehlo, ParamsOnParameterlessKeywords) {
  const std::string_view w = "250-mx\r\n250-PIPELINING now\r\n250-STARTTLS\r\n250 CHUNKING x y\r\n";
  const Capabilities c = parse(w);
  ASSERT_EQ(c.findings.size(), 2u);
  expect_finding_at(w, c.findings[0], errc::bad_capability, "now");
  expect_finding_at(w, c.findings[1], errc::bad_capability, "x y");
  EXPECT_TRUE(c.pipelining());  // still advertised
  EXPECT_TRUE(c.chunking());
}

// --- typed accessors ----------------------------------------------------------------------------

TEST(Ehlo, Size) {
  EXPECT_EQ(parse("250-mx\r\n250 SIZE\r\n").size(), 0u);  // no fixed limit
  EXPECT_EQ(parse("250-mx\r\n250 SIZE 0\r\n").size(), 0u);
  EXPECT_EQ(parse("250-mx\r\n250 size 18446744073709551615\r\n").size(), UINT64_MAX);
  for (std::string_view bad : {"250-mx\r\n250 SIZE abc\r\n", "250-mx\r\n250 SIZE 1 2\r\n",
                               "250-mx\r\n250 SIZE 18446744073709551616\r\n",
                               "250-mx\r\n250 SIZE -1\r\n", "250-mx\r\n250 SIZE 10M\r\n"}) {
    const Capabilities c = parse(bad);
    EXPECT_FALSE(c.size()) << bad;
    EXPECT_TRUE(c.has("SIZE")) << bad;
    ASSERT_EQ(c.findings.size(), 1u) << bad;
    EXPECT_EQ(c.findings[0].code, errc::bad_capability) << bad;
  }
  const std::string_view w = "250-mx\r\n250 SIZE 12x\r\n";
  expect_finding_at(w, parse(w).findings.at(0), errc::bad_capability, "12x");
}

TEST(Ehlo, AuthLegacyEqualsForm) {
  // Old servers (for pre-RFC 2554 clients) add "AUTH=PLAIN LOGIN": kept as the unknown
  // keyword "AUTH=PLAIN", not merged into AUTH, not reported.
  const Capabilities both = parse(
      "250-mx\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n"
      "250 8BITMIME\r\n");
  EXPECT_TRUE(both.findings.empty());
  EXPECT_EQ(keywords(both), (Strings{"AUTH", "AUTH=PLAIN", "8BITMIME"}));
  EXPECT_EQ(both.find("AUTH=PLAIN")->params, (Strings{"LOGIN"}));
  EXPECT_EQ(both.auth_mechanisms(), (Strings{"PLAIN", "LOGIN"}));

  const Capabilities only = parse("250-mx\r\n250 AUTH=LOGIN PLAIN\r\n");
  EXPECT_TRUE(only.findings.empty());
  EXPECT_FALSE(only.has("AUTH"));
  EXPECT_TRUE(only.auth_mechanisms().empty());
  EXPECT_FALSE(only.auth("PLAIN"));
  EXPECT_TRUE(only.has("auth=login"));
}

TEST(Ehlo, AuthMechanismSyntax) {
  const std::string_view w =
      "250-mx\r\n250 AUTH SCRAM-SHA-256 XOAUTH2 GSS_SPNEGO A23456789012345678901 B@D\r\n";
  const Capabilities c = parse(w);
  ASSERT_EQ(c.findings.size(), 2u);
  expect_finding_at(w, c.findings[0], errc::bad_capability, "A23456789012345678901");
  expect_finding_at(w, c.findings[1], errc::bad_capability, "B@D");
  EXPECT_EQ(c.auth_mechanisms().size(), 5u);  // listed as advertised
  EXPECT_TRUE(c.auth("scram-sha-256"));
  EXPECT_TRUE(parse("250-mx\r\n250 AUTH\r\n").auth_mechanisms().empty());
}

TEST(Ehlo, Limits) {
  const Capabilities c = parse("250-mx\r\n250 LIMITS MAILMAX=10 RCPTMAX=100 RCPTDOMAINMAX=5\r\n");
  EXPECT_TRUE(c.findings.empty());
  ASSERT_TRUE(c.limits());
  EXPECT_EQ(c.limits()->mailmax, 10u);
  EXPECT_EQ(c.limits()->rcptmax, 100u);
  EXPECT_EQ(c.limits()->rcptdomainmax, 5u);

  // Unknown limits (with or without a value) are fine; names are case-insensitive.
  const Capabilities u = parse("250-mx\r\n250 LIMITS rcptmax=7 FOO=bar BAZ\r\n");
  EXPECT_TRUE(u.findings.empty());
  ASSERT_TRUE(u.limits());
  EXPECT_FALSE(u.limits()->mailmax);
  EXPECT_EQ(u.limits()->rcptmax, 7u);
  EXPECT_FALSE(u.limits()->rcptdomainmax);

  EXPECT_FALSE(parse("250-mx\r\n250 DSN\r\n").limits());

  const std::string_view bad = "250-mx\r\n250 LIMITS MAILMAX=x RCPTMAX=1 RCPTMAX=2 =3 A=b;c\r\n";
  const Capabilities b = parse(bad);
  ASSERT_EQ(b.findings.size(), 4u);
  expect_finding_at(bad, b.findings[0], errc::bad_capability, "MAILMAX=x");
  expect_finding_at(bad, b.findings[1], errc::bad_capability, "RCPTMAX=2");
  expect_finding_at(bad, b.findings[2], errc::bad_capability, "=3");
  expect_finding_at(bad, b.findings[3], errc::bad_capability, "A=b;c");
  ASSERT_TRUE(b.limits());
  EXPECT_FALSE(b.limits()->mailmax);
  EXPECT_EQ(b.limits()->rcptmax, 1u);  // the first one counts

  const Capabilities empty = parse("250-mx\r\n250 LIMITS\r\n");
  EXPECT_EQ(empty.findings.size(), 1u);
  ASSERT_TRUE(empty.limits());
  EXPECT_FALSE(empty.limits()->rcptmax);
}

TEST(Ehlo, DeliverBy) {
  EXPECT_EQ(parse("250-mx\r\n250 DELIVERBY\r\n").deliver_by(), 0u);
  EXPECT_EQ(parse("250-mx\r\n250 DELIVERBY 240\r\n").deliver_by(), 240u);
  EXPECT_EQ(parse("250-mx\r\n250 DELIVERBY 999999999\r\n").deliver_by(), 999999999u);
  EXPECT_FALSE(parse("250-mx\r\n250 DSN\r\n").deliver_by());
  for (std::string_view bad :
       {"250-mx\r\n250 DELIVERBY 1234567890\r\n", "250-mx\r\n250 DELIVERBY -5\r\n",
        "250-mx\r\n250 DELIVERBY 1 2\r\n"}) {
    const Capabilities c = parse(bad);
    EXPECT_FALSE(c.deliver_by()) << bad;
    EXPECT_EQ(c.findings.size(), 1u) << bad;
  }
}

TEST(Ehlo, MtPriority) {
  EXPECT_EQ(parse("250-mx\r\n250 MT-PRIORITY\r\n").mt_priority(), "");
  EXPECT_EQ(parse("250-mx\r\n250 MT-PRIORITY MIXER\r\n").mt_priority(), "MIXER");
  EXPECT_EQ(parse("250-mx\r\n250 mt-priority STANAG4406\r\n").mt_priority(), "STANAG4406");
  EXPECT_FALSE(parse("250-mx\r\n250 DSN\r\n").mt_priority());
  const Capabilities two = parse("250-mx\r\n250 MT-PRIORITY MIXER NSEP\r\n");
  EXPECT_FALSE(two.mt_priority());
  EXPECT_EQ(two.findings.size(), 1u);
  const Capabilities bad = parse("250-mx\r\n250 MT-PRIORITY MI=XER\r\n");
  EXPECT_FALSE(bad.mt_priority());
  EXPECT_EQ(bad.findings.size(), 1u);
}

TEST(Ehlo, OtherRegisteredKeywords) {
  const Capabilities c =
      parse("250-mx\r\n250-BINARYMIME\r\n250-ATRN\r\n250-REQUIRETLS\r\n250 ETRN\r\n");
  EXPECT_TRUE(c.findings.empty());
  EXPECT_TRUE(c.binarymime());
  EXPECT_TRUE(c.atrn());
  EXPECT_TRUE(c.requiretls());
  EXPECT_TRUE(c.etrn());
  EXPECT_FALSE(c.starttls());
}

TEST(Ehlo, HandBuiltCapabilities) {
  Capabilities c;
  c.list = {{"SIZE", {"oops"}}, {"AUTH", {"cram-md5"}}, {"LIMITS", {"MAILMAX=3"}}};
  EXPECT_FALSE(c.size());
  EXPECT_EQ(c.auth_mechanisms(), (Strings{"CRAM-MD5"}));
  EXPECT_EQ(c.limits()->mailmax, 3u);
}

TEST(Ehlo, OffsetsFollowTheWire) {
  // Every line is "250-" / "250 " + text + CRLF: offsets count from the reply's first byte.
  const std::string_view w =
      "250-mail.example.com greets you\r\n250-SIZE 1\r\n250-SIZE 2\r\n250 DSN extra\r\n";
  const Capabilities c = parse(w);
  ASSERT_EQ(c.findings.size(), 2u);
  expect_finding_at(w, c.findings[0], errc::duplicate_capability, "SIZE 2");
  expect_finding_at(w, c.findings[1], errc::bad_capability, "extra");
}

TEST(Ehlo, ThroughTheReplyParser) {
  // Integration with ReplyParser / Reply::serialize (reply_parser.cpp).
  for (auto wire : {kPostfix, kExim, kAiosmtpd, kNodemailer, kOpenSmtpd}) {
    const ReplyParseResult r = parse_reply(wire);
    ASSERT_TRUE(r.reply) << wire;
    const Capabilities c = parse_ehlo(*r.reply);
    EXPECT_EQ(c.list, parse(wire).list);
    EXPECT_EQ(make_ehlo_reply(c).serialize(), wire);
  }
}

}  // namespace
}  // namespace smtp
