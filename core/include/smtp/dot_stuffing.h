/// @file dot_stuffing.h
/// @brief DATA transparency (RFC 5321 §4.5.2): the dot-stuffing encoder and the incremental
///        DataDecoder with the exact end-of-data rule (§4.1.1.4) and SMTP-smuggling detection.
///
/// Only CR LF "." CR LF ends mail data. A line starts only after CR LF (strictly), so
/// "\n.\n" and the other sequences of FIELD.md §5 are content; the decoder reports each one it
/// sees, by name and offset, because some MTAs took them as end of data (SMTP smuggling).
///
/// Round-trip law: for every byte string m that is empty or ends in CR LF,
/// decode(dot_stuff(m)) == m. Any other m gets CR LF appended by the encoder (mail data is a
/// sequence of lines; RFC 5321 cannot carry a message that does not end in CR LF), so
/// decode(dot_stuff(m)) == m + "\r\n".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/error.h"
#include "smtp/leniency.h"
#include "smtp/limits.h"

namespace smtp {

/// The non-canonical end-of-data candidates of FIELD.md §5 (union of SEC Consult's scanner,
/// hannob/smtpsmug and the Postfix CR-collapsing variants), in that order.
enum class EodCandidate : std::uint8_t {
  lf_dot_lf = 0,        ///< "\n.\n"
  lf_dot_cr,            ///< "\n.\r"
  cr_dot_lf,            ///< "\r.\n"
  cr_dot_cr,            ///< "\r.\r"
  lf_dot_crlf,          ///< "\n.\r\n"
  crlf_dot_lf,          ///< "\r\n.\n"
  cr_dot_crlf,          ///< "\r.\r\n"
  crlf_dot_cr,          ///< "\r\n.\r"  (followed by something other than LF)
  crlf_nul_dot_crlf,    ///< "\r\n\0.\r\n"
  crlf_dot_nul_crlf,    ///< "\r\n.\0\r\n"
  crlf_dot_cr_crlf,     ///< "\r\n.\r\r\n"
  cr_crlf_dot_crlf,     ///< "\r\r\n.\r\n"
  cr_crlf_dot_cr_crlf,  ///< "\r\r\n.\r\r\n"
  count_
};
inline constexpr std::size_t kEodCandidateCount = static_cast<std::size_t>(EodCandidate::count_);

/// Short name as in smtpsmug ("lflf", "lfcr", "crlf", "crcr", "lfcrlf", "crlflf", "crcrlf",
/// "crlfcr", "nullbefore", "nullafter"), extended in the same style for the three Postfix
/// CR-collapsing variants ("crlfcrcrlf", "crcrlfcrlf", "crcrlfcrcrlf"). Never null;
/// "unknown" for an out-of-range value.
[[nodiscard]] const char* to_string(EodCandidate c) noexcept;
/// The exact byte sequence (empty for an out-of-range value).
[[nodiscard]] std::string_view eod_bytes(EodCandidate c) noexcept;
/// Inverse of to_string(EodCandidate) (exact, lower case); nullopt for an unknown name.
[[nodiscard]] std::optional<EodCandidate> eod_candidate_from_string(std::string_view name) noexcept;
/// The bit of `c` in DataDecoderOptions::accept_as_end.
[[nodiscard]] constexpr std::uint32_t eod_bit(EodCandidate c) noexcept {
  return std::uint32_t{1} << static_cast<unsigned>(c);
}

/// Message bytes -> DATA wire bytes: a "." is added before every line that starts with "."
/// (line start = start of data or after CR LF), CR LF is appended when m is non-empty and does
/// not end in CR LF, then ".\r\n".
[[nodiscard]] std::string dot_stuff(std::string_view message);

/// Incremental encoder: the same output as dot_stuff() for any split of the input.
class DotStuffer {
 public:
  /// Append the stuffed form of `chunk` to `out`.
  void encode(std::string_view chunk, std::string& out);
  /// Append the terminator (CR LF if needed, then ".\r\n") and reset.
  void finish(std::string& out);

