/// @file cmd_parse.h
/// @brief `smtp-harness parse command|reply|ehlo|address|data [FILE|-]`: offline decoding of
///        SMTP bytes with the core parsers, as JSON Lines (default) or the golden event log.
///
/// Input modes:
///  - raw (default): the input is a byte stream; one JSON object per unit found: commands one
///    per line (CommandParser), replies one per reply (ReplyParser; stops at the first fatal
///    error, which is reported as a last object), ehlo one per reply (each through parse_ehlo),
///    addresses one per LF-separated line (a trailing CR is stripped), data the DataDecoder over
///    the whole input (one object). Raw-mode objects also carry "offset" and "length".
///  - --jsonl: each input line is a JSON string holding the exact bytes of one unit (JSON
///    escapes let CR, LF and NUL be written; the bytes must be valid UTF-8, as JSON requires).
///    For command, reply and ehlo units a missing final CRLF is supplied (so "NOOP" means
///    "NOOP\r\n"; "NOOP\n" stays a bare LF). A line that is not a JSON string gives
///    {"ok":false,"errors":[{"code":"bad_input",...}]} and parsing goes on. Output is one object
///    per input line, in input order.
///  - --log: the golden event log of tools/cli/parse_log.h instead of JSON (raw mode only).
///
/// Strings in the JSON output are UTF-8; bytes that are not valid UTF-8 become U+FFFD. For
/// data, "message" is that lossy text and "message_b64" the exact decoded bytes (base64,
/// RFC 4648 with padding).
///
/// Exit codes: 0 whatever the input holds (malformed input is reported in the output); 2 for a
/// bad flag (CLI11) or an input file that cannot be read.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/command.h"
#include "smtp/dot_stuffing.h"
#include "smtp/ehlo.h"
#include "smtp/error.h"
#include "smtp/reply.h"

namespace smtp::cli {

struct ParseOptions {
  std::string kind;             ///< command | reply | ehlo | address | data
  std::string input = "-";      ///< file, or "-" for stdin
  bool jsonl = false;           ///< input is JSON Lines, one JSON string per unit
  bool log = false;             ///< print the golden event log instead of JSON
  std::size_t chunk = 0;        ///< raw mode: feed the parser in chunks of this size (0: whole)
  bool smtputf8 = false;        ///< RFC 6531 UTF-8 addresses (command, address)
  std::vector<std::string> allow;  ///< Leniency flags by name (to_string(Tolerance)), e.g. bare_lf
};

/// Parse `input` per `opt` and append the output (JSON Lines or the log) to `out`. Pure: no
/// I/O. Returns the exit code (0, or 2 for an unknown kind or tolerance name).
int parse_bytes(const ParseOptions& opt, std::string_view input, std::string& out);

/// Read opt.input, run parse_bytes, write stdout; errors to stderr. Returns the exit code.
int run_parse(const ParseOptions& opt);

/// JSON builders (one object per unit), exposed for tests.
nlohmann::ordered_json diagnostic_json(const Diagnostic& d, std::uint64_t base = 0);
nlohmann::ordered_json command_json(const Command& c);
nlohmann::ordered_json reply_json(const Reply* r, const std::vector<Diagnostic>& errors);
nlohmann::ordered_json ehlo_json(const Reply* r, const std::vector<Diagnostic>& errors);
nlohmann::ordered_json address_json(const PathResult& r, std::size_t input_size);
nlohmann::ordered_json data_json(const DataDecoder& d, std::string_view message,
                                 std::uint64_t trailing);

/// RFC 4648 base64 with padding.
std::string base64_encode(std::string_view bytes);

}  // namespace smtp::cli
