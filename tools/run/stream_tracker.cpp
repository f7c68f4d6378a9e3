#include "run/stream_tracker.h"

#include <algorithm>

namespace smtp::run {

namespace {
// Data mode: progress through <CRLF> "." <CRLF>.
constexpr int kMid = 0;        // inside a line
constexpr int kCr = 1;         // CR seen
constexpr int kLineStart = 2;  // CRLF seen (or data just began)
constexpr int kDot = 3;        // line start, "."
constexpr int kDotCr = 4;      // line start, ".", CR
}  // namespace

std::vector<Pending> StreamTracker::feed(std::string_view bytes) {
  std::vector<Pending> out;
  scan(bytes, out);
  return out;
}

std::vector<Pending> StreamTracker::feed_data(std::string_view bytes) {
  if (!in_data_) {
    // Data without a DATA line the tracker saw (e.g. sent inside an unusual raw step): the
    // partial command line, if any, is forgotten.
    line_.clear();
    line_size_ = 0;
    cr_ = false;
    enter_data();
  }
  std::vector<Pending> out;
  scan(bytes, out);
  return out;
}

void StreamTracker::data_reply(bool accepted) noexcept {
  if (accepted || !in_data_) return;
  if (data_size_ == 0 && eod_state_ == kLineStart) {
    in_data_ = false;
    eod_state_ = kMid;
  }
}

void StreamTracker::reset() noexcept {
  in_data_ = false;
  eod_state_ = kMid;
  data_size_ = 0;
  line_.clear();
  line_size_ = 0;
  cr_ = false;
  skip_ = 0;
  utf8_ = false;
}

void StreamTracker::enter_data() noexcept {
  in_data_ = true;
  eod_state_ = kLineStart;  // the CRLF of the DATA line counts (RFC 5321 §4.1.1.4)
  data_size_ = 0;
}

void StreamTracker::end_line(std::vector<Pending>& out) {
  // line_ holds the line up to its CR (or its first kMaxLine octets); line_size_ counts CRLF.
  std::string_view text(line_);
  if (line_size_ <= kMaxLine + 1 && !text.empty() && text.back() == '\r') text.remove_suffix(1);
  Command cmd = parse_command_line(text, CommandOptions{}, 0, line_size_);
  // RFC 6531 §3.2: UTF-8 addresses are fine in a transaction whose MAIL says SMTPUTF8 (the
  // strict parse stops at the first 8-bit octet, so look for the parameter with UTF-8 on).
  if (cmd.verb == Verb::mail || (utf8_ && cmd.verb == Verb::rcpt)) {
    CommandOptions utf8;
    utf8.smtputf8 = true;
    Command wide = parse_command_line(text, utf8, 0, line_size_);
    if (cmd.verb == Verb::mail) utf8_ = wide.param("SMTPUTF8") != nullptr;
    if (utf8_) cmd = std::move(wide);
  } else if (cmd.verb == Verb::vrfy || cmd.verb == Verb::expn) {
    // RFC 6531 §3.7.4.2: VRFY and EXPN take an SMTPUTF8 parameter of their own.
    CommandOptions utf8;
    utf8.smtputf8 = true;
    Command wide = parse_command_line(text, utf8, 0, line_size_);
    if (wide.param("SMTPUTF8") != nullptr) cmd = std::move(wide);
  }
  Pending p;
  p.to = ReplyTo::command;
  if (cmd.verb == Verb::bdat && cmd.errors.empty()) {
    p.to = cmd.last ? ReplyTo::bdat_last : ReplyTo::bdat;
    skip_ = cmd.chunk_size;
  }
  const bool data = cmd.verb == Verb::data && cmd.ok();
  p.command = std::move(cmd);
  out.push_back(std::move(p));
  line_.clear();
  line_size_ = 0;
  cr_ = false;
  if (data) enter_data();
}

void StreamTracker::scan(std::string_view bytes, std::vector<Pending>& out) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    if (skip_ > 0) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(skip_, bytes.size() - i));
      skip_ -= n;
      i += n;
      continue;
    }
    const char c = bytes[i++];
    if (in_data_) {
      ++data_size_;
      switch (c) {
        case '\r':
          eod_state_ = eod_state_ == kDot ? kDotCr : kCr;
          break;
        case '\n':
          if (eod_state_ == kDotCr) {
            Pending p;
            p.to = ReplyTo::data_end;
            p.data_size = data_size_ >= 3 ? data_size_ - 3 : 0;
            out.push_back(std::move(p));
            in_data_ = false;
            eod_state_ = kMid;
            data_size_ = 0;
          } else {
            eod_state_ = eod_state_ == kCr ? kLineStart : kMid;
          }
          break;
        case '.':
          eod_state_ = eod_state_ == kLineStart ? kDot : kMid;
          break;
        default:
          eod_state_ = kMid;
          break;
      }
      continue;
    }
    ++line_size_;
    if (c == '\n' && cr_) {
      end_line(out);
      continue;
    }
    if (line_.size() < kMaxLine) line_ += c;
    cr_ = c == '\r';
  }
}

}  // namespace smtp::run
