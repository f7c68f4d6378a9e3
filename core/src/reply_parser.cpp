// RFC 5321 §4.2 replies: ReplyParser, Reply::serialize, make_reply, parse_reply.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "smtp/reply.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace smtp {

namespace {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Capacity of a std::string without heap storage (the small-string buffer).
const std::size_t kSmallString = std::string().capacity();

// textstring = 1*(%d09 / %d32-126) (RFC 5321 §4.2). true = allowed.
constexpr std::array<bool, 256> make_text_table() noexcept {
  std::array<bool, 256> t{};
  t[9] = true;
  for (std::size_t c = 32; c <= 126; ++c) t[c] = true;
  return t;
}
constexpr std::array<bool, 256> kTextChar = make_text_table();

/// First byte in [p, e) outside textstring, or e.
inline const char* find_non_text(const char* p, const char* e) noexcept {
#if defined(__SSE2__)
  const __m128i lo = _mm_set1_epi8(0x20);
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i tab = _mm_set1_epi8(0x09);
  auto bad_mask = [&](const char* q) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    // Signed compare: bytes 0x00-0x1f and 0x80-0xff are both "less than 0x20".
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_andnot_si128(
        _mm_cmpeq_epi8(v, tab), _mm_or_si128(_mm_cmplt_epi8(v, lo), _mm_cmpeq_epi8(v, del)))));
  };
  // 32 octets per step: most reply lines end within the first one.
  while (e - p >= 32) {
    const unsigned m = bad_mask(p) | (bad_mask(p + 16) << 16);
    if (m != 0) return p + __builtin_ctz(m);
    p += 32;
  }
  if (e - p >= 16) {
    const unsigned m = bad_mask(p);
    if (m != 0) return p + __builtin_ctz(m);
    p += 16;
  }
#endif
  for (; p != e; ++p) {
    if (!kTextChar[static_cast<unsigned char>(*p)]) return p;
  }
  return e;
}

/// memcpy(d, s, n) without a library call for short lines: overlapping fixed-size moves.
inline void copy_same_size(char* d, const char* s, std::size_t n) noexcept {
  if (n >= 16 && n <= 32) {
    char a[16];
    char b[16];
    std::memcpy(a, s, 16);
    std::memcpy(b, s + n - 16, 16);
    std::memcpy(d, a, 16);
    std::memcpy(d + n - 16, b, 16);
  } else if (n >= 8 && n < 16) {
    std::uint64_t a;
    std::uint64_t b;
    std::memcpy(&a, s, 8);
    std::memcpy(&b, s + n - 8, 8);
    std::memcpy(d, &a, 8);
    std::memcpy(d + n - 8, &b, 8);
  } else if (n >= 4 && n < 8) {
    std::uint32_t a;
    std::uint32_t b;
    std::memcpy(&a, s, 4);
    std::memcpy(&b, s + n - 4, 4);
    std::memcpy(d, &a, 4);
    std::memcpy(d + n - 4, &b, 4);
  } else if (n != 0) {  // (an empty body may have no data pointer)
    std::memcpy(d, s, n);
  }
}

/// One RFC 3463 sub-code at p: 1*3digit without leading zeros ("0" alone is fine).
inline bool sub_code(const char*& p, const char* e, std::uint16_t& out) noexcept {
  if (p == e || !is_digit(*p)) return false;
  unsigned v = static_cast<unsigned>(*p++ - '0');
  if (v != 0) {
    for (int i = 0; i < 2 && p != e && is_digit(*p); ++i) {
      v = v * 10 + static_cast<unsigned>(*p++ - '0');
    }
  }
  if (p != e && is_digit(*p)) return false;  // a leading zero, or a fourth digit
  out = static_cast<std::uint16_t>(v);
  return true;
}

/// The general case of status_prefix(): sub-codes of 1-3 digits.
[[gnu::noinline]] bool status_prefix_slow(std::string_view s, EnhancedStatus& st) noexcept {
  const char* p = s.data();
  const char* const e = p + s.size();
  const char k = p[0];
  if ((k != '2' && k != '4' && k != '5') || p[1] != '.') return false;
  p += 2;
  if (!sub_code(p, e, st.subject) || p == e || *p != '.') return false;
  ++p;
  if (!sub_code(p, e, st.detail) || (p != e && *p != ' ')) return false;
  st.klass = static_cast<std::uint8_t>(k - '0');
  return true;
}

