#include "smtp/line_framer.h"

#include <algorithm>
#include <cstring>

#include "smtp/detail/scan.h"

namespace smtp {

LineFramer::LineFramer(std::size_t limit, std::size_t cap, Leniency lenient) noexcept
    : limit_(limit < 3 ? 3 : limit), cap_(cap < limit_ ? limit_ : cap), lenient_(lenient) {}

void LineFramer::reset() noexcept {
  buf_.clear();
  pos_ = 0;
  scanned_ = 0;
  base_offset_ = 0;
  fired_.clear();
  eof_ = false;
  eof_done_ = false;
  discarding_ = false;
  discard_after_cr_ = false;
  bare_lf_at_ = bare_cr_at_ = nul_at_ = kNoOffset;
}

void LineFramer::feed(std::string_view bytes) {
  if (eof_ || bytes.empty()) return;
  if (pos_ != 0) {
    buf_.erase(0, pos_);
    base_offset_ += pos_;
    pos_ = 0;
  }
  buf_.append(bytes.data(), bytes.size());
}

void LineFramer::feed_eof() noexcept { eof_ = true; }

std::optional<Line> LineFramer::next_line() noexcept {
  const bool accept_lf = lenient_.allows(Tolerance::bare_lf);
  const std::size_t max = lenient_.allows(Tolerance::long_line) ? cap_ : limit_;

  if (discarding_) {
    // Drop the rest of a cut line, up to and including its line end.
    const char* d = buf_.data();
    std::size_t i = pos_;
    bool after_cr = discard_after_cr_;
    while (i < buf_.size()) {
      const void* hit = std::memchr(d + i, '\n', buf_.size() - i);
      if (hit == nullptr) {
        after_cr = buf_.back() == '\r';
        i = buf_.size();
        break;
      }
      const std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(hit) - d);
      const bool crlf = lf > i ? d[lf - 1] == '\r' : after_cr;
      i = lf + 1;
      after_cr = false;
      if (crlf || accept_lf) {
        if (!crlf) fired_.record(Tolerance::bare_lf, base_offset_ + lf);
        discarding_ = false;
        break;
      }
    }
    pos_ = i;
    discard_after_cr_ = after_cr;
    if (discarding_) return std::nullopt;
  }

  const char* const base = buf_.data();
  const char* const b = base + pos_;
  const char* const e = base + buf_.size();
  const char* p = b + scanned_;
  auto off = [&](const char* q) { return base_offset_ + static_cast<std::uint64_t>(q - base); };

  // Tolerances fire when a line is handed out, from the offsets it carries, so the log is the
  // same whatever the chunking (bytes scanned past a cut point never count).
  auto record_kept = [&](const Line& line) {
    if (line.bare_cr_at != kNoOffset && lenient_.allows(Tolerance::bare_cr)) {
      fired_.record(Tolerance::bare_cr, line.bare_cr_at);
    }
    if (line.nul_at != kNoOffset && lenient_.allows(Tolerance::nul)) {
      fired_.record(Tolerance::nul, line.nul_at);
    }
  };

  auto emit = [&](const char* text_end, std::size_t wire, LineEnding ending) {
    Line line;
    line.text = std::string_view(b, static_cast<std::size_t>(text_end - b));
    line.offset = off(b);
    line.wire_size = wire;
    line.ending = ending;
    line.over_limit = wire > limit_;
    line.bare_lf_at = bare_lf_at_;
    line.bare_cr_at = bare_cr_at_;
    line.nul_at = nul_at_;
    if (line.over_limit && ending != LineEnding::cut) {
      fired_.record(Tolerance::long_line, line.offset);
    }
    record_kept(line);
    pos_ = static_cast<std::size_t>(b - base) + wire;
    scanned_ = 0;
    bare_lf_at_ = bare_cr_at_ = nul_at_ = kNoOffset;
    return line;
  };

  // Cut a line at `max` octets: the same Line whatever the chunking.
  auto cut = [&]() {
    const char* limit_end = b + max;
    auto keep = [&](std::uint64_t at) { return at < off(limit_end) ? at : kNoOffset; };
    Line line;
    line.text = std::string_view(b, max);
    line.offset = off(b);
    line.wire_size = max + 1;
    line.ending = LineEnding::cut;
    line.over_limit = true;
    line.bare_lf_at = keep(bare_lf_at_);
    line.bare_cr_at = keep(bare_cr_at_);
    line.nul_at = keep(nul_at_);
    record_kept(line);
    pos_ = static_cast<std::size_t>(limit_end - base);
    discard_after_cr_ = limit_end[-1] == '\r';
    discarding_ = true;
    scanned_ = 0;
    bare_lf_at_ = bare_cr_at_ = nul_at_ = kNoOffset;
    return line;
  };

  for (;;) {
    p = detail::find_line_special(p, e);
    if (p == e) break;
    const char c = *p;
    if (c == '\r') {
      if (p + 1 == e) break;  // undecided until the next byte arrives
      if (p[1] == '\n') {
        const auto wire = static_cast<std::size_t>(p + 2 - b);
        if (wire > max) return cut();
        return emit(p, wire, LineEnding::crlf);
      }
      if (bare_cr_at_ == kNoOffset) bare_cr_at_ = off(p);
      ++p;
    } else if (c == '\n') {
      if (accept_lf) {
        const auto wire = static_cast<std::size_t>(p + 1 - b);
        if (wire > max) return cut();
        fired_.record(Tolerance::bare_lf, off(p));
        return emit(p, wire, LineEnding::lf);
      }
      if (bare_lf_at_ == kNoOffset) bare_lf_at_ = off(p);
      ++p;
    } else {
      if (nul_at_ == kNoOffset) nul_at_ = off(p);
      ++p;
    }
  }

  // No line end yet.
  if (static_cast<std::size_t>(e - b) > max) return cut();
  scanned_ = static_cast<std::size_t>(p - b);
  if (eof_ && !eof_done_ && e != b) {
    eof_done_ = true;
    if (e[-1] == '\r' && bare_cr_at_ == kNoOffset) bare_cr_at_ = off(e - 1);
    return emit(e, static_cast<std::size_t>(e - b), LineEnding::eof);
  }
  return std::nullopt;
}

}  // namespace smtp
