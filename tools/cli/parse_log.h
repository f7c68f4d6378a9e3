/// @file parse_log.h
/// @brief The golden event log of `smtp-harness parse --log` (llhttp style, "off=N ..." lines),
///        shared with core/tests/golden_test.cpp so the CLI and the golden transcripts agree.
///
/// Header-only and free of I/O: it builds strings, the caller prints them. It depends on the
/// smtp_core headers only, so core tests can include it (`#include "../../tools/cli/parse_log.h"`).
///
/// Format (one event per line; every line starts with "off=N", the stream offset of the event
/// or, for attribute lines, of the unit it belongs to). Strings are double-quoted with
/// escape_bytes(): \r \n \t \\ \" and \xNN for other bytes outside 0x20-0x7e.
///
///   reply, ehlo:   off=O len=L reply code=250 lines=N enhanced=2.1.0|none
///                  off=O line[i]="text"                 (one per line, text after "NNN-")
///                  off=F finding code=ERRC              (Reply::findings)
///                  ehlo only, per reply:
///                  off=O ehlo domain="..." greeting="..."
///                  off=O capability keyword="SIZE" param="10240000" ...
///                  off=F ehlo_finding code=ERRC         (offset made absolute: O + relative)
///   command:       off=O len=L command verb=MAIL        (verb=unknown text="..." when unknown)
///                  off=O path address="a@b" [null] [postmaster] [route="@x,@y"]
///                  off=O param keyword="SIZE" [value="100"]
///                  off=O argument="..."                 (non-empty, for verbs without a path)
///                  off=O auth mechanism="PLAIN" [initial_response="..."]
///                  off=O bdat size=N last=true|false
///                  off=E error code=ERRC                (Command::errors, in order)
///   address:       off=O len=L address local_part="..." domain="..." | off=O len=L address none
///                                                       (L includes the line's LF)
///                  off=E error code=ERRC                (offsets relative to the line start + O)
///                  (input: one address per line, LF-separated, one trailing CR stripped)
///   data:          off=F finding code=ERRC [candidate=NAME]   (DataDecoder::findings, in order)
///                  off=E end_of_data sequence=canonical|NAME  (when the decoder finished)
///                  off=0 message len=N data="..."       (decoded message bytes)
///                  off=C trailing len=T                 (bytes after the end-of-data line)
///   reply, ehlo:   off=E error code=ERRC                (the fatal parser error; parsing stops)
///   reply, ehlo, command:
///                  off=F tolerance name=bare_lf         (a Leniency flag that fired, at its
///                                                       first offset; printed at the end)
///   all:           off=T eof [incomplete]               (T = total input octets; incomplete:
///                                                       a reply or the data did not end)
///
/// Reasons (Diagnostic::reason) are deliberately left out: they are prose and may be reworded;
/// the log pins codes and offsets. The JSON output carries the reasons.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/command.h"
#include "smtp/dot_stuffing.h"
#include "smtp/ehlo.h"
#include "smtp/error.h"
#include "smtp/leniency.h"
#include "smtp/limits.h"
#include "smtp/reply.h"

