/// @file command_grammar.h
/// @brief Private to smtp_core: the RFC 5321 §4.1.2 / §4.1.3 argument grammar (Domain,
///        address literals, Local-part, Mailbox, Path, String) shared by path.cpp and
///        command_parser.cpp, with RFC 6531 UTF-8 extensions.
///
/// Every production function takes a position in `Grammar::s` and returns the position after
/// what it matched, or `Grammar::npos` after recording exactly one Diagnostic at the offending
/// byte (stream offset = base + position).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/command.h"
#include "smtp/error.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace smtp::detail {

/// Character classes of the SMTP grammars (one bit each).
enum : std::uint16_t {
  kAlpha = 1u << 0,     ///< ALPHA
  kDigit = 1u << 1,     ///< DIGIT
  kAtext = 1u << 2,     ///< RFC 5322 atext
  kQtext = 1u << 3,     ///< qtextSMTP: %d32-33 / %d35-91 / %d93-126
  kPrint = 1u << 4,     ///< %d32-126 (second octet of quoted-pairSMTP)
  kDcontent = 1u << 5,  ///< dcontent: %d33-90 / %d94-126
  kXchar = 1u << 6,     ///< RFC 3461 xchar: %d33-126 except "+" and "="
  kValue = 1u << 7,     ///< esmtp-value octet: %d33-60 / %d62-126
  kHex = 1u << 8,       ///< HEXDIG, either case
  kUpHex = 1u << 9,     ///< 0-9 A-F (xtext hexchar)
  kMech = 1u << 10,     ///< RFC 4422 mech-char: UPPER-ALPHA / DIGIT / "-" / "_"
  kB64 = 1u << 11,      ///< base64-char: ALPHA / DIGIT / "+" / "/"
  kLdh = 1u << 12,      ///< ALPHA / DIGIT / "-"
  kVchar = 1u << 13,    ///< %d33-126
};

constexpr std::array<std::uint16_t, 256> make_char_table() noexcept {
  std::array<std::uint16_t, 256> t{};
  for (unsigned c = 0; c < 256; ++c) {
    std::uint16_t v = 0;
    const bool upper = c >= 'A' && c <= 'Z';
    const bool lower = c >= 'a' && c <= 'z';
    const bool digit = c >= '0' && c <= '9';
    if (upper || lower) v |= kAlpha | kAtext | kB64 | kLdh;
    if (digit) v |= kDigit | kAtext | kB64 | kLdh | kHex | kUpHex | kMech;
    if (upper) v |= kMech;
    if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) v |= kHex;
    if (c >= 'A' && c <= 'F') v |= kUpHex;
    for (const char a : std::string_view("!#$%&'*+-/=?^_`{|}~")) {
      if (c == static_cast<unsigned char>(a)) v |= kAtext;
    }
    if (c == '-') v |= kLdh | kMech;
    if (c == '_') v |= kMech;
    if (c == '+' || c == '/') v |= kB64;
    if ((c >= 32 && c <= 33) || (c >= 35 && c <= 91) || (c >= 93 && c <= 126)) v |= kQtext;
    if (c >= 32 && c <= 126) v |= kPrint;
    if ((c >= 33 && c <= 90) || (c >= 94 && c <= 126)) v |= kDcontent;
    if (c >= 33 && c <= 126 && c != '+' && c != '=') v |= kXchar;
    if ((c >= 33 && c <= 60) || (c >= 62 && c <= 126)) v |= kValue;
    if (c >= 33 && c <= 126) v |= kVchar;
    t[c] = v;
  }
  return t;
}

inline constexpr std::array<std::uint16_t, 256> kCharTable = make_char_table();

[[nodiscard]] inline bool is(char c, std::uint16_t cls) noexcept {
  return (kCharTable[static_cast<unsigned char>(c)] & cls) != 0;
}
[[nodiscard]] inline char upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}
/// dst = v, reusing dst's storage (clear + append is cheaper than the general assign). When
/// the sizes already agree (a verb kept from the previous command) short text is copied in
/// place with overlapping fixed-size moves, without a library call. v must not overlap dst.
inline void set_text(std::string& dst, std::string_view v) {
  const std::size_t n = v.size();
  if (n == dst.size() && n >= 4 && n <= 16) {
    char* const d = dst.data();
    const char* const s = v.data();
    if (n >= 8) {
      std::uint64_t a;
      std::uint64_t b;
      std::memcpy(&a, s, 8);
      std::memcpy(&b, s + n - 8, 8);
      std::memcpy(d, &a, 8);
      std::memcpy(d + n - 8, &b, 8);
    } else {
      std::uint32_t a;
      std::uint32_t b;
      std::memcpy(&a, s, 4);
      std::memcpy(&b, s + n - 4, 4);
      std::memcpy(d, &a, 4);
      std::memcpy(d + n - 4, &b, 4);
    }
    return;
  }
  dst.clear();
  dst.append(v.data(), n);
}

/// ASCII case-insensitive equality.
[[nodiscard]] inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != upper(b[i])) return false;
  }
  return true;
}

