#include "report/junit.h"

#include <cstdio>
#include <map>
#include <vector>

#include "report/summary.h"

namespace smtp::report {
namespace {

void append_hex_escape(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 0xF];
}

/// Length of a well-formed UTF-8 sequence at s[i] that XML 1.0 allows, else 0.
std::size_t xml_char_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
  } else {
    return 0;
  }
  if (i + n > s.size() || !is_valid_utf8(s.substr(i, n))) return 0;
  // U+FFFE and U+FFFF are not XML characters.
  if (n == 3 && c == 0xEF && static_cast<unsigned char>(s[i + 1]) == 0xBF &&
      static_cast<unsigned char>(s[i + 2]) >= 0xBE) {
    return 0;
  }
  return n;
}

std::string seconds(std::uint64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%03llu", static_cast<unsigned long long>(ms / 1000),
                static_cast<unsigned long long>(ms % 1000));
  return buf;
}

std::string group_of(const std::string& id) {
  const std::size_t slash = id.find('/');
  return slash == std::string::npos ? id : id.substr(0, slash);
}

struct Tally {
  std::size_t tests = 0, failures = 0, errors = 0, skipped = 0;
  std::uint64_t ms = 0;
};

bool counts_as_failure(const ScenarioResult& s, const JunitOptions& o) {
  return s.verdict == Verdict::failed ||
         (s.verdict == Verdict::non_strict && o.strict && s.level != "MAY");
}

std::string failure_details(const ScenarioResult& s) {
  std::string out;
  if (!s.requirement.empty()) out += s.rfc + ": " + s.requirement + "\n";
  for (const StepRecord& st : s.steps) {
    if (st.status == StepStatus::passed) continue;
    out += "step " + std::to_string(st.index + 1) + " (" + st.kind + ") " + to_string(st.status);
    if (!st.expectation.empty()) out += ": expected " + st.expectation;
    if (!st.observed.empty()) out += "; observed " + st.observed;
    if (!st.reason.empty()) out += "; " + st.reason;
    out += "\n";
  }
  return out;
}

}  // namespace

std::string xml_escape(std::string_view s, bool attribute) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += attribute ? "&quot;" : "\"";
          break;
        case '\'':
          out += attribute ? "&apos;" : "'";
          break;
        case '\t':
          out += attribute ? "&#9;" : "\t";
          break;
        case '\n':
          out += attribute ? "&#10;" : "\n";
          break;
        case '\r':
          out += "&#13;";
          break;
        default:
          if (c < 0x20) {
            append_hex_escape(out, c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    const std::size_t n = xml_char_length(s, i);
    if (n == 0) {
      append_hex_escape(out, c);
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

std::string to_junit_xml(const Report& report, const JunitOptions& options) {
  std::map<std::string, std::vector<const ScenarioResult*>> groups;
  for (const ScenarioResult& s : report.scenarios) groups[group_of(s.id)].push_back(&s);

  Tally total;
  std::string suites;
  for (const auto& [group, members] : groups) {
    Tally t;
    std::string cases;
    for (const ScenarioResult* s : members) {
      ++t.tests;
      t.ms += s->duration_ms;
      cases += "    <testcase name=\"" + xml_escape(s->id, true) + "\" classname=\"" +
               xml_escape(group, true) + "\" time=\"" + seconds(s->duration_ms) + "\">\n";
      const std::string message = xml_escape(s->reason, true);
      if (counts_as_failure(*s, options)) {
        ++t.failures;
        cases += "      <failure message=\"" + message + "\" type=\"" + to_string(s->verdict) +
                 "\">" + xml_escape(failure_details(*s), false) + "</failure>\n";
      } else if (s->verdict == Verdict::error) {
        ++t.errors;
        cases += "      <error message=\"" + message + "\" type=\"error\">" +
                 xml_escape(failure_details(*s), false) + "</error>\n";
      } else if (s->verdict == Verdict::skipped) {
        ++t.skipped;
        cases += "      <skipped message=\"" + message + "\"/>\n";
      }
      if (options.transcripts && !s->transcript.empty()) {
        cases += "      <system-out>" + xml_escape(transcript_text(*s), false) + "</system-out>\n";
      }
      if (s->verdict == Verdict::non_strict && !counts_as_failure(*s, options)) {
        cases += "      <system-err>" +
                 xml_escape("NON-STRICT (" + s->level + "): " + s->reason + "\n", false) +
                 "</system-err>\n";
      }
      cases += "    </testcase>\n";
    }
    suites += "  <testsuite name=\"" + xml_escape(group, true) + "\" tests=\"" +
              std::to_string(t.tests) + "\" failures=\"" + std::to_string(t.failures) +
              "\" errors=\"" + std::to_string(t.errors) + "\" skipped=\"" +
              std::to_string(t.skipped) + "\" time=\"" + seconds(t.ms) + "\" timestamp=\"" +
              xml_escape(report.started_at, true) + "\">\n";
    suites += "    <properties>\n";
    suites += "      <property name=\"target\" value=\"" +
              xml_escape(report.target.host + ":" + std::to_string(report.target.port), true) +
              "\"/>\n";
    suites +=
        "      <property name=\"tls\" value=\"" + xml_escape(report.target.tls, true) + "\"/>\n";
    suites += "      <property name=\"tool\" value=\"" +
              xml_escape(report.tool_name + " " + report.tool_version, true) + "\"/>\n";
    suites += "    </properties>\n";
    suites += cases;
    suites += "  </testsuite>\n";
    total.tests += t.tests;
    total.failures += t.failures;
    total.errors += t.errors;
    total.skipped += t.skipped;
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"" + xml_escape(report.tool_name, true) + "\" tests=\"" +
         std::to_string(total.tests) + "\" failures=\"" + std::to_string(total.failures) +
         "\" errors=\"" + std::to_string(total.errors) + "\" skipped=\"" +
         std::to_string(total.skipped) + "\" time=\"" + seconds(report.duration_ms) + "\">\n";
  out += suites;
  out += "</testsuites>\n";
  return out;
}

}  // namespace smtp::report
