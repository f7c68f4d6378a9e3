#include "smtp/dot_stuffing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "grind.h"

namespace smtp {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;
using EC = EodCandidate;

std::string esc(std::string_view s) {
  std::string o;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r')
      o += "\\r";
    else if (c == '\n')
      o += "\\n";
    else if (c == '\\')
      o += "\\\\";
    else if (c < 0x20 || c >= 0x7f) {
      static const char* hex = "0123456789abcdef";
      o += "\\x";
      o += hex[c >> 4];
      o += hex[c & 15];
    } else
      o += static_cast<char>(c);
  }
  return o;
}

std::string describe(const DataFinding& f) {
  std::string s = std::string(to_string(f.code)) + "@" + std::to_string(f.offset);
  if (f.candidate) s += std::string(" ") + to_string(*f.candidate);
  return s;
}

/// Everything observable after feeding `parts` in order (bytes after the end are "rest").
std::string summarize(const DataDecoder& d, const std::string& out, std::uint64_t consumed,
                      const std::string& rest) {
  std::string s =
      "out='" + esc(out) + "' consumed=" + std::to_string(consumed) + " rest='" + esc(rest) + "'";
  if (d.done()) {
    s += " end@" + std::to_string(d.end_offset()) +
         " by=" + (d.ended_by() ? to_string(*d.ended_by()) : "canonical");
  } else {
    s += " open";
  }
  s += "\n";
  for (const auto& f : d.findings()) s += describe(f) + "\n";
  s += "total=" + std::to_string(d.findings_total()) + "\n";
  return s;
}

DataDecoderOptions opts(std::uint32_t accept = 0, std::size_t text_line = 1000,
                        std::size_t max_findings = 1024) {
  DataDecoderOptions o;
  o.limits.text_line = text_line;
  o.accept_as_end = accept;
  o.max_findings = max_findings;
  return o;
}

auto runner(DataDecoderOptions o) {
  return [o](const std::vector<std::string_view>& parts) {
    DataDecoder d(o);
    std::string out;
    std::string rest;
    std::uint64_t consumed = 0;
    for (auto p : parts) {
      const std::size_t n = d.decode(p, out);
      EXPECT_LE(n, p.size());
      if (n < p.size()) {
        EXPECT_TRUE(d.done()) << "bytes left over before the end of data";
      }
      consumed += n;
      rest.append(p.substr(n));
    }
    EXPECT_EQ(consumed, d.consumed());
    return summarize(d, out, consumed, rest);
  };
}

void check(std::string_view in, const std::string& expected, DataDecoderOptions o = {}) {
  test::grind(in, runner(o), &expected);
}

std::uint32_t bit(EC c) { return eod_bit(c); }

// --- names and bytes -------------------------------------------------------------------------

TEST(EodCandidate, NamesAndBytes) {
  const std::vector<std::tuple<EC, const char*, std::string_view>> table = {
      {EC::lf_dot_lf, "lflf", "\n.\n"sv},
      {EC::lf_dot_cr, "lfcr", "\n.\r"sv},
      {EC::cr_dot_lf, "crlf", "\r.\n"sv},
      {EC::cr_dot_cr, "crcr", "\r.\r"sv},
      {EC::lf_dot_crlf, "lfcrlf", "\n.\r\n"sv},
      {EC::crlf_dot_lf, "crlflf", "\r\n.\n"sv},
      {EC::cr_dot_crlf, "crcrlf", "\r.\r\n"sv},
      {EC::crlf_dot_cr, "crlfcr", "\r\n.\r"sv},
      {EC::crlf_nul_dot_crlf, "nullbefore", "\r\n\0.\r\n"sv},
      {EC::crlf_dot_nul_crlf, "nullafter", "\r\n.\0\r\n"sv},
      {EC::crlf_dot_cr_crlf, "crlfcrcrlf", "\r\n.\r\r\n"sv},
      {EC::cr_crlf_dot_crlf, "crcrlfcrlf", "\r\r\n.\r\n"sv},
      {EC::cr_crlf_dot_cr_crlf, "crcrlfcrcrlf", "\r\r\n.\r\r\n"sv},
  };
  ASSERT_EQ(table.size(), kEodCandidateCount);
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& [c, name, bytes] = table[i];
    EXPECT_EQ(static_cast<std::size_t>(c), i);
    EXPECT_STREQ(to_string(c), name);
    EXPECT_EQ(eod_bytes(c), bytes);
    EXPECT_EQ(eod_candidate_from_string(name), c);
    EXPECT_EQ(eod_bit(c), 1u << i);
  }
  EXPECT_FALSE(eod_candidate_from_string("crlfcrlf"));
  EXPECT_FALSE(eod_candidate_from_string(""));
  EXPECT_STREQ(to_string(EC::count_), "unknown");
  EXPECT_TRUE(eod_bytes(EC::count_).empty());
}

// --- encoder ---------------------------------------------------------------------------------

