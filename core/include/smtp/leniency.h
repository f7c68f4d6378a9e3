/// @file leniency.h
/// @brief Named tolerances. Strict by default: every one is opt-in and recorded when it fires.
///
/// Accepting bare LF as a line end is how SMTP smuggling happened (CVE-2023-51764/5/6):
/// enable these only to interoperate with a known-broken peer, never on a receiving server.
#pragma once

#include <cstdint>

namespace smtp {

enum class Tolerance : std::uint8_t {
  bare_lf = 0,     ///< RISK: smuggling. A bare LF ends a line (as if it were CRLF).
  bare_cr,         ///< RISK: smuggling. A bare CR inside a line is kept as data, not an error.
  nul,             ///< A NUL byte inside a line is kept as data, not an error.
  long_line,       ///< A line over its RFC limit (up to Limits::line_buffer_cap) is accepted.
  /// "MAIL FROM: <a@b>" / "RCPT TO: <a@b>": SP after the colon (RFC 5321 §4.1.2 allows none;
  /// many clients send it). Accepted as if absent.
  space_after_colon,
  /// "RSET ", "NOOP\t", "MAIL FROM:<a@b> ": SP / HTAB before the CRLF of a command line
  /// (not in the RFC 5321 §4.1.1 grammar; many clients send it). Ignored.
  trailing_whitespace,
  count_           ///< number of tolerances (not a tolerance)
};

/// The enumerator's name, e.g. "bare_lf".
[[nodiscard]] const char* to_string(Tolerance t) noexcept;

/// A set of tolerances. `Leniency{}` is strict.
class Leniency {
 public:
  constexpr Leniency() noexcept = default;
  constexpr Leniency& allow(Tolerance t) noexcept {
    bits_ |= bit(t);
    return *this;
  }
  [[nodiscard]] constexpr bool allows(Tolerance t) const noexcept { return (bits_ & bit(t)) != 0; }
  [[nodiscard]] constexpr std::uint32_t bits() const noexcept { return bits_; }
  [[nodiscard]] constexpr bool strict() const noexcept { return bits_ == 0; }
  friend constexpr bool operator==(Leniency, Leniency) noexcept = default;

 private:
  static constexpr std::uint32_t bit(Tolerance t) noexcept {
    return std::uint32_t{1} << static_cast<unsigned>(t);
  }
  std::uint32_t bits_ = 0;
};

/// Which tolerances actually fired, and the stream offset where each first did.
class ToleranceLog {
 public:
  void record(Tolerance t, std::uint64_t offset) noexcept {
    const auto i = static_cast<unsigned>(t);
    if ((fired_ & (1u << i)) == 0) first_[i] = offset;
    fired_ |= 1u << i;
  }
  [[nodiscard]] bool fired(Tolerance t) const noexcept {
    return (fired_ & (1u << static_cast<unsigned>(t))) != 0;
  }
  [[nodiscard]] bool any() const noexcept { return fired_ != 0; }
  /// Offset of the first firing; meaningful only when fired(t).
  [[nodiscard]] std::uint64_t first_offset(Tolerance t) const noexcept {
    return first_[static_cast<unsigned>(t)];
  }
  void clear() noexcept { fired_ = 0; }

 private:
  std::uint32_t fired_ = 0;
  std::uint64_t first_[static_cast<unsigned>(Tolerance::count_)] = {};
};

}  // namespace smtp
