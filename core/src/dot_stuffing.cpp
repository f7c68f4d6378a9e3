#include "smtp/dot_stuffing.h"

#include <array>
#include <cstring>

#include "smtp/detail/scan.h"

namespace smtp {
namespace {

using namespace std::string_view_literals;

constexpr std::array<std::string_view, kEodCandidateCount> kBytes = {
    "\n.\n"sv,       "\n.\r"sv,       "\r.\n"sv,         "\r.\r"sv,       "\n.\r\n"sv,
    "\r\n.\n"sv,     "\r.\r\n"sv,     "\r\n.\r"sv,       "\r\n\0.\r\n"sv, "\r\n.\0\r\n"sv,
    "\r\n.\r\r\n"sv, "\r\r\n.\r\n"sv, "\r\r\n.\r\r\n"sv,
};

constexpr std::array<const char*, kEodCandidateCount> kNames = {
    "lflf",   "lfcr",       "crlf",      "crcr",       "lfcrlf",     "crlflf",       "crcrlf",
    "crlfcr", "nullbefore", "nullafter", "crlfcrcrlf", "crcrlfcrlf", "crcrlfcrcrlf",
};

/// One candidate split at its dot: `pre` "." `post`.
struct Shape {
  std::string_view pre;
  std::string_view post;
  bool needs_non_lf = false;  // crlf_dot_cr: the byte after `post` must be known and not LF
};

constexpr Shape shape_of(std::size_t i) {
  const std::string_view b = kBytes[i];
  const std::size_t dot = b.find('.');
  return {b.substr(0, dot), b.substr(dot + 1),
          i == static_cast<std::size_t>(EodCandidate::crlf_dot_cr)};
}

constexpr std::array<Shape, kEodCandidateCount> make_shapes() {
  std::array<Shape, kEodCandidateCount> s{};
  for (std::size_t i = 0; i < kEodCandidateCount; ++i) s[i] = shape_of(i);
  return s;
}
constexpr std::array<Shape, kEodCandidateCount> kShapes = make_shapes();

constexpr std::size_t kCanonicalSize = 5;  // "\r\n.\r\n"
constexpr char kOrdinary = 'a';            // stands for any byte that is not CR, LF or NUL

constexpr bool is_special(char c) noexcept { return c == '\r' || c == '\n' || c == '\0'; }

/// First p in [first, last) that is CR, LF or NUL, or last. All three are <= 0x0D, so the SSE2
/// loop tests "byte <= 0x0D" (min + compare: two operations per 16 bytes instead of the five
/// of detail::find_any3), 64 bytes per step, and skips the rare other control bytes (TAB...).
/// This is what brings the decoder to memchr-class speed on message bodies.
const char* find_special(const char* first, const char* last) noexcept {
#if defined(__SSE2__)
  const __m128i k = _mm_set1_epi8(0x0D);
  for (;;) {
    std::uint64_t m = 0;
    std::ptrdiff_t step = 0;
    if (last - first >= 64) {
      const auto* v = reinterpret_cast<const __m128i*>(first);
      const __m128i a = _mm_loadu_si128(v);
      const __m128i b = _mm_loadu_si128(v + 1);
      const __m128i c = _mm_loadu_si128(v + 2);
      const __m128i d = _mm_loadu_si128(v + 3);
      const auto ma =
          static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(a, k), a)));
      const auto mb =
          static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(b, k), b)));
      const auto mc =
          static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(c, k), c)));
      const auto md =
          static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, k), d)));
      m = std::uint64_t{ma} | (std::uint64_t{mb} << 16) | (std::uint64_t{mc} << 32) |
          (std::uint64_t{md} << 48);
      step = 64;
    } else if (last - first >= 16) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(first));
      m = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(a, k), a)));
      step = 16;
    } else {
      break;
    }
    while (m != 0) {
      const char* hit = first + __builtin_ctzll(m);
      if (is_special(*hit)) return hit;
      m &= m - 1;
    }
    first += step;
  }
#endif
  return detail::find_line_special(first, last);
}

/// True when `q` (bytes after a dot) is a proper prefix of some candidate's trailer, i.e. more
/// bytes could still make a longer sequence: "", "\r", "\0", "\0\r", "\r\r".
bool trailer_may_grow(const char* q, std::size_t n) noexcept {
  switch (n) {
    case 0:
      return true;
    case 1:
      return q[0] == '\r' || q[0] == '\0';
    case 2:
      return (q[0] == '\0' && q[1] == '\r') || (q[0] == '\r' && q[1] == '\r');
    default:
      return false;
  }
}

