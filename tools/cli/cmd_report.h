/// @file cmd_report.h
/// @brief `smtp-harness report validate|summary|diff|junit`: reading compliance reports.
///
///  - `validate FILE... [--kind report|scenario|profile] [--schema-dir DIR]`: check files
///    against reports/schema/ (the embedded copy unless --schema-dir); for --kind scenario the
///    full scenario loader runs (variables, patterns, duplicate ids). Exit 0 all valid, 2 not.
///  - `summary FILE [--strict] [--exit-status]`: human summary on stdout; with --exit-status
///    the exit code is the report's (0 / 1 / 3, see report.h exit_code()).
///  - `diff OLD NEW`: verdict changes per scenario id; exit 1 when any got worse.
///  - `junit FILE -o OUT [--strict] [--no-transcripts]`: JUnit XML, written atomically
///    ("-" = stdout).
/// Unreadable or invalid input exits 2 with "file:line:column: pointer: message" on stderr.
#pragma once

#include <string>
#include <vector>

namespace smtp::cli {

struct ReportOptions {
  std::string action;  ///< validate | summary | diff | junit
  std::vector<std::string> files;
  std::string kind = "report";  ///< validate: report | scenario | profile
  std::string schema_dir;       ///< "" = embedded schemas
  std::string output;           ///< junit: output file
  bool strict = false;
  bool exit_status = false;  ///< summary: exit with the report's exit code
  bool transcripts = true;   ///< junit: include transcripts
};

/// Run one report action; `out` receives stdout text, `err` stderr text. Returns the exit code.
[[nodiscard]] int run_report(const ReportOptions& options, std::string& out, std::string& err);

}  // namespace smtp::cli