TEST(DotStuff, Examples) {
  EXPECT_EQ(dot_stuff(""), ".\r\n");
  EXPECT_EQ(dot_stuff("\r\n"), "\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a"), "a\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a\r\n"), "a\r\n.\r\n");
  EXPECT_EQ(dot_stuff("."), "..\r\n.\r\n");
  EXPECT_EQ(dot_stuff(".\r\n"), "..\r\n.\r\n");
  EXPECT_EQ(dot_stuff(".a\r\n"), "..a\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a\r\n.\r\nb\r\n"), "a\r\n..\r\nb\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a\r\n..\r\n"), "a\r\n...\r\n.\r\n");
  EXPECT_EQ(dot_stuff("\r\n.\r\n.\r\n"), "\r\n..\r\n..\r\n.\r\n");
  // Only CR LF starts a line: a dot after a bare LF or CR is not stuffed.
  EXPECT_EQ(dot_stuff("a\n.b"), "a\n.b\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a\r.b"), "a\r.b\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a\r"), "a\r\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a\n"), "a\n\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a.b.\r\n"), "a.b.\r\n.\r\n");
  EXPECT_EQ(dot_stuff("\0"sv), "\0\r\n.\r\n"sv);
}

TEST(DotStuff, StufferSameForEverySplit) {
  const std::vector<std::string_view> inputs = {
      ""sv,
      "."sv,
      ".\r\n"sv,
      "a\r\n.\r\n."sv,
      "\r\n.\r\n..\r\n"sv,
      "x\r\r\n.\n.\r\n.."sv,
      "\r\n\r\n.\r\n\0.\r\n"sv,
      "Subject: t\r\n\r\n.hidden\r\n..\r\nend"sv,
  };
  for (auto in : inputs) {
    const std::string expected = dot_stuff(in);
    test::grind(
        in,
        [](const std::vector<std::string_view>& parts) {
          DotStuffer s;
          std::string out;
          for (auto p : parts) s.encode(p, out);
          s.finish(out);
          return out;
        },
        &expected);
  }
}

TEST(DotStuff, StufferResetsAfterFinish) {
  DotStuffer s;
  std::string out;
  s.encode("a", out);
  s.finish(out);
  s.encode(".b\r\n", out);
  s.finish(out);
  EXPECT_EQ(out, "a\r\n.\r\n..b\r\n.\r\n");
}

// --- decoder: canonical end, stuffing ----------------------------------------------------------

TEST(DataDecoder, CanonicalEnd) {
  check("Hello\r\n.\r\n", "out='Hello\\r\\n' consumed=10 rest='' end@5 by=canonical\ntotal=0\n");
}

TEST(DataDecoder, EmptyMessage) {
  check(".\r\n", "out='' consumed=3 rest='' end@0 by=canonical\ntotal=0\n");
  check(".\r\nQUIT\r\n", "out='' consumed=3 rest='QUIT\\r\\n' end@0 by=canonical\ntotal=0\n");
}

TEST(DataDecoder, EmptyLineThenEnd) {
  check("\r\n.\r\n", "out='\\r\\n' consumed=5 rest='' end@0 by=canonical\ntotal=0\n");
}

TEST(DataDecoder, LeadingDotAtStartOfData) {
  check(".a\r\n.\r\n", "out='a\\r\\n' consumed=7 rest='' end@2 by=canonical\ntotal=0\n");
  check("..\r\n.\r\n", "out='.\\r\\n' consumed=7 rest='' end@2 by=canonical\ntotal=0\n");
}

TEST(DataDecoder, DotDotLines) {
  check("a\r\n..\r\n...\r\n..x\r\n.\r\n",
        "out='a\\r\\n.\\r\\n..\\r\\n.x\\r\\n' consumed=20 rest='' end@15 by=canonical\ntotal=0\n");
}

TEST(DataDecoder, DotsInsideLinesAreContent) {
  check("a.b\r\nc. .\r\n.\r\n",
        "out='a.b\\r\\nc. .\\r\\n' consumed=14 rest='' end@9 by=canonical\n"
        "total=0\n");
}

TEST(DataDecoder, TextAfterTerminatorIsNotConsumed) {
  check("a\r\n.\r\nMAIL FROM:<>\r\n.\r\n",
        "out='a\\r\\n' consumed=6 rest='MAIL FROM:<>\\r\\n.\\r\\n' end@1 by=canonical\ntotal=0\n");
}

TEST(DataDecoder, DoneConsumesNothing) {
  DataDecoder d;
  std::string out;
  EXPECT_EQ(d.decode("x\r\n.\r\nQUIT", out), 6u);
  EXPECT_TRUE(d.done());
  EXPECT_EQ(d.decode("QUIT\r\n", out), 0u);
  EXPECT_EQ(out, "x\r\n");
  EXPECT_EQ(d.consumed(), 6u);
  d.reset();
  EXPECT_FALSE(d.done());
  EXPECT_EQ(d.consumed(), 0u);
  out.clear();
  EXPECT_EQ(d.decode(".\r\n", out), 3u);
  EXPECT_TRUE(d.done());
  EXPECT_EQ(out, "");
}

TEST(DataDecoder, UnfinishedDataHoldsBackOnlyTheUndecidedDot) {
  // A line-start dot is never content; its CR waits for the next byte.
  check("a\r\n.", "out='a\\r\\n' consumed=4 rest='' open\ntotal=0\n");
  check("a\r\n.\r", "out='a\\r\\n' consumed=5 rest='' open\ntotal=0\n");
  check("a\r\n.b", "out='a\\r\\nb' consumed=5 rest='' open\ntotal=0\n");
  // A dot after a bare LF could still be part of a sequence.
  check("a\n.", "out='a\\n' consumed=3 rest='' open\nbare_lf@1\ntotal=1\n");
  check("a\n.x", "out='a\\n.x' consumed=4 rest='' open\nbare_lf@1\ntotal=1\n");
  // A trailing CR is not yet known to be bare.
  check("a\r", "out='a\\r' consumed=2 rest='' open\ntotal=0\n");
}

