/// @file enhanced_status.h
/// @brief RFC 3463 enhanced mail system status codes (class.subject.detail), RFC 2034 usage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smtp {

struct EnhancedStatus {
  std::uint8_t klass = 0;     ///< 2, 4 or 5 (RFC 3463 §3.1)
  std::uint16_t subject = 0;  ///< 0-999 (1-3 digits)
  std::uint16_t detail = 0;   ///< 0-999 (1-3 digits)

  /// "2.1.0"
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const EnhancedStatus&, const EnhancedStatus&) = default;
};

/// Parse exactly "class.subject.detail" (the whole view, nothing else). RFC 3463 §2:
/// class is 2/4/5; subject and detail are 1-3 digits without leading zeros... except "0".
[[nodiscard]] std::optional<EnhancedStatus> parse_enhanced_status(std::string_view s) noexcept;

/// If `text` (a reply line after "NNN-"/"NNN ") begins with an enhanced status code followed
/// by SP or end of text (RFC 2034 §4), return it and its length in octets.
struct EnhancedPrefix {
  EnhancedStatus status;
  std::size_t length = 0;
};
[[nodiscard]] std::optional<EnhancedPrefix> enhanced_status_prefix(std::string_view text) noexcept;

/// Registered name of subject.detail (RFC 3463 §3 and the IANA registry), e.g. 1.1 ->
/// "Bad destination mailbox address"; nullptr when unregistered.
[[nodiscard]] const char* enhanced_status_name(std::uint16_t subject, std::uint16_t detail) noexcept;

}  // namespace smtp
