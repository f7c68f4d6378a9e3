/// @file error.h
/// @brief Error codes for malformed input and API misuse, and Diagnostic (code + byte offset).
///
/// Three channels are kept apart in smtp-harness (see STYLE.md §9.4):
///  - `smtp::errc` / `std::error_code`: what is wrong with some input;
///  - `Diagnostic`: an errc pinned to a byte offset in the stream, with a human reason;
///  - session `Violation` events: a peer breaking the protocol (a finding, not an error).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace smtp {

/// Every way input can be malformed. Values are stable (they appear in reports by name).
enum class errc : std::uint8_t {
  // Line framing (RFC 5321 §2.3.8, §4.5.3.1).
  line_too_long = 1,        ///< a line exceeds its limit (command/reply 512, text 1000, incl. CRLF)
  bare_lf,                  ///< LF not preceded by CR
  bare_cr,                  ///< CR not followed by LF
  nul_byte,                 ///< NUL (0x00) in a line
  unexpected_eof,           ///< the stream ended inside a line or a multi-line reply
  // Replies (RFC 5321 §4.2).
  bad_reply_code,           ///< not three digits, or not followed by SP, "-" or CRLF
  reply_code_out_of_range,  ///< first digit not 2-5 or second digit not 0-5 (§4.2.1)
  multiline_code_mismatch,  ///< a continuation line has another code than the first (§4.2.1)
  too_many_reply_lines,     ///< more lines in one reply than Limits::reply_lines
  bad_enhanced_status,      ///< malformed RFC 3463 status where one was expected
  enhanced_status_mismatch, ///< enhanced class differs from the basic code's first digit
  // Commands (RFC 5321 §4.1).
  unknown_command,          ///< verb not recognised
  bad_command_syntax,       ///< verb recognised, arguments do not match its grammar
  bad_path,                 ///< reverse-path / forward-path syntax (§4.1.2)
  bad_local_part,           ///< Dot-string / Quoted-string (§4.1.2)
  bad_domain,               ///< Domain (§4.1.2)
  bad_address_literal,      ///< IPv4 / IPv6 / General-address-literal (§4.1.3)
  bad_parameter,            ///< esmtp-keyword[=esmtp-value] syntax (§4.1.2)
  duplicate_parameter,      ///< the same Mail-/Rcpt-parameter keyword twice
  local_part_too_long,      ///< > 64 octets (§4.5.3.1.1)
  domain_too_long,          ///< > 255 octets (§4.5.3.1.2)
  path_too_long,            ///< > 256 octets (§4.5.3.1.3)
  non_ascii,                ///< 8-bit octets where only ASCII is allowed (RFC 6531 not enabled)
  // Mail data (RFC 5321 §4.1.1.4, §4.5.2).
  text_line_too_long,       ///< a text line of mail data over 1000 octets incl. CRLF
  non_canonical_end_of_data,///< a byte sequence some MTAs take as end of data (SMTP smuggling)
  // EHLO (RFC 5321 §4.1.1.1).
  bad_capability,           ///< malformed ehlo-line
  duplicate_capability,     ///< the same keyword advertised twice
  // Sessions.
  out_of_sequence,          ///< command or reply not allowed in this state (§4.1.4, §4.3.2)
  unsolicited_reply,        ///< a reply with no command waiting for it
  reply_not_allowed,        ///< reply code not in the §4.3.2 set for its command
  invalid_argument,         ///< API misuse: the caller passed something unusable
};

/// The enumerator's name, e.g. "bare_lf". Never null.
[[nodiscard]] const char* to_string(errc e) noexcept;

[[nodiscard]] const std::error_category& smtp_category() noexcept;
[[nodiscard]] std::error_code make_error_code(errc e) noexcept;

/// An error pinned to a byte: `offset` counts octets from the start of the stream (or of the
/// unit, for single-unit parses). `reason` is one human sentence.
struct Diagnostic {
  errc code{};
  std::uint64_t offset = 0;
  std::string reason;

  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

}  // namespace smtp

template <>
struct std::is_error_code_enum<smtp::errc> : std::true_type {};