// --- bare CR / LF / NUL ----------------------------------------------------------------------

TEST(DataDecoder, BareBytesAreContentAndReported) {
  check("a\nb\rc\0d\r\n.\r\n"sv,
        "out='a\\nb\\rc\\x00d\\r\\n' consumed=12 rest='' end@7 by=canonical\n"
        "bare_lf@1\nbare_cr@3\nnul_byte@5\ntotal=3\n");
  // A bare LF does not start a line: ".\r\n" after it is content.
  check("a\n.\r\n.\r\n",
        "out='a\\n.\\r\\n' consumed=8 rest='' end@3 by=canonical\n"
        "bare_lf@1\nnon_canonical_end_of_data@1 lfcrlf\ntotal=2\n");
  // CR CR LF: the first CR is bare.
  check("a\r\r\nb\r\n.\r\n",
        "out='a\\r\\r\\nb\\r\\n' consumed=10 rest='' end@5 by=canonical\nbare_cr@1\ntotal=1\n");
}

// --- the 13 candidates, each with its exact offset ------------------------------------------

struct CandidateCase {
  EC c;
  std::string message;                // decoded message of "A" + bytes + "B\r\n.\r\n"
  std::vector<std::string> findings;  // in decision order
};

std::vector<CandidateCase> candidate_cases() {
  const std::string n = "non_canonical_end_of_data@1 ";
  return {
      {EC::lf_dot_lf, "A\n.\nB\r\n"s, {"bare_lf@1", "bare_lf@3", n + "lflf"}},
      {EC::lf_dot_cr, "A\n.\rB\r\n"s, {"bare_lf@1", "bare_cr@3", n + "lfcr"}},
      {EC::cr_dot_lf, "A\r.\nB\r\n"s, {"bare_cr@1", "bare_lf@3", n + "crlf"}},
      {EC::cr_dot_cr, "A\r.\rB\r\n"s, {"bare_cr@1", "bare_cr@3", n + "crcr"}},
      {EC::lf_dot_crlf, "A\n.\r\nB\r\n"s, {"bare_lf@1", n + "lfcrlf"}},
      // After CR LF the dot is at a line start: it is a stuffed dot and dropped.
      {EC::crlf_dot_lf, "A\r\n\nB\r\n"s, {"bare_lf@4", n + "crlflf"}},
      {EC::cr_dot_crlf, "A\r.\r\nB\r\n"s, {"bare_cr@1", n + "crcrlf"}},
      {EC::crlf_dot_cr, "A\r\n\rB\r\n"s, {"bare_cr@4", n + "crlfcr"}},
      {EC::crlf_nul_dot_crlf, "A\r\n\0.\r\nB\r\n"s, {"nul_byte@3", n + "nullbefore"}},
      {EC::crlf_dot_nul_crlf, "A\r\n\0\r\nB\r\n"s, {"nul_byte@4", n + "nullafter"}},
      {EC::crlf_dot_cr_crlf, "A\r\n\r\r\nB\r\n"s, {"bare_cr@4", n + "crlfcrcrlf"}},
      // Contains the canonical terminator: data ends there (see CrCrLfDotCrLfIsAlsoTheEnd).
      {EC::cr_crlf_dot_crlf, "", {}},
      {EC::cr_crlf_dot_cr_crlf,
       "A\r\r\n\r\r\nB\r\n"s,
       {"bare_cr@1", "bare_cr@5", n + "crcrlfcrcrlf"}},
  };
}

TEST(DataDecoder, EachCandidateReportedOnceAtItsOffset) {
  for (const auto& k : candidate_cases()) {
    if (k.c == EC::cr_crlf_dot_crlf) continue;
    const std::string in = "A" + std::string(eod_bytes(k.c)) + "B\r\n.\r\n";
    const std::uint64_t end = in.size() - 5;
    std::string expected = "out='" + esc(k.message) + "' consumed=" + std::to_string(in.size()) +
                           " rest='' end@" + std::to_string(end) + " by=canonical\n";
    for (const auto& f : k.findings) expected += f + "\n";
    expected += "total=" + std::to_string(k.findings.size()) + "\n";
    SCOPED_TRACE(to_string(k.c));
    check(in, expected);
  }
}

TEST(DataDecoder, CrCrLfDotCrLfIsAlsoTheEnd) {
  check("A\r\r\n.\r\nB\r\n.\r\n",
        "out='A\\r\\r\\n' consumed=7 rest='B\\r\\n.\\r\\n' end@2 by=canonical\n"
        "bare_cr@1\nnon_canonical_end_of_data@1 crcrlfcrlf\ntotal=2\n");
}

TEST(DataDecoder, CandidatesAtStartOfData) {
  check("\n.\n\r\n.\r\n",
        "out='\\n.\\n\\r\\n' consumed=8 rest='' end@3 by=canonical\n"
        "bare_lf@0\nbare_lf@2\nnon_canonical_end_of_data@0 lflf\ntotal=3\n");
  // The canonical terminator right at the start is not a candidate; nothing else is reported.
  check(".\r\n\n.\n", "out='' consumed=3 rest='\\n.\\n' end@0 by=canonical\ntotal=0\n");
}