namespace smtp::cli::log {

/// C-style escaping, lossless and ASCII-only: printable ASCII as is (except \\ and \"),
/// \r \n \t, and \xNN (lower-case hex) for every other byte.
inline std::string escape_bytes(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string o;
  o.reserve(s.size() + 8);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\r': o += "\\r"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      case '\\': o += "\\\\"; break;
      case '"': o += "\\\""; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          o += "\\x";
          o += kHex[c >> 4];
          o += kHex[c & 15];
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o;
}

inline std::string quote_bytes(std::string_view s) { return "\"" + escape_bytes(s) + "\""; }

inline void begin(std::string& out, std::uint64_t off) {
  out += "off=";
  out += std::to_string(off);
  out += ' ';
}

/// "off=N <event> code=<errc>"
inline void append_diag(std::string& out, std::string_view event, const Diagnostic& d,
                        std::uint64_t base = 0) {
  begin(out, base + d.offset);
  out += event;
  out += " code=";
  out += to_string(d.code);
  out += '\n';
}

/// "off=N tolerance name=..." for every tolerance that fired.
inline void append_tolerances(std::string& out, const ToleranceLog& t) {
  for (unsigned i = 0; i < static_cast<unsigned>(Tolerance::count_); ++i) {
    const auto tol = static_cast<Tolerance>(i);
    if (!t.fired(tol)) continue;
    begin(out, t.first_offset(tol));
    out += "tolerance name=";
    out += to_string(tol);
    out += '\n';
  }
}

inline void append_eof(std::string& out, std::uint64_t total, bool incomplete) {
  begin(out, total);
  out += incomplete ? "eof incomplete\n" : "eof\n";
}

inline void append_reply(std::string& out, const Reply& r) {
  begin(out, r.offset);
  out += "len=" + std::to_string(r.wire_size) + " reply code=" + std::to_string(r.code) +
         " lines=" + std::to_string(r.lines.size()) +
         " enhanced=" + (r.enhanced ? r.enhanced->to_string() : std::string("none")) + "\n";
  for (std::size_t i = 0; i < r.lines.size(); ++i) {
    begin(out, r.offset);
    out += "line[" + std::to_string(i) + "]=" + quote_bytes(r.lines[i]) + "\n";
  }
  for (const auto& f : r.findings) append_diag(out, "finding", f);
}

/// Capabilities of `r` (parse_ehlo(r)); finding offsets are made absolute with r.offset.
inline void append_ehlo(std::string& out, const Reply& r, const Capabilities& c) {
  begin(out, r.offset);
  out += "ehlo domain=" + quote_bytes(c.domain) + " greeting=" + quote_bytes(c.greeting) + "\n";
  for (const auto& cap : c.list) {
    begin(out, r.offset);
    out += "capability keyword=" + quote_bytes(cap.keyword);
    for (const auto& p : cap.params) out += " param=" + quote_bytes(p);
    out += '\n';
  }
  for (const auto& f : c.findings) append_diag(out, "ehlo_finding", f, r.offset);
}

inline bool verb_has_path(Verb v) noexcept {
  return v == Verb::mail || v == Verb::rcpt || v == Verb::send || v == Verb::soml ||
         v == Verb::saml;
}

inline void append_command(std::string& out, const Command& c) {
  begin(out, c.offset);
  out += "len=" + std::to_string(c.wire_size) + " command verb=";
  if (c.verb == Verb::unknown) {
    out += "unknown text=" + quote_bytes(c.verb_text);
  } else {
    out += to_string(c.verb);
  }
  out += '\n';
  if (c.path) {
    begin(out, c.offset);
    out += "path address=" + quote_bytes(c.path->address());
    if (c.path->null) out += " null";
    if (c.path->postmaster) out += " postmaster";
    if (!c.path->source_route.empty()) {
      std::string route;
      for (const auto& d : c.path->source_route) {
        if (!route.empty()) route += ',';
        route += '@';
        route += d;
      }
      out += " route=" + quote_bytes(route);
    }
    out += '\n';
  }
  for (const auto& p : c.params) {
    begin(out, c.offset);
    out += "param keyword=" + quote_bytes(p.keyword);
    if (p.value) out += " value=" + quote_bytes(*p.value);
    out += '\n';
  }
  if (!c.argument.empty() && !verb_has_path(c.verb) && c.verb != Verb::auth &&
      c.verb != Verb::bdat) {
    begin(out, c.offset);
    out += "argument=" + quote_bytes(c.argument) + "\n";
  }
  if (c.verb == Verb::auth) {
    begin(out, c.offset);
    out += "auth mechanism=" + quote_bytes(c.mechanism);
    if (c.initial_response) out += " initial_response=" + quote_bytes(*c.initial_response);
    out += '\n';
  }
  if (c.verb == Verb::bdat) {
    begin(out, c.offset);
    out += "bdat size=" + std::to_string(c.chunk_size) + (c.last ? " last=true\n" : " last=false\n");
  }
  for (const auto& e : c.errors) append_diag(out, "error", e);
}

inline Leniency leniency_from_names(const std::vector<std::string>& names, bool* ok = nullptr) {
  Leniency l;
  if (ok != nullptr) *ok = true;
  for (const auto& n : names) {
    bool found = false;
    for (unsigned i = 0; i < static_cast<unsigned>(Tolerance::count_); ++i) {
      if (n == to_string(static_cast<Tolerance>(i))) {
        l.allow(static_cast<Tolerance>(i));
        found = true;
      }
    }
    if (!found && ok != nullptr) *ok = false;
  }
  return l;
}

/// Settings shared by the loggers (and the CLI's JSON mode).
struct LogOptions {
  Limits limits{};
  Leniency lenient{};
  bool smtputf8 = false;
};

/// Streaming loggers: feed() any split of the input, then finish(). The log text is appended
/// to `out` as events happen, and is the same for every split of the same input.
class ReplyLog {
 public:
  explicit ReplyLog(const LogOptions& o = {}, bool ehlo = false)
      : parser_(o.limits, o.lenient), ehlo_(ehlo) {}

  void feed(std::string_view bytes, std::string& out) {
    total_ += bytes.size();
    parser_.feed(bytes);
    drain(out);
  }
  void finish(std::string& out) {
    parser_.feed_eof();
    drain(out);
    append_tolerances(out, parser_.tolerances());
    append_eof(out, total_, parser_.failed() || parser_.in_reply());
  }

 private:
  void drain(std::string& out) {
    while (auto r = parser_.next()) {
      append_reply(out, *r);
      if (ehlo_) append_ehlo(out, *r, parse_ehlo(*r));
    }
    if (parser_.failed() && !reported_) {
      reported_ = true;
      append_diag(out, "error", parser_.diagnostic());
    }
  }