/// The longest candidate whose dot is the dot at hand: `pre` = the three bytes before the dot
/// (newest first, kOrdinary where none), `q` = the n known bytes after it. Only candidates in
/// `mask` whose trailer fits in `max_post` bytes count; with `exact`, only those whose trailer
/// is exactly max_post bytes. Returns kEodCandidateCount for none.
std::size_t longest(const char pre[3], const char* q, std::size_t n, std::size_t max_post,
                    bool exact, std::uint32_t mask) noexcept {
  std::size_t best = kEodCandidateCount;
  std::size_t best_len = 0;
  for (std::size_t i = 0; i < kEodCandidateCount; ++i) {
    if ((mask & (std::uint32_t{1} << i)) == 0) continue;
    const Shape& s = kShapes[i];
    if (s.post.size() > max_post || s.post.size() > n) continue;
    if (exact && s.post.size() != max_post) continue;
    bool ok = true;
    for (std::size_t k = 0; k < s.pre.size() && ok; ++k) {
      ok = s.pre[s.pre.size() - 1 - k] == pre[k];
    }
    for (std::size_t k = 0; k < s.post.size() && ok; ++k) ok = s.post[k] == q[k];
    if (ok && s.needs_non_lf) ok = n > s.post.size() && q[s.post.size()] != '\n';
    const std::size_t len = s.pre.size() + 1 + s.post.size();
    if (ok && len > best_len) {
      best = i;
      best_len = len;
    }
  }
  return best;
}

constexpr std::uint32_t kAllCandidates = (std::uint32_t{1} << kEodCandidateCount) - 1;

}  // namespace

const char* to_string(EodCandidate c) noexcept {
  const auto i = static_cast<std::size_t>(c);
  return i < kEodCandidateCount ? kNames[i] : "unknown";
}

std::string_view eod_bytes(EodCandidate c) noexcept {
  const auto i = static_cast<std::size_t>(c);
  return i < kEodCandidateCount ? kBytes[i] : std::string_view{};
}