TEST(DataDecoder, OverlappingSequencesAroundDifferentDots) {
  check("\n.\n.\n\r\n.\r\n",
        "out='\\n.\\n.\\n\\r\\n' consumed=10 rest='' end@5 by=canonical\n"
        "bare_lf@0\nbare_lf@2\nnon_canonical_end_of_data@0 lflf\nbare_lf@4\n"
        "non_canonical_end_of_data@2 lflf\ntotal=5\n");
  // "\r.\r.\r\n": crcr at 0 and crcrlf at 2.
  check(
      "\r.\r.\r\n.\r\n",
      "out='\\r.\\r.\\r\\n' consumed=9 rest='' end@4 by=canonical\n"
      "bare_cr@0\nbare_cr@2\nnon_canonical_end_of_data@0 crcr\nnon_canonical_end_of_data@2 crcrlf\n"
      "total=4\n");
  // crlf_dot_cr_crlf followed by a canonical end that shares its CR LF: cr_crlf_dot_crlf.
  check("a\r\n.\r\r\n.\r\n",
        "out='a\\r\\n\\r\\r\\n' consumed=10 rest='' end@5 by=canonical\n"
        "bare_cr@4\nnon_canonical_end_of_data@1 crlfcrcrlf\n"
        "non_canonical_end_of_data@4 crcrlfcrlf\ntotal=3\n");
}

TEST(DataDecoder, CrlfDotCrNeedsANonLfByteAfterIt) {
  // "\r\n.\r" then CR: it grows into crlf_dot_cr_crlf only when LF follows; else crlf_dot_cr.
  check("a\r\n.\r\rx\r\n.\r\n",
        "out='a\\r\\n\\r\\rx\\r\\n' consumed=12 rest='' end@7 by=canonical\n"
        "bare_cr@4\nbare_cr@5\nnon_canonical_end_of_data@1 crlfcr\ntotal=3\n");
}

TEST(DataDecoder, NulDotNotAfterCrlfIsNotACandidate) {
  check("a\0.\r\n.\r\n"sv,
        "out='a\\x00.\\r\\n' consumed=8 rest='' end@3 by=canonical\nnul_byte@1\ntotal=1\n");
}

// --- accept_as_end quirks -----------------------------------------------------------------

struct QuirkCase {
  EC c;
  std::string out;
  std::uint64_t consumed;
  std::vector<std::string> findings;
};

TEST(DataDecoder, EachAcceptedCandidateEndsDataExactlyThere) {
  const std::string n = "non_canonical_end_of_data@1 ";
  const std::vector<QuirkCase> cases = {
      {EC::lf_dot_lf, "A\n", 4, {"bare_lf@1", "bare_lf@3", n + "lflf"}},
      {EC::lf_dot_cr, "A\n", 4, {"bare_lf@1", n + "lfcr"}},
      {EC::cr_dot_lf, "A\r", 4, {"bare_cr@1", "bare_lf@3", n + "crlf"}},
      {EC::cr_dot_cr, "A\r", 4, {"bare_cr@1", n + "crcr"}},
      {EC::lf_dot_crlf, "A\n", 5, {"bare_lf@1", n + "lfcrlf"}},
      {EC::crlf_dot_lf, "A\r\n", 5, {"bare_lf@4", n + "crlflf"}},
      {EC::cr_dot_crlf, "A\r", 5, {"bare_cr@1", n + "crcrlf"}},
      // Waits for the byte after the CR ("B"), which is not consumed.
      {EC::crlf_dot_cr, "A\r\n", 5, {n + "crlfcr"}},
      {EC::crlf_nul_dot_crlf, "A\r\n\0"s, 7, {"nul_byte@3", n + "nullbefore"}},
      {EC::crlf_dot_nul_crlf, "A\r\n", 7, {"nul_byte@4", n + "nullafter"}},
      {EC::crlf_dot_cr_crlf, "A\r\n", 7, {"bare_cr@4", n + "crlfcrcrlf"}},
      {EC::cr_crlf_dot_cr_crlf, "A\r\r\n", 8, {"bare_cr@1", "bare_cr@5", n + "crcrlfcrcrlf"}},
  };
  for (const auto& k : cases) {
    const std::string in = "A" + std::string(eod_bytes(k.c)) + "B\r\n.\r\n";
    std::string expected = "out='" + esc(k.out) + "' consumed=" + std::to_string(k.consumed) +
                           " rest='" + esc(std::string_view(in).substr(k.consumed)) +
                           "' end@1 by=" + to_string(k.c) + "\n";
    for (const auto& f : k.findings) expected += f + "\n";
    expected += "total=" + std::to_string(k.findings.size()) + "\n";
    SCOPED_TRACE(to_string(k.c));
    check(in, expected, opts(bit(k.c)));
  }
}

TEST(DataDecoder, AcceptedCrCrLfDotCrLfStillEndsCanonically) {
  check("A\r\r\n.\r\nB\r\n.\r\n",
        "out='A\\r\\r\\n' consumed=7 rest='B\\r\\n.\\r\\n' end@2 by=canonical\n"
        "bare_cr@1\nnon_canonical_end_of_data@1 crcrlfcrlf\ntotal=2\n",
        opts(bit(EC::cr_crlf_dot_crlf)));
}

