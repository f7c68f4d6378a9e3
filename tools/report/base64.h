/// @file base64.h
/// @brief RFC 4648 §4 base64 (with padding), for AUTH responses, binary transcript entries and
///        secret redaction.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smtp::report {

/// Standard alphabet, '=' padding, no line breaks.
[[nodiscard]] std::string base64_encode(std::string_view bytes);

/// Strict decoding (standard alphabet, correct padding, no whitespace); nullopt on error.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

}  // namespace smtp::report
