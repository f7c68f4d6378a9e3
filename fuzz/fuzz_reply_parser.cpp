// Fuzz target: ReplyParser, parse_reply, Reply::serialize (RFC 5321 §4.2).
//
// Input: server bytes (a recorded transcript is a valid seed). Invariants:
//  - whole vs chunked: the same replies, findings, diagnostic and tolerance log, whatever the
//    split, with next() or next(Reply&), pulling between feeds or only at the end;
//  - parse_reply(input) agrees with the stream parser on the first reply (or its error);
//  - replies tile the stream: the first starts at 0, each starts where the previous ended;
//  - limits: at most Limits::reply_lines lines; strictly, no line over Limits::reply_line;
//  - parse -> serialize -> parse is a fixed point: serialize() reparses (same limits and
//    leniency) to one reply with the same code, enhanced status and lines, consuming exactly
//    the serialized bytes, and serializes to the same bytes again.
// flags (fuzz_common.h): bits 0-3 tolerances bare_lf, bare_cr, nul, long_line; bit 4
// reply_lines = 2; bit 5 reply_line = 40; bit 7 byte by byte.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "fuzz_common.h"
#include "fuzz_reply_util.h"
#include "smtp/error.h"
#include "smtp/leniency.h"
#include "smtp/limits.h"
#include "smtp/reply.h"

namespace {

using smtp::fuzz::fail;
using smtp::fuzz::Log;
using smtp::fuzz::ReplyRun;

SMTPH_FUZZ_HARNESS std::string describe(const smtp::Reply& r) {
  Log log;
  smtp::fuzz::describe(log, r);
  return log.str();
}

SMTPH_FUZZ_HARNESS std::string describe(const smtp::ReplyParseResult& r) {
  Log log;
  if (r.reply) smtp::fuzz::describe(log, *r.reply);
  log << "consumed=" << static_cast<std::uint64_t>(r.consumed);
  for (const auto& e : r.errors) {
    log << " error ";
    smtp::fuzz::describe(log, e);
  }
  return log.str();
}

void check_serialize_fixed_point(const smtp::Reply& r, smtp::Limits limits,
                                 smtp::Leniency lenient) {
  const std::string wire = r.serialize();
  // serialize() writes CR LF and "NNN " where the input may have had a bare LF or a bare
  // "NNN": a line may grow by 2 octets, so the reparse allows for that.
  std::size_t longest = 0;
  for (const auto& l : r.lines) longest = std::max(longest, l.size() + 6);
  limits.reply_line = std::max(limits.reply_line, longest);
  limits.line_buffer_cap = std::max(limits.line_buffer_cap, longest);
  const smtp::ReplyParseResult again = smtp::parse_reply(wire, limits, lenient);
  if (!again.reply || again.consumed != wire.size()) {
    fail("parse_reply(serialize(reply)) does not give back one whole reply", describe(r),
         describe(again));
  }
  const smtp::Reply& r2 = *again.reply;
  if (r2.code != r.code || r2.enhanced != r.enhanced || r2.lines != r.lines || r2.offset != 0 ||
      r2.wire_size != wire.size()) {
    fail("parse_reply(serialize(reply)) differs from reply", describe(r), describe(r2));
  }
  smtp::fuzz::check_equal("serialize(parse(serialize(reply))) != serialize(reply)", wire,
                          r2.serialize());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = smtp::fuzz::as_view(data, size);
  const smtp::fuzz::Chunker ch(input);
  smtp::Limits limits = smtp::fuzz::fuzz_limits();
  if (ch.flag(4)) limits.reply_lines = 2;
  if (ch.flag(5)) limits.reply_line = 40;
  smtp::Leniency lenient;
  if (ch.flag(0)) lenient.allow(smtp::Tolerance::bare_lf);
  if (ch.flag(1)) lenient.allow(smtp::Tolerance::bare_cr);
  if (ch.flag(2)) lenient.allow(smtp::Tolerance::nul);
  if (ch.flag(3)) lenient.allow(smtp::Tolerance::long_line);
  const bool strict_length = !lenient.allows(smtp::Tolerance::long_line);
  // Shortest line end: CR LF, or LF alone with Tolerance::bare_lf.
  const std::size_t eol = lenient.allows(smtp::Tolerance::bare_lf) ? 1 : 2;

  const ReplyRun whole = smtp::fuzz::run_reply_parser(input, limits, lenient, nullptr);
  const ReplyRun chunked = smtp::fuzz::run_reply_parser(input, limits, lenient, &ch, &whole);
  if (!(whole == chunked)) {
    fail("ReplyParser: whole vs chunked", whole.describe(), chunked.describe());
  }

  // The one-shot API agrees with the stream on the first reply.
  const smtp::ReplyParseResult one = smtp::parse_reply(input, limits, lenient);
  if (!whole.replies.empty()) {
    const smtp::Reply& first = whole.replies.front();
    if (!one.reply || !smtp::fuzz::same_reply(*one.reply, first) ||
        one.consumed != first.offset + first.wire_size || one.errors != first.findings) {
      fail("parse_reply vs ReplyParser: first reply", describe(first), describe(one));
    }
  } else if (one.reply ||
             (whole.failed && (one.errors.empty() || !(one.errors.back() == whole.diag)))) {
    fail("parse_reply vs ReplyParser: no reply", whole.describe(), describe(one));
  }

  std::uint64_t next_offset = 0;
  for (const smtp::Reply& r : whole.replies) {
    SMTPH_FUZZ_CHECK(r.offset == next_offset);
    next_offset = r.offset + r.wire_size;
    SMTPH_FUZZ_CHECK(next_offset <= input.size());
    SMTPH_FUZZ_CHECK(!r.lines.empty() && r.lines.size() <= limits.reply_lines);
    SMTPH_FUZZ_CHECK(r.code >= 200 && r.code <= 559);
    if (strict_length) {
      for (const auto& l : r.lines) SMTPH_FUZZ_CHECK(4 + l.size() + eol <= limits.reply_line);
    }
    check_serialize_fixed_point(r, limits, lenient);
  }
  if (whole.failed) {
    // Every error has a name and a std::error_code message (reports print both).
    SMTPH_FUZZ_CHECK(*smtp::to_string(whole.diag.code) != '\0');
    const std::error_code ec = smtp::make_error_code(whole.diag.code);
    SMTPH_FUZZ_CHECK(&ec.category() == &smtp::smtp_category() && !ec.message().empty());
  } else {
    SMTPH_FUZZ_CHECK(whole.offset == next_offset);
  }
  return 0;
}