TEST(DataDecoder, CanonicalEndWinsOverAcceptedPrefix) {
  // lf_dot_cr would be complete at the CR, but after CR LF the decoder waits for the LF.
  check("A\r\n.\r\nB", "out='A\\r\\n' consumed=6 rest='B' end@1 by=canonical\ntotal=0\n",
        opts(bit(EC::lf_dot_cr) | bit(EC::crlf_dot_cr) | bit(EC::lf_dot_crlf)));
}

TEST(DataDecoder, AcceptedShorterSequenceInsideALongerOne) {
  // lf_dot_lf accepted: "\r\n.\n" ends at its "\n.\n"; the finding names the longest.
  check("A\r\n.\nB",
        "out='A\\r\\n' consumed=5 rest='B' end@2 by=lflf\nbare_lf@4\n"
        "non_canonical_end_of_data@1 crlflf\ntotal=2\n",
        opts(bit(EC::lf_dot_lf)));
  // The shortest complete accepted sequence at a dot wins: with everything accepted,
  // "\n.\r\n" ends at its "\n.\r" and "\r.\r\n" at its "\r.\r".
  check("A\n.\r\nB",
        "out='A\\n' consumed=4 rest='\\nB' end@1 by=lfcr\nbare_lf@1\n"
        "non_canonical_end_of_data@1 lfcr\ntotal=2\n",
        opts(0x1fff));
  check("A\r.\r\nB",
        "out='A\\r' consumed=4 rest='\\nB' end@1 by=crcr\nbare_cr@1\n"
        "non_canonical_end_of_data@1 crcr\ntotal=2\n",
        opts(0x1fff));
  check("A\r\n.\r\r\nB",
        "out='A\\r\\n' consumed=5 rest='\\r\\nB' end@1 by=crlfcr\n"
        "non_canonical_end_of_data@1 crlfcr\ntotal=1\n",
        opts(bit(EC::crlf_dot_cr) | bit(EC::crlf_dot_cr_crlf)));
}

TEST(DataDecoder, AcceptedCandidateNotPresentDoesNothing) {
  check("a\r\n.\r\n", "out='a\\r\\n' consumed=6 rest='' end@1 by=canonical\ntotal=0\n",
        opts(0x1fff));
}

// --- long lines ------------------------------------------------------------------------------

TEST(DataDecoder, TextLineLimitIncludesCrlf) {
  // limit 10: 8 octets + CR LF is fine, 9 + CR LF is one too many.
  check("12345678\r\n.\r\n",
        "out='12345678\\r\\n' consumed=13 rest='' end@8 by=canonical\n"
        "total=0\n",
        opts(0, 10));
  check("123456789\r\n.\r\n",
        "out='123456789\\r\\n' consumed=14 rest='' end@9 by=canonical\n"
        "text_line_too_long@0\ntotal=1\n",
        opts(0, 10));
}

TEST(DataDecoder, StuffedDotDoesNotCount) {
  check("a\r\n.12345678\r\n.\r\n",
        "out='a\\r\\n12345678\\r\\n' consumed=17 rest='' end@12 by=canonical\ntotal=0\n",
        opts(0, 10));
  check("a\r\n.123456789\r\n.\r\n",
        "out='a\\r\\n123456789\\r\\n' consumed=18 rest='' end@13 by=canonical\n"
        "text_line_too_long@3\ntotal=1\n",
        opts(0, 10));
}

TEST(DataDecoder, LongLineReportedOnceEvenWithBareBreaks) {
  check("0123456789\nabcdefghij\r\nok\r\n.\r\n",
        "out='0123456789\\nabcdefghij\\r\\nok\\r\\n' consumed=30 rest='' end@25 by=canonical\n"
        "bare_lf@10\ntext_line_too_long@0\ntotal=2\n",
        opts(0, 10));
}

TEST(DataDecoder, DefaultLimitIs1000) {
  const std::string ok = std::string(998, 'x') + "\r\n";
  const std::string bad = std::string(999, 'y') + "\r\n";
  const std::string in = ok + bad + ok + ".\r\n";
  DataDecoder d;
  std::string out;
  EXPECT_EQ(d.decode(in, out), in.size());
  ASSERT_EQ(d.findings().size(), 1u);
  EXPECT_EQ(d.findings()[0].code, errc::text_line_too_long);
  EXPECT_EQ(d.findings()[0].offset, 1000u);
  EXPECT_EQ(out, ok + bad + ok);
  // Same for every split (the grind is quadratic, so on a shorter prefix of bytes).
  test::grind(bad + ".\r\n", runner(opts()));
}

// --- caps, memory, never throwing --------------------------------------------------------------

TEST(DataDecoder, FindingsAreCapped) {
  const std::string in = std::string(10, '\0') + "\r\n.\r\n";
  check(in,
        "out='\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\r\\n' consumed=15 rest='' "
        "end@10 by=canonical\nnul_byte@0\nnul_byte@1\nnul_byte@2\ntotal=10\n",
        opts(0, 1000, 3));
}

