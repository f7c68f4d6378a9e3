#include "report/summary.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace smtp::report {
namespace {

int severity(Verdict v) {
  switch (v) {
    case Verdict::passed:
    case Verdict::skipped:
      return 0;
    case Verdict::non_strict:
      return 1;
    case Verdict::error:
      return 2;
    case Verdict::failed:
      return 3;
  }
  return 0;
}

std::string counts_line(const Counts& c) {
  return std::to_string(c.passed) + " passed, " + std::to_string(c.failed) + " failed, " +
         std::to_string(c.non_strict) + " non-strict, " + std::to_string(c.skipped) + " skipped, " +
         std::to_string(c.error) + " error";
}

/// Printable text: valid UTF-8 kept, controls and bad bytes as escapes.
void append_escaped(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      std::size_t n = 1;
      while (n < 4 && i + n < bytes.size() &&
             (static_cast<unsigned char>(bytes[i + n]) & 0xC0) == 0x80) {
        ++n;
      }
      if (is_valid_utf8(bytes.substr(i, n))) {
        out.append(bytes, i, n);
        i += n;
        continue;
      }
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
    ++i;
  }
}

}  // namespace

std::string transcript_text(const ScenarioResult& result) {
  std::string out;
  std::uint32_t conn = 0;
  for (const TranscriptEntry& e : result.transcript) {
    if (e.conn != conn) {
      out += "-- connection " + std::to_string(e.conn) + "\n";
      conn = e.conn;
    }
    const char* prefix = e.dir == Direction::client ? "C: " : "S: ";
    std::string_view rest = e.bytes;
    while (!rest.empty()) {
      std::size_t cut = rest.find('\n');
      cut = cut == std::string_view::npos ? rest.size() : cut + 1;
      out += prefix;
      append_escaped(out, rest.substr(0, cut));
      if (e.redacted) out += "  [redacted]";
      if (e.raw && e.dir == Direction::client) out += "  [raw]";
      out += '\n';
      rest.remove_prefix(cut);
    }
  }
  return out;
}

std::string summary_text(const Report& report, bool strict) {
  const Summary s = summarize(report);
  std::string out;
  out += report.tool_name + " " + report.tool_version + " report, started " + report.started_at +
         ", " + std::to_string(report.duration_ms) + " ms\n";
  out += "target: " + report.target.host + ":" + std::to_string(report.target.port) + " (tls " +
         report.target.tls + (report.target.embedded ? ", embedded server" : "") + ")\n";
  if (report.tls) {
    out += "tls: " + report.tls->version + " " + report.tls->cipher + ", certificate " +
           report.tls->certificate_subject +
           (report.tls->verified ? " (verified)" : " (not verified)") + "\n";
  }
  if (report.interrupted) out += "INTERRUPTED: not every scenario ran\n";
  out += std::to_string(s.total) + " scenarios: " + counts_line(s.by_verdict) + "\n";
  for (const char* level : {"MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY"}) {
    const auto it = s.by_level.find(level);
    if (it == s.by_level.end()) continue;
    std::string name = level;
    name.resize(10, ' ');
    out += "  " + name + " " + counts_line(it->second) + "\n";
  }
  bool header = false;
  for (const ScenarioResult& r : report.scenarios) {
    if (r.verdict == Verdict::passed) continue;
    if (!header) {
      out += "not passed:\n";
      header = true;
    }
    std::string verdict = to_string(r.verdict);
    for (char& ch : verdict) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    verdict.resize(10, ' ');
    out += "  " + verdict + " " + r.id + " [" + r.level + "]";
    if (!r.reason.empty()) out += ": " + one_line(r.reason);
    out += "\n";
  }
  const int code = exit_code(report, strict);
  out += "result: ";
  out += code == 0 ? "OK" : code == 1 ? "FAILED" : "ERRORS";
  out += strict ? " (strict)\n" : "\n";
  return out;
}

ReportDiff diff_reports(const Report& before, const Report& after) {
  std::map<std::string, const ScenarioResult*> old_by_id;
  std::map<std::string, const ScenarioResult*> new_by_id;
  for (const ScenarioResult& s : before.scenarios) old_by_id[s.id] = &s;
  for (const ScenarioResult& s : after.scenarios) new_by_id[s.id] = &s;
  ReportDiff diff;
  for (const auto& [id, o] : old_by_id) {
    const auto it = new_by_id.find(id);
    if (it == new_by_id.end()) {
      diff.changes.push_back({id, o->verdict, std::nullopt, o->reason, false});
      continue;
    }
    const ScenarioResult* n = it->second;
    if (n->verdict == o->verdict) continue;
    const bool regression = severity(n->verdict) > severity(o->verdict);
    diff.changes.push_back({id, o->verdict, n->verdict, n->reason, regression});
    if (regression) ++diff.regressions;
  }
  for (const auto& [id, n] : new_by_id) {
    if (old_by_id.count(id) == 0)
      diff.changes.push_back({id, std::nullopt, n->verdict, n->reason, false});
  }
  std::sort(diff.changes.begin(), diff.changes.end(),
            [](const VerdictChange& a, const VerdictChange& b) { return a.id < b.id; });
  return diff;
}

std::string diff_text(const ReportDiff& diff) {
  std::string out;
  for (const VerdictChange& c : diff.changes) {
    const char* tag = c.regression ? "REGRESSION"
                      : !c.before  ? "added"
                      : !c.after   ? "removed"
                                   : "changed";
    out += std::string(tag) + " " + c.id + ": " + (c.before ? to_string(*c.before) : "-") + " -> " +
           (c.after ? to_string(*c.after) : "-");
    if (!c.reason.empty() && c.after && *c.after != Verdict::passed) {
      out += " (" + one_line(c.reason) + ")";
    }
    out += "\n";
  }
  out += std::to_string(diff.changes.size()) + " changed, " + std::to_string(diff.regressions) +
         " regression" + (diff.regressions == 1 ? "" : "s") + "\n";
  return out;
}

}  // namespace smtp::report
