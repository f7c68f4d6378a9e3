// Fuzz target: CommandParser, parse_command_line, serialize (RFC 5321 §4.1 and extensions).
//
// Input: client bytes (a recorded transcript is a valid seed). Invariants:
//  - whole vs chunked: the same commands (every field, errors, tolerances) and the same
//    parser tolerance log, with next() or next(Command&), whatever the split;
//  - commands tile the stream; errors are sorted by offset; a clean CRLF line gives the same
//    Command through parse_command_line() as through the stream parser;
//  - for every ok() command, parse -> serialize -> parse is a fixed point: the reparse is
//    ok() and has the same verb, path, params, mechanism, initial response, BDAT size and
//    LAST; serialize() of it is the same string; its argument is stable from then on.
// flags (fuzz_common.h): bits 0-4 tolerances bare_lf, bare_cr, nul, long_line,
// space_after_colon; bit 5 smtputf8; bit 6 small limits; bit 7 byte by byte.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "smtp/command.h"
#include "smtp/error.h"
#include "smtp/leniency.h"

namespace {

using smtp::fuzz::fail;
using smtp::fuzz::Log;

constexpr unsigned kTolerances = static_cast<unsigned>(smtp::Tolerance::count_);

SMTPH_FUZZ_HARNESS bool same_log(const smtp::ToleranceLog& a, const smtp::ToleranceLog& b) {
  for (unsigned t = 0; t < kTolerances; ++t) {
    const auto tol = static_cast<smtp::Tolerance>(t);
    if (a.fired(tol) != b.fired(tol)) return false;
    if (a.fired(tol) && a.first_offset(tol) != b.first_offset(tol)) return false;
  }
  return true;
}

SMTPH_FUZZ_HARNESS bool same_command(const smtp::Command& a, const smtp::Command& b) {
  return a.verb == b.verb && a.verb_text == b.verb_text && a.argument == b.argument &&
         a.path == b.path && a.params == b.params && a.mechanism == b.mechanism &&
         a.initial_response == b.initial_response && a.chunk_size == b.chunk_size &&
         a.last == b.last && a.offset == b.offset && a.wire_size == b.wire_size &&
         a.errors == b.errors && same_log(a.tolerances, b.tolerances);
}

SMTPH_FUZZ_HARNESS void describe(Log& log, const smtp::ToleranceLog& t) {
  for (unsigned i = 0; i < kTolerances; ++i) {
    const auto tol = static_cast<smtp::Tolerance>(i);
    if (t.fired(tol)) log << ' ' << smtp::to_string(tol) << '@' << t.first_offset(tol);
  }
}

SMTPH_FUZZ_HARNESS void describe(Log& log, const smtp::Command& c) {
  log << "command " << smtp::to_string(c.verb) << " text=" << smtp::fuzz::escape(c.verb_text)
      << " off=" << c.offset << " wire=" << c.wire_size
      << " arg=" << smtp::fuzz::escape(c.argument);
  if (c.path) log << " path=" << smtp::fuzz::escape(c.path->serialize());
  for (const auto& p : c.params) {
    log << " param=" << smtp::fuzz::escape(p.keyword);
    if (p.value) log << '=' << smtp::fuzz::escape(*p.value);
  }
  if (!c.mechanism.empty()) log << " mech=" << c.mechanism;
  if (c.initial_response) log << " ir=" << smtp::fuzz::escape(*c.initial_response);
  if (c.verb == smtp::Verb::bdat) log << " size=" << c.chunk_size << " last=" << c.last;
  for (const auto& e : c.errors) {
    log << "\n  error " << smtp::to_string(e.code) << '@' << e.offset << ' ' << e.reason;
  }
  describe(log, c.tolerances);
  log << '\n';
}

SMTPH_FUZZ_HARNESS std::string describe(const smtp::Command& c) {
  Log log;
  describe(log, c);
  return log.str();
}

struct Run {
  std::vector<smtp::Command> commands;  // empty when checked against another run while running
  std::size_t count = 0;
  smtp::ToleranceLog tolerances;
  std::uint64_t offset = 0;