/// First p in [first, last) that is not ALPHA / DIGIT / "-" / "." (the octets of an ASCII
/// Domain), or last. SSE2: 16 octets per step; the tail is done with one overlapping load.
[[nodiscard]] inline const char* span_ldh_dot(const char* first, const char* last) noexcept {
  const char* p = first;
#if defined(__SSE2__)
  if (last - first >= 16) {
    const __m128i a_lo = _mm_set1_epi8('a' - 1);
    const __m128i z_hi = _mm_set1_epi8('z' + 1);
    const __m128i d_lo = _mm_set1_epi8('0' - 1);
    const __m128i d_hi = _mm_set1_epi8('9' + 1);
    const __m128i case_bit = _mm_set1_epi8(0x20);
    const __m128i hyphen = _mm_set1_epi8('-');
    const __m128i dot = _mm_set1_epi8('.');
    // Bit i set when octet i is not LDH or '.' (signed compares: 8-bit octets are negative).
    auto bad = [&](const char* q) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      const __m128i l = _mm_or_si128(v, case_bit);
      const __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(l, a_lo), _mm_cmpgt_epi8(z_hi, l));
      const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, d_lo), _mm_cmpgt_epi8(d_hi, v));
      const __m128i punct = _mm_or_si128(_mm_cmpeq_epi8(v, hyphen), _mm_cmpeq_epi8(v, dot));
      const __m128i ok = _mm_or_si128(_mm_or_si128(alpha, digit), punct);
      return static_cast<unsigned>(~_mm_movemask_epi8(ok)) & 0xFFFFu;
    };
    while (last - p >= 16) {
      if (const unsigned m = bad(p); m != 0) return p + __builtin_ctz(m);
      p += 16;
    }
    if (p == last) return last;
    // Overlapping load of the last 16 octets; ignore those already checked.
    const auto done = static_cast<unsigned>(16 - (last - p));
    if (const unsigned m = bad(last - 16) >> done; m != 0) return p + __builtin_ctz(m);
    return last;
  }
#endif
  while (p != last && (is(*p, kLdh) || *p == '.')) ++p;
  return p;
}

/// Length of a well-formed UTF8-non-ascii sequence (RFC 3629 / RFC 6532) at `s[pos]`, or 0
/// when `s[pos]` is ASCII or starts a malformed, overlong, surrogate or out-of-range sequence.
[[nodiscard]] std::size_t utf8_length(std::string_view s, std::size_t pos) noexcept;

/// Which reverse/forward path form is being parsed.
enum class PathKind : std::uint8_t {
  reverse,  ///< MAIL / SEND / SOML / SAML: "<>" allowed
  forward,  ///< RCPT: "<Postmaster>" allowed
};

/// A grammar pass over one text (a command line, or the argument of parse_path/parse_mailbox).
class Grammar {
 public:
  static constexpr std::size_t npos = std::string_view::npos;

  Grammar(std::string_view text, std::uint64_t base, const CommandOptions& opt,
          std::vector<Diagnostic>& errors) noexcept
      : s(text), base_(base), opt_(opt), errors_(errors) {}

  /// Record a grammar error at s[pos] (pos may be s.size()). An 8-bit octet there becomes
  /// errc::non_ascii when SMTPUTF8 is off, or keeps `code` with a UTF-8 reason when the
  /// sequence is malformed. Always returns npos.
  std::size_t fail(std::size_t pos, errc code, std::string_view reason);
  /// Record a diagnostic as is (limits, duplicates).
  void add(std::size_t pos, errc code, std::string reason);

  [[nodiscard]] bool at(std::size_t pos, char c) const noexcept {
    return pos < s.size() && s[pos] == c;
  }
  [[nodiscard]] const CommandOptions& options() const noexcept { return opt_; }
  [[nodiscard]] std::uint64_t offset(std::size_t pos) const noexcept { return base_ + pos; }

  /// Domain = sub-domain *("." sub-domain); U-labels when SMTPUTF8. Errors use `code`.
  std::size_t domain(std::size_t pos, errc code = errc::bad_domain);
  /// address-literal = "[" ( IPv4 / "IPv6:" IPv6-addr / General-address-literal ) "]".
  std::size_t address_literal(std::size_t pos);
  /// Domain / address-literal, with the §4.5.3.1.2 length check.
  std::size_t domain_or_literal(std::size_t pos);
  /// Local-part = Dot-string / Quoted-string, with the §4.5.3.1.1 length check.
  std::size_t local_part(std::size_t pos);
  /// Mailbox = Local-part "@" ( Domain / address-literal ); fills out->local_part, ->domain.
  std::size_t mailbox(std::size_t pos, Path* out);
  /// Path = "<" [ A-d-l ":" ] Mailbox ">" (plus "<>" / "<Postmaster>" by kind), with the
  /// §4.5.3.1.3 length check.
  std::size_t path(std::size_t pos, PathKind kind, Path* out);
  /// String = Atom / Quoted-string (VRFY, EXPN, HELP, NOOP).
  std::size_t string_arg(std::size_t pos, errc code);
  /// Atom = 1*atext (UTF-8 when SMTPUTF8); `what` names the production in reasons.
  std::size_t atom(std::size_t pos, errc code, std::string_view what);
  /// Quoted-string = DQUOTE *QcontentSMTP DQUOTE (s[pos] must be DQUOTE).
  std::size_t quoted_string(std::size_t pos, errc code);
  /// Snum 3("." Snum), Snum = 1*3DIGIT with value <= 255.
  std::size_t ipv4(std::size_t pos, errc code);
  /// IPv6-addr over [pos, end): full, comp, v4-full, v4-comp.
  bool ipv6(std::size_t pos, std::size_t end);
  /// Length check helper: `len` > `limit` gives `code` at pos + limit.
  void check_length(std::size_t pos, std::size_t len, std::size_t limit, errc code,
                    const char* what) {
    if (len > limit) [[unlikely]]
      length_error(pos, len, limit, code, what);
  }

  const std::string_view s;

 private:
  void length_error(std::size_t pos, std::size_t len, std::size_t limit, errc code,
                    const char* what);

  std::uint64_t base_;
  const CommandOptions& opt_;
  std::vector<Diagnostic>& errors_;
};

}  // namespace smtp::detail