  ReplyParser parser_;
  bool ehlo_;
  bool reported_ = false;
  std::uint64_t total_ = 0;
};

class CommandLog {
 public:
  explicit CommandLog(const LogOptions& o = {})
      : parser_(CommandOptions{o.limits, o.lenient, o.smtputf8}) {}

  void feed(std::string_view bytes, std::string& out) {
    total_ += bytes.size();
    parser_.feed(bytes);
    while (auto c = parser_.next()) append_command(out, *c);
  }
  void finish(std::string& out) {
    parser_.feed_eof();
    while (auto c = parser_.next()) append_command(out, *c);
    append_tolerances(out, parser_.tolerances());
    append_eof(out, total_, false);
  }

 private:
  CommandParser parser_;
  std::uint64_t total_ = 0;
};

/// One address per line (LF-separated, one trailing CR stripped), each through parse_mailbox.
class AddressLog {
 public:
  explicit AddressLog(const LogOptions& o = {}) : opt_{o.limits, o.lenient, o.smtputf8} {}

  void feed(std::string_view bytes, std::string& out) {
    for (const char ch : bytes) {
      ++total_;
      if (ch == '\n') {
        emit(line_, line_start_, true, out);
        line_.clear();
        line_start_ = total_;
      } else {
        line_ += ch;
      }
    }
  }
  void finish(std::string& out) {
    if (!line_.empty()) emit(line_, line_start_, false, out);
    line_.clear();
    append_eof(out, total_, false);
  }

  /// The unit for one line: the CR-stripped text.
  static std::string_view strip_cr(std::string_view s) {
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
  }

 private:
  void emit(std::string_view raw, std::uint64_t off, bool lf, std::string& out) const {
    const std::string_view s = strip_cr(raw);
    const PathResult r = parse_mailbox(s, opt_);
    begin(out, off);
    out += "len=" + std::to_string(raw.size() + (lf ? 1 : 0)) + " address";
    if (r.path) {
      out += " local_part=" + quote_bytes(r.path->local_part) + " domain=" + quote_bytes(r.path->domain);
    } else {
      out += " none";
    }
    out += '\n';
    for (const auto& e : r.errors) append_diag(out, "error", e, off);
  }

  CommandOptions opt_;
  std::string line_;
  std::uint64_t line_start_ = 0;
  std::uint64_t total_ = 0;
};

/// The DataDecoder over the whole input (one message; what follows its end is "trailing").
class DataLog {
 public:
  explicit DataLog(const LogOptions& o = {}) : decoder_(DataDecoderOptions{o.limits, 0, 1024}) {}

  void feed(std::string_view bytes, std::string& /*out*/) {
    total_ += bytes.size();
    if (!decoder_.done()) {
      const std::size_t n = decoder_.decode(bytes, message_);
      bytes.remove_prefix(n < bytes.size() ? n : bytes.size());
    }
    if (decoder_.done()) trailing_ += bytes.size();
  }
  void finish(std::string& out) {
    for (const auto& f : decoder_.findings()) {
      begin(out, f.offset);
      out += "finding code=";
      out += to_string(f.code);
      if (f.candidate) {
        out += " candidate=";
        out += to_string(*f.candidate);
      }
      out += '\n';
    }
    if (decoder_.findings_total() > decoder_.findings().size()) {
      begin(out, total_);
      out += "findings_dropped count=" +
             std::to_string(decoder_.findings_total() - decoder_.findings().size()) + "\n";
    }
    if (decoder_.done()) {
      begin(out, decoder_.end_offset());
      out += "end_of_data sequence=";
      out += decoder_.ended_by() ? to_string(*decoder_.ended_by()) : "canonical";
      out += '\n';
    }
    begin(out, 0);
    out += "message len=" + std::to_string(message_.size()) + " data=" + quote_bytes(message_) + "\n";
    if (trailing_ > 0) {
      begin(out, total_ - trailing_);
      out += "trailing len=" + std::to_string(trailing_) + "\n";
    }
    append_eof(out, total_, !decoder_.done());
  }

  [[nodiscard]] const DataDecoder& decoder() const noexcept { return decoder_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  [[nodiscard]] std::uint64_t trailing() const noexcept { return trailing_; }

 private:
  DataDecoder decoder_;
  std::string message_;
  std::uint64_t total_ = 0;
  std::uint64_t trailing_ = 0;
};

/// Run the logger for `kind` ("reply", "ehlo", "command", "address", "data") over `parts`.
/// Returns false for an unknown kind.
inline bool run_log(std::string_view kind, const std::vector<std::string_view>& parts,
                    const LogOptions& o, std::string& out) {
  auto run = [&](auto&& logger) {
    for (const auto p : parts) logger.feed(p, out);
    logger.finish(out);
    return true;
  };
  if (kind == "reply") return run(ReplyLog(o, false));
  if (kind == "ehlo") return run(ReplyLog(o, true));
  if (kind == "command") return run(CommandLog(o));
  if (kind == "address") return run(AddressLog(o));
  if (kind == "data") return run(DataLog(o));
  return false;
}

}  // namespace smtp::cli::log