TEST(DataDecoder, HugeInputWithoutLineBreaksIsBounded) {
  DataDecoder d;
  std::string chunk(1 << 16, 'x');
  std::string out;
  std::uint64_t total = 0;
  for (int i = 0; i < 64; ++i) {
    total += d.decode(chunk, out);
    EXPECT_EQ(out.size(), chunk.size());  // streamed through, nothing accumulates inside
    out.clear();
  }
  EXPECT_EQ(total, 64u << 16);
  EXPECT_EQ(d.findings_total(), 1u);  // one long line
  EXPECT_FALSE(d.done());
}

// --- reference model --------------------------------------------------------------------------
//
// An independent, whole-buffer statement of the rules in dot_stuffing.h, used to check the
// incremental decoder on random inputs. Findings are compared as sorted sets (their order is
// checked by the split tests).

struct RefResult {
  std::string out;
  std::uint64_t consumed = 0;
  bool done = false;
  std::uint64_t end_offset = 0;
  std::optional<EC> by;
  std::vector<std::string> findings;
};

bool special(char c) { return c == '\r' || c == '\n' || c == '\0'; }

bool line_start(std::string_view s, std::size_t i) {
  return i == 0 || (i >= 2 && s[i - 2] == '\r' && s[i - 1] == '\n');
}

bool dot_of_interest(std::string_view s, std::size_t d) {
  return s[d] == '.' && (line_start(s, d) || (d > 0 && special(s[d - 1])));
}

std::size_t pre_len(EC c) { return eod_bytes(c).find('.'); }
std::size_t post_len(EC c) { return eod_bytes(c).size() - pre_len(c) - 1; }

/// Does c occur with its dot at d, using only bytes [0, limit)?
bool occurs(std::string_view s, std::size_t d, EC c, std::size_t limit) {
  const std::size_t pl = pre_len(c);
  const std::string_view b = eod_bytes(c);
  if (d < pl || d - pl + b.size() > limit) return false;
  if (s.substr(d - pl, b.size()) != b) return false;
  if (c == EC::crlf_dot_cr) {
    const std::size_t after = d - pl + b.size();
    return after < s.size() && after <= limit && s[after] != '\n';
  }
  return true;
}

std::optional<EC> longest_at(std::string_view s, std::size_t d, std::size_t limit) {
  std::optional<EC> best;
  for (std::size_t i = 0; i < kEodCandidateCount; ++i) {
    const auto c = static_cast<EC>(i);
    if (occurs(s, d, c, limit) && (!best || eod_bytes(c).size() > eod_bytes(*best).size())) {
      best = c;
    }
  }
  return best;
}

bool growable(std::string_view q) {
  return q.empty() || q == "\r" || q == "\0"sv || q == "\0\r"sv || q == "\r\r";
}

RefResult reference(std::string_view s, std::uint32_t accept, std::size_t text_line) {
  RefResult r;
  std::size_t term_dot = std::string_view::npos;
  std::size_t limit = s.size();  // bytes that count (consumed)
  // 1. Where does the data end? (after CR LF, a "." CR waits for the byte after the CR)
  for (std::size_t d = 0; d < s.size() && !r.done; ++d) {
    if (!dot_of_interest(s, d)) continue;
    const bool ls = line_start(s, d);
    if (ls && s.substr(d + 1, 2) == "\r\n") {
      r.done = true;
      limit = d + 3;
      term_dot = d;
      r.end_offset = d >= 2 ? d - 2 : 0;
      break;
    }
    for (std::size_t m = 1; m <= 3 && !r.done && d + 1 + m <= s.size(); ++m) {
      std::optional<EC> best;
      for (std::size_t i = 0; i < kEodCandidateCount; ++i) {
        const auto c = static_cast<EC>(i);
        if ((accept & eod_bit(c)) == 0 || post_len(c) != m) continue;
        const std::size_t pl = pre_len(c);
        if (d < pl || s.substr(d - pl, eod_bytes(c).size()) != eod_bytes(c)) continue;
        if (ls && m == 1) {
          if (s[d + 1] == '\r' && (d + 2 >= s.size() || s[d + 2] == '\n')) continue;
        }
        if (!best || eod_bytes(c).size() > eod_bytes(*best).size()) best = c;
      }
      if (best) {
        r.done = true;
        r.by = best;
        term_dot = d;
        limit = d + 1 + m;
        r.end_offset = d - pre_len(*best);
      }
    }
  }
  r.consumed = limit;
  // 2. Content findings.
  for (std::size_t i = 0; i < limit; ++i) {
    if (s[i] == '\r' && i + 1 < limit && s[i + 1] != '\n')
      r.findings.push_back("bare_cr@" + std::to_string(i));
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
      r.findings.push_back("bare_lf@" + std::to_string(i));
    if (s[i] == '\0') r.findings.push_back("nul_byte@" + std::to_string(i));
  }
  for (std::size_t start = 0; start < limit;) {
    std::size_t e = start;
    while (e < limit && !(e >= start + 2 && s[e - 2] == '\r' && s[e - 1] == '\n')) ++e;
    std::size_t len = e - start;
    if (s[start] == '.') --len;
    if (len > text_line) r.findings.push_back("text_line_too_long@" + std::to_string(start));
    start = e;
  }
  // 3. Sequences, one per dot.
  std::size_t pending = std::string_view::npos;
  for (std::size_t d = 0; d < limit; ++d) {
    if (!dot_of_interest(s, d)) continue;
    std::optional<EC> c;
    if (d == term_dot) {
      c = longest_at(s, d, limit);
      if (!r.by && c && eod_bytes(*c).size() <= 5) c.reset();
    } else {
      std::size_t j = 0;
      while (d + 1 + j < limit && growable(s.substr(d + 1, j))) ++j;
      if (growable(s.substr(d + 1, j))) {
        pending = d;
        continue;
      }
      c = longest_at(s, d, d + 1 + j);
    }
    if (c) {
      r.findings.push_back("non_canonical_end_of_data@" + std::to_string(d - pre_len(*c)) + " " +
                           to_string(*c));
    }
  }
  // 4. The message.
  const std::size_t stop =
      r.done ? term_dot : (pending != std::string_view::npos ? pending : limit);
  for (std::size_t i = 0; i < stop; ++i) {
    if (s[i] == '.' && line_start(s, i)) continue;
    r.out += s[i];
  }
  std::sort(r.findings.begin(), r.findings.end());
  return r;
}

