// Fuzz target: LineFramer (RFC 5321 §2.3.8 CRLF framing with limits).
//
// Invariants:
//  - whole and chunked feeding (with and without pulling between feeds) give the same lines,
//    tolerance log and offsets;
//  - every Line matches a straightforward reference splitter of the same input: text is the
//    stream slice at `offset`, the terminator and wire_size agree with `ending`, over_limit is
//    wire_size > limit, and bare_lf_at / bare_cr_at / nul_at are the first such byte in text;
//  - after the last line, buffered() is exactly the unconsumed tail of the stream.
// flags (see fuzz_common.h): bit 0 bare_lf, 1 bare_cr, 2 nul, 3 long_line tolerances;
// bits 4-5 limit (512, 1000, 3, 40); bit 6 cap = limit; bit 7 byte by byte.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "smtp/leniency.h"
#include "smtp/line_framer.h"

namespace {

using smtp::fuzz::Log;

struct Config {
  std::size_t limit = 512;
  std::size_t cap = 1024;
  smtp::Leniency lenient;
};

Config config_from(const smtp::fuzz::Chunker& ch) {
  Config c;
  static constexpr std::size_t kLimits[4] = {512, 1000, 3, 40};
  c.limit = kLimits[(ch.flags() >> 4) & 3u];
  c.cap = ch.flag(6) ? c.limit : smtp::fuzz::fuzz_limits().line_buffer_cap;
  if (ch.flag(0)) c.lenient.allow(smtp::Tolerance::bare_lf);
  if (ch.flag(1)) c.lenient.allow(smtp::Tolerance::bare_cr);
  if (ch.flag(2)) c.lenient.allow(smtp::Tolerance::nul);
  if (ch.flag(3)) c.lenient.allow(smtp::Tolerance::long_line);
  return c;
}

const char* ending_name(smtp::LineEnding e) {
  switch (e) {
    case smtp::LineEnding::crlf:
      return "crlf";
    case smtp::LineEnding::lf:
      return "lf";
    case smtp::LineEnding::eof:
      return "eof";
    case smtp::LineEnding::cut:
      return "cut";
  }
  return "?";
}

/// One Line as observed (its text is checked against the stream, so only its size is kept).
struct LineRec {
  std::uint64_t offset = 0;
  std::uint64_t text_size = 0;
  std::uint64_t wire = 0;
  smtp::LineEnding ending = smtp::LineEnding::crlf;
  bool over = false;
  std::uint64_t lf = smtp::kNoOffset;
  std::uint64_t cr = smtp::kNoOffset;
  std::uint64_t nul = smtp::kNoOffset;
  friend bool operator==(const LineRec&, const LineRec&) = default;
};

struct RunRec {
  std::vector<LineRec> lines;
  std::uint64_t before_eof_offset = 0;
  std::uint64_t end_offset = 0;
  bool with_tolerances = true;  // false for the reference model
  std::uint64_t fired[static_cast<unsigned>(smtp::Tolerance::count_)] = {};
  friend bool operator==(const RunRec&, const RunRec&) = default;
};

SMTPH_FUZZ_HARNESS std::string describe(const RunRec& r) {
  Log log;
  for (const auto& l : r.lines) {
    log << "line off=" << l.offset << " size=" << l.text_size << " wire=" << l.wire << ' '
        << ending_name(l.ending) << " over=" << l.over << " lf=" << l.lf << " cr=" << l.cr
        << " nul=" << l.nul << '\n';
  }
  log << "before-eof offset=" << r.before_eof_offset << " end offset=" << r.end_offset;
  if (r.with_tolerances) {
    for (unsigned t = 0; t < static_cast<unsigned>(smtp::Tolerance::count_); ++t) {
      if (r.fired[t] != smtp::kNoOffset) {
        log << ' ' << smtp::to_string(static_cast<smtp::Tolerance>(t)) << '@' << r.fired[t];
      }
    }
  }
  return log.str();
}

SMTPH_FUZZ_HARNESS void compare(const char* what, const RunRec& a, const RunRec& b) {
  if (!(a == b)) smtp::fuzz::fail(what, describe(a), describe(b));
}

/// Records one Line after checking that its text is the stream slice at its offset.
SMTPH_FUZZ_HARNESS void record(RunRec& rec, const smtp::Line& line, std::string_view input) {
  SMTPH_FUZZ_CHECK(line.offset <= input.size());
  SMTPH_FUZZ_CHECK(line.text.size() <= input.size() - line.offset);
  SMTPH_FUZZ_CHECK(input.substr(line.offset, line.text.size()) == line.text);
  rec.lines.push_back({line.offset, line.text.size(), line.wire_size, line.ending, line.over_limit,
                       line.bare_lf_at, line.bare_cr_at, line.nul_at});
}

/// Feeds `input` into a fresh framer, whole or chunked, and records everything observable.
RunRec run(std::string_view input, const Config& cfg, const smtp::fuzz::Chunker* ch) {
  smtp::LineFramer fr(cfg.limit, cfg.cap, cfg.lenient);
  RunRec rec;
  auto pull = [&] {
    while (auto line = fr.next_line()) record(rec, *line, input);
  };
  if (ch == nullptr) {
    fr.feed(input);
    pull();
  } else {
    ch->split(
        input, [&](std::string_view part) { fr.feed(part); }, pull);
    pull();
  }
  // Everything fed and pulled: what is left is exactly the unconsumed tail.
  SMTPH_FUZZ_CHECK(fr.offset() <= input.size());
  SMTPH_FUZZ_CHECK(fr.buffered() == input.substr(fr.offset()));
  rec.before_eof_offset = fr.offset();
  fr.feed_eof();
  pull();
  SMTPH_FUZZ_CHECK(fr.eof());
  rec.end_offset = fr.offset();
  for (unsigned t = 0; t < static_cast<unsigned>(smtp::Tolerance::count_); ++t) {
    const auto tol = static_cast<smtp::Tolerance>(t);
    rec.fired[t] = fr.tolerances().fired(tol) ? fr.tolerances().first_offset(tol) : smtp::kNoOffset;
  }
  return rec;
}

/// An independent splitter: the lines the framer must produce (no tolerance log).
SMTPH_FUZZ_HARNESS RunRec reference(std::string_view in, const Config& cfg) {
  RunRec rec;
  rec.with_tolerances = false;
  const bool lf_ends = cfg.lenient.allows(smtp::Tolerance::bare_lf);
  const std::size_t max = cfg.lenient.allows(smtp::Tolerance::long_line) ? cfg.cap : cfg.limit;
  auto first = [&](std::size_t off, std::size_t len, char c) -> std::uint64_t {
    const auto i = in.substr(off, len).find(c);
    return i == std::string_view::npos ? smtp::kNoOffset : off + i;
  };
  // First CR in text not followed by LF in the stream (or followed by nothing at all).
  auto first_bare_cr = [&](std::size_t off, std::size_t len) -> std::uint64_t {
    for (std::size_t i = 0; i < len; ++i) {
      const std::size_t at = off + i;
      if (in[at] == '\r' && (at + 1 >= in.size() || in[at + 1] != '\n')) return at;
    }
    return smtp::kNoOffset;
  };
  auto emit = [&](std::size_t off, std::size_t len, std::size_t wire, smtp::LineEnding e) {
    rec.lines.push_back({off, len, wire, e, wire > cfg.limit, first(off, len, '\n'),
                         first_bare_cr(off, len), first(off, len, '\0')});
  };
  // End of the line starting at pos: index of its LF (with CR before it unless lf_ends).
  auto find_end = [&](std::size_t pos) -> std::size_t {
    for (std::size_t k = pos; k < in.size(); ++k) {
      if (in[k] != '\n') continue;
      if (lf_ends || (k > pos && in[k - 1] == '\r')) return k;
    }
    return std::string_view::npos;
  };
  std::size_t pos = 0;
  while (pos < in.size()) {
    const std::size_t lf = find_end(pos);
    if (lf == std::string_view::npos) {
      if (in.size() - pos > max) {
        emit(pos, max, max + 1, smtp::LineEnding::cut);
        pos = in.size();  // the rest is discarded, even at eof
      }
      break;
    }
    const bool crlf = lf > pos && in[lf - 1] == '\r';
    const std::size_t wire = lf + 1 - pos;
    if (wire > max) {
      emit(pos, max, max + 1, smtp::LineEnding::cut);
    } else {
      emit(pos, crlf ? wire - 2 : wire - 1, wire,
           crlf ? smtp::LineEnding::crlf : smtp::LineEnding::lf);
    }
    pos = lf + 1;
  }
  rec.before_eof_offset = pos;
  if (pos < in.size()) {
    emit(pos, in.size() - pos, in.size() - pos, smtp::LineEnding::eof);
    pos = in.size();
  }
  rec.end_offset = pos;
  return rec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = smtp::fuzz::as_view(data, size);
  const smtp::fuzz::Chunker ch(input);
  const Config cfg = config_from(ch);

  const RunRec whole = run(input, cfg, nullptr);
  RunRec ref = reference(input, cfg);
  RunRec whole_lines = whole;
  whole_lines.with_tolerances = false;
  std::fill(std::begin(whole_lines.fired), std::end(whole_lines.fired), 0);
  compare("LineFramer: reference splitter vs framer", ref, whole_lines);

  const RunRec chunked = run(input, cfg, &ch);
  compare("LineFramer: whole vs chunked", whole, chunked);
  return 0;
}
