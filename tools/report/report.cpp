#include "report/report.h"

#include <cstdio>
#include <ctime>

#include "smtp/sasl.h"
#include "scenario/json_source.h"
#include "scenario/load.h"
#include "scenario/variables.h"

namespace smtp::report {
namespace {

using json = nlohmann::json;
/// Written reports keep a human order of keys (format, tool, target, ...).
using ojson = nlohmann::ordered_json;

const char* dir_name(Direction d) { return d == Direction::client ? "c" : "s"; }

ojson counts_json(const Counts& c) {
  return ojson{{"passed", c.passed},
               {"failed", c.failed},
               {"non-strict", c.non_strict},
               {"skipped", c.skipped},
               {"error", c.error}};
}

ojson step_json(const StepRecord& s) {
  ojson j{{"index", s.index}, {"kind", s.kind}, {"status", to_string(s.status)}};
  if (!s.expectation.empty()) j["expectation"] = s.expectation;
  if (!s.observed.empty()) j["observed"] = s.observed;
  if (!s.reason.empty()) j["reason"] = s.reason;
  if (!s.label.empty()) j["label"] = s.label;
  return j;
}

ojson transcript_json(const TranscriptEntry& e) {
  ojson j{{"dir", dir_name(e.dir)}, {"conn", e.conn}, {"offset", e.offset}};
  if (e.t_ms) j["t_ms"] = *e.t_ms;
  if (is_valid_utf8(e.bytes)) {
    j["text"] = e.bytes;
  } else {
    j["base64"] = base64_encode(e.bytes);
  }
  j["raw"] = e.raw;
  j["redacted"] = e.redacted;
  if (e.tls) j["tls"] = true;
  return j;
}

ojson finding_json(const Finding& f) {
  ojson j{{"source", f.source}, {"severity", f.severity}, {"message", f.message}};
  if (!f.rfc.empty()) j["rfc"] = f.rfc;
  if (f.step) j["step"] = *f.step;
  if (f.offset) j["offset"] = *f.offset;
  return j;
}

ojson scenario_json(const ScenarioResult& s) {
  ojson j{{"id", s.id}, {"title", s.title}, {"rfc", s.rfc}};
  if (!s.requirement.empty()) j["requirement"] = s.requirement;
  j["level"] = s.level;
  if (!s.tags.empty()) j["tags"] = s.tags;
  if (!s.file.empty()) j["file"] = s.file;
  j["verdict"] = to_string(s.verdict);
  j["reason"] = one_line(s.reason, 1000);
  j["duration_ms"] = s.duration_ms;
  j["steps"] = ojson::array();
  for (const StepRecord& r : s.steps) j["steps"].push_back(step_json(r));
  j["transcript"] = ojson::array();
  for (const TranscriptEntry& e : s.transcript) j["transcript"].push_back(transcript_json(e));
  j["findings"] = ojson::array();
  for (const Finding& f : s.findings) j["findings"].push_back(finding_json(f));
  return j;
}

Counts counts_from(const json& j) {
  Counts c;
  c.passed = j.at("passed").get<std::size_t>();
  c.failed = j.at("failed").get<std::size_t>();
  c.non_strict = j.at("non-strict").get<std::size_t>();
  c.skipped = j.at("skipped").get<std::size_t>();
  c.error = j.at("error").get<std::size_t>();
  return c;
}

/// Length of the UTF-8 sequence starting at s[i], 0 when malformed.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3Fu);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

const char* to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::passed:
      return "passed";
    case Verdict::failed:
      return "failed";
    case Verdict::non_strict:
      return "non-strict";
    case Verdict::skipped:
      return "skipped";
    case Verdict::error:
      return "error";
  }
  return "error";
}

std::optional<Verdict> parse_verdict(std::string_view s) noexcept {
  if (s == "passed") return Verdict::passed;
  if (s == "failed") return Verdict::failed;
  if (s == "non-strict") return Verdict::non_strict;
  if (s == "skipped") return Verdict::skipped;
  if (s == "error") return Verdict::error;
  return std::nullopt;
}

const char* to_string(StepStatus s) noexcept {
  switch (s) {
    case StepStatus::passed:
      return "passed";
    case StepStatus::failed:
      return "failed";
    case StepStatus::non_strict:
      return "non-strict";
    case StepStatus::warned:
      return "warned";
    case StepStatus::skipped:
      return "skipped";
    case StepStatus::error:
      return "error";
  }
  return "error";
}

std::optional<StepStatus> parse_step_status(std::string_view s) noexcept {
  if (s == "passed") return StepStatus::passed;
  if (s == "failed") return StepStatus::failed;
  if (s == "non-strict") return StepStatus::non_strict;
  if (s == "warned") return StepStatus::warned;
  if (s == "skipped") return StepStatus::skipped;
  if (s == "error") return StepStatus::error;
  return std::nullopt;
}

