/// @file fuzz_reply_util.h
/// @brief Fuzz helpers around smtp::Reply: record a ReplyParser run, compare, describe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "smtp/error.h"
#include "smtp/leniency.h"
#include "smtp/reply.h"

namespace smtp::fuzz {

SMTPH_FUZZ_HARNESS inline bool same_reply(const Reply& a, const Reply& b) {
  return a.code == b.code && a.enhanced == b.enhanced && a.lines == b.lines &&
         a.offset == b.offset && a.wire_size == b.wire_size && a.findings == b.findings;
}

SMTPH_FUZZ_HARNESS inline void describe(Log& log, const Diagnostic& d) {
  log << smtp::to_string(d.code) << '@' << d.offset << " \"" << d.reason << '"';
}

SMTPH_FUZZ_HARNESS inline void describe(Log& log, const Reply& r) {
  log << "reply " << static_cast<unsigned>(r.code) << " off=" << r.offset
      << " wire=" << r.wire_size;
  if (r.enhanced) log << " enhanced=" << r.enhanced->to_string();
  log << '\n';
  for (const auto& l : r.lines) log << "  line " << escape(l) << '\n';
  for (const auto& f : r.findings) {
    log << "  finding ";
    describe(log, f);
    log << '\n';
  }
}

/// Everything observable about one ReplyParser run.
struct ReplyRun {
  std::vector<Reply> replies;  // empty when checked against another run while running
  std::size_t count = 0;       // replies seen
  bool failed = false;
  Diagnostic diag;
  std::uint64_t offset = 0;
  std::uint64_t fired[static_cast<unsigned>(Tolerance::count_)] = {};

  SMTPH_FUZZ_HARNESS bool operator==(const ReplyRun& o) const {
    if (count != o.count || failed != o.failed) return false;
    // After an error, how much input the parser consumed is unspecified; the diagnostic
    // says where the error is.
    if (failed ? !(diag == o.diag) : offset != o.offset) return false;
    if (replies.size() == o.replies.size()) {
      for (std::size_t i = 0; i < replies.size(); ++i) {
        if (!same_reply(replies[i], o.replies[i])) return false;
      }
    }
    for (unsigned t = 0; t < static_cast<unsigned>(Tolerance::count_); ++t) {
      if (fired[t] != o.fired[t]) return false;
    }
    return true;
  }

  SMTPH_FUZZ_HARNESS std::string describe() const {
    Log log;
    for (const auto& r : replies) fuzz::describe(log, r);
    log << count << " replies, offset=" << offset;
    if (failed) {
      log << " failed: ";
      fuzz::describe(log, diag);
    }
    for (unsigned t = 0; t < static_cast<unsigned>(Tolerance::count_); ++t) {
      if (fired[t] != kNoOffset) {
        log << ' ' << smtp::to_string(static_cast<Tolerance>(t)) << '@' << fired[t];
      }
    }
    return log.str();
  }
};

/// Feeds `input` to a fresh ReplyParser, whole (ch == nullptr; pulls with next()) or split by
/// `ch` (pulls with next(Reply&), reusing one Reply), then feed_eof() and a final drain.
/// With `expect`, each reply is compared with expect->replies as it comes (and not kept).
inline ReplyRun run_reply_parser(std::string_view input, const Limits& limits, Leniency lenient,
                                 const Chunker* ch, const ReplyRun* expect = nullptr) {
  ReplyParser p(limits, lenient);
  ReplyRun run;
  auto take = [&](Reply& r) {
    if (expect == nullptr) {
      run.replies.push_back(std::move(r));
    } else if (run.count >= expect->replies.size() || !same_reply(expect->replies[run.count], r)) {
      Log got;
      describe(got, r);
      fail("ReplyParser: whole vs chunked, reply differs (or is extra)",
           run.count < expect->replies.size() ? expect->describe() : std::string("(none)"),
           got.str());
    }
    ++run.count;
  };
  if (ch == nullptr) {
    auto pull = [&] {
      while (auto r = p.next()) take(*r);
    };
    p.feed(input);
    pull();
    p.feed_eof();
    pull();
  } else {
    Reply reuse;
    auto pull = [&] {
      while (p.next(reuse)) take(reuse);
    };
    ch->split(
        input, [&](std::string_view part) { p.feed(part); }, pull);
    pull();
    p.feed_eof();
    pull();
  }
  run.failed = p.failed();
  if (run.failed) run.diag = p.diagnostic();
  run.offset = p.offset();
  for (unsigned t = 0; t < static_cast<unsigned>(Tolerance::count_); ++t) {
    const auto tol = static_cast<Tolerance>(t);
    run.fired[t] = p.tolerances().fired(tol) ? p.tolerances().first_offset(tol) : kNoOffset;
  }
  return run;
}

}  // namespace smtp::fuzz