std::optional<EodCandidate> eod_candidate_from_string(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kEodCandidateCount; ++i) {
    if (name == kNames[i]) return static_cast<EodCandidate>(i);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Encoder

void DotStuffer::encode(std::string_view chunk, std::string& out) {
  if (chunk.empty()) return;
  const char* const first = chunk.data();
  const char* const last = first + chunk.size();
  const char* flush = first;
  if (at_line_start_ && *first == '.') out += '.';
  // Every LF preceded by CR makes the next byte a line start.
  const char* p = first;
  while (p != last) {
    const void* hit = std::memchr(p, '\n', static_cast<std::size_t>(last - p));
    if (hit == nullptr) break;
    const char* lf = static_cast<const char*>(hit);
    const bool crlf = lf != first ? lf[-1] == '\r' : last_cr_;
    p = lf + 1;
    if (crlf && p != last && *p == '.') {
      out.append(flush, p);
      out += '.';
      flush = p;
    }
  }
  out.append(flush, last);
  const char end = last[-1];
  at_line_start_ = end == '\n' && (chunk.size() >= 2 ? last[-2] == '\r' : last_cr_);
  last_cr_ = end == '\r';
  empty_ = false;
}

void DotStuffer::finish(std::string& out) {
  if (!empty_ && !at_line_start_) out += "\r\n";
  out += ".\r\n";
  at_line_start_ = true;
  last_cr_ = false;
  empty_ = true;
}

std::string dot_stuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 256 + 8);
  DotStuffer s;
  s.encode(message, out);
  s.finish(out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoder

DataDecoder::DataDecoder(DataDecoderOptions opt) : opt_(opt) {}

void DataDecoder::reset() {
  const DataDecoderOptions opt = opt_;
  *this = DataDecoder(opt);
}

void DataDecoder::add(errc code, std::uint64_t offset, std::optional<EodCandidate> cand) {
  ++findings_total_;
  if (findings_.size() < opt_.max_findings) findings_.push_back(DataFinding{code, offset, cand});
}

void DataDecoder::finish_at(std::uint64_t end_offset, std::optional<EodCandidate> by) {
  done_ = true;
  end_offset_ = end_offset;
  ended_by_ = by;
  dot_pending_ = false;
}

// One byte `b` at stream offset `off`, located at `p` in the caller's buffer. Bytes in
// [flush, p) are message content not yet appended to `out`.
DataDecoder::Step DataDecoder::step(char b, std::uint64_t off, const char* p, const char*& flush,
                                    std::string& out) {
  const std::uint32_t accept = opt_.accept_as_end & kAllCandidates;

  // A line-start dot followed by CR: an accepted lf_dot_cr / crlf_dot_cr waited for this byte.
  if (dot_pending_ && dot_line_start_ && post_len_ == 1 && post_[0] == '\r' && b != '\n' &&
      accept != 0) {
    const char q[2] = {'\r', b};
    const std::size_t c = longest(pre_, q, 2, 1, true, accept);
    if (c != kEodCandidateCount) {
      const std::size_t seen = longest(pre_, q, 2, 1, false, kAllCandidates);
      if (seen != kEodCandidateCount) {
        add(errc::non_canonical_end_of_data, dot_off_ - kShapes[seen].pre.size(),
            static_cast<EodCandidate>(seen));
      }
      out.append(flush, p);
      flush = p;
      finish_at(dot_off_ - kShapes[c].pre.size(), static_cast<EodCandidate>(c));
      return Step::end_before;
    }
  }

  // Content findings for this byte (and the CR before it).
  const char prev = last_[0];
  if (prev == '\r' && b != '\n') add(errc::bare_cr, off - 1);
  if (b == '\n' && prev != '\r') add(errc::bare_lf, off);
  if (b == '\0') add(errc::nul_byte, off);
  if (!(b == '.' && at_line_start_)) {
    if (++line_len_ == opt_.limits.text_line + 1) add(errc::text_line_too_long, line_start_);
  }

  if (dot_pending_) {
    char q[3] = {post_[0], post_[1], post_[2]};
    const std::size_t n = static_cast<std::size_t>(post_len_) + 1;
    q[n - 1] = b;
    // Canonical end: CR LF "." CR LF, or "." CR LF at the start of data.
    if (dot_line_start_ && n == 2 && q[0] == '\r' && q[1] == '\n') {
      const std::size_t c = longest(pre_, q, n, n, false, kAllCandidates);
      if (c != kEodCandidateCount &&
          kShapes[c].pre.size() + 1 + kShapes[c].post.size() > kCanonicalSize) {
        add(errc::non_canonical_end_of_data, dot_off_ - kShapes[c].pre.size(),
            static_cast<EodCandidate>(c));
      }
      out.append(flush, p);
      flush = p;
      finish_at(dot_off_ >= 2 ? dot_off_ - 2 : 0, std::nullopt);
      return Step::end_after;
    }
    // An accepted candidate complete with this byte (unless the canonical end may still come).
    if (accept != 0 && !(dot_line_start_ && n == 1 && q[0] == '\r')) {
      const std::size_t c = longest(pre_, q, n, n, true, accept);
      if (c != kEodCandidateCount) {
        const std::size_t seen = longest(pre_, q, n, n, false, kAllCandidates);
        add(errc::non_canonical_end_of_data, dot_off_ - kShapes[seen].pre.size(),
            static_cast<EodCandidate>(seen));
        out.append(flush, p);
        flush = p;
        finish_at(dot_off_ - kShapes[c].pre.size(), static_cast<EodCandidate>(c));
        return Step::end_after;
      }
    }
    if (trailer_may_grow(q, n)) {  // hold b back too
      post_[n - 1] = b;
      post_len_ = static_cast<std::uint8_t>(n);
      out.append(flush, p);
      flush = p + 1;
      last_[2] = last_[1];
      last_[1] = last_[0];
      last_[0] = b;
      at_line_start_ = false;
      return Step::next;
    }
    // Decided: report the longest sequence at this dot, release the held bytes, then treat b
    // as an ordinary next byte below.
    const std::size_t c = longest(pre_, q, n, n, false, kAllCandidates);
    if (c != kEodCandidateCount) {
      add(errc::non_canonical_end_of_data, dot_off_ - kShapes[c].pre.size(),
          static_cast<EodCandidate>(c));
    }
    out.append(flush, p);
    if (!dot_line_start_) out += '.';
    out.append(post_, post_len_);
    flush = p;
    dot_pending_ = false;
  }

  if (b == '.' && (at_line_start_ || is_special(prev))) {
    dot_pending_ = true;
    dot_line_start_ = at_line_start_;
    dot_off_ = off;
    pre_[0] = last_[0];
    pre_[1] = last_[1];
    pre_[2] = last_[2];
    post_len_ = 0;
    out.append(flush, p);
    flush = p + 1;
  }
  at_line_start_ = b == '\n' && prev == '\r';
  if (at_line_start_) {
    line_start_ = off + 1;
    line_len_ = 0;
  }
  last_[2] = last_[1];
  last_[1] = last_[0];
  last_[0] = b;
  return Step::next;
}

// Fast path, entered when the previous byte is ordinary and nothing is pending: skips runs of
// ordinary bytes and the common line end (CR LF followed by an ordinary first byte), which can
// yield no finding but a too long line. Returns the first byte that needs step(), or last.
const char* DataDecoder::skim(const char* p, const char* first, const char* last,
                              std::uint64_t base) {
  const std::uint64_t too_long = static_cast<std::uint64_t>(opt_.limits.text_line) + 1;
  std::uint64_t len = line_len_;
  std::uint64_t start = line_start_;
  const char* const entry = p;
  // Account the ordinary bytes [p, s) to the current line.
  const auto run_to = [&](const char* s) {
    const auto n = static_cast<std::uint64_t>(s - p);
    if (len < too_long && len + n >= too_long) add(errc::text_line_too_long, start);
    len += n;
    p = s;
  };
  // At s: CR LF + an ordinary byte that is not ".". Returns false when step() must take s.
  const auto line_end = [&](const char* s) {
    if (last - s < 3 || s[0] != '\r' || s[1] != '\n' || is_special(s[2]) || s[2] == '.') {
      return false;
    }
    if (len < too_long && len + 2 >= too_long) add(errc::text_line_too_long, start);
    start = base + static_cast<std::uint64_t>(s - first) + 2;
    len = 1;
    if (too_long == 1) add(errc::text_line_too_long, start);
    p = s + 3;
    return true;
  };
  bool stop = false;
#if defined(__SSE2__)
  // 64-byte blocks: one mask of the bytes <= 0x0D (CR, LF, NUL and rare controls), walked
  // bit by bit, so a line costs a few bit operations and no re-scan.
  const __m128i k = _mm_set1_epi8(0x0D);
  while (!stop && last - p >= 64) {
    const char* const block = p;
    const auto* v = reinterpret_cast<const __m128i*>(block);
    const __m128i x0 = _mm_loadu_si128(v);
    const __m128i x1 = _mm_loadu_si128(v + 1);
    const __m128i x2 = _mm_loadu_si128(v + 2);
    const __m128i x3 = _mm_loadu_si128(v + 3);
    const auto m0 =
        static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(x0, k), x0)));
    const auto m1 =
        static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(x1, k), x1)));
    const auto m2 =
        static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(x2, k), x2)));
    const auto m3 =
        static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(x3, k), x3)));
    std::uint64_t m = std::uint64_t{m0} | (std::uint64_t{m1} << 16) | (std::uint64_t{m2} << 32) |
                      (std::uint64_t{m3} << 48);
    for (;;) {
      if (m == 0) {
        run_to(block + 64);
        break;
      }
      const auto i = static_cast<unsigned>(__builtin_ctzll(m));
      const char* s = block + i;
      m &= m - 1;
      if (!is_special(*s)) continue;
      run_to(s);
      if (!line_end(s)) {
        stop = true;
        break;
      }
      if (i + 3 >= 64) break;
      m &= ~std::uint64_t{0} << (i + 3);
    }
  }
#endif
  while (!stop) {
    const char* s = find_special(p, last);
    run_to(s);
    if (!line_end(s)) break;
  }
  line_len_ = len;
  line_start_ = start;
  if (p != entry) last_[0] = last_[1] = last_[2] = kOrdinary;
  return p;
}

std::size_t DataDecoder::decode(std::string_view in, std::string& out) {
  if (done_ || in.empty()) return 0;
  const char* const first = in.data();
  const char* const last = first + in.size();
  const char* p = first;
  const char* flush = first;
  const std::uint64_t base = consumed_;

  while (p != last) {
    if (!dot_pending_ && !at_line_start_ && !is_special(last_[0])) {
      p = skim(p, first, last, base);
      if (p == last) break;
    }
    const std::uint64_t off = base + static_cast<std::uint64_t>(p - first);
    const Step st = step(*p, off, p, flush, out);
    if (st == Step::end_before) break;
    ++p;
    if (st == Step::end_after) break;
  }
  if (!done_) out.append(flush, p);
  const auto n = static_cast<std::size_t>(p - first);
  consumed_ += n;
  return n;
}

}  // namespace smtp
