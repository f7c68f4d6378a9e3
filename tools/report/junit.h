/// @file junit.h
/// @brief JUnit XML from a report: one <testsuite> per id group (the id's first segment,
///        e.g. "rfc5321", "smuggling"), one <testcase> per scenario, <failure>, <error>,
///        <skipped/>, the transcript in <system-out>.
#pragma once

#include <string>
#include <string_view>

#include "report/report.h"

namespace smtp::report {

struct JunitOptions {
  /// Non-strict scenarios become <failure type="non-strict"> (else they pass, with a note in
  /// <system-err>). MAY-level ones never fail.
  bool strict = false;
  /// Include transcripts in <system-out>.
  bool transcripts = true;
};

[[nodiscard]] std::string to_junit_xml(const Report& report, const JunitOptions& options = {});

/// XML 1.0 escaping of arbitrary bytes: markup characters as entities; in attributes also
/// TAB, LF, CR as character references; bytes XML cannot carry at all (other C0 controls,
/// invalid UTF-8, U+FFFE/U+FFFF) as visible "\xNN" text.
[[nodiscard]] std::string xml_escape(std::string_view bytes, bool attribute);

}  // namespace smtp::report
