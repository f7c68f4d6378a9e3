/// @file fuzz_common.h
/// @brief Shared helpers of the fuzz targets: input chunking, limits, invariant checks.
///
/// Input convention (every target): the whole fuzz input is the payload, so recorded SMTP
/// transcripts are valid seeds as they are. Options are read from the input's last bytes
/// without removing them (FuzzedDataProvider reads from the end too, but consumes):
///  - flags  = last byte XOR '\n'; a seed ending in CR LF therefore selects flags 0, the
///             default (strict) mode;
///  - chunks = the up to 8 bytes before it, used cyclically: chunk size 1 + (b & 0x3f),
///             bit 7 of b set = do not pull results after this feed (pull only at the end).
///  - flags bit 7 = feed byte by byte instead.
/// Under ASan only the chunk being fed is addressable (the rest is poisoned), so a parser
/// reading past a chunk or keeping a view into caller memory after feed() is caught.
///
/// Works with GCC and clang, with libFuzzer or the replay main (standalone_main.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "smtp/limits.h"

// Manual ASan poisoning (no-ops without ASan, e.g. GCC replay builds or MSan on OSS-Fuzz).
#if defined(__SANITIZE_ADDRESS__)
#define SMTPH_FUZZ_HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SMTPH_FUZZ_HAS_ASAN 1
#endif
#endif
#if defined(SMTPH_FUZZ_HAS_ASAN)
#include <sanitizer/asan_interface.h>
#define SMTPH_FUZZ_POISON(p, n) __asan_poison_memory_region((p), (n))
#define SMTPH_FUZZ_UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define SMTPH_FUZZ_POISON(p, n) ((void)0)
#define SMTPH_FUZZ_UNPOISON(p, n) ((void)0)
#endif

/// Harness-only code (reference models, comparisons) need not steer libFuzzer: leave it
/// without coverage instrumentation (clang), which keeps exec/s close to the code under test.
#if defined(__clang__)
#define SMTPH_FUZZ_HARNESS __attribute__((no_sanitize("coverage")))
#else
#define SMTPH_FUZZ_HARNESS
#endif

namespace smtp::fuzz {

inline constexpr std::uint8_t kBytewise = 0x80;

/// Limits used by every target. Under SMTPH_FUZZING (set by fuzz/CMakeLists.txt on every
/// target) the caps that inputs of max_len 4096 could never reach are shrunk, so their code
/// paths get exercised; the RFC 5321 §4.5.3.1 limits themselves stay.
inline Limits fuzz_limits() {
  Limits l;
#if defined(SMTPH_FUZZING)
  l.line_buffer_cap = 1024;
  l.reply_lines = 16;
  l.recipients = 8;
#endif
  return l;
}

/// Input bytes as a view.
inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return size == 0 ? std::string_view{}
                   : std::string_view(reinterpret_cast<const char*>(data), size);
}

/// Chunk boundaries and flags from the input's last bytes (see the file comment).
class Chunker {
 public:
  explicit Chunker(std::string_view data) {
    if (data.empty()) return;
    flags_ = static_cast<std::uint8_t>(static_cast<unsigned char>(data.back()) ^ 0x0au);
    const std::size_t n = data.size() - 1 < 8 ? data.size() - 1 : 8;
    for (std::size_t i = 0; i < n; ++i) {
      tail_[i] = static_cast<unsigned char>(data[data.size() - 2 - i]);
    }
    tail_len_ = n;
  }

  [[nodiscard]] std::uint8_t flags() const noexcept { return flags_; }
  [[nodiscard]] bool flag(unsigned bit) const noexcept { return ((flags_ >> bit) & 1u) != 0; }
  /// A second byte of options (the byte before the last; 0 when absent).
  [[nodiscard]] std::uint8_t flags2() const noexcept { return tail_len_ > 0 ? tail_[0] : 0; }

