/// @file summary.h
/// @brief Human-readable views of reports: a summary, a transcript rendering, and the
///        run-to-run diff of verdicts (regressions).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report/report.h"

namespace smtp::report {

/// Several lines: target, counts, then every scenario that did not pass with its reason.
[[nodiscard]] std::string summary_text(const Report& report, bool strict);

/// "C: EHLO client.example\r\n" lines (llhttp-style escapes; a line break after each \n).
[[nodiscard]] std::string transcript_text(const ScenarioResult& result);

struct VerdictChange {
  std::string id;
  std::optional<Verdict> before;  ///< nullopt: new scenario
  std::optional<Verdict> after;   ///< nullopt: scenario gone
  std::string reason;             ///< the new reason (or the old one when gone)
  bool regression = false;
};

struct ReportDiff {
  std::vector<VerdictChange> changes;  ///< sorted by id; unchanged verdicts are left out
  std::size_t regressions = 0;
};

/// Compare verdicts by scenario id. A regression is a scenario present in both whose verdict
/// got worse (passed/skipped < non-strict < error < failed).
[[nodiscard]] ReportDiff diff_reports(const Report& before, const Report& after);
[[nodiscard]] std::string diff_text(const ReportDiff& diff);

}  // namespace smtp::report
