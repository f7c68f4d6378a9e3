/// @file reply.h
/// @brief RFC 5321 §4.2 replies and the incremental ReplyParser.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/enhanced_status.h"
#include "smtp/error.h"
#include "smtp/leniency.h"
#include "smtp/limits.h"
#include "smtp/line_framer.h"

namespace smtp {

struct Reply {
  std::uint16_t code = 0;                  ///< RFC 5321 §4.2; same on every line (§4.2.1)
  /// Enhanced status of the first line (RFC 2034), when present and well-formed.
  std::optional<EnhancedStatus> enhanced;
  /// Text of each line after "NNN-" / "NNN " (empty for a bare "NNN"), enhanced code included.
  std::vector<std::string> lines;
  std::uint64_t offset = 0;                ///< stream offset of the reply's first byte
  std::uint64_t wire_size = 0;             ///< octets on the wire incl. every CRLF
  /// Non-fatal findings in an otherwise usable reply: enhanced status inconsistent across lines
  /// or with the basic code, tolerances that fired. Fatal ones stop the parser (see failed()).
  std::vector<Diagnostic> findings;

  [[nodiscard]] bool is_multiline() const noexcept { return lines.size() > 1; }
  [[nodiscard]] int klass() const noexcept { return code / 100; }
  /// The wire form: "NNN-text\r\n" ... "NNN text\r\n".
  [[nodiscard]] std::string serialize() const;
};

/// Build a reply from code, optional enhanced status and text lines (for servers and tests).
/// When `enhanced` is set, every line is prefixed with it (RFC 2034 §4).
[[nodiscard]] Reply make_reply(std::uint16_t code, std::vector<std::string> lines,
                               std::optional<EnhancedStatus> enhanced = std::nullopt);

/// Incremental reply parser.
///
/// Strict grammar (RFC 5321 §4.2): Reply-line = *( Reply-code "-" [ textstring ] CRLF )
///                                  Reply-code [ SP textstring ] CRLF
/// Checks: 3 digits, first 2-5 and second 0-5 (§4.2.1), the same code on every line, a line
/// limit (Limits::reply_line, 512), Limits::reply_lines lines per reply, CRLF only, no NUL.
/// Any of these stops the parser: failed() turns true and diagnostic() says what and where,
/// until reset(); input fed after that is dropped. Findings, in Reply::findings, do not stop
/// it: enhanced status problems (bad_enhanced_status, enhanced_status_mismatch), octets
/// outside textstring (non_ascii: 8-bit text as in UTF-8 greetings, or control characters),
/// and each tolerance that fired (bare_lf, bare_cr, nul_byte, line_too_long).
/// Every offset is a stream offset. Of several fatal problems in one line, framing comes
/// first (the lowest offset of line_too_long, bare_lf, bare_cr, nul_byte), then
/// too_many_reply_lines, then the code (bad_reply_code, reply_code_out_of_range,
/// multiline_code_mismatch).
/// @see RFC 5321 §4.2, §4.2.1, §4.5.3.1.5; RFC 2034 §4; RFC 3463 §2
class ReplyParser {
 public:
  explicit ReplyParser(Limits limits = {}, Leniency lenient = {});

  void feed(std::string_view bytes);
  /// Peer closed. A partial reply pending becomes an unexpected_eof error.
  void feed_eof();
  /// Next complete reply; nullopt when more input is needed or when failed().
  [[nodiscard]] std::optional<Reply> next();
  /// Same as next(), into `out`, reusing the capacity of its strings and vectors (no
  /// allocation per line in the steady state when the caller passes the same Reply back).
  /// Returns false (leaving `out` unspecified but valid) when more input is needed or failed().
  /// A reply split across feeds is kept inside the parser, so `out` may differ between calls.
  [[nodiscard]] bool next(Reply& out);

  [[nodiscard]] bool failed() const noexcept { return failed_; }
  [[nodiscard]] const Diagnostic& diagnostic() const noexcept { return diag_; }
  /// True when a reply has started but is not complete.
  [[nodiscard]] bool in_reply() const noexcept { return used_ != 0; }
  /// Bytes fed and not yet consumed (after a 220 to STARTTLS: the injected plaintext).
  [[nodiscard]] std::string_view buffered() const noexcept { return framer_.buffered(); }
  void discard_buffered() noexcept { framer_.discard(framer_.buffered().size()); }
  [[nodiscard]] std::uint64_t offset() const noexcept { return framer_.offset(); }
  [[nodiscard]] const ToleranceLog& tolerances() const noexcept { return framer_.tolerances(); }
  void reset();

 private:
  void take_clean_lines();
  void finish(Reply& out);
  void out_of_input(Reply& out);
  void finish_batch(const char* begin, const char* p, std::size_t n, bool last);
  void add_line(Reply& r, std::string_view body);
  bool consume(const Line& line);
  bool consume_text(std::string_view text, std::uint64_t offset, std::uint64_t wire_size,
                    bool clean_text);
  bool fail_line(std::string_view text, std::uint64_t offset);
  bool check_framing(const Line& line);
  void check_text(std::string_view body, std::uint64_t body_offset);
  void check_enhanced(std::string_view body, std::uint64_t body_offset, bool first);
  void note_enhanced(int what, std::string_view body, std::uint64_t body_offset, EnhancedStatus st);
  void fail(errc code, std::uint64_t offset, std::string reason);
  void recycle_partial() noexcept;

  Limits limits_;
  Leniency lenient_;
  LineFramer framer_;
  Reply partial_;                   // a reply split across feeds: lines [0, used_) so far
  std::size_t used_ = 0;            // lines of the reply under way (in *cur_ or partial_)
  std::vector<std::string> spare_;  // line strings parked for their heap capacity
  Reply* cur_ = &partial_;          // during next(): the reply being built (caller's or partial_)
  bool complete_ = false;           // *cur_ holds a whole reply
  bool failed_ = false;
  Diagnostic diag_;
};

/// Parse one whole reply from `bytes` (for `smtp-harness parse reply --jsonl` and tests).
/// `consumed` receives the number of octets used: the reply's wire size when bytes follow it.
/// Empty input, or input ending inside the reply, gives an unexpected_eof error.
struct ReplyParseResult {
  std::optional<Reply> reply;          ///< set when a complete, valid reply was found
  std::vector<Diagnostic> errors;      ///< fatal diagnostic (if any) + the reply's findings
  std::size_t consumed = 0;
};
[[nodiscard]] ReplyParseResult parse_reply(std::string_view bytes, Limits limits = {},
                                           Leniency lenient = {});

}  // namespace smtp