/// enhanced_status_prefix() for the hot path: "class.subject.detail" then SP or the end.
/// The usual shape "k.d.d" (one-digit subject and detail) is tested without branches.
[[gnu::always_inline]] inline bool status_prefix(std::string_view s, EnhancedStatus& st) noexcept {
  if (s.size() < 5) return false;
  const char* const p = s.data();
  const char after = s.size() > 5 ? p[5] : ' ';
  const auto s1 = static_cast<unsigned>(p[2] - '0');
  const auto d1 = static_cast<unsigned>(p[4] - '0');
  if ((p[1] == '.') & (p[3] == '.') & (s1 < 10) & (d1 < 10) & (after == ' ')) {
    const char k = p[0];
    if (k != '2' && k != '4' && k != '5') return false;
    st.klass = static_cast<std::uint8_t>(k - '0');
    st.subject = static_cast<std::uint16_t>(s1);
    st.detail = static_cast<std::uint16_t>(d1);
    return true;
  }
  return status_prefix_slow(s, st);
}

/// Shape of an enhanced status code: 1*DIGIT "." 1*DIGIT "." 1*DIGIT followed by SP or the
/// end of the text, whatever the digit counts and values (used to spot malformed ones).
bool looks_like_status(std::string_view s) noexcept {
  std::size_t i = 0;
  for (int field = 0; field < 3; ++field) {
    const std::size_t start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == start) return false;
    if (field < 2) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  return i == s.size() || s[i] == ' ';
}

std::string hex_byte(unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s = "0x";
  s += kHex[c >> 4];
  s += kHex[c & 15];
  return s;
}