  SMTPH_FUZZ_HARNESS bool operator==(const Run& o) const {
    if (count != o.count || offset != o.offset) return false;
    if (commands.size() == o.commands.size()) {
      for (std::size_t i = 0; i < commands.size(); ++i) {
        if (!same_command(commands[i], o.commands[i])) return false;
      }
    }
    return same_log(tolerances, o.tolerances);
  }
  SMTPH_FUZZ_HARNESS std::string describe() const {
    Log log;
    for (const auto& c : commands) ::describe(log, c);
    log << count << " commands, offset=" << offset;
    ::describe(log, tolerances);
    return log.str();
  }
};

/// Feeds `input` to a fresh CommandParser, whole (next()) or chunked (next(Command&)). With
/// `expect`, each command is compared with expect->commands as it comes (and not kept).
Run run(std::string_view input, const smtp::CommandOptions& opt, const smtp::fuzz::Chunker* ch,
        const Run* expect = nullptr) {
  smtp::CommandParser p(opt);
  Run r;
  auto take = [&](smtp::Command& c) {
    if (expect == nullptr) {
      r.commands.push_back(std::move(c));
    } else if (r.count >= expect->commands.size() || !same_command(expect->commands[r.count], c)) {
      fail("CommandParser: whole vs chunked, command differs (or is extra)",
           r.count < expect->commands.size() ? describe(expect->commands[r.count])
                                             : std::string("(none)"),
           describe(c));
    }
    ++r.count;
  };
  if (ch == nullptr) {
    auto pull = [&] {
      while (auto c = p.next()) take(*c);
    };
    p.feed(input);
    pull();
    p.feed_eof();
    pull();
  } else {
    smtp::Command reuse;
    auto pull = [&] {
      while (p.next(reuse)) take(reuse);
    };
    ch->split(
        input, [&](std::string_view part) { p.feed(part); }, pull);
    pull();
    p.feed_eof();
    pull();
  }
  r.tolerances = p.tolerances();
  r.offset = p.framer().offset();
  return r;
}

/// Strip the CR LF that serialize() appends, checking it is there and nowhere else.
SMTPH_FUZZ_HARNESS std::string_view strip_crlf(const std::string& wire) {
  SMTPH_FUZZ_CHECK(wire.size() >= 2 && wire.compare(wire.size() - 2, 2, "\r\n") == 0);
  return std::string_view(wire).substr(0, wire.size() - 2);
}

void check_fixed_point(const smtp::Command& c, smtp::CommandOptions opt) {
  const std::string wire = smtp::serialize(c);
  const std::string_view line = strip_crlf(wire);
  // serialize() is canonical, never longer than a CRLF-terminated input, but the input line
  // may have ended in a bare LF (Tolerance::bare_lf): allow for the one octet.
  opt.limits.command_line = std::max(opt.limits.command_line, wire.size());
  opt.limits.line_buffer_cap = std::max(opt.limits.line_buffer_cap, wire.size());
  const smtp::Command c2 = smtp::parse_command_line(line, opt);
  if (!c2.ok() || c2.verb != c.verb || c2.path != c.path || c2.params != c.params ||
      c2.mechanism != c.mechanism || c2.initial_response != c.initial_response ||
      c2.chunk_size != c.chunk_size || c2.last != c.last) {
    fail("parse_command_line(serialize(command)) differs from command", describe(c), describe(c2));
  }
  const std::string wire2 = smtp::serialize(c2);
  smtp::fuzz::check_equal("serialize(parse(serialize(command))) != serialize(command)", wire,
                          wire2);
  const smtp::Command c3 = smtp::parse_command_line(strip_crlf(wire2), opt);
  if (c3.argument != c2.argument) {
    fail("argument not stable after one serialize round", describe(c2), describe(c3));
  }
}

SMTPH_FUZZ_HARNESS bool is_clean_line(std::string_view wire) {
  if (wire.size() < 2 || wire.substr(wire.size() - 2) != "\r\n") return false;
  return wire.substr(0, wire.size() - 2).find_first_of(std::string_view("\r\n\0", 3)) ==
         std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = smtp::fuzz::as_view(data, size);
  const smtp::fuzz::Chunker ch(input);
  smtp::CommandOptions opt;
  opt.limits = smtp::fuzz::fuzz_limits();
  if (ch.flag(0)) opt.lenient.allow(smtp::Tolerance::bare_lf);
  if (ch.flag(1)) opt.lenient.allow(smtp::Tolerance::bare_cr);
  if (ch.flag(2)) opt.lenient.allow(smtp::Tolerance::nul);
  if (ch.flag(3)) opt.lenient.allow(smtp::Tolerance::long_line);
  if (ch.flag(4)) opt.lenient.allow(smtp::Tolerance::space_after_colon);
  opt.smtputf8 = ch.flag(5);
  if (ch.flag(6)) {
    opt.limits.command_line = 64;
    opt.limits.local_part = 8;
    opt.limits.domain = 16;
    opt.limits.path = 24;
  }

  const Run whole = run(input, opt, nullptr);
  const Run chunked = run(input, opt, &ch, &whole);
  if (!(whole == chunked)) {
    fail("CommandParser: whole vs chunked", whole.describe(), chunked.describe());
  }

  std::uint64_t next_offset = 0;
  bool contiguous = true;  // false after a cut line: the framer discards the rest of it
  for (const smtp::Command& c : whole.commands) {
    SMTPH_FUZZ_CHECK(contiguous ? c.offset == next_offset : c.offset >= next_offset);
    SMTPH_FUZZ_CHECK(c.offset <= input.size() && c.wire_size <= input.size() - c.offset + 1);
    next_offset = c.offset + c.wire_size;
    const std::string_view wire = input.substr(c.offset, c.wire_size);
    contiguous =
        (wire.size() >= 2 && wire.substr(wire.size() - 2) == "\r\n") ||
        (!wire.empty() && wire.back() == '\n' && opt.lenient.allows(smtp::Tolerance::bare_lf));
    SMTPH_FUZZ_CHECK(std::is_sorted(
        c.errors.begin(), c.errors.end(),
        [](const smtp::Diagnostic& a, const smtp::Diagnostic& b) { return a.offset < b.offset; }));
    if (c.verb == smtp::Verb::unknown) SMTPH_FUZZ_CHECK(!c.ok());

    if (is_clean_line(wire) && wire.size() <= opt.limits.command_line) {
      const smtp::Command direct =
          smtp::parse_command_line(wire.substr(0, wire.size() - 2), opt, c.offset, c.wire_size);
      if (!same_command(direct, c)) {
        fail("parse_command_line vs CommandParser on a clean line", describe(c), describe(direct));
      }
    }
    if (c.ok()) check_fixed_point(c, opt);
  }
  return 0;
}
