// Fuzz target: DataDecoder (RFC 5321 §4.1.1.4 end of data, §4.5.2 transparency, SMTP
// smuggling candidates of FIELD.md §5), checked against the rules stated in dot_stuffing.h.
//
// Input: DATA wire bytes (everything after "354"), optionally followed by what the client
// pipelined after the end of data. Invariants:
//  - whole vs chunked: the same message bytes, consumed counts (sum of decode() returns),
//    done/ended_by/end_offset, findings and findings_total, whatever the split;
//  - after done(), decode() consumes nothing and appends nothing;
//  - the end: a canonical end is "\r\n.\r\n" at end_offset (or ".\r\n" at 0); an accepted
//    candidate c is eod_bytes(c) at end_offset, and c is in accept_as_end; consumed is right
//    after it; not done means everything was consumed;
//  - strict mode (accept_as_end == 0): message, end and findings equal an independent
//    reference model of the header's rules (line starts, stuffed dots, bare CR/LF, NUL,
//    text_line_too_long, the longest end-of-data candidate at each dot);
//  - quirk mode: the message is the decoding of every byte before the accepted sequence's ".".
// flags (fuzz_common.h): bit 0 quirk mode (accept_as_end from flags bits 1-5 and the byte
// before the last); bit 6 small limits (text_line 16, max_findings 4); bit 7 byte by byte.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "smtp/dot_stuffing.h"
#include "smtp/error.h"