std::string code_string(std::uint16_t code) {
  std::string s(3, '0');
  s[0] = static_cast<char>('0' + code / 100 % 10);
  s[1] = static_cast<char>('0' + code / 10 % 10);
  s[2] = static_cast<char>('0' + code % 10);
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Reply

std::string Reply::serialize() const {
  const std::string c = code_string(code);
  std::size_t n = 0;
  for (const auto& l : lines) n += l.size() + 6;
  std::string out;
  out.reserve(lines.empty() ? 6 : n);
  if (lines.empty()) {
    out += c;
    out += " \r\n";
    return out;
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += c;
    // RFC 5321 §4.2.1: servers SHOULD send the SP even when no text follows.
    out += i + 1 == lines.size() ? ' ' : '-';
    out += lines[i];
    out += "\r\n";
  }
  return out;
}

Reply make_reply(std::uint16_t code, std::vector<std::string> lines,
                 std::optional<EnhancedStatus> enhanced) {
  Reply r;
  r.code = code;
  r.enhanced = enhanced;
  if (lines.empty()) lines.emplace_back();
  if (enhanced) {
    const std::string prefix = enhanced->to_string();
    for (auto& l : lines) l = l.empty() ? prefix : prefix + ' ' + l;
  }
  r.lines = std::move(lines);
  std::uint64_t wire = 0;
  for (const auto& l : r.lines) wire += l.size() + 6;  // "NNN" + '-'/SP + text + CRLF
  r.wire_size = wire;
  return r;
}

// ---------------------------------------------------------------------------------------------
// ReplyParser

ReplyParser::ReplyParser(Limits limits, Leniency lenient)
    : limits_(limits),
      lenient_(lenient),
      framer_(limits.reply_line, limits.line_buffer_cap, lenient) {}

void ReplyParser::feed(std::string_view bytes) {
  // After an error nothing more is parsed: drop input so memory stays bounded.
  if (failed_) return;
  framer_.feed(bytes);
}

void ReplyParser::feed_eof() { framer_.feed_eof(); }

void ReplyParser::reset() {
  framer_.reset();
  recycle_partial();
  complete_ = false;
  failed_ = false;
  diag_ = Diagnostic{};
}

void ReplyParser::recycle_partial() noexcept {
  // The strings stay in partial_.lines (beyond used_) with their capacity; the next reply
  // overwrites them in place.
  used_ = 0;
  partial_.findings.clear();
  partial_.enhanced.reset();
  partial_.code = 0;
  partial_.offset = 0;
  partial_.wire_size = 0;
}

void ReplyParser::fail(errc code, std::uint64_t offset, std::string reason) {
  failed_ = true;
  diag_ = Diagnostic{code, offset, std::move(reason)};
}

std::optional<Reply> ReplyParser::next() {
  Reply r;
  if (!next(r)) return std::nullopt;
  return std::optional<Reply>(std::move(r));
}

// RFC 2034 §4 / RFC 3463 checks of a line whose text starts with a digit: the first line's
// status becomes Reply::enhanced; disagreements and malformed codes become findings.
[[gnu::always_inline]] inline void ReplyParser::check_enhanced(std::string_view body,
                                                               std::uint64_t body_offset,
                                                               bool first) {
  EnhancedStatus st;
  if (status_prefix(body, st)) {
    if (first) {
      cur_->enhanced = st;
      if (st.klass != cur_->code / 100) [[unlikely]]
        note_enhanced(0, body, body_offset, st);
    } else if (st != *cur_->enhanced) [[unlikely]] {
      note_enhanced(1, body, body_offset, st);
    }
  } else if (looks_like_status(body)) [[unlikely]] {
    note_enhanced(2, body, body_offset, st);
  }
}

// The findings of check_enhanced(), out of line. what: 0 class mismatch, 1 line mismatch,
// 2 malformed.
void ReplyParser::note_enhanced(int what, std::string_view body, std::uint64_t body_offset,
                                EnhancedStatus st) {
  if (what == 0) {
    cur_->findings.push_back({errc::enhanced_status_mismatch, body_offset,
                              "enhanced status " + st.to_string() + " has class " +
                                  std::to_string(st.klass) + " but the reply code is " +
                                  code_string(cur_->code) + " (RFC 3463 §2, RFC 2034 §4)"});
  } else if (what == 1) {
    cur_->findings.push_back({errc::enhanced_status_mismatch, body_offset,
                              "line " + std::to_string(used_ + 1) + " has enhanced status " +
                                  st.to_string() + ", the first line " +
                                  cur_->enhanced->to_string()});
  } else {
    cur_->findings.push_back(
        {errc::bad_enhanced_status, body_offset,
         "malformed enhanced status code \"" + std::string(body.substr(0, body.find(' '))) +
             "\" (RFC 3463 §2: class 2/4/5, 1-3 digit subject and detail, no leading "
             "zeros)"});
  }
}

// Consumes, straight from the framer's buffer, every complete line whose text is all
// textstring octets and that ends in CRLF within the line limit; stops at the end of a
// reply, at an error, or at the first line it cannot take (incomplete, too long, or with any
// other octet: bare CR/LF, NUL, control, 8-bit), which is left to framer_.next_line().
// The scan per line is bounded by the line limit, so a long partial line costs O(limit).
[[gnu::always_inline]] inline void ReplyParser::take_clean_lines() {
  const std::string_view buf = framer_.buffered();
  const char* const begin = buf.data();
  const char* const end = begin + buf.size();
  const std::uint64_t base = framer_.offset();
  const std::size_t limit = framer_.limit();
  const std::size_t max_lines = limits_.reply_lines;
  // Locals, not members, in the loop: the string copies below may alias anything.
  Reply& r = *cur_;
  std::size_t n = used_;
  bool last = false;
  const char* p = begin;
  while (p != end) {
    const char* const scan_end = static_cast<std::size_t>(end - p) > limit ? p + limit : end;
    const char* const cr = find_non_text(p, scan_end);
    if (cr == scan_end || *cr != '\r' || cr + 1 == end || cr[1] != '\n') break;
    const auto len = static_cast<std::size_t>(cr - p);
    if (len + 2 > limit) break;
    const std::uint64_t offset = base + static_cast<std::uint64_t>(p - begin);

    // The common case inline; anything else (errors included) through consume_text().
    bool simple = false;
    char sep = ' ';
    std::uint16_t code = 0;
    if (len >= 3 && n < max_lines) {
      const auto d0 = static_cast<unsigned>(p[0] - '0');
      const auto d1 = static_cast<unsigned>(p[1] - '0');
      const auto d2 = static_cast<unsigned>(p[2] - '0');
      if (len > 3) sep = p[3];
      code = static_cast<std::uint16_t>(d0 * 100 + d1 * 10 + d2);
      simple = d0 <= 9 && d1 <= 9 && d2 <= 9 && (sep == ' ' || sep == '-') &&
               (n == 0 ? (d0 >= 2 && d0 <= 5 && d1 <= 5) : code == r.code);
    }
    if (!simple) [[unlikely]] {
      used_ = n;
      const bool ok = consume_text(std::string_view(p, len), offset, len + 2, true);
      n = used_;
      p = cr + 2;
      if (!ok) {
        finish_batch(begin, p, n, false);
        return;
      }
      last = complete_;
      if (last) break;
      continue;
    }
    if (n == 0) {
      r.code = code;
      r.offset = offset;
    }
    const std::string_view body = len > 4 ? std::string_view(p + 4, len - 4) : std::string_view();
    if (!body.empty() && is_digit(body[0]) && (n == 0 || r.enhanced)) {
      used_ = n;
      check_enhanced(body, offset + 4, n == 0);
    }
    if (n < r.lines.size()) {
      std::string& line = r.lines[n];
      if (line.size() == body.size()) {
        // Same length as the line it replaces (a server repeats itself): overwrite in place.
        copy_same_size(line.data(), body.data(), body.size());
      } else {
        line.clear();
        line.append(body.data(), body.size());  // within capacity: no allocation
      }
    } else {
      add_line(r, body);
    }
    ++n;
    r.wire_size += len + 2;
    p = cr + 2;
    if (sep == ' ') {
      last = true;
      break;
    }
  }
  finish_batch(begin, p, n, last);
}

inline void ReplyParser::finish_batch(const char* begin, const char* p, std::size_t n, bool last) {
  used_ = n;
  complete_ = last;
  if (p != begin) framer_.discard(static_cast<std::size_t>(p - begin));
}

// Appends a line to r.lines past its current size, reusing a parked string when there is one.
void ReplyParser::add_line(Reply& r, std::string_view body) {
  // Short text fits a string's own buffer: only longer lines want a parked heap string.
  if (body.size() > kSmallString && !spare_.empty()) {
    std::string& line = r.lines.emplace_back(std::move(spare_.back()));
    spare_.pop_back();
    line.clear();
    line.append(body.data(), body.size());
  } else {
    r.lines.emplace_back(body);
  }
}

// The reply in *cur_ is complete: leave exactly its lines in `out`. Unused strings beyond
// them that own heap storage are parked in spare_ (last first, so the next reply takes them
// in order); small ones are cheaper to rebuild than to move.
inline void ReplyParser::finish(Reply& out) {
  auto& lines = cur_->lines;
  if (lines.size() > used_) {
    for (std::size_t i = lines.size(); i > used_; --i) {
      std::string& line = lines[i - 1];
      if (line.capacity() > kSmallString) spare_.push_back(std::move(line));
    }
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(used_), lines.end());
  }
  if (cur_ == &partial_) {
    out.code = partial_.code;
    out.enhanced = partial_.enhanced;
    out.offset = partial_.offset;
    out.wire_size = partial_.wire_size;
    out.lines.swap(partial_.lines);  // partial_ keeps out's old strings for reuse
    out.findings.swap(partial_.findings);
    recycle_partial();
  }
  used_ = 0;
  complete_ = false;
  cur_ = &partial_;
}