/// Random chunking of `s`.
std::vector<std::string_view> chop(std::string_view s, std::mt19937& rng) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = std::uniform_int_distribution<std::size_t>(0, 9)(rng);
    parts.push_back(s.substr(i, std::min(n, s.size() - i)));
    i += parts.back().size();
  }
  return parts;
}

std::string random_bytes(std::mt19937& rng, std::size_t max_len) {
  static constexpr char kAlphabet[] = {'.',  '.',  '.', '\r', '\r', '\r', '\n', '\n',
                                       '\n', '\0', 'a', 'b',  ' ',  '.',  '\r', '\n'};
  std::uniform_int_distribution<std::size_t> len(0, max_len);
  std::uniform_int_distribution<std::size_t> pick(0, sizeof(kAlphabet) - 1);
  std::string s(len(rng), 'x');
  for (char& c : s) c = kAlphabet[pick(rng)];
  return s;
}

TEST(DataDecoder, MatchesReferenceModelOnRandomInput) {
  std::mt19937 rng(20240107);
  std::size_t ended = 0, by_candidate = 0, with_sequence = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    const std::string s = random_bytes(rng, 24);
    const std::uint32_t accept =
        iter % 3 == 0
            ? 0u
            : (iter % 3 == 1 ? 0x1fffu
                             : std::uniform_int_distribution<std::uint32_t>(0, 0x1fff)(rng));
    const std::size_t text_line = std::uniform_int_distribution<std::size_t>(3, 12)(rng);
    const RefResult ref = reference(s, accept, text_line);
    DataDecoder d(opts(accept, text_line));
    std::string out;
    std::uint64_t consumed = 0;
    for (auto p : chop(s, rng)) consumed += d.decode(p, out);
    std::vector<std::string> got;
    for (const auto& f : d.findings()) got.push_back(describe(f));
    std::sort(got.begin(), got.end());
    SCOPED_TRACE("input '" + esc(s) + "' accept=" + std::to_string(accept) +
                 " text_line=" + std::to_string(text_line));
    ASSERT_EQ(d.done(), ref.done);
    ASSERT_EQ(consumed, ref.consumed);
    ASSERT_EQ(out, ref.out);
    ASSERT_EQ(got, ref.findings);
    if (ref.done) {
      ASSERT_EQ(d.end_offset(), ref.end_offset);
      ASSERT_EQ(d.ended_by(), ref.by);
    }
    if (ref.done) ++ended;
    if (ref.by) ++by_candidate;
    for (const auto& f : ref.findings) {
      if (f.rfind("non_canonical", 0) == 0) {
        ++with_sequence;
        break;
      }
    }
  }
  // The generator exercises every outcome (not a vacuous comparison).
  EXPECT_GT(ended, 4000u);
  EXPECT_GT(by_candidate, 2000u);
  EXPECT_GT(with_sequence, 4000u);
}

/// Text-like input: lines of 0-150 ordinary bytes (TAB and other controls included), mostly
/// CR LF ends, sometimes a bare CR/LF/NUL or a leading dot; long enough for the 64-byte blocks
/// of the fast path.
std::string random_text(std::mt19937& rng, std::size_t lines) {
  static constexpr char kOrdinary[] = {'a', 'b', 'z', ' ', '\t', '\x0b', '\x01', '.', '-', '\xff'};
  static constexpr std::string_view kEnds[] = {"\r\n",  "\r\n",      "\r\n",  "\r\n",
                                               "\r\n.", "\r\n..",    "\n",    "\r",
                                               "\0",    "\r\n.\r\n", "\n.\n", "\r\n\0.\r\n"};
  std::uniform_int_distribution<std::size_t> len(0, 150);
  std::uniform_int_distribution<std::size_t> ord(0, sizeof(kOrdinary) - 1);
  std::uniform_int_distribution<std::size_t> end(0, std::size(kEnds) - 1);
  std::string s;
  for (std::size_t l = 0; l < lines; ++l) {
    const std::size_t n = len(rng);
    for (std::size_t i = 0; i < n; ++i) s += kOrdinary[i % 5 == 0 ? ord(rng) : 0];
    s += kEnds[end(rng)];
  }
  return s;
}

