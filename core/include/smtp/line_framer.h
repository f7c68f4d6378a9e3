/// @file line_framer.h
/// @brief Incremental CRLF line framing with limits; bare CR, bare LF and NUL detection.
///
/// RFC 5321 §2.3.8: lines end with CRLF, and a receiver MUST NOT recognise any other
/// terminator. Strictly, only CR LF ends a line: a bare LF or bare CR inside a line is kept in
/// the line's text and its offset reported, so the parser above can reject the line.
/// Tolerance::bare_lf makes a bare LF end a line (recorded in tolerances()).
///
/// Feeding contract (Beast/h11 style): feed() appends bytes, next_line() pulls one line.
/// "Need more input" is next_line() returning nullopt; it is not an error.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/leniency.h"

namespace smtp {

enum class LineEnding : std::uint8_t {
  crlf,  ///< CR LF (canonical)
  lf,    ///< bare LF accepted as a line end (Tolerance::bare_lf fired)
  eof,   ///< the stream ended with this partial line (no terminator)
  cut,   ///< the line exceeded its cap: text is truncated; the rest up to the next line end is
         ///< discarded by the framer without another Line
};

inline constexpr std::uint64_t kNoOffset = std::numeric_limits<std::uint64_t>::max();

struct Line {
  /// Line content without its terminator. Valid until the next feed(), feed_eof(), discard()
  /// or reset() on the framer that returned it.
  std::string_view text;
  std::uint64_t offset = 0;        ///< stream offset of the line's first byte
  std::uint64_t wire_size = 0;     ///< octets consumed incl. terminator (for cut: so far)
  LineEnding ending = LineEnding::crlf;
  bool over_limit = false;         ///< wire_size > the RFC limit the framer was given
  std::uint64_t bare_lf_at = kNoOffset;  ///< stream offset of the first bare LF kept in text
  std::uint64_t bare_cr_at = kNoOffset;  ///< stream offset of the first bare CR kept in text
  std::uint64_t nul_at = kNoOffset;      ///< stream offset of the first NUL in text

  [[nodiscard]] bool clean() const noexcept {
    return ending == LineEnding::crlf && !over_limit && bare_lf_at == kNoOffset &&
           bare_cr_at == kNoOffset && nul_at == kNoOffset;
  }
};

class LineFramer {
 public:
  /// @param limit  RFC limit in octets incl. CRLF (e.g. 512); longer lines are over_limit.
  /// @param cap    hard cap on a buffered line; with Tolerance::long_line the framer buffers up
  ///               to `cap` octets, otherwise up to `limit`; longer lines come out as `cut`.
  explicit LineFramer(std::size_t limit = 512, std::size_t cap = 64 * 1024,
                      Leniency lenient = {}) noexcept;

  /// Append bytes. Amortised O(n); memory stays bounded by the cap plus one feed.
  void feed(std::string_view bytes);
  /// The peer closed: a pending partial line comes out once with LineEnding::eof.
  void feed_eof() noexcept;
  /// Next complete line, or nullopt when more input is needed (or after eof).
  [[nodiscard]] std::optional<Line> next_line() noexcept;

  /// Bytes fed but not yet returned as lines (e.g. after DATA or BDAT, for another decoder).
  /// Valid until the next non-const call.
  [[nodiscard]] std::string_view buffered() const noexcept {
    return std::string_view(buf_).substr(pos_);
  }
  /// Drop the first n buffered bytes (n <= buffered().size()); the offset advances by n.
  /// Inline: the reply parser's fast path calls it once per clean line.
  void discard(std::size_t n) noexcept {
    const std::size_t avail = buf_.size() - pos_;
    pos_ += n < avail ? n : avail;
    scanned_ = 0;
    bare_lf_at_ = bare_cr_at_ = nul_at_ = kNoOffset;
  }
  /// Whether the framer is dropping the rest of a cut line: buffered() does not start a line.
  /// (A caller taking clean lines straight from buffered() must then use next_line().)
  [[nodiscard]] bool in_cut_line() const noexcept { return discarding_; }
  /// Stream offset of the next unconsumed byte.
  [[nodiscard]] std::uint64_t offset() const noexcept { return base_offset_ + pos_; }
  /// Skip `n` stream octets consumed elsewhere (keeps offsets continuous across modes).
  void advance_offset(std::uint64_t n) noexcept { base_offset_ += n; }
  [[nodiscard]] bool eof() const noexcept { return eof_; }
  [[nodiscard]] const ToleranceLog& tolerances() const noexcept { return fired_; }
  /// Forget everything, offsets restart at 0.
  void reset() noexcept;

  [[nodiscard]] std::size_t limit() const noexcept { return limit_; }

 private:
  std::string buf_;
  std::size_t pos_ = 0;            // first unconsumed byte in buf_
  std::size_t scanned_ = 0;        // bytes of the current partial line already scanned
  std::uint64_t base_offset_ = 0;  // stream offset of buf_[0]
  std::size_t limit_;
  std::size_t cap_;
  Leniency lenient_;
  ToleranceLog fired_;
  bool eof_ = false;
  bool eof_done_ = false;
  bool discarding_ = false;        // dropping the rest of a cut line up to its line end
  bool discard_after_cr_ = false;
  // per-partial-line findings carried across feeds
  std::uint64_t bare_lf_at_ = kNoOffset;
  std::uint64_t bare_cr_at_ = kNoOffset;
  std::uint64_t nul_at_ = kNoOffset;
};

}  // namespace smtp