bool ReplyParser::next(Reply& out) {
  if (failed_) return false;
  // A new reply is built directly in `out` (reusing its strings); one that is already under
  // way continues in partial_.
  if (used_ == 0) {
    out.findings.clear();
    out.enhanced.reset();
    out.wire_size = 0;
    cur_ = &out;
  } else {
    cur_ = &partial_;
  }
  for (;;) {
    // Fast path: clean CRLF lines straight from the framer's buffer. The framer takes any
    // line the fast path declines, with the same result (its clean lines are exactly these).
    take_clean_lines();
    if (!failed_ && !complete_) {
      auto line = framer_.next_line();
      if (!line) break;
      consume(*line);
    }
    if (failed_) [[unlikely]] {
      cur_ = &partial_;
      return false;
    }
    if (complete_) {
      finish(out);
      return true;
    }
  }
  out_of_input(out);
  return false;
}

// No complete reply in the input: a reply under way moves to partial_, since the caller may
// pass another Reply next time; at end of stream it is an error.
void ReplyParser::out_of_input(Reply& out) {
  if (used_ != 0 && cur_ == &out) {
    partial_.code = out.code;
    partial_.offset = out.offset;
    partial_.wire_size = out.wire_size;
    partial_.enhanced = out.enhanced;
    partial_.lines.swap(out.lines);
    partial_.findings.swap(out.findings);
  }
  cur_ = &partial_;
  if (framer_.eof() && used_ != 0) {
    fail(errc::unexpected_eof, framer_.offset(),
         "stream ended inside the multi-line reply that started at offset " +
             std::to_string(partial_.offset) + " (no last line \"" + code_string(partial_.code) +
             " ...\")");
  }
}

