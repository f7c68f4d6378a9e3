// ReplyParser (RFC 5321 §4.2): every case runs whole, byte by byte and split at every offset
// (grind.h), through both next() overloads, and must give the same event log.
#include "smtp/reply.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "grind.h"

namespace smtp {
namespace {

using namespace std::string_literals;

std::string esc(std::string_view s) {
  std::string o;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r') {
      o += "\\r";
    } else if (c == '\n') {
      o += "\\n";
    } else if (c == '\'') {
      o += "\\'";
    } else if (c < 0x20 || c >= 0x7f) {
      static const char* hex = "0123456789abcdef";
      o += "\\x";
      o += hex[c >> 4];
      o += hex[c & 15];
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

std::string describe(const Reply& r) {
  std::string s = "off=" + std::to_string(r.offset) + " wire=" + std::to_string(r.wire_size) + " " +
                  std::to_string(r.code);
  s += " enh=" + (r.enhanced ? r.enhanced->to_string() : "-"s);
  for (const auto& l : r.lines) s += " '" + esc(l) + "'";
  for (const auto& f : r.findings) {
    s += " !" + std::string(to_string(f.code)) + "@" + std::to_string(f.offset);
  }
  return s + "\n";
}

std::string describe_error(const ReplyParser& p) {
  if (!p.failed()) return "";
  return "error " + std::string(to_string(p.diagnostic().code)) + "@" +
         std::to_string(p.diagnostic().offset) + "\n";
}

struct Options {
  Limits limits{};
  Leniency lenient{};
  bool eof = true;
};

/// Feeds the parts, pulls replies with next(Reply&) reusing one Reply, logs them.
auto reuse_runner(Options o) {
  return [o](const std::vector<std::string_view>& parts) {
    ReplyParser p(o.limits, o.lenient);
    std::string log;
    Reply r;
    for (auto part : parts) {
      p.feed(part);
      while (p.next(r)) log += describe(r);
    }
    if (o.eof) {
      p.feed_eof();
      while (p.next(r)) log += describe(r);
    }
    return log + describe_error(p);
  };
}

/// Same with the optional-returning next().
auto optional_runner(Options o) {
  return [o](const std::vector<std::string_view>& parts) {
    ReplyParser p(o.limits, o.lenient);
    std::string log;
    for (auto part : parts) {
      p.feed(part);
      while (auto r = p.next()) log += describe(*r);
    }
    if (o.eof) {
      p.feed_eof();
      while (auto r = p.next()) log += describe(*r);
    }
    return log + describe_error(p);
  };
}

void check(std::string_view in, const std::string& expected, Options o = {}) {
  test::grind(in, reuse_runner(o), &expected);
  test::grind(in, optional_runner(o), &expected);
}

Options lenient(Tolerance t) {
  Options o;
  o.lenient.allow(t);
  return o;
}

// ---------------------------------------------------------------------------------------------
// RFC 5321's own examples

TEST(ReplyParser, GreetingFromTheRfc) {
  check("220 foo ESMTP\r\n", "off=0 wire=15 220 enh=- 'foo ESMTP'\n");
  check("220 ISIF.USC.EDU Service ready\r\n",
        "off=0 wire=32 220 enh=- 'ISIF.USC.EDU Service ready'\n");
  check("220 [10.0.0.1] Clueless host service ready\r\n",
        "off=0 wire=44 220 enh=- '[10.0.0.1] Clueless host service ready'\n");
}

TEST(ReplyParser, MultilineExampleOfSection421) {
  // RFC 5321 §4.2.1, including a continuation whose text begins with digits.
  check(
      "250-First line\r\n250-Second line\r\n250-234 Text beginning with numbers\r\n"
      "250 The last line\r\n",
      "off=0 wire=89 250 enh=- 'First line' 'Second line' '234 Text beginning with numbers' "
      "'The last line'\n");
  check("250-First line\r\n250-Second line\r\n250 Last line\r\n",
        "off=0 wire=48 250 enh=- 'First line' 'Second line' 'Last line'\n");
}

TEST(ReplyParser, EhloExampleOfAppendixD) {
  check("250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
        "off=0 wire=71 250 enh=- 'foo.com greets bar.com' '8BITMIME' 'SIZE' 'DSN' 'HELP'\n");
}

TEST(ReplyParser, DialogueOfAppendixD1) {
  check(
      "220 foo.com Simple Mail Transfer Service Ready\r\n"
      "250 OK\r\n"
      "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
      "221 foo.com Service closing transmission channel\r\n",
      "off=0 wire=48 220 enh=- 'foo.com Simple Mail Transfer Service Ready'\n"
      "off=48 wire=8 250 enh=- 'OK'\n"
      "off=56 wire=46 354 enh=- 'Start mail input; end with <CRLF>.<CRLF>'\n"
      "off=102 wire=50 221 enh=- 'foo.com Service closing transmission channel'\n");
}

// ---------------------------------------------------------------------------------------------
// Grammar: what may follow the code

TEST(ReplyParser, BareCodeIsALastLine) {
  check("250\r\n", "off=0 wire=5 250 enh=- ''\n");
  // Twice: the reused empty line is overwritten by an empty body.
  check("250\r\n221\r\n", "off=0 wire=5 250 enh=- ''\noff=5 wire=5 221 enh=- ''\n");
  check("250-a\r\n250\r\n", "off=0 wire=12 250 enh=- 'a' ''\n");
}

TEST(ReplyParser, CodeAndSpaceWithoutText) {
  // RFC 5321 §4.2.1: servers SHOULD send the SP when no text follows.
  check("250 \r\n", "off=0 wire=6 250 enh=- ''\n");
}

TEST(ReplyParser, ContinuationWithEmptyText) {
  check("250-\r\n250 ok\r\n", "off=0 wire=14 250 enh=- '' 'ok'\n");
  check("250-\r\n250-\r\n250\r\n", "off=0 wire=17 250 enh=- '' '' ''\n");
}

TEST(ReplyParser, TabAndPrintableTextAreFine) {
  check("250 a\tb ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}\r\n",
        "off=0 wire=42 250 enh=- 'a\\x09b ~!\"#$%&\\'()*+,-./:;<=>?@[\\]^_`{|}'\n");
}

TEST(ReplyParser, TextKeepsLeadingAndInnerSpaces) {
  check("250  two  spaces \r\n", "off=0 wire=19 250 enh=- ' two  spaces '\n");
}

TEST(ReplyParser, BadSeparatorAfterCode) {
  check("250x\r\n", "error bad_reply_code@3\n");
  check("250\tok\r\n", "error bad_reply_code@3\n");
  check("2500 ok\r\n", "error bad_reply_code@3\n");
  check("250-a\r\n250+b\r\n", "error bad_reply_code@10\n");
}

TEST(ReplyParser, CodeNotThreeDigits) {
  check("\r\n", "error bad_reply_code@0\n");
  check("25\r\n", "error bad_reply_code@2\n");
  check("2\r\n", "error bad_reply_code@1\n");
  check("2a0 ok\r\n", "error bad_reply_code@1\n");
  check("ok 250\r\n", "error bad_reply_code@0\n");
  check(" 250 ok\r\n", "error bad_reply_code@0\n");
  check("25 ok\r\n", "error bad_reply_code@2\n");
  check("250 ok\r\nxyz\r\n", "off=0 wire=8 250 enh=- 'ok'\nerror bad_reply_code@8\n");
}

TEST(ReplyParser, CodeRange) {
  // Reply-code = %x32-35 %x30-35 %x30-39
  check("200 a\r\n", "off=0 wire=7 200 enh=- 'a'\n");
  check("559 a\r\n", "off=0 wire=7 559 enh=- 'a'\n");
  check("354 a\r\n", "off=0 wire=7 354 enh=- 'a'\n");
  check("100 a\r\n", "error reply_code_out_of_range@0\n");
  check("199 a\r\n", "error reply_code_out_of_range@0\n");
  check("600 a\r\n", "error reply_code_out_of_range@0\n");
  check("000\r\n", "error reply_code_out_of_range@0\n");
  check("260 a\r\n", "error reply_code_out_of_range@0\n");
  check("590 a\r\n", "error reply_code_out_of_range@0\n");
  check("220 hi\r\n999 x\r\n", "off=0 wire=8 220 enh=- 'hi'\nerror reply_code_out_of_range@8\n");
}

TEST(ReplyParser, SameCodeOnEveryLine) {
  check("250-a\r\n251 b\r\n", "error multiline_code_mismatch@7\n");
  check("220 hi\r\n250-a\r\n250-b\r\n550 c\r\n",
        "off=0 wire=8 220 enh=- 'hi'\nerror multiline_code_mismatch@22\n");
  // A continuation line with an out-of-range code is a mismatch too.
  check("250-a\r\n650 b\r\n", "error multiline_code_mismatch@7\n");
}

TEST(ReplyParser, ReplyLinesLimit) {
  Options o;
  o.limits.reply_lines = 3;
  check("250-a\r\n250-b\r\n250 c\r\n", "off=0 wire=21 250 enh=- 'a' 'b' 'c'\n", o);
  check("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", "error too_many_reply_lines@21\n", o);
  // The limit counts lines per reply, not per stream.
  check("250-a\r\n250 b\r\n250-c\r\n250 d\r\n",
        "off=0 wire=14 250 enh=- 'a' 'b'\noff=14 wire=14 250 enh=- 'c' 'd'\n", o);
}

TEST(ReplyParser, DefaultReplyLinesLimit) {
  std::string in;
  for (int i = 0; i < 256; ++i) in += "250-x\r\n";
  ReplyParser ok;
  ok.feed(in + "250 y\r\n");  // 257 lines
  EXPECT_FALSE(ok.next());
  ASSERT_TRUE(ok.failed());
  EXPECT_EQ(ok.diagnostic().code, errc::too_many_reply_lines);
  EXPECT_EQ(ok.diagnostic().offset, 256u * 7);

  ReplyParser p;
  in.resize(255 * 7);
  p.feed(in + "250 y\r\n");  // 256 lines
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lines.size(), 256u);
}

// ---------------------------------------------------------------------------------------------
// Framing: bare LF / bare CR / NUL / long lines, strict and tolerated

TEST(ReplyParser, BareLfIsAnError) {
  check("250-a\n250 b\r\n", "error bare_lf@5\n");
  check("220 hi\r\n250 a\nb\r\n", "off=0 wire=8 220 enh=- 'hi'\nerror bare_lf@13\n");
}

TEST(ReplyParser, BareLfTolerated) {
  check("250-a\n250 b\r\n", "off=0 wire=13 250 enh=- 'a' 'b' !bare_lf@5\n",
        lenient(Tolerance::bare_lf));
  check("250 a\n", "off=0 wire=6 250 enh=- 'a' !bare_lf@5\n", lenient(Tolerance::bare_lf));
}

TEST(ReplyParser, BareCrIsAnError) {
  check("250 a\rb\r\n", "error bare_cr@5\n");
  check("250 a\r\r\n", "error bare_cr@5\n");
}

TEST(ReplyParser, BareCrTolerated) {
  check("250 a\rb\r\n", "off=0 wire=9 250 enh=- 'a\\rb' !bare_cr@5\n", lenient(Tolerance::bare_cr));
}

TEST(ReplyParser, NulIsAnError) {
  check("250 a\0b\r\n"s, "error nul_byte@5\n");
  check(
      "\0"s
      "250 a\r\n",
      "error nul_byte@0\n");
}

TEST(ReplyParser, NulTolerated) {
  check("250 a\0b\r\n"s, "off=0 wire=9 250 enh=- 'a\\x00b' !nul_byte@5\n", lenient(Tolerance::nul));
}

TEST(ReplyParser, FindingsOfALineAreInStreamOrder) {
  Options o;
  o.lenient.allow(Tolerance::bare_cr).allow(Tolerance::nul);
  check("250 5.0.0 a\xff\rb\0c\r\n"s,
        "off=0 wire=18 250 enh=5.0.0 '5.0.0 a\\xff\\rb\\x00c' !enhanced_status_mismatch@4 "
        "!non_ascii@11 !bare_cr@12 !nul_byte@14\n",
        o);
}

TEST(ReplyParser, EarliestFramingProblemWins) {
  check("250 a\0b\rc\nd\r\n"s, "error nul_byte@5\n");
  check("250 a\rb\0c\r\n"s, "error bare_cr@5\n");
  check("250 a\nb\rc\0\r\n"s, "error bare_lf@5\n");
  // With NUL tolerated, the bare CR is the fatal one.
  check("250 a\0b\rc\r\n"s, "error bare_cr@7\n", lenient(Tolerance::nul));
}

TEST(ReplyParser, LineLimitIs512OctetsWithCrlf) {
  const std::string ok = "250 " + std::string(506, 'x') + "\r\n";  // 512 octets
  ASSERT_EQ(ok.size(), 512u);
  check(ok, "off=0 wire=512 250 enh=- '" + std::string(506, 'x') + "'\n");
  const std::string over = "250 " + std::string(507, 'x') + "\r\n";  // 513 octets
  check(over, "error line_too_long@512\n");
}

TEST(ReplyParser, LongLineTolerated) {
  const std::string over = "250 " + std::string(507, 'x') + "\r\n";
  check(over, "off=0 wire=513 250 enh=- '" + std::string(507, 'x') + "' !line_too_long@512\n",
        lenient(Tolerance::long_line));
}

TEST(ReplyParser, ConfigurableLineLimit) {
  Options o;
  o.limits.reply_line = 10;
  check("250 abcde\r\n", "off=0 wire=11 250 enh=- 'abcde'\n", [] {
    Options x;
    x.limits.reply_line = 11;
    return x;
  }());
  check("250 abcde\r\n", "error line_too_long@10\n", o);
}

TEST(ReplyParser, TenMegabyteLineWithoutCrlf) {
  const std::string chunk(64 * 1024, 'a');
  for (bool tolerant : {false, true}) {
    Leniency len;
    if (tolerant) len.allow(Tolerance::long_line);
    ReplyParser p({}, len);
    int errors = 0;
    std::size_t max_buffered = 0;
    p.feed("250 ");
    for (int i = 0; i < 160; ++i) {  // 10 MiB
      p.feed(chunk);
      while (p.next()) ADD_FAILURE() << "no reply expected";
      max_buffered = std::max(max_buffered, p.buffered().size());
      if (p.failed()) ++errors;
    }
    p.feed_eof();
    EXPECT_FALSE(p.next());
    EXPECT_TRUE(p.failed());
    EXPECT_EQ(p.diagnostic().code, errc::line_too_long);
    const std::uint64_t limit = tolerant ? Limits{}.line_buffer_cap : Limits{}.reply_line;
    EXPECT_EQ(p.diagnostic().offset, limit);
    EXPECT_FALSE(p.diagnostic().reason.empty());
    EXPECT_LE(max_buffered, Limits{}.line_buffer_cap + chunk.size() + 4);
    EXPECT_GT(errors, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// End of stream

TEST(ReplyParser, EofInsideMultilineReply) {
  check("250-a\r\n", "error unexpected_eof@7\n");
  check("220 hi\r\n250-a\r\n250-b\r\n", "off=0 wire=8 220 enh=- 'hi'\nerror unexpected_eof@22\n");
}

TEST(ReplyParser, EofInsideALine) {
  check("250 a", "error unexpected_eof@5\n");
  check("250 a\r", "error unexpected_eof@6\n");
  check("250-a\r\n250 b", "error unexpected_eof@12\n");
}

TEST(ReplyParser, NoEofMeansNeedMoreInput) {
  Options o;
  o.eof = false;
  check("250-a\r\n250 b", "", o);
  check("250-a\r\n", "", o);
  check("250 a\r", "", o);
}

TEST(ReplyParser, CleanEofIsNotAnError) {
  check("", "");
  check("250 a\r\n", "off=0 wire=7 250 enh=- 'a'\n");
}

// ---------------------------------------------------------------------------------------------
// Sticky errors, reset, buffered bytes

TEST(ReplyParser, ErrorsAreStickyUntilReset) {
  ReplyParser p;
  p.feed("250-a\r\n251 b\r\n");
  EXPECT_FALSE(p.next());
  ASSERT_TRUE(p.failed());
  const Diagnostic d = p.diagnostic();
  EXPECT_EQ(d.code, errc::multiline_code_mismatch);
  EXPECT_EQ(d.offset, 7u);
  EXPECT_NE(d.reason.find("251"), std::string::npos);
  p.feed("250 fine\r\n");
  EXPECT_FALSE(p.next());
  Reply r;
  EXPECT_FALSE(p.next(r));
  p.feed_eof();
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(p.diagnostic(), d);

  p.reset();
  EXPECT_FALSE(p.failed());
  EXPECT_EQ(p.offset(), 0u);
  p.feed("250 fine\r\n");
  auto ok = p.next();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->code, 250);
  EXPECT_EQ(ok->offset, 0u);
  EXPECT_EQ(ok->lines, std::vector<std::string>{"fine"});
}

TEST(ReplyParser, InReplyAndBuffered) {
  ReplyParser p;
  EXPECT_FALSE(p.in_reply());
  p.feed("250-a\r\n250");
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.in_reply());
  EXPECT_EQ(p.buffered(), "250");
  p.feed(" b\r\n");
  EXPECT_TRUE(p.next());
  EXPECT_FALSE(p.in_reply());
  EXPECT_EQ(p.buffered(), "");
  EXPECT_EQ(p.offset(), 14u);
}

TEST(ReplyParser, BytesAfterStarttlsReplyStayBuffered) {
  // A 220 to STARTTLS followed by injected plaintext (CVE-2011-0411 style): the parser hands
  // out the 220 and leaves the rest unconsumed for the caller to flag.
  ReplyParser p;
  p.feed("220 Ready to start TLS\r\n250 injected\r\n");
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 220);
  EXPECT_EQ(p.buffered(), "250 injected\r\n");
  p.discard_buffered();
  EXPECT_EQ(p.buffered(), "");
  EXPECT_EQ(p.offset(), 38u);
  EXPECT_FALSE(p.next());
}

TEST(ReplyParser, ToleranceLogRecordsFirings) {
  ReplyParser p({}, Leniency{}.allow(Tolerance::bare_lf));
  p.feed("250 a\n");
  ASSERT_TRUE(p.next());
  EXPECT_TRUE(p.tolerances().fired(Tolerance::bare_lf));
  EXPECT_EQ(p.tolerances().first_offset(Tolerance::bare_lf), 5u);
}

TEST(ReplyParser, ReusedReplyKeepsItsStorage) {
  // Lines longer than the small-string buffer, so they live on the heap.
  const std::string line(100, 'x');
  const std::string one = "250-" + line + "\r\n250 " + line + "\r\n";
  ReplyParser p;
  Reply r;
  std::vector<const char*> first_data;
  for (int i = 0; i < 6; ++i) {
    p.feed(one);
    ASSERT_TRUE(p.next(r));
    ASSERT_EQ(r.lines.size(), 2u);
    EXPECT_EQ(r.lines[0], line);
    EXPECT_EQ(r.lines[1], line);
    first_data.push_back(r.lines[0].data());
  }
  // Two sets of buffers alternate between the parser and the caller: no new allocation.
  EXPECT_EQ(first_data[2], first_data[0]);
  EXPECT_EQ(first_data[4], first_data[0]);
  EXPECT_EQ(first_data[3], first_data[1]);
  EXPECT_EQ(first_data[5], first_data[1]);
}

TEST(ReplyParser, ReusedReplyIsFullyOverwritten) {
  ReplyParser p;
  Reply r;
  p.feed("550-5.1.1 a\r\n550-b\r\n550 5.1.1 c\xff\r\n220 short\r\n");
  ASSERT_TRUE(p.next(r));
  EXPECT_EQ(r.lines.size(), 3u);
  EXPECT_TRUE(r.enhanced);
  EXPECT_EQ(r.findings.size(), 1u);
  ASSERT_TRUE(p.next(r));
  EXPECT_EQ(r.code, 220);
  EXPECT_EQ(r.lines, std::vector<std::string>{"short"});
  EXPECT_FALSE(r.enhanced);
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(r.offset, 34u);
  EXPECT_EQ(r.wire_size, 11u);
}

// ---------------------------------------------------------------------------------------------
// Text outside textstring: findings, not errors

TEST(ReplyParser, EightBitTextIsAFinding) {
  check(
      "220 mx.example ESMTP Gr\xc3\xbc\xc3\x9f"
      "e\r\n",
      "off=0 wire=30 220 enh=- 'mx.example ESMTP Gr\\xc3\\xbc\\xc3\\x9fe' !non_ascii@23\n");
  // One finding per line.
  check("250-\xe2\x82\xac\r\n250 ok \xff\r\n",
        "off=0 wire=19 250 enh=- '\\xe2\\x82\\xac' 'ok \\xff' !non_ascii@4 !non_ascii@16\n");
}

TEST(ReplyParser, ControlCharactersAreAFinding) {
  check("250 a\x07z\r\n", "off=0 wire=9 250 enh=- 'a\\x07z' !non_ascii@5\n");
  check("250 a\x7fz\r\n", "off=0 wire=9 250 enh=- 'a\\x7fz' !non_ascii@5\n");
  check("250 \x1b[0m\r\n", "off=0 wire=10 250 enh=- '\\x1b[0m' !non_ascii@4\n");
}

TEST(ReplyParser, EightBitFindingInLongLine) {
  // Past 16 octets, so the vector path of the scanner finds it.
  const std::string text = std::string(40, 'a') + "\xc3\xa9" + std::string(30, 'b');
  check("250 " + text + "\r\n", "off=0 wire=78 250 enh=- '" + std::string(40, 'a') + "\\xc3\\xa9" +
                                    std::string(30, 'b') + "' !non_ascii@44\n");
}

TEST(ReplyParser, ReasonsAreHuman) {
  ReplyParser p;
  p.feed("220 caf\xc3\xa9\r\n");
  auto r = p.next();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_NE(r->findings[0].reason.find("0xC3"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Enhanced status codes (RFC 2034 §4, RFC 3463)

TEST(ReplyParser, EnhancedStatusOnFirstLine) {
  check("550 5.1.1 User unknown\r\n", "off=0 wire=24 550 enh=5.1.1 '5.1.1 User unknown'\n");
  check("250 2.0.0\r\n", "off=0 wire=11 250 enh=2.0.0 '2.0.0'\n");
  check("250 2.1.10 ok\r\n", "off=0 wire=15 250 enh=2.1.10 '2.1.10 ok'\n");
  check("452 4.5.3 Too many recipients\r\n",
        "off=0 wire=31 452 enh=4.5.3 '4.5.3 Too many recipients'\n");
}

TEST(ReplyParser, EnhancedStatusOnEveryLine) {
  check(
      "530-5.7.0 Authentication Required. Learn more at\r\n"
      "530 5.7.0 https://support.google.com/mail/?p=WantAuthError\r\n",
      "off=0 wire=110 530 enh=5.7.0 '5.7.0 Authentication Required. Learn more at' "
      "'5.7.0 https://support.google.com/mail/?p=WantAuthError'\n");
}

TEST(ReplyParser, EnhancedClassMustMatchCode) {
  check("550 4.1.1 x\r\n", "off=0 wire=13 550 enh=4.1.1 '4.1.1 x' !enhanced_status_mismatch@4\n");
  check("250 5.0.0 ok\r\n", "off=0 wire=14 250 enh=5.0.0 '5.0.0 ok' !enhanced_status_mismatch@4\n");
  check("354 2.0.0 go\r\n", "off=0 wire=14 354 enh=2.0.0 '2.0.0 go' !enhanced_status_mismatch@4\n");
}

TEST(ReplyParser, EnhancedStatusDisagreeingAcrossLines) {
  check("550-5.1.1 a\r\n550 5.1.2 b\r\n",
        "off=0 wire=26 550 enh=5.1.1 '5.1.1 a' '5.1.2 b' !enhanced_status_mismatch@17\n");
  // A later line without a status is not a disagreement.
  check("550-5.1.1 a\r\n550 b\r\n", "off=0 wire=20 550 enh=5.1.1 '5.1.1 a' 'b'\n");
  check("550-5.1.1 a\r\n550-5.01.1 b\r\n550 5.1.1 c\r\n",
        "off=0 wire=40 550 enh=5.1.1 '5.1.1 a' '5.01.1 b' '5.1.1 c' !bad_enhanced_status@17\n");
}

TEST(ReplyParser, MalformedEnhancedStatus) {
  check("550 5.01.1 x\r\n", "off=0 wire=14 550 enh=- '5.01.1 x' !bad_enhanced_status@4\n");
  check("550 5.1.1234 x\r\n", "off=0 wire=16 550 enh=- '5.1.1234 x' !bad_enhanced_status@4\n");
  check("550 6.1.1 x\r\n", "off=0 wire=13 550 enh=- '6.1.1 x' !bad_enhanced_status@4\n");
  check("550 55.1.1\r\n", "off=0 wire=12 550 enh=- '55.1.1' !bad_enhanced_status@4\n");
  check("354 3.0.0 go\r\n", "off=0 wire=14 354 enh=- '3.0.0 go' !bad_enhanced_status@4\n");
}

TEST(ReplyParser, EnhancedStatusAgreesWithEnhancedStatusPrefix) {
  // The parser's own fast status check must accept exactly what enhanced_status_prefix does.
  const char* texts[] = {"2.0.0",     "2.0.0 ok", "4.7.12 x",  "5.1.10",  "5.123.456 y", "5.0.0ok",
                         "5.01.0 x",  "5.1.01",   "5.1234.1",  "3.1.1 x", "6.0.0",       "5.1",
                         "5.1.1.1 x", "5.a.1",    "5..1",      "2.0.0\t", "0.0.0",       "9.9.9 z",
                         "2.10.0 x",  "4.4.7",    "5.999.999", "2.0.00",  "5.0.0  x"};
  for (const char* t : texts) {
    ReplyParser p;
    p.feed("250 " + std::string(t) + "\r\n");
    auto r = p.next();
    ASSERT_TRUE(r) << t;
    const auto want = enhanced_status_prefix(t);
    ASSERT_EQ(r->enhanced.has_value(), want.has_value()) << t;
    if (want) {
      EXPECT_EQ(*r->enhanced, want->status) << t;
    }
  }
}

TEST(ReplyParser, TextThatIsNotAStatus) {
  check("220 10.0.0.1 ESMTP\r\n", "off=0 wire=20 220 enh=- '10.0.0.1 ESMTP'\n");
  check("250 2.0 ok\r\n", "off=0 wire=12 250 enh=- '2.0 ok'\n");
  check("250 2.0.0ok\r\n", "off=0 wire=13 250 enh=- '2.0.0ok'\n");
  check("250 234 Text\r\n", "off=0 wire=14 250 enh=- '234 Text'\n");
  check("250-234 a\r\n250 5.0.0 b\r\n", "off=0 wire=24 250 enh=- '234 a' '5.0.0 b'\n");
}

// ---------------------------------------------------------------------------------------------
// Recorded server transcripts (../shared/servers/ehlo/*.txt, copied as literals)

TEST(ReplyParser, PostfixGreetingAndEhlo) {
  check(
      "220 postfix.bench.test ESMTP Postfix (bench sink)\r\n"
      "250-postfix.bench.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
      "250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n"
      "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
      "221 2.0.0 Bye\r\n",
      "off=0 wire=51 220 enh=- 'postfix.bench.test ESMTP Postfix (bench sink)'\n"
      "off=51 wire=191 250 enh=- 'postfix.bench.test' 'PIPELINING' 'SIZE 10240000' 'VRFY' "
      "'ETRN' 'STARTTLS' 'AUTH PLAIN LOGIN' 'ENHANCEDSTATUSCODES' '8BITMIME' 'DSN' "
      "'SMTPUTF8' 'CHUNKING'\n"
      "off=242 wire=15 221 enh=2.0.0 '2.0.0 Bye'\n");
}

TEST(ReplyParser, EximEhlo) {
  check(
      "220 exim.bench.test ESMTP Exim 4.96 Wed, 25 Nov 2026 11:22:12 +0000\r\n"
      "250-exim.bench.test Hello client.example.test [127.0.0.1]\r\n250-SIZE 10485760\r\n"
      "250-8BITMIME\r\n250-PIPELINING\r\n250-PIPECONNECT\r\n250-AUTH PLAIN LOGIN\r\n"
      "250-CHUNKING\r\n250-STARTTLS\r\n250-SMTPUTF8\r\n250 HELP\r\n"
      "220 TLS go ahead\r\n",
      "off=0 wire=69 220 enh=- 'exim.bench.test ESMTP Exim 4.96 Wed, 25 Nov 2026 11:22:12 "
      "+0000'\n"
      "off=69 wire=199 250 enh=- 'exim.bench.test Hello client.example.test [127.0.0.1]' "
      "'SIZE 10485760' '8BITMIME' 'PIPELINING' 'PIPECONNECT' 'AUTH PLAIN LOGIN' 'CHUNKING' "
      "'STARTTLS' 'SMTPUTF8' 'HELP'\n"
      "off=268 wire=18 220 enh=- 'TLS go ahead'\n");
}

TEST(ReplyParser, OpensmtpdEhloAndStarttls) {
  check(
      "220 opensmtpd.bench.test ESMTP OpenSMTPD\r\n"
      "250-opensmtpd.bench.test Hello client.example.test [127.0.0.1], pleased to meet you\r\n"
      "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SIZE 36700160\r\n250-DSN\r\n"
      "250-STARTTLS\r\n250 HELP\r\n"
      "220 2.0.0 Ready to start TLS\r\n",
      "off=0 wire=42 220 enh=- 'opensmtpd.bench.test ESMTP OpenSMTPD'\n"
      "off=42 wire=176 250 enh=- 'opensmtpd.bench.test Hello client.example.test "
      "[127.0.0.1], pleased to meet you' '8BITMIME' 'ENHANCEDSTATUSCODES' 'SIZE 36700160' "
      "'DSN' 'STARTTLS' 'HELP'\n"
      "off=218 wire=30 220 enh=2.0.0 '2.0.0 Ready to start TLS'\n");
}

TEST(ReplyParser, SmtpSinkEhloEndsWithBareCodeAndSpace) {
  check(
      "220 sink.bench.test ESMTP\r\n"
      "250-sink.bench.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n"
      "250-XCLIENT NAME HELO\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n"
      "250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250 \r\n"
      "221 Bye\r\n",
      "off=0 wire=27 220 enh=- 'sink.bench.test ESMTP'\n"
      "off=27 wire=171 250 enh=- 'sink.bench.test' 'PIPELINING' '8BITMIME' "
      "'AUTH PLAIN LOGIN' 'XCLIENT NAME HELO' 'XFORWARD NAME ADDR PROTO HELO' "
      "'ENHANCEDSTATUSCODES' 'DSN' ''\n"
      "off=198 wire=9 221 enh=- 'Bye'\n");
}

TEST(ReplyParser, AiosmtpdAndNodemailerEhlo) {
  check(
      "220 aiosmtpd.bench.test Python SMTP 1.4.3\r\n"
      "250-aiosmtpd.bench.test\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-STARTTLS\r\n"
      "250-AUTH LOGIN PLAIN\r\n250 HELP\r\n",
      "off=0 wire=43 220 enh=- 'aiosmtpd.bench.test Python SMTP 1.4.3'\n"
      "off=43 wire=104 250 enh=- 'aiosmtpd.bench.test' 'SIZE 33554432' '8BITMIME' "
      "'STARTTLS' 'AUTH LOGIN PLAIN' 'HELP'\n");
  check(
      "250-nodemailer.bench.test Nice to meet you, [127.0.0.1]\r\n250-PIPELINING\r\n"
      "250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN\r\n250-STARTTLS\r\n"
      "250 SIZE 10485760\r\n",
      "off=0 wire=156 250 enh=- 'nodemailer.bench.test Nice to meet you, [127.0.0.1]' "
      "'PIPELINING' '8BITMIME' 'SMTPUTF8' 'AUTH PLAIN LOGIN' 'STARTTLS' 'SIZE 10485760'\n");
}

// ---------------------------------------------------------------------------------------------
// The parser takes clean CRLF lines straight from the framer's buffer and leaves every other
// line to the framer. Appending " \x7f" (a control character: a finding) to each line sends
// every line through the framer path; apart from that suffix and its findings the results
// must be the same.

std::string summary_without_suffix(std::string_view in) {
  ReplyParser p;
  p.feed(in);
  p.feed_eof();
  std::string log;
  while (auto r = p.next()) {
    log += std::to_string(r->code) + " enh=" + (r->enhanced ? r->enhanced->to_string() : "-");
    for (std::string l : r->lines) {
      if (l.size() >= 2 && l.substr(l.size() - 2) == " \x7f") l.resize(l.size() - 2);
      log += " '" + esc(l) + "'";
    }
    for (const auto& f : r->findings) {
      if (f.code != errc::non_ascii) log += " !" + std::string(to_string(f.code));
    }
    log += "\n";
  }
  if (p.failed()) log += "error " + std::string(to_string(p.diagnostic().code)) + "\n";
  return log;
}

std::string with_suffix(std::string_view in) {
  std::string out;
  std::size_t start = 0;
  for (std::size_t i = 0; i + 1 < in.size(); ++i) {
    if (in[i] == '\r' && in[i + 1] == '\n') {
      out += in.substr(start, i - start);
      out += " \x7f\r\n";
      start = i + 2;
      ++i;
    }
  }
  out += in.substr(start);
  return out;
}

TEST(ReplyParser, FastPathAndFramerPathAgree) {
  const char* inputs[] = {
      "220 foo ESMTP\r\n250-First line\r\n250-Second line\r\n250 Last line\r\n",
      "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 HELP\r\n",
      "550-5.1.1 a\r\n550 5.1.2 b\r\n250 5.0.0 x\r\n452 4.5.3 y\r\n",
      "550-5.1.1 a\r\n550-5.01.1 b\r\n550 5.1.1 c\r\n354 3.0.0 go\r\n",
      "250 2.1.10 ok\r\n250 2.1.0 ok\r\n221 2.0.0 Bye\r\n",
      "250-a\r\n251 b\r\n",
      "250 a\r\n650 b\r\n",
      "250 a\r\n25x b\r\n",
      "250 a\r\n250+b\r\n",
      "250-a\r\n250-b\r\n",
  };
  for (const char* in : inputs) {
    const std::string plain = summary_without_suffix(in);
    EXPECT_EQ(summary_without_suffix(with_suffix(in)), plain) << in;
    EXPECT_FALSE(plain.empty());
  }
  EXPECT_EQ(summary_without_suffix(with_suffix(inputs[2])),
            "550 enh=5.1.1 '5.1.1 a' '5.1.2 b' !enhanced_status_mismatch\n"
            "250 enh=5.0.0 '5.0.0 x' !enhanced_status_mismatch\n"
            "452 enh=4.5.3 '4.5.3 y'\n");
  EXPECT_EQ(summary_without_suffix(with_suffix(inputs[5])), "error multiline_code_mismatch\n");
}

// ---------------------------------------------------------------------------------------------
// parse_reply, serialize, make_reply

TEST(ParseReply, WholeReply) {
  auto res = parse_reply("250-a\r\n250 2.0.0 b\r\n");
  ASSERT_TRUE(res.reply);
  EXPECT_EQ(res.reply->code, 250);
  EXPECT_EQ(res.reply->lines, (std::vector<std::string>{"a", "2.0.0 b"}));
  EXPECT_FALSE(res.reply->enhanced);  // only the first line's status counts
  EXPECT_TRUE(res.errors.empty());
  EXPECT_EQ(res.consumed, 20u);
}

TEST(ParseReply, ConsumedStopsAfterTheFirstReply) {
  auto res = parse_reply("221 bye\r\n250 more\r\n");
  ASSERT_TRUE(res.reply);
  EXPECT_EQ(res.reply->code, 221);
  EXPECT_EQ(res.consumed, 9u);
}

TEST(ParseReply, FindingsAreErrorsButTheReplyIsKept) {
  auto res = parse_reply("550 4.1.1 x\xc3\xa9\r\n");
  ASSERT_TRUE(res.reply);
  ASSERT_EQ(res.errors.size(), 2u);
  EXPECT_EQ(res.errors[0].code, errc::enhanced_status_mismatch);
  EXPECT_EQ(res.errors[1].code, errc::non_ascii);
  EXPECT_EQ(res.errors[1].offset, 11u);
  ASSERT_TRUE(res.reply->enhanced);
  EXPECT_EQ(res.reply->enhanced->to_string(), "4.1.1");
}

TEST(ParseReply, FatalErrors) {
  auto res = parse_reply("250-a\r\n251 b\r\n");
  EXPECT_FALSE(res.reply);
  ASSERT_EQ(res.errors.size(), 1u);
  EXPECT_EQ(res.errors[0].code, errc::multiline_code_mismatch);
  EXPECT_EQ(res.errors[0].offset, 7u);
  EXPECT_EQ(res.consumed, 14u);

  res = parse_reply("250-a\r\n");
  EXPECT_FALSE(res.reply);
  ASSERT_EQ(res.errors.size(), 1u);
  EXPECT_EQ(res.errors[0].code, errc::unexpected_eof);

  res = parse_reply("250 ok");
  ASSERT_EQ(res.errors.size(), 1u);
  EXPECT_EQ(res.errors[0].code, errc::unexpected_eof);
  EXPECT_EQ(res.errors[0].offset, 6u);

  res = parse_reply("");
  EXPECT_FALSE(res.reply);
  ASSERT_EQ(res.errors.size(), 1u);
  EXPECT_EQ(res.errors[0].code, errc::unexpected_eof);
  EXPECT_EQ(res.errors[0].offset, 0u);
}

TEST(ParseReply, LimitsAndLeniency) {
  Limits l;
  l.reply_lines = 1;
  auto res = parse_reply("250-a\r\n250 b\r\n", l);
  ASSERT_EQ(res.errors.size(), 1u);
  EXPECT_EQ(res.errors[0].code, errc::too_many_reply_lines);
  res = parse_reply("250 a\n", {}, Leniency{}.allow(Tolerance::bare_lf));
  ASSERT_TRUE(res.reply);
  ASSERT_EQ(res.errors.size(), 1u);
  EXPECT_EQ(res.errors[0].code, errc::bare_lf);
  EXPECT_EQ(res.consumed, 6u);
}

TEST(MakeReply, SerializesEveryLine) {
  const Reply r = make_reply(250, {"mx.example", "PIPELINING", "SIZE 1000"});
  EXPECT_EQ(r.serialize(), "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
  EXPECT_EQ(r.wire_size, r.serialize().size());
  EXPECT_TRUE(r.is_multiline());
  EXPECT_EQ(r.klass(), 2);
}

TEST(MakeReply, EnhancedPrefixOnEveryLine) {
  const Reply r = make_reply(550, {"No such user", "", "try later"}, EnhancedStatus{5, 1, 1});
  EXPECT_EQ(r.serialize(), "550-5.1.1 No such user\r\n550-5.1.1\r\n550 5.1.1 try later\r\n");
  ASSERT_TRUE(r.enhanced);
  EXPECT_EQ(*r.enhanced, (EnhancedStatus{5, 1, 1}));
}

TEST(MakeReply, EmptyTextAndNoLines) {
  EXPECT_EQ(make_reply(250, {}).serialize(), "250 \r\n");
  EXPECT_EQ(make_reply(250, {""}).serialize(), "250 \r\n");
  EXPECT_EQ(make_reply(250, {"", ""}).serialize(), "250-\r\n250 \r\n");
  EXPECT_EQ(make_reply(221, {}, EnhancedStatus{2, 0, 0}).serialize(), "221 2.0.0\r\n");
  Reply bare;
  bare.code = 354;
  EXPECT_EQ(bare.serialize(), "354 \r\n");
}

TEST(MakeReply, RoundTripThroughTheParser) {
  const std::vector<Reply> replies = {
      make_reply(220, {"mx.example ESMTP"}),
      make_reply(250, {"mx.example", "8BITMIME", "SIZE 10240000", "HELP"}),
      make_reply(550, {"User unknown"}, EnhancedStatus{5, 1, 1}),
      make_reply(451, {"a", "", "c"}, EnhancedStatus{4, 3, 0}),
      make_reply(354, {"Start mail input; end with <CRLF>.<CRLF>"}),
      make_reply(250, {}),
      make_reply(221, {}, EnhancedStatus{2, 0, 0}),
  };
  std::string stream;
  for (const auto& r : replies) stream += r.serialize();
  ReplyParser p;
  p.feed(stream);
  std::uint64_t off = 0;
  for (const auto& want : replies) {
    auto got = p.next();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->code, want.code);
    EXPECT_EQ(got->lines, want.lines);
    EXPECT_EQ(got->enhanced, want.enhanced);
    EXPECT_EQ(got->wire_size, want.wire_size);
    EXPECT_EQ(got->offset, off);
    EXPECT_TRUE(got->findings.empty());
    EXPECT_EQ(got->serialize(), want.serialize());
    off += want.wire_size;
  }
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.failed());
}

TEST(MakeReply, ParseSerializeIsAFixedPoint) {
  const std::string in =
      "250-First line\r\n250-Second line\r\n250-234 Text beginning with numbers\r\n"
      "250 The last line\r\n";
  auto res = parse_reply(in);
  ASSERT_TRUE(res.reply);
  EXPECT_EQ(res.reply->serialize(), in);
}

}  // namespace
}  // namespace smtp