void Counts::add(Verdict v) noexcept {
  switch (v) {
    case Verdict::passed:
      ++passed;
      break;
    case Verdict::failed:
      ++failed;
      break;
    case Verdict::non_strict:
      ++non_strict;
      break;
    case Verdict::skipped:
      ++skipped;
      break;
    case Verdict::error:
      ++error;
      break;
  }
}

Report make_report() {
  Report r;
  r.tool_version = SMTPH_VERSION;
  return r;
}

Summary summarize(const Report& report) {
  Summary s;
  for (const ScenarioResult& r : report.scenarios) {
    ++s.total;
    s.by_verdict.add(r.verdict);
    s.by_level[r.level].add(r.verdict);
    s.by_rfc[r.rfc].add(r.verdict);
  }
  return s;
}

ojson to_json(const Report& report) {
  const Summary summary = summarize(report);
  ojson j;
  j["format"] = 1;
  j["tool"] = {{"name", report.tool_name}, {"version", report.tool_version}};
  j["target"] = {{"host", report.target.host},
                 {"port", report.target.port},
                 {"tls", report.target.tls},
                 {"embedded", report.target.embedded}};
  if (report.tls) {
    ojson t{{"version", report.tls->version},
            {"cipher", report.tls->cipher},
            {"certificate_subject", report.tls->certificate_subject},
            {"verified", report.tls->verified}};
    if (!report.tls->verify_error.empty()) t["verify_error"] = report.tls->verify_error;
    j["tls"] = std::move(t);
  } else {
    j["tls"] = nullptr;
  }
  j["started_at"] = report.started_at;
  j["duration_ms"] = report.duration_ms;
  j["strict"] = report.strict;
  j["interrupted"] = report.interrupted;
  ojson by_level = ojson::object();
  for (const auto& [level, counts] : summary.by_level) by_level[level] = counts_json(counts);
  ojson by_rfc = ojson::object();
  for (const auto& [rfc, counts] : summary.by_rfc) by_rfc[rfc] = counts_json(counts);
  j["summary"] = {{"total", summary.total},
                  {"by_verdict", counts_json(summary.by_verdict)},
                  {"by_level", std::move(by_level)},
                  {"by_rfc", std::move(by_rfc)}};
  j["scenarios"] = ojson::array();
  for (const ScenarioResult& s : report.scenarios) j["scenarios"].push_back(scenario_json(s));
  return j;
}

std::string to_json_text(const Report& report) {
  std::string text = to_json(report).dump(2, ' ', false, ojson::error_handler_t::replace);
  text += '\n';
  return text;
}

