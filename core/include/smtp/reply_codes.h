/// @file reply_codes.h
/// @brief What reply codes mean (RFC 5321 §4.2.2, §4.2.3) and which codes each command may get
///        (§4.3.2, with the additions of the extension RFCs). One table, used by the sessions,
///        the ServerModel oracle, the runner and the fuzzers.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "smtp/command.h"

namespace smtp {

/// Text of §4.2.2 for a code ("Requested mail action okay, completed" for 250), or of the
/// extension RFC that defines it (334 RFC 4954, 530/534/535/538 RFC 4954, 555 RFC 5321 §4.1.1.11
/// ...); nullptr for codes no RFC in scope defines.
[[nodiscard]] const char* reply_code_meaning(std::uint16_t code) noexcept;

/// The §4.3.2 row of one command: "S:" success, "I:" intermediate, "E:" error codes.
/// Codes from extensions are included where that extension applies to the command (e.g. 552
/// for MAIL via RFC 1870, 530 via RFC 4954, 555 via §4.1.1.11), each listed in `sources`.
struct ReplyRow {
  Verb verb = Verb::unknown;
  std::span<const std::uint16_t> success;
  std::span<const std::uint16_t> intermediate;
  std::span<const std::uint16_t> error;
  std::string_view rfc;      ///< e.g. "RFC5321#4.3.2"
  std::string_view sources;  ///< human note of the extension RFCs that add codes
};

/// Row for `verb`. Verb::unknown gives the row for unrecognised commands (500, 501, 502).
[[nodiscard]] const ReplyRow& reply_row(Verb verb) noexcept;
/// The connection-opening row: S: 220, E: 554 (§4.3.2 "CONNECTION ESTABLISHMENT").
[[nodiscard]] const ReplyRow& greeting_row() noexcept;
/// The row for the end of mail data (after CRLF.CRLF, or BDAT LAST): S: 250, E: 552 554 451 452
/// (+ 550 via §4.2.5 / RFC 3030).
[[nodiscard]] const ReplyRow& data_end_row() noexcept;

enum class ReplyKind : std::uint8_t { success, intermediate, error, not_allowed };
/// How `code` fits `row`. 421 (§3.8: service shutting down) is allowed for every command as
/// an error; codes in none of the sets are not_allowed.
[[nodiscard]] ReplyKind classify_reply(const ReplyRow& row, std::uint16_t code) noexcept;

}  // namespace smtp