namespace {

using smtp::fuzz::fail;
using smtp::fuzz::Log;

struct Result {
  std::string out;
  std::uint64_t returned = 0;  // sum of decode() return values
  std::uint64_t consumed = 0;
  bool done = false;
  std::optional<smtp::EodCandidate> ended_by;
  std::uint64_t end_offset = 0;
  std::vector<smtp::DataFinding> findings;
  std::uint64_t findings_total = 0;
};

SMTPH_FUZZ_HARNESS bool same_finding(const smtp::DataFinding& a, const smtp::DataFinding& b) {
  return a.code == b.code && a.offset == b.offset && a.candidate == b.candidate;
}

/// A finding as one sortable number: offset, then code, then candidate.
SMTPH_FUZZ_HARNESS std::uint64_t key(const smtp::DataFinding& f) {
  const std::uint64_t cand = f.candidate ? static_cast<std::uint64_t>(*f.candidate) + 1 : 0;
  return f.offset << 16 | static_cast<std::uint64_t>(f.code) << 8 | cand;
}

/// Keys of `fs`, sorted. The decoder stores findings nearly in offset order (a sequence's
/// finding after those of its own bytes, a long line's at its start), so insertion sort is
/// linear in practice and, unlike an instantiated std::sort, carries no coverage callbacks.
SMTPH_FUZZ_HARNESS std::vector<std::uint64_t> sorted_keys(
    const std::vector<smtp::DataFinding>& fs) {
  std::vector<std::uint64_t> keys(fs.size());
  std::uint64_t* k = keys.data();
  for (std::size_t i = 0; i < fs.size(); ++i) {
    const std::uint64_t v = key(fs[i]);
    std::size_t j = i;
    for (; j > 0 && k[j - 1] > v; --j) k[j] = k[j - 1];
    k[j] = v;
  }
  return keys;
}

SMTPH_FUZZ_HARNESS void describe(Log& log, const std::vector<smtp::DataFinding>& fs) {
  for (const auto& f : fs) {
    log << "  " << smtp::to_string(f.code) << '@' << f.offset;
    if (f.candidate) log << ' ' << smtp::to_string(*f.candidate);
    log << '\n';
  }
}

SMTPH_FUZZ_HARNESS std::string describe(const Result& r) {
  Log log;
  log << "out=" << smtp::fuzz::escape(r.out) << "\nreturned=" << r.returned
      << " consumed=" << r.consumed << " done=" << r.done << " end=" << r.end_offset;
  if (r.ended_by) log << " ended_by=" << smtp::to_string(*r.ended_by);
  log << " findings_total=" << r.findings_total << '\n';
  describe(log, r.findings);
  return log.str();
}

SMTPH_FUZZ_HARNESS bool same_result(const Result& a, const Result& b) {
  if (a.out != b.out || a.returned != b.returned || a.consumed != b.consumed || a.done != b.done ||
      a.ended_by != b.ended_by || a.end_offset != b.end_offset ||
      a.findings_total != b.findings_total || a.findings.size() != b.findings.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.findings.size(); ++i) {
    if (!same_finding(a.findings[i], b.findings[i])) return false;
  }
  return true;
}

Result run(std::string_view input, const smtp::DataDecoderOptions& opt,
           const smtp::fuzz::Chunker* ch) {
  smtp::DataDecoder dec(opt);
  Result r;
  auto feed = [&](std::string_view part) {
    const bool was_done = dec.done();
    const std::size_t before = r.out.size();
    const std::size_t n = dec.decode(part, r.out);
    SMTPH_FUZZ_CHECK(n <= part.size());
    if (was_done) SMTPH_FUZZ_CHECK(n == 0 && r.out.size() == before);
    if (!dec.done()) SMTPH_FUZZ_CHECK(n == part.size());
    r.returned += n;
  };
  if (ch == nullptr) {
    feed(input);
  } else {
    ch->split(input, feed, [] {});
  }
  r.consumed = dec.consumed();
  r.done = dec.done();
  r.ended_by = dec.ended_by();
  r.end_offset = dec.end_offset();
  r.findings = dec.findings();
  r.findings_total = dec.findings_total();
  return r;
}

// --- Reference model of the rules in dot_stuffing.h (accept_as_end == 0) --------------------

struct Seq {
  std::string_view bytes;
  std::size_t dot;                              // index of the "." in bytes
  std::optional<smtp::EodCandidate> candidate;  // nullopt: the canonical terminator
};

SMTPH_FUZZ_HARNESS std::vector<Seq> sequences() {
  std::vector<Seq> seqs;
  for (std::size_t i = 0; i < smtp::kEodCandidateCount; ++i) {
    const auto c = static_cast<smtp::EodCandidate>(i);
    const std::string_view b = smtp::eod_bytes(c);
    seqs.push_back({b, b.find('.'), c});
  }
  seqs.push_back({std::string_view("\r\n.\r\n"), 2, std::nullopt});
  return seqs;
}

struct Reference {
  std::string out;
  bool done = false;
  std::uint64_t consumed = 0;
  std::uint64_t end_offset = 0;
  std::vector<smtp::DataFinding> findings;  // in offset order
};

/// `in`: the wire bytes; `text_line`: Limits::text_line. With `stop`, the message bytes before
/// offset `stop` only (lookahead still sees all of `in`).
SMTPH_FUZZ_HARNESS Reference reference(std::string_view in, std::size_t text_line,
                                       std::size_t stop = std::string_view::npos) {
  Reference ref;
  const std::size_t n = in.size();
  // 1. Line structure, message bytes, end of data, text line lengths.
  bool line_start = true;
  std::uint64_t line_first = 0;
  std::uint64_t line_len = 0;
  bool line_reported = false;
  std::size_t i = 0;
  while (i < n && i < stop) {
    if (line_start) {
      line_first = i;
      line_len = 0;
      line_reported = false;
    }
    if (line_start && in[i] == '.') {
      if (in.substr(i, 3) == ".\r\n") {
        ref.done = true;
        ref.consumed = i + 3;
        ref.end_offset = i == 0 ? 0 : i - 2;
        break;
      }
      if (n - i < 3 && std::string_view(".\r\n").substr(0, n - i) == in.substr(i)) break;
      line_start = false;  // a stuffed dot: dropped, not counted
      ++i;
      continue;
    }
    ref.out += in[i];
    ++line_len;
    if (line_len > text_line && !line_reported) {
      ref.findings.push_back({smtp::errc::text_line_too_long, line_first, std::nullopt});
      line_reported = true;
    }
    line_start = in[i] == '\n' && i > 0 && in[i - 1] == '\r';
    ++i;
  }
  const std::size_t scope = ref.done ? ref.consumed : n;
  // 2. At each ".", the longest sequence around it; nothing if that is the canonical one.
  //    (Each start offset belongs to at most one "." : the bytes before a sequence's dot are
  //    CR, LF or NUL.)
  static const std::vector<Seq> kSeqs = sequences();
  std::vector<signed char> cand_at(scope, -1);
  for (std::size_t d = 0; d < scope; ++d) {
    if (in[d] != '.') continue;
    const Seq* best = nullptr;
    std::size_t best_start = 0;
    for (const Seq& s : kSeqs) {
      if (d < s.dot) continue;
      const std::size_t start = d - s.dot;
      if (start + s.bytes.size() > scope || in.substr(start, s.bytes.size()) != s.bytes) continue;
      if (s.candidate == smtp::EodCandidate::crlf_dot_cr &&
          (start + 4 >= scope || in[start + 4] == '\n')) {
        continue;
      }
      if (best == nullptr || s.bytes.size() > best->bytes.size()) {
        best = &s;
        best_start = start;
      }
    }
    if (best != nullptr && best->candidate) {
      cand_at[best_start] = static_cast<signed char>(*best->candidate);
    }
  }
  // 3. Everything at each offset: long line (at its start), bare LF / bare CR / NUL, candidate.
  std::vector<smtp::DataFinding> line_findings;
  line_findings.swap(ref.findings);
  std::size_t next_line = 0;
  for (std::size_t k = 0; k < scope; ++k) {
    if (next_line < line_findings.size() && line_findings[next_line].offset == k) {
      ref.findings.push_back(line_findings[next_line++]);
    }
    if (in[k] == '\n' && (k == 0 || in[k - 1] != '\r')) {
      ref.findings.push_back({smtp::errc::bare_lf, k, std::nullopt});
    } else if (in[k] == '\r' && k + 1 < scope && in[k + 1] != '\n') {
      ref.findings.push_back({smtp::errc::bare_cr, k, std::nullopt});
    } else if (in[k] == '\0') {
      ref.findings.push_back({smtp::errc::nul_byte, k, std::nullopt});
    }
    if (cand_at[k] >= 0) {
      ref.findings.push_back(
          {smtp::errc::non_canonical_end_of_data, k, static_cast<smtp::EodCandidate>(cand_at[k])});
    }
  }
  // A long line whose start is past the end of data cannot exist; any left over would be a
  // model bug.
  SMTPH_FUZZ_CHECK(next_line == line_findings.size());
  return ref;
}

void check_against_reference(std::string_view input, const smtp::DataDecoderOptions& opt,
                             const Result& got) {
  const Reference ref = reference(input, opt.limits.text_line);
  auto mismatch = [&](const char* what) {
    Result expected;
    expected.out = ref.out;
    expected.done = ref.done;
    expected.consumed = ref.consumed;
    expected.end_offset = ref.end_offset;
    expected.findings = ref.findings;
    expected.findings_total = ref.findings.size();
    fail(what, describe(expected), describe(got));
  };
  if (got.done != ref.done) mismatch("DataDecoder vs reference: done()");
  if (ref.done) {
    if (got.out != ref.out || got.consumed != ref.consumed || got.end_offset != ref.end_offset) {
      mismatch("DataDecoder vs reference: message or end of data");
    }
  } else {
    // At most the pending dot and three bytes after it may be held back.
    if (got.out.size() > ref.out.size() || ref.out.size() - got.out.size() > 4 ||
        ref.out.compare(0, got.out.size(), got.out) != 0) {
      mismatch("DataDecoder vs reference: message so far");
    }
  }
  // Findings: exact once decided; near the end of an unfinished input, a subset.
  const std::uint64_t decided =
      ref.done ? ~std::uint64_t{0} : (input.size() > 8 ? input.size() - 8 : 0);
  const std::vector<std::uint64_t> mine = sorted_keys(got.findings);
  const std::vector<std::uint64_t> theirs = sorted_keys(ref.findings);
  if (got.findings_total <= opt.max_findings) {
    std::size_t k = 0;
    for (; k < mine.size() && (mine[k] >> 16) < decided; ++k) {
      if (k >= theirs.size() || mine[k] != theirs[k]) {
        mismatch("DataDecoder vs reference: findings");
      }
    }
    if (k < theirs.size() && (theirs[k] >> 16) < decided) {
      mismatch("DataDecoder vs reference: findings (missing)");
    }
    for (; k < mine.size(); ++k) {
      if (std::find(theirs.begin(), theirs.end(), mine[k]) == theirs.end()) {
        mismatch("DataDecoder vs reference: finding near the end");
      }
    }
  } else if (ref.done && got.findings_total != ref.findings.size()) {
    mismatch("DataDecoder vs reference: findings_total");
  }
}

void check_end(std::string_view input, const smtp::DataDecoderOptions& opt, const Result& r) {
  SMTPH_FUZZ_CHECK(r.returned == r.consumed && r.consumed <= input.size());
  SMTPH_FUZZ_CHECK(r.findings.size() <= opt.max_findings);
  SMTPH_FUZZ_CHECK(r.findings.size() ==
                   std::min<std::uint64_t>(r.findings_total, opt.max_findings));
  for (const auto& f : r.findings) {
    SMTPH_FUZZ_CHECK(f.offset < std::max<std::uint64_t>(r.consumed, 1));
    SMTPH_FUZZ_CHECK(f.candidate.has_value() == (f.code == smtp::errc::non_canonical_end_of_data));
    SMTPH_FUZZ_CHECK(*smtp::to_string(f.code) != '\0');
    if (f.candidate) {
      // Names round-trip (reports and the reference server's quirk flags use them).
      SMTPH_FUZZ_CHECK(smtp::eod_candidate_from_string(smtp::to_string(*f.candidate)) ==
                       f.candidate);
    }
  }
  if (!r.done) {
    SMTPH_FUZZ_CHECK(r.consumed == input.size() && !r.ended_by);
    return;
  }
  const std::string_view tail = input.substr(r.end_offset, r.consumed - r.end_offset);
  if (!r.ended_by) {
    SMTPH_FUZZ_CHECK(tail == "\r\n.\r\n" || (r.end_offset == 0 && tail == ".\r\n"));
  } else {
    SMTPH_FUZZ_CHECK((opt.accept_as_end & smtp::eod_bit(*r.ended_by)) != 0);
    SMTPH_FUZZ_CHECK(tail == smtp::eod_bytes(*r.ended_by));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = smtp::fuzz::as_view(data, size);
  const smtp::fuzz::Chunker ch(input);
  smtp::DataDecoderOptions opt;
  opt.limits = smtp::fuzz::fuzz_limits();
  if (ch.flag(0)) {
    opt.accept_as_end = (static_cast<std::uint32_t>(ch.flags2()) |
                         (static_cast<std::uint32_t>(ch.flags()) >> 1) << 8) &
                        ((1u << smtp::kEodCandidateCount) - 1);
  }
  if (ch.flag(6)) {
    opt.limits.text_line = 16;
    opt.max_findings = 4;
  }

  const Result whole = run(input, opt, nullptr);
  const Result chunked = run(input, opt, &ch);
  if (!same_result(whole, chunked)) {
    fail("DataDecoder: whole vs chunked", describe(whole), describe(chunked));
  }
  check_end(input, opt, whole);

  if (opt.accept_as_end == 0) {
    check_against_reference(input, opt, whole);
  } else if (whole.done && whole.ended_by) {
    // The message is every byte before the accepted sequence's ".", decoded.
    const std::size_t dot = whole.end_offset + smtp::eod_bytes(*whole.ended_by).find('.');
    const Reference before = reference(input, opt.limits.text_line, dot);
    SMTPH_FUZZ_CHECK(!before.done);
    smtp::fuzz::check_equal("DataDecoder (accepted candidate): message", before.out, whole.out);
  }
  return 0;
}
