/// @file command.h
/// @brief RFC 5321 §4.1 commands (plus STARTTLS, AUTH, BDAT, ETRN, ATRN): types, parser,
///        serializer, and the §4.1.2 path/mailbox grammar.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/error.h"
#include "smtp/leniency.h"
#include "smtp/limits.h"
#include "smtp/line_framer.h"

namespace smtp {

/// Every verb in scope. `unknown` = not recognised (the server answers 500).
enum class Verb : std::uint8_t {
  unknown = 0,
  helo, ehlo, mail, rcpt, data, rset, vrfy, expn, help, noop, quit,  // RFC 5321 §4.1.1
  send, soml, saml, turn,                                            // RFC 821, legacy
  starttls,                                                          // RFC 3207
  auth,                                                              // RFC 4954
  bdat,                                                              // RFC 3030
  etrn,                                                              // RFC 1985
  atrn,                                                              // RFC 2645 (ODMR)
  count_
};

/// Upper-case name ("MAIL"); "" for unknown.
[[nodiscard]] std::string_view to_string(Verb v) noexcept;
/// Case-insensitive lookup of a verb word; Verb::unknown when not a verb.
[[nodiscard]] Verb verb_from_string(std::string_view word) noexcept;

/// esmtp-param = esmtp-keyword ["=" esmtp-value]. Keyword stored upper case.
struct Param {
  std::string keyword;
  std::optional<std::string> value;
  friend bool operator==(const Param&, const Param&) = default;
};

/// A mailbox with its source route: Path = "<" [ A-d-l ":" ] Mailbox ">" (§4.1.2).
struct Path {
  bool null = false;         ///< "<>": the null reverse-path (MAIL only)
  bool postmaster = false;   ///< "<Postmaster>" with no domain (RCPT only, §4.1.1.3)
  std::vector<std::string> source_route;  ///< domains of "@a,@b:" (accepted and ignored)
  std::string local_part;    ///< as on the wire: Dot-string, or Quoted-string with its quotes
  std::string domain;        ///< Domain, or address literal with its brackets ("[127.0.0.1]")

  /// "local@domain"; "" for the null path; for bare postmaster its local part as received
  /// ("Postmaster" when local_part is empty).
  [[nodiscard]] std::string address() const;
  /// "<...>" wire form, source route included.
  [[nodiscard]] std::string serialize() const;
  friend bool operator==(const Path&, const Path&) = default;
};

struct Command {
  Verb verb = Verb::unknown;
  std::string verb_text;   ///< the verb word as received (case kept)
  /// Whole argument text after the verb and its SP: HELO/EHLO domain, VRFY/EXPN string,
  /// HELP/NOOP argument, ETRN node, ATRN domains; for MAIL/RCPT the text after "FROM:"/"TO:".
  std::string argument;
  std::optional<Path> path;          ///< MAIL reverse-path / RCPT forward-path
  std::vector<Param> params;         ///< Mail-/Rcpt-parameters, in order
  // AUTH (RFC 4954 §4)
  std::string mechanism;                      ///< upper case
  std::optional<std::string> initial_response;  ///< "=" means empty
  // BDAT (RFC 3030 §2)
  std::uint64_t chunk_size = 0;
  bool last = false;

  std::uint64_t offset = 0;      ///< stream offset of the command line
  std::uint64_t wire_size = 0;   ///< octets incl. CRLF
  /// Grammar and limit violations; empty means valid per RFC 5321 and the extension RFCs.
  /// Sorted by offset (stable).
  std::vector<Diagnostic> errors;
  /// Tolerances (CommandOptions::lenient) that fired on this line, at stream offsets.
  ToleranceLog tolerances;