tl::expected<Report, std::string> report_from_json(const json& j) {
  try {
    Report r;
    r.tool_name = j.at("tool").at("name").get<std::string>();
    r.tool_version = j.at("tool").at("version").get<std::string>();
    const json& t = j.at("target");
    r.target.host = t.at("host").get<std::string>();
    r.target.port = t.at("port").get<std::uint16_t>();
    r.target.tls = t.at("tls").get<std::string>();
    r.target.embedded = t.at("embedded").get<bool>();
    if (!j.at("tls").is_null()) {
      const json& tls = j["tls"];
      TlsFacts f;
      f.version = tls.at("version").get<std::string>();
      f.cipher = tls.at("cipher").get<std::string>();
      f.certificate_subject = tls.at("certificate_subject").get<std::string>();
      f.verified = tls.at("verified").get<bool>();
      f.verify_error = tls.value("verify_error", std::string());
      r.tls = std::move(f);
    }
    r.started_at = j.at("started_at").get<std::string>();
    r.duration_ms = j.at("duration_ms").get<std::uint64_t>();
    r.strict = j.at("strict").get<bool>();
    r.interrupted = j.at("interrupted").get<bool>();
    for (const json& s : j.at("scenarios")) {
      ScenarioResult sr;
      sr.id = s.at("id").get<std::string>();
      sr.title = s.at("title").get<std::string>();
      sr.rfc = s.at("rfc").get<std::string>();
      sr.requirement = s.value("requirement", std::string());
      sr.level = s.at("level").get<std::string>();
      if (s.contains("tags")) sr.tags = s["tags"].get<std::vector<std::string>>();
      sr.file = s.value("file", std::string());
      const auto verdict = parse_verdict(s.at("verdict").get<std::string>());
      if (!verdict) return tl::unexpected("scenario " + sr.id + ": unknown verdict");
      sr.verdict = *verdict;
      sr.reason = s.at("reason").get<std::string>();
      sr.duration_ms = s.at("duration_ms").get<std::uint64_t>();
      for (const json& st : s.at("steps")) {
        StepRecord rec;
        rec.index = st.at("index").get<std::size_t>();
        rec.kind = st.at("kind").get<std::string>();
        rec.expectation = st.value("expectation", std::string());
        rec.observed = st.value("observed", std::string());
        const auto status = parse_step_status(st.at("status").get<std::string>());
        if (!status) return tl::unexpected("scenario " + sr.id + ": unknown step status");
        rec.status = *status;
        rec.reason = st.value("reason", std::string());
        rec.label = st.value("label", std::string());
        sr.steps.push_back(std::move(rec));
      }
      for (const json& te : s.at("transcript")) {
        TranscriptEntry e;
        e.dir = te.at("dir").get<std::string>() == "c" ? Direction::client : Direction::server;
        e.conn = te.value("conn", std::uint32_t{0});
        e.offset = te.at("offset").get<std::uint64_t>();
        if (te.contains("t_ms")) e.t_ms = te["t_ms"].get<std::uint64_t>();
        if (te.contains("text")) {
          e.bytes = te["text"].get<std::string>();
        } else {
          auto bytes = base64_decode(te.at("base64").get<std::string>());
          if (!bytes) return tl::unexpected("scenario " + sr.id + ": bad base64 in transcript");
          e.bytes = std::move(*bytes);
        }
        e.raw = te.at("raw").get<bool>();
        e.redacted = te.at("redacted").get<bool>();
        e.tls = te.value("tls", false);
        sr.transcript.push_back(std::move(e));
      }
      for (const json& fj : s.at("findings")) {
        Finding f;
        f.source = fj.at("source").get<std::string>();
        f.severity = fj.at("severity").get<std::string>();
        f.message = fj.at("message").get<std::string>();
        f.rfc = fj.value("rfc", std::string());
        if (fj.contains("step")) f.step = fj["step"].get<std::size_t>();
        if (fj.contains("offset")) f.offset = fj["offset"].get<std::uint64_t>();
        sr.findings.push_back(std::move(f));
      }
      r.scenarios.push_back(std::move(sr));
    }
    // The summary is derived data; a report whose summary disagrees was edited or broken.
    const Summary s = summarize(r);
    const json& sj = j.at("summary");
    if (sj.at("total").get<std::size_t>() != s.total ||
        !(counts_from(sj.at("by_verdict")) == s.by_verdict)) {
      return tl::unexpected(std::string("summary does not match the scenarios"));
    }
    return r;
  } catch (const json::exception& e) {
    return tl::unexpected(std::string("malformed report: ") + e.what());
  }
}

tl::expected<Report, std::vector<std::string>> read_report(
    const std::filesystem::path& path, const std::filesystem::path& schema_dir) {
  auto text = scenario::read_text_file(path);
  if (!text) return tl::unexpected(std::vector<std::string>{path.string() + ": " + text.error()});
  std::vector<std::string> errors;
  for (const scenario::LoadError& e :
       scenario::validate_json_text(*text, path.string(), "report", schema_dir)) {
    errors.push_back(e.to_string());
  }
  if (!errors.empty()) return tl::unexpected(std::move(errors));
  const scenario::JsonDocument doc = scenario::JsonDocument::parse(std::move(*text));
  auto report = report_from_json(doc.value());
  if (!report)
    return tl::unexpected(std::vector<std::string>{path.string() + ": " + report.error()});
  return std::move(*report);
}

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  long long frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  char fbuf[8];
  std::snprintf(fbuf, sizeof fbuf, ".%03lldZ", frac);
  out += fbuf;
  return out;
}

int exit_code(const Report& report, bool strict) noexcept {
  bool failed = false;
  bool error = false;
  for (const ScenarioResult& s : report.scenarios) {
    if (s.verdict == Verdict::failed) failed = true;
    if (s.verdict == Verdict::non_strict && strict && s.level != "MAY") failed = true;
    if (s.verdict == Verdict::error) error = true;
  }
  if (failed) return 1;
  if (error) return 3;
  return 0;
}

bool is_valid_utf8(std::string_view bytes) noexcept {
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::size_t n = utf8_sequence(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string one_line(std::string_view text, std::size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max) + 8);
  std::size_t i = 0;
  while (i < text.size() && out.size() < max) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      out += scenario::escape_bytes(text.substr(i, 1));
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out += scenario::escape_bytes(text.substr(i, 1));
      ++i;
      continue;
    }
    out.append(text, i, n);
    i += n;
  }
  if (i < text.size()) out += "...";
  return out;
}

}  // namespace smtp::report