TEST(DataDecoder, MatchesReferenceModelOnLongTextLines) {
  std::mt19937 rng(4521);
  for (int iter = 0; iter < 1500; ++iter) {
    const std::string s = random_text(rng, 1 + static_cast<std::size_t>(iter % 12));
    const std::uint32_t accept = iter % 2 == 0 ? 0u : 0x1fffu;
    const std::size_t text_line =
        iter % 3 == 0 ? 1000 : std::uniform_int_distribution<std::size_t>(1, 120)(rng);
    const RefResult ref = reference(s, accept, text_line);
    // Whole, and in random chunks of up to 200 bytes.
    for (int mode = 0; mode < 2; ++mode) {
      DataDecoder d(opts(accept, text_line));
      std::string out;
      std::uint64_t consumed = 0;
      if (mode == 0) {
        consumed = d.decode(s, out);
      } else {
        std::size_t i = 0;
        while (i < s.size()) {
          const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 200)(rng);
          const std::string part = s.substr(i, n);  // exact-size copy for ASan
          consumed += d.decode(part, out);
          i += n;
        }
      }
      std::vector<std::string> got;
      for (const auto& f : d.findings()) got.push_back(describe(f));
      std::sort(got.begin(), got.end());
      SCOPED_TRACE("iter " + std::to_string(iter) + " mode " + std::to_string(mode) + " input '" +
                   esc(s) + "'");
      ASSERT_EQ(d.done(), ref.done);
      ASSERT_EQ(consumed, ref.consumed);
      ASSERT_EQ(out, ref.out);
      ASSERT_EQ(got, ref.findings);
    }
  }
}

TEST(DataDecoder, SameResultForEverySplitOnRandomInput) {
  std::mt19937 rng(77);
  for (int iter = 0; iter < 300; ++iter) {
    const std::string s = random_bytes(rng, 20);
    const std::uint32_t accept =
        iter % 2 == 0 ? 0u : std::uniform_int_distribution<std::uint32_t>(0, 0x1fff)(rng);
    SCOPED_TRACE(iter);
    test::grind(s, runner(opts(accept, 6, 5)));
  }
}

TEST(DataDecoder, SameResultForEverySplitOnLongText) {
  std::mt19937 rng(1870);
  for (int iter = 0; iter < 12; ++iter) {
    const std::string s = random_text(rng, 6);
    SCOPED_TRACE(iter);
    test::grind(s, runner(opts(iter % 2 == 0 ? 0u : 0x1fffu, 60)));
  }
}

// --- round trip --------------------------------------------------------------------------------

TEST(DotStuffing, RoundTripProperty) {
  std::mt19937 rng(5321);
  for (int iter = 0; iter < 20000; ++iter) {
    const std::string m = random_bytes(rng, 40);
    // Encoder: dot_stuff and a randomly chunked DotStuffer agree.
    const std::string wire = dot_stuff(m);
    DotStuffer st;
    std::string wire2;
    for (auto p : chop(m, rng)) st.encode(p, wire2);
    st.finish(wire2);
    ASSERT_EQ(wire2, wire) << esc(m);
    // Decoder: randomly chunked, with a pipelined command behind the data.
    const std::string stream = wire + "QUIT\r\n";
    DataDecoder d;
    std::string out;
    std::uint64_t consumed = 0;
    for (auto p : chop(stream, rng)) consumed += d.decode(p, out);
    const bool ends_crlf = m.size() >= 2 && m.compare(m.size() - 2, 2, "\r\n") == 0;
    const std::string expected = (m.empty() || ends_crlf) ? m : m + "\r\n";
    ASSERT_TRUE(d.done()) << esc(m);
    ASSERT_EQ(out, expected) << esc(m);
    ASSERT_EQ(consumed, wire.size()) << esc(m);
    ASSERT_FALSE(d.ended_by());
  }
}

TEST(DotStuffing, RoundTripPropertyOnLongText) {
  std::mt19937 rng(2821);
  for (int iter = 0; iter < 2000; ++iter) {
    const std::string m = random_text(rng, 1 + static_cast<std::size_t>(iter % 20));
    const std::string wire = dot_stuff(m);
    DataDecoder d;
    std::string out;
    std::uint64_t consumed = 0;
    const std::string stream = wire + "QUIT\r\n";
    for (auto p : chop(stream, rng)) consumed += d.decode(p, out);
    const bool ends_crlf = m.size() >= 2 && m.compare(m.size() - 2, 2, "\r\n") == 0;
    ASSERT_TRUE(d.done()) << esc(m);
    ASSERT_EQ(out, (m.empty() || ends_crlf) ? m : m + "\r\n") << esc(m);
    ASSERT_EQ(consumed, wire.size()) << esc(m);
  }
}

TEST(DotStuffing, RoundTripLargeRealisticMessage) {
  std::string m = "From: a@example.org\r\nSubject: dots\r\n\r\n";
  for (int i = 0; i < 2000; ++i) {
    m += (i % 7 == 0) ? "." : "";
    m += "line " + std::to_string(i) + " of the body.\r\n";
    if (i % 50 == 0) m += ".\r\n..\r\n";
  }
  const std::string wire = dot_stuff(m);
  DataDecoder d;
  std::string out;
  EXPECT_EQ(d.decode(wire, out), wire.size());
  EXPECT_TRUE(d.done());
  EXPECT_EQ(out, m);
  EXPECT_EQ(d.findings_total(), 0u);
}

}  // namespace
}  // namespace smtp