  [[nodiscard]] bool ok() const noexcept { return errors.empty() && verb != Verb::unknown; }
  [[nodiscard]] const Param* param(std::string_view keyword) const noexcept;  ///< case-insens.
};

struct CommandOptions {
  Limits limits{};
  Leniency lenient{};
  bool smtputf8 = false;  ///< RFC 6531: UTF-8 in local parts and domains (U-labels)
};

/// Parse one command line. `line` is the text without its CRLF; `wire_size` the octets it
/// took on the wire (for the 512 limit; default line.size() + 2); `offset` where it started.
/// Bare CR / LF / NUL inside `line` are reported at their offsets. Grammar errors stop the
/// parse of the production they occur in; limit errors (§4.5.3.1) do not, so e.g. an
/// over-long mailbox is still in `path`. Errors: unknown_command, bad_command_syntax, bad_path,
/// bad_local_part, bad_domain, bad_address_literal, bad_parameter, duplicate_parameter,
/// local_part_too_long, domain_too_long, path_too_long, line_too_long, non_ascii, bare_cr,
/// bare_lf, nul_byte. Never throws on input.
/// @see RFC 5321 §4.1.1, §4.1.2, §4.5.3.1
[[nodiscard]] Command parse_command_line(std::string_view line, const CommandOptions& opt = {},
                                         std::uint64_t offset = 0,
                                         std::uint64_t wire_size = kNoOffset);
/// Same, from a framed Line (its bare CR/LF/NUL/over_limit become errors, LineEnding::eof
/// becomes unexpected_eof). For a `cut` line the truncated text is parsed and grammar errors
/// at the cut itself are dropped (they only say the line went on).
[[nodiscard]] Command parse_command(const Line& line, const CommandOptions& opt = {});

/// Parse a Path ("<...>") per §4.1.2; `for_mail` allows "<>", `!for_mail` allows
/// "<Postmaster>". Errors carry offsets relative to the start of `s`. Octets after the path
/// (`consumed`) are not examined. `path` is set when the grammar matched (limit errors may
/// still be present). @see RFC 5321 §4.1.2, §4.1.3
struct PathResult {
  std::optional<Path> path;
  std::vector<Diagnostic> errors;
  std::size_t consumed = 0;  ///< octets of `s` that formed the path
};
[[nodiscard]] PathResult parse_path(std::string_view s, bool for_mail,
                                    const CommandOptions& opt = {});
/// Parse a bare Mailbox ("local@domain", no brackets), e.g. for `parse address`. All of `s`
/// must be the mailbox: trailing octets are a bad_domain error and leave `path` empty.
[[nodiscard]] PathResult parse_mailbox(std::string_view s, const CommandOptions& opt = {});

/// Wire form incl. CRLF. For every c with c.ok(): parse_command_line(strip(serialize(c)))
/// reproduces c (verb, path, params, argument, mechanism, response, size, last). The output
/// is canonical (upper-case verb, "FROM:"/"TO:", keywords, LAST; no leading zeros; no SP after
/// the colon), so `argument` is reproduced octet for octet when the input was canonical, and
/// serialize() of the re-parsed command is always the same string.
[[nodiscard]] std::string serialize(const Command& c);

/// Stream parser for a server: lines via LineFramer, each parsed with parse_command.
class CommandParser {
 public:
  explicit CommandParser(CommandOptions opt = {});
  void feed(std::string_view bytes);
  void feed_eof() noexcept;
  [[nodiscard]] std::optional<Command> next();
  /// Same as next(), into `out`, reusing its strings' and vectors' storage: a server loop
  /// that keeps one Command allocates nothing per command in the steady state.
  /// @return false when more input is needed (`out` is then unchanged).
  [[nodiscard]] bool next(Command& out);
  [[nodiscard]] LineFramer& framer() noexcept { return framer_; }
  [[nodiscard]] const CommandOptions& options() const noexcept { return opt_; }
  /// Every tolerance that fired so far, in the framer (bare_lf line ends, ...) or in the
  /// command grammar (space_after_colon, ...), each at its first stream offset.
  [[nodiscard]] ToleranceLog tolerances() const noexcept;
  void reset();

 private:
  CommandOptions opt_;
  LineFramer framer_;
  ToleranceLog fired_;  // tolerances recorded by parse_command, merged by tolerances()
};

}  // namespace smtp
