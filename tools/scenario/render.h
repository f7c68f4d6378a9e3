/// @file render.h
/// @brief The exact bytes each sending step puts on the wire (pure; the runner writes them).
#pragma once

#include <string>
#include <vector>

#include "scenario/model.h"
#include "scenario/profile.h"
#include "scenario/variables.h"

namespace smtp::scenario {

/// A command line: the rendered template + CRLF ("EHLO client.example\r\n").
[[nodiscard]] std::string render_command(const Template& line, const Variables& vars);
[[nodiscard]] std::string render_raw(const RawStep& step, const Variables& vars);
/// Every line + CRLF, concatenated (one write).
[[nodiscard]] std::string render_pipeline(const PipelineStep& step, const Variables& vars);
/// "EHLO <domain>\r\n".
[[nodiscard]] std::string render_ehlo(const EhloStep& step, const Variables& vars);

/// The mail data after 354 (RFC 5321 §4.1.1.4, §4.5.2): structured = headers CRLF-joined, a
/// blank line, the body with every LF turned into CRLF (no headers: the body alone); raw =
/// the bytes as given. Dot-stuffed when step.dot_stuff (a "." at the start of the data or
/// after CRLF is doubled). Then the terminator: step.end if set, else ".\r\n" when the content
/// is empty or ends in CRLF, else "\r\n.\r\n".
[[nodiscard]] std::string render_data(const DataStep& step, const Variables& vars);

/// "BDAT <size>[ LAST]\r\n" + chunk (RFC 3030). Without bytes, the chunk is `size` octets of
/// filler text ("xxx...x\r\n" lines of 80 octets, the last one cut).
[[nodiscard]] std::string render_bdat(const BdatStep& step, const Variables& vars);

/// Dot-stuffing of RFC 5321 §4.5.2 (a line starts at offset 0 or after CRLF).
[[nodiscard]] std::string dot_stuff_bytes(std::string_view data);

/// An AUTH exchange (RFC 4954): the command, then one response line per 334 challenge, in
/// order. When the server sends more 334s than there are responses, the runner sends "*\r\n"
/// (cancel, RFC 4954 §4). Each string ends in CRLF.
struct AuthExchange {
  std::string command;                 ///< "AUTH PLAIN AGJlbmNoAGJlbmNocGFzcw==\r\n"
  std::vector<std::string> responses;  ///< base64 lines
  std::vector<std::string> secrets;    ///< what redact_secrets() must hide (see report/redact.h)
};
/// PLAIN: base64("\0" user "\0" password); LOGIN: base64(user), base64(password). With
/// credentials "invalid" the password is kInvalidPassword.
[[nodiscard]] AuthExchange render_auth(const AuthStep& step, const Profile& profile);

}  // namespace smtp::scenario
