#include "smtp/line_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grind.h"

namespace smtp {
namespace {

std::string esc(std::string_view s) { return test::escape(s); }

std::string describe(const Line& l) {
  static const char* endings[] = {"crlf", "lf", "eof", "cut"};
  std::string s = "off=" + std::to_string(l.offset) + " wire=" + std::to_string(l.wire_size) +
                  " " + endings[static_cast<int>(l.ending)] + " '" + esc(l.text) + "'";
  if (l.over_limit) s += " over";
  if (l.bare_lf_at != kNoOffset) s += " lf@" + std::to_string(l.bare_lf_at);
  if (l.bare_cr_at != kNoOffset) s += " cr@" + std::to_string(l.bare_cr_at);
  if (l.nul_at != kNoOffset) s += " nul@" + std::to_string(l.nul_at);
  return s;
}

auto runner(std::size_t limit, Leniency len = {}, bool eof = true) {
  return [=](const std::vector<std::string_view>& parts) {
    LineFramer f(limit, 4096, len);
    std::string log;
    for (auto p : parts) {
      f.feed(p);
      while (auto l = f.next_line()) log += describe(*l) + "\n";
    }
    if (eof) {
      f.feed_eof();
      while (auto l = f.next_line()) log += describe(*l) + "\n";
    }
    for (auto t : {Tolerance::bare_lf, Tolerance::bare_cr, Tolerance::nul, Tolerance::long_line}) {
      if (f.tolerances().fired(t)) {
        log += std::string("fired ") + to_string(t) + "@" +
               std::to_string(f.tolerances().first_offset(t)) + "\n";
      }
    }
    return log;
  };
}

void check(std::string_view in, const std::string& expected, std::size_t limit = 512,
           Leniency len = {}) {
  test::grind(in, runner(limit, len), &expected);
}

TEST(LineFramer, CrlfLines) {
  check("EHLO a\r\nQUIT\r\n", "off=0 wire=8 crlf 'EHLO a'\noff=8 wire=6 crlf 'QUIT'\n");
}

TEST(LineFramer, EmptyLine) { check("\r\n\r\n", "off=0 wire=2 crlf ''\noff=2 wire=2 crlf ''\n"); }

TEST(LineFramer, BareLfIsNotALineEndStrictly) {
  check("MAIL FROM:<a>\nRCPT TO:<b>\r\n", "off=0 wire=27 crlf 'MAIL FROM:<a>\\nRCPT TO:<b>' lf@13\n");
}

TEST(LineFramer, BareLfEndsLineWhenTolerated) {
  LineFramer f(512, 4096, Leniency{}.allow(Tolerance::bare_lf));
  f.feed("A\nB\r\n");
  auto a = f.next_line();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->text, "A");
  EXPECT_EQ(a->ending, LineEnding::lf);
  auto b = f.next_line();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->text, "B");
  EXPECT_EQ(b->ending, LineEnding::crlf);
  EXPECT_TRUE(f.tolerances().fired(Tolerance::bare_lf));
  EXPECT_EQ(f.tolerances().first_offset(Tolerance::bare_lf), 1u);
  check("A\nB\r\n", "off=0 wire=2 lf 'A'\noff=2 wire=3 crlf 'B'\nfired bare_lf@1\n", 512,
        Leniency{}.allow(Tolerance::bare_lf));
}

TEST(LineFramer, BareCrAndNulReported) {
  using namespace std::string_view_literals;
  check("a\rb\0c\r\n"sv, "off=0 wire=7 crlf 'a\\rb\\x00c' cr@1 nul@3\n");
}

TEST(LineFramer, TolerancesPastACutNeverFire) {
  using namespace std::string_view_literals;
  const auto len = Leniency{}.allow(Tolerance::bare_cr).allow(Tolerance::nul);
  check("12345678\r9\0\r\nOK\r\n"sv, "off=0 wire=9 cut '12345678' over\noff=13 wire=4 crlf 'OK'\n",
        8, len);
  check("a\rb\0\r\n"sv, "off=0 wire=6 crlf 'a\\rb\\x00' cr@1 nul@3\nfired bare_cr@1\nfired nul@3\n",
        8, len);
}

TEST(LineFramer, CrCrLf) { check("abc\r\r\n", "off=0 wire=6 crlf 'abc\\r' cr@3\n"); }

TEST(LineFramer, PartialAtEof) {
  check("QUIT\r\nNOOP", "off=0 wire=6 crlf 'QUIT'\noff=6 wire=4 eof 'NOOP'\n");
  check("NOOP\r", "off=0 wire=5 eof 'NOOP\\r' cr@4\n");
}

TEST(LineFramer, LimitIsInclusiveOfCrlf) {
  // limit 8: "123456\r\n" is exactly 8 octets.
  check("123456\r\n", "off=0 wire=8 crlf '123456'\n", 8);
  // 9 octets: cut at 8, rest discarded up to CRLF, next line intact.
  check("1234567\r\nOK\r\n", "off=0 wire=9 cut '1234567\\r' over\noff=9 wire=4 crlf 'OK'\n", 8);
  check("123456789012\r\nOK\r\n", "off=0 wire=9 cut '12345678' over\noff=14 wire=4 crlf 'OK'\n", 8);
}

TEST(LineFramer, LongLineWithoutCrlfIsBounded) {
  LineFramer f(512, 4096, {});
  std::string chunk(65536, 'x');
  std::size_t lines = 0;
  for (int i = 0; i < 160; ++i) {  // 10 MB, no CRLF
    f.feed(chunk);
    while (auto l = f.next_line()) {
      ++lines;
      EXPECT_EQ(l->ending, LineEnding::cut);
    }
    EXPECT_LE(f.buffered().size(), chunk.size());
  }
  EXPECT_EQ(lines, 1u);
  f.feed("\r\nQUIT\r\n");
  auto l = f.next_line();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->text, "QUIT");
  EXPECT_EQ(l->offset, 160u * 65536u + 2u);
}

TEST(LineFramer, BufferedAndDiscardForModeSwitch) {
  LineFramer f;
  f.feed("DATA\r\nSubject: x\r\n.\r\nQUIT\r\n");
  auto l = f.next_line();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->text, "DATA");
  EXPECT_EQ(f.buffered(), "Subject: x\r\n.\r\nQUIT\r\n");
  f.discard(15);
  EXPECT_EQ(f.offset(), 21u);
  l = f.next_line();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->text, "QUIT");
  EXPECT_EQ(l->offset, 21u);
}

}  // namespace
}  // namespace smtp
