/// @file stream_tracker.h
/// @brief Which replies the bytes a scenario sends ask for: the runner's bookkeeping that lets
///        the ServerModel oracle judge replies to raw bytes (send, raw, pipeline, data, bdat
///        steps), which ClientSession passes through unchecked.
///
/// The tracker follows the client's byte stream the way a server reads it: command lines end
/// at CRLF (RFC 5321 §2.3.8); after a DATA command the mail data runs until CRLF.CRLF
/// (§4.1.1.4; the CRLF ending the DATA line counts, so ".\r\n" right away ends empty data);
/// after "BDAT n" the next n octets are the chunk (RFC 3030 §2). Each command line and each
/// end of data becomes one Pending: what the next unanswered reply will answer. After a DATA
/// line the tracker assumes 354 until data_reply() says otherwise (bytes sent before the reply
/// arrives are taken as mail data, as a pipelining client means them); when that guess is
/// wrong the oracle may misjudge later replies of that connection (findings are warnings by
/// default). Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/command.h"
#include "smtp/session_state.h"

namespace smtp::run {

/// What one expected reply answers.
struct Pending {
  ReplyTo to = ReplyTo::raw;       ///< raw: unknown, the oracle does not judge it
  std::optional<Command> command;  ///< for ReplyTo::command / bdat / bdat_last
  std::uint64_t data_size = 0;     ///< ReplyTo::data_end: octets of mail data before "."
};

class StreamTracker {
 public:
  /// Longest command line kept for parsing; longer lines are parsed from their first octets
  /// (the verb is what matters) and still count as one command.
  static constexpr std::size_t kMaxLine = 64 * 1024;

  /// Bytes of a send, raw or pipeline step: one Pending per reply they ask for.
  [[nodiscard]] std::vector<Pending> feed(std::string_view bytes);
  /// Bytes of a data step: mail data (the tracker enters data mode if a DATA line did not
  /// already put it there).
  [[nodiscard]] std::vector<Pending> feed_data(std::string_view bytes);
  /// The reply to a DATA line arrived: 354 (`accepted`) keeps the tracker in data mode; any
  /// other code leaves it, unless data octets were already sent (pipelined after DATA).
  void data_reply(bool accepted) noexcept;
  /// A new connection, or the TLS handshake after STARTTLS (nothing carries over).
  void reset() noexcept;

  [[nodiscard]] bool in_data() const noexcept { return in_data_; }

 private:
  void scan(std::string_view bytes, std::vector<Pending>& out);
  void enter_data() noexcept;
  void end_line(std::vector<Pending>& out);

  bool in_data_ = false;
  int eod_state_ = 0;            // data mode: progress through CRLF "." CRLF (2 = line start)
  std::uint64_t data_size_ = 0;  // data mode: octets so far
  std::string line_;             // command mode: the line so far (at most kMaxLine octets)
  std::uint64_t line_size_ = 0;  // command mode: octets of the line so far
  bool cr_ = false;              // command mode: the last octet was CR
  std::uint64_t skip_ = 0;       // BDAT chunk octets still to pass over
  bool utf8_ = false;            // the transaction's MAIL had SMTPUTF8 (RFC 6531 §3.2)
};

}  // namespace smtp::run
