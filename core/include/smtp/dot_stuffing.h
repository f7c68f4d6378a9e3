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

/// Short name as in smtpsmug ("lflf", "lfcrlf", ...) extended for the rest ("crlf_nul_dot").
[[nodiscard]] const char* to_string(EodCandidate c) noexcept;
/// The exact byte sequence.
[[nodiscard]] std::string_view eod_bytes(EodCandidate c) noexcept;

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
  /// Stream offset (from the first byte fed) of the end-of-data sequence's first byte.
  [[nodiscard]] std::uint64_t end_offset() const noexcept { return end_offset_; }
  [[nodiscard]] const std::vector<DataFinding>& findings() const noexcept { return findings_; }
  [[nodiscard]] std::uint64_t findings_total() const noexcept { return findings_total_; }
  [[nodiscard]] std::uint64_t consumed() const noexcept { return consumed_; }
  void reset();

 private:
  DataDecoderOptions opt_;
  std::vector<DataFinding> findings_;
  std::uint64_t findings_total_ = 0;
  std::uint64_t consumed_ = 0;
  std::uint64_t end_offset_ = 0;
  std::optional<EodCandidate> ended_by_;
  bool done_ = false;
  // Implementation state (the decoder keeps a small window of the last bytes to recognise
  // sequences split across calls).
  std::uint64_t line_start_ = 0;   // offset where the current text line began
  std::uint32_t state_ = 0;
  char window_[8] = {};
  std::uint8_t window_len_ = 0;
  std::string pending_;  // bytes held back while a candidate sequence is undecided (< 8)
};

}  // namespace smtp
