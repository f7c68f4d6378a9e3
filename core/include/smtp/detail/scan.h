/// @file detail/scan.h
/// @brief memchr-class scanning for several byte values at once (SSE2, portable fallback).
///
/// The hot loops of the framer and the DataDecoder need "first CR, LF or NUL": three memchr
/// calls would read the buffer three times, a byte loop is ~6x slower than memchr. SSE2 compares
/// 16 bytes against each needle and merges the masks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace smtp::detail {

/// First p in [first, last) with *p == a || *p == b, or last.
inline const char* find_any2(const char* first, const char* last, char a, char b) noexcept {
#if defined(__SSE2__)
  const __m128i va = _mm_set1_epi8(a);
  const __m128i vb = _mm_set1_epi8(b);
  while (last - first >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(first));
    const int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)));
    if (m != 0) return first + __builtin_ctz(static_cast<unsigned>(m));
    first += 16;
  }
#endif
  for (; first != last; ++first) {
    if (*first == a || *first == b) return first;
  }
  return last;
}

/// First p in [first, last) with *p equal to a, b or c, or last.
inline const char* find_any3(const char* first, const char* last, char a, char b,
                             char c) noexcept {
#if defined(__SSE2__)
  const __m128i va = _mm_set1_epi8(a);
  const __m128i vb = _mm_set1_epi8(b);
  const __m128i vc = _mm_set1_epi8(c);
  while (last - first >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(first));
    const __m128i eq = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
                                    _mm_cmpeq_epi8(v, vc));
    const int m = _mm_movemask_epi8(eq);
    if (m != 0) return first + __builtin_ctz(static_cast<unsigned>(m));
    first += 16;
  }
#endif
  for (; first != last; ++first) {
    if (*first == a || *first == b || *first == c) return first;
  }
  return last;
}

/// First CR, LF or NUL in [first, last), or last.
inline const char* find_line_special(const char* first, const char* last) noexcept {
  return find_any3(first, last, '\r', '\n', '\0');
}

}  // namespace smtp::detail