// Bytes-level problems the framer reported. Returns false after fail().
bool ReplyParser::check_framing(const Line& l) {
  if (l.ending == LineEnding::eof) {
    fail(errc::unexpected_eof, l.offset + l.wire_size,
         "stream ended inside a reply line (no CRLF) that started at offset " +
             std::to_string(l.offset));
    return false;
  }
  // The fatal problem with the smallest offset wins; tolerated ones become findings.
  errc code{};
  std::uint64_t at = kNoOffset;
  std::string why;
  auto fatal = [&](errc c, std::uint64_t off, const char* reason) {
    if (off < at) {
      code = c;
      at = off;
      why = reason;
    }
  };
  const std::uint64_t limit = limits_.reply_line;
  if (l.ending == LineEnding::cut) {
    fatal(errc::line_too_long, l.offset + l.text.size(),
          "reply line longer than its limit (RFC 5321 §4.5.3.1.5: 512 octets incl. CRLF)");
  } else if (l.over_limit) {
    cur_->findings.push_back({errc::line_too_long, l.offset + limit,
                              "reply line of " + std::to_string(l.wire_size) + " octets over the " +
                                  std::to_string(limit) +
                                  "-octet limit accepted (Tolerance::long_line)"});
  }
  if (l.bare_lf_at != kNoOffset) {
    fatal(errc::bare_lf, l.bare_lf_at, "bare LF in a reply line (RFC 5321 §2.3.8: CRLF only)");
  }
  if (l.ending == LineEnding::lf) {
    cur_->findings.push_back({errc::bare_lf, l.offset + l.wire_size - 1,
                              "bare LF accepted as a line end (Tolerance::bare_lf)"});
  }
  if (l.bare_cr_at != kNoOffset) {
    if (lenient_.allows(Tolerance::bare_cr)) {
      cur_->findings.push_back(
          {errc::bare_cr, l.bare_cr_at, "bare CR kept in reply text (Tolerance::bare_cr)"});
    } else {
      fatal(errc::bare_cr, l.bare_cr_at,
            "bare CR in a reply line (RFC 5321 §2.3.8: CR only in CRLF)");
    }
  }
  if (l.nul_at != kNoOffset) {
    if (lenient_.allows(Tolerance::nul)) {
      cur_->findings.push_back(
          {errc::nul_byte, l.nul_at, "NUL kept in reply text (Tolerance::nul)"});
    } else {
      fatal(errc::nul_byte, l.nul_at, "NUL in a reply line (RFC 5321 §4.2: textstring)");
    }
  }
  if (at != kNoOffset) {
    fail(code, at, std::move(why));
    return false;
  }
  return true;
}

void ReplyParser::check_text(std::string_view body, std::uint64_t body_offset) {
  const char* const b = body.data();
  const char* const e = b + body.size();
  const char* p = find_non_text(b, e);
  while (p != e) {
    const auto c = static_cast<unsigned char>(*p);
    // Bare CR / NUL kept by a tolerance were already reported by check_framing().
    if (!((c == '\r' && lenient_.allows(Tolerance::bare_cr)) ||
          (c == 0 && lenient_.allows(Tolerance::nul)))) {
      const auto at = body_offset + static_cast<std::uint64_t>(p - b);
      if (c >= 0x80) {
        cur_->findings.push_back(
            {errc::non_ascii, at,
             "8-bit octet " + hex_byte(c) +
                 " in reply text (RFC 5321 §4.2 textstring is US-ASCII; accepted)"});
      } else {
        cur_->findings.push_back(
            {errc::non_ascii, at,
             "control character " + hex_byte(c) +
                 " in reply text (RFC 5321 §4.2 textstring is HT, SP and printable "
                 "US-ASCII; accepted)"});
      }
      return;  // one text finding per line
    }
    p = find_non_text(p + 1, e);
  }
}

// One line from the framer. Returns false after fail().
bool ReplyParser::consume(const Line& l) {
  const std::size_t first_finding = cur_->findings.size();
  if (!l.clean() && !check_framing(l)) return false;
  if (!consume_text(l.text, l.offset, l.wire_size, false)) return false;
  if (cur_->findings.size() - first_finding > 1) {  // keep one line's findings in order
    std::stable_sort(cur_->findings.begin() + static_cast<std::ptrdiff_t>(first_finding),
                     cur_->findings.end(),
                     [](const Diagnostic& a, const Diagnostic& b) { return a.offset < b.offset; });
  }
  return true;
}