 private:
  bool at_line_start_ = true;  // previous bytes ended with CR LF (or nothing yet)
  bool last_cr_ = false;       // previous byte was CR
  bool empty_ = true;
};

/// A finding inside mail data. offset is from the first byte fed to the decoder.
struct DataFinding {
  errc code{};                          ///< non_canonical_end_of_data, text_line_too_long,
                                        ///< bare_lf, bare_cr, nul_byte
  std::uint64_t offset = 0;
  std::optional<EodCandidate> candidate;  ///< for non_canonical_end_of_data
};

struct DataDecoderOptions {
  Limits limits{};
  /// Candidates to treat as end of data anyway. Only for emulating vulnerable servers
  /// (reference-server quirks); RISK: SMTP smuggling. Bit i = EodCandidate(i).
  std::uint32_t accept_as_end = 0;
  /// Cap on stored findings (the count of all findings keeps growing).
  std::size_t max_findings = 1024;
};

/// Incremental decoder of DATA wire bytes (RFC 5321 §4.1.1.4, §4.5.2).
///
/// Rules (all of them give the same result for any split of the input; the decoder holds back
/// at most the dot and three bytes after it across calls):
///  - A line starts at the first byte fed and right after CR LF (a bare LF or CR starts none).
///  - At a line start, "." CR LF ends the data (canonical end). Any other "." at a line start is
///    a stuffed dot and is dropped. Everything else is message content, kept byte-exact: bare
///    LF, bare CR and NUL included (each also reported: bare_lf / bare_cr at its offset, a CR
///    when the byte after it is known and is not LF; nul_byte).
///  - A text line longer than Limits::text_line octets incl. its CR LF, not counting a stuffed
///    dot (§4.5.3.1.6), is reported once, at the offset of its first byte, as soon as it has
///    one octet too many.
///  - Non-canonical end-of-data candidates. Each of the 13 sequences is "." between a line-break
///    part (LF, CR, CR LF, CR LF NUL or CR CR LF) and a trailer (LF, CR, CR LF, NUL CR LF or
///    CR CR LF), so every occurrence is anchored at one "." in the data. For each "." the
///    decoder considers every sequence (the 13 and the canonical CR LF "." CR LF) that occurs
///    with its dot at that "." and reports exactly ONE finding, the longest of them (it is
///    unique), with the offset of its first byte; nothing when the longest is the canonical
///    terminator itself. So "\r\n.\n" is reported once as crlf_dot_lf (not also as lf_dot_lf),
///    "\r\n.\r\r\n" once as crlf_dot_cr_crlf, the canonical "\r\n.\r\n" not at all, but
///    "\r\r\n.\r\n" (which is also a canonical end) as cr_crlf_dot_crlf. Overlapping
///    occurrences around different dots are reported separately ("\n.\n.\n": lf_dot_lf at 0
///    and at 2). crlf_dot_cr counts only when the byte after its CR is known and is not LF.
///    Only bytes up to the end of data count: a sequence that would extend past the end of data
///    is not considered.
///  - Findings are stored in the order they are decided (a sequence's finding comes after
///    the bare_lf / bare_cr / nul_byte findings of its own bytes), at most max_findings of
///    them; findings_total() counts all.
///  - accept_as_end (quirk emulation only): data ends at the FIRST point where an accepted
///    candidate is complete: the canonical terminator wins at its own dot; at one dot the
///    shortest complete accepted candidate wins (among those complete at the same byte, the
///    longest), except that an accepted lf_dot_cr or crlf_dot_cr right after CR LF waits for
///    the next byte (if it is LF, the canonical terminator ends the data instead; if not, that
///    byte is not consumed). The message is then every byte before the sequence's "."
///    (stuffed dots removed).
///    ended_by() names the accepted sequence; end_offset() is its first byte.
///  - decode() returns after the terminator; bytes after it are not consumed. The message of a
///    canonical end is everything before the final "." with the stuffed dots removed, so it
///    ends in CR LF (or is empty when the data starts with ".\r\n"). Never throws on input.
/// @see RFC 5321 §4.1.1.4, §4.5.2, §4.5.3.1.6
class DataDecoder {
 public:
  explicit DataDecoder(DataDecoderOptions opt = {});

  /// Decode from `in`, appending message bytes (dots unstuffed) to `out`. Stops right after
  /// the end-of-data line; returns octets consumed from `in` (the rest belongs to what
  /// follows, e.g. the next pipelined command). Once done(), consumes nothing.
  std::size_t decode(std::string_view in, std::string& out);
  [[nodiscard]] bool done() const noexcept { return done_; }
  /// Which sequence ended data: nullopt = canonical CRLF.CRLF (or not done).
  [[nodiscard]] std::optional<EodCandidate> ended_by() const noexcept { return ended_by_; }
  /// Stream offset (from the first byte fed) of the end-of-data sequence's first byte: the CR
  /// of CR LF "." CR LF (0 when the data starts with ".\r\n"), or the accepted candidate's
  /// first byte.
  [[nodiscard]] std::uint64_t end_offset() const noexcept { return end_offset_; }
  [[nodiscard]] const std::vector<DataFinding>& findings() const noexcept { return findings_; }
  [[nodiscard]] std::uint64_t findings_total() const noexcept { return findings_total_; }
  [[nodiscard]] std::uint64_t consumed() const noexcept { return consumed_; }
  [[nodiscard]] const DataDecoderOptions& options() const noexcept { return opt_; }
  void reset();

 private:
  enum class Step : std::uint8_t { next, end_before, end_after };
  Step step(char b, std::uint64_t off, const char* p, const char*& flush, std::string& out);
  const char* skim(const char* p, const char* first, const char* last, std::uint64_t base);
  void add(errc code, std::uint64_t offset, std::optional<EodCandidate> cand = std::nullopt);
  void finish_at(std::uint64_t end_offset, std::optional<EodCandidate> by);

  DataDecoderOptions opt_;
  std::vector<DataFinding> findings_;
  std::uint64_t findings_total_ = 0;
  std::uint64_t consumed_ = 0;
  std::uint64_t end_offset_ = 0;
  std::optional<EodCandidate> ended_by_;
  bool done_ = false;
  // Implementation state: a function of the bytes fed so far, never of how they were split.
  bool at_line_start_ = true;       // the next byte starts a line
  bool dot_pending_ = false;        // a "." after CR/LF/NUL (or at a line start) is undecided
  bool dot_line_start_ = false;     // ... and it is at a line start (stuffed or terminator)
  std::uint8_t post_len_ = 0;       // bytes after the pending dot, held back in post_
  char last_[3] = {'a', 'a', 'a'};  // last bytes, newest first ('a' = not CR/LF/NUL/none)
  char pre_[3] = {'a', 'a', 'a'};   // last_ as it was before the pending dot
  char post_[3] = {};
  std::uint64_t dot_off_ = 0;     // offset of the pending dot
  std::uint64_t line_start_ = 0;  // offset of the current text line's first byte
  std::uint64_t line_len_ = 0;    // its octets so far (a stuffed dot not counted)
};

}  // namespace smtp