  /// Call feed(std::string_view part) for consecutive parts of `input`, and pull() after each
  /// part unless that chunk's bit 7 says otherwise. A part is addressable only during its
  /// feed(): all parts live in one buffer, each at an 8-aligned offset, and under ASan
  /// everything but the part being fed is poisoned.
  template <class Feed, class Pull>
  void split(std::string_view input, Feed&& feed, Pull&& pull) const {
    if (input.empty()) return;
    // One buffer for all parts, each at an 8-aligned offset (ASan's shadow granularity).
    std::size_t cap = 0;
    for_each_part(input.size(), [&](std::size_t len, bool) { cap += (len + 7) & ~std::size_t{7}; });
    std::unique_ptr<char[]> buf(new char[cap]);
    poison(buf.get(), cap);
    std::size_t pos = 0;
    std::size_t at = 0;
    for_each_part(input.size(), [&](std::size_t len, bool pull_now) {
      char* part = buf.get() + at;
      unpoison(part, len);
      std::memcpy(part, input.data() + pos, len);
      feed(std::string_view(part, len));
      poison(part, len);
      pos += len;
      at += (len + 7) & ~std::size_t{7};
      if (pull_now) pull();
    });
    unpoison(buf.get(), cap);
  }

 private:
  /// f(length, pull_after) for each part of an input of `size` octets.
  template <class F>
  void for_each_part(std::size_t size, F&& f) const {
    std::size_t pos = 0;
    std::size_t k = 0;
    while (pos < size) {
      std::size_t len = 1;
      bool pull_now = true;
      if ((flags_ & kBytewise) == 0 && tail_len_ > 0) {
        const unsigned char b = tail_[k++ % tail_len_];
        len = 1 + (b & 0x3fu);
        pull_now = (b & 0x80u) == 0;
      }
      if (len > size - pos) len = size - pos;
      f(len, pull_now);
      pos += len;
    }
  }

  static void poison(const char* p, std::size_t n) noexcept {
    SMTPH_FUZZ_POISON(p, n);
    (void)p;
    (void)n;
  }
  static void unpoison(const char* p, std::size_t n) noexcept {
    SMTPH_FUZZ_UNPOISON(p, n);
    (void)p;
    (void)n;
  }

  std::uint8_t flags_ = 0;
  unsigned char tail_[8] = {};
  std::size_t tail_len_ = 0;
};

/// Printable form of bytes for failure messages: C escapes for control and 8-bit octets.
inline std::string escape(std::string_view s, std::size_t max = 2000) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      static const char* const kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

/// An invariant does not hold: say which, show both sides, abort (libFuzzer saves the input).
[[noreturn]] inline void fail(const char* what, std::string_view expected = {},
                              std::string_view got = {}) {
  std::fprintf(stderr, "\n*** smtp-harness fuzz invariant violated: %s\n", what);
  if (!expected.empty() || !got.empty()) {
    std::fprintf(stderr, "--- expected:\n%s\n--- got:\n%s\n", escape(expected).c_str(),
                 escape(got).c_str());
  }
  std::fflush(stderr);
  std::abort();
}

inline void check_equal(const char* what, std::string_view expected, std::string_view got) {
  if (expected != got) fail(what, expected, got);
}

#define SMTPH_FUZZ_CHECK(cond)                                                                     \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      ::smtp::fuzz::fail("SMTPH_FUZZ_CHECK(" #cond ") at " __FILE__ ":" SMTPH_FUZZ_STR(__LINE__)); \
  } while (0)
#define SMTPH_FUZZ_STR2(x) #x
#define SMTPH_FUZZ_STR(x) SMTPH_FUZZ_STR2(x)

/// Small append-only text log used to compare runs ("whole" vs "chunked").
class Log {
 public:
  Log& operator<<(std::string_view s) {
    text_.append(s.data(), s.size());
    return *this;
  }
  Log& operator<<(const char* s) {
    text_ += s;
    return *this;
  }
  Log& operator<<(char c) {
    text_.push_back(c);
    return *this;
  }
  Log& operator<<(std::uint64_t v) {
    text_ += std::to_string(v);
    return *this;
  }
  Log& operator<<(int v) {
    text_ += std::to_string(v);
    return *this;
  }
  Log& operator<<(unsigned v) {
    text_ += std::to_string(v);
    return *this;
  }
  Log& operator<<(bool v) {
    text_ += v ? "true" : "false";
    return *this;
  }
  /// Bytes, length-prefixed so that concatenations stay unambiguous.
  Log& bytes(std::string_view s) {
    text_ += std::to_string(s.size());
    text_ += ':';
    text_.append(s.data(), s.size());
    return *this;
  }
  [[nodiscard]] const std::string& str() const noexcept { return text_; }

 private:
  std::string text_;
};

}  // namespace smtp::fuzz