// One line's text (without its line end), framing already checked. `clean_text`: every octet
// is known to be in textstring. Returns false after fail(). Error text is built out of line
// (fail_line) to keep this hot path small.
bool ReplyParser::consume_text(std::string_view t, std::uint64_t offset, std::uint64_t wire_size,
                               bool clean_text) {
  const std::size_t n = used_;
  if (n >= limits_.reply_lines || t.size() < 3 || !is_digit(t[0]) || !is_digit(t[1]) ||
      !is_digit(t[2])) [[unlikely]] {
    return fail_line(t, offset);
  }
  const auto code =
      static_cast<std::uint16_t>((t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0'));
  bool last = true;
  std::string_view body;
  if (t.size() > 3) {
    if (t[3] == '-') {
      last = false;
    } else if (t[3] != ' ') [[unlikely]] {
      return fail_line(t, offset);
    }
    body = t.substr(4);
  }
  if (n == 0) {
    if (t[0] < '2' || t[0] > '5' || t[1] > '5') [[unlikely]]
      return fail_line(t, offset);
    cur_->code = code;
    cur_->offset = offset;
  } else if (code != cur_->code) [[unlikely]] {
    return fail_line(t, offset);
  }

  if (!body.empty()) {
    const std::uint64_t body_offset = offset + 4;
    if (is_digit(body[0]) && (n == 0 || cur_->enhanced)) {
      check_enhanced(body, body_offset, n == 0);
    }
    // After the enhanced check: a text finding can only be at a later offset.
    if (!clean_text) check_text(body, body_offset);
  }

  Reply& r = *cur_;
  if (n < r.lines.size()) {
    r.lines[n].assign(body.data(), body.size());  // within capacity: no allocation
  } else {
    add_line(r, body);
  }
  used_ = n + 1;
  cur_->wire_size += wire_size;
  complete_ = last;
  return true;
}

// The grammar error of a line consume_text() rejected, in the order it checks. Always false.
bool ReplyParser::fail_line(std::string_view t, std::uint64_t offset) {
  if (used_ >= limits_.reply_lines) {
    fail(errc::too_many_reply_lines, offset,
         "more than " + std::to_string(limits_.reply_lines) +
             " lines in one reply (Limits::reply_lines); it started at offset " +
             std::to_string(cur_->offset));
    return false;
  }
  // Reply-code = %x32-35 %x30-35 %x30-39 (RFC 5321 §4.2).
  for (std::size_t i = 0; i < 3; ++i) {
    if (i >= t.size() || !is_digit(t[i])) {
      fail(errc::bad_reply_code, offset + i,
           i >= t.size() ? "reply line ends before its three-digit code (RFC 5321 §4.2)"
                         : "reply line does not start with a three-digit code (RFC 5321 §4.2)");
      return false;
    }
  }
  const auto code =
      static_cast<std::uint16_t>((t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0'));
  if (t.size() > 3 && t[3] != '-' && t[3] != ' ') {
    fail(errc::bad_reply_code, offset + 3,
         "reply code " + code_string(code) +
             " is followed by neither SP, \"-\" nor CRLF (RFC 5321 §4.2)");
    return false;
  }
  if (used_ == 0) {
    fail(errc::reply_code_out_of_range, offset,
         "reply code " + code_string(code) +
             " out of range: first digit must be 2-5 and second 0-5 (RFC 5321 §4.2)");
    return false;
  }
  fail(errc::multiline_code_mismatch, offset,
       "line " + std::to_string(used_ + 1) + " has code " + code_string(code) +
           ", the reply started with " + code_string(cur_->code) +
           " (RFC 5321 §4.2.1: the same code on every line)");
  return false;
}

// ---------------------------------------------------------------------------------------------

ReplyParseResult parse_reply(std::string_view bytes, Limits limits, Leniency lenient) {
  ReplyParseResult res;
  if (bytes.empty()) {
    res.errors.push_back({errc::unexpected_eof, 0, "no reply: the input is empty"});
    return res;
  }
  ReplyParser p(limits, lenient);
  p.feed(bytes);
  Reply r;
  bool got = p.next(r);
  if (!got && !p.failed()) {
    p.feed_eof();
    got = p.next(r);
  }
  if (got) {
    res.errors = r.findings;
    res.consumed = static_cast<std::size_t>(r.offset + r.wire_size);
    res.reply = std::move(r);
    return res;
  }
  if (p.failed()) res.errors.push_back(p.diagnostic());
  res.consumed = static_cast<std::size_t>(p.offset());
  return res;
}

}  // namespace smtp
