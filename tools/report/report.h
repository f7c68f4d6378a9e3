/// @file report.h
/// @brief The compliance report (format 1): what a run found, scenario by scenario.
///        JSON form: reports/schema/report.schema.json; JUnit XML from the same data
///        (junit.h); human summary and run-to-run diff (summary.h); atomic writing (write.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace smtp::report {

/// Scenario verdicts (Autobahn style).
enum class Verdict : std::uint8_t {
  passed,
  failed,      ///< a MUST / MUST NOT requirement is not met
  non_strict,  ///< a SHOULD / SHOULD NOT / MAY requirement is not met (counts with --strict)
  skipped,     ///< not applicable: the target lacks a capability, TLS mode, profile fact
  error,       ///< could not run: connect or TLS set-up failed, interrupted
};
/// "passed", "failed", "non-strict", "skipped", "error".
[[nodiscard]] const char* to_string(Verdict v) noexcept;
[[nodiscard]] std::optional<Verdict> parse_verdict(std::string_view s) noexcept;

/// Result of one step.
enum class StepStatus : std::uint8_t { passed, failed, non_strict, warned, skipped, error };
/// "passed", "failed", "non-strict", "warned", "skipped", "error".
[[nodiscard]] const char* to_string(StepStatus s) noexcept;
[[nodiscard]] std::optional<StepStatus> parse_step_status(std::string_view s) noexcept;

struct StepRecord {
  std::size_t index = 0;    ///< into the scenario's steps
  std::string kind;         ///< "expect", "send", ... (model.h kind_name())
  std::string expectation;  ///< evaluate.h describe(Expect) for checks; "" otherwise
  std::string observed;     ///< describe(Observation), or what was sent (escaped)
  StepStatus status = StepStatus::passed;
  std::string reason;  ///< one line when not passed
  std::string label;   ///< the any_of outcome that matched
  friend bool operator==(const StepRecord&, const StepRecord&) = default;
};

enum class Direction : std::uint8_t { client, server };

/// Bytes as they crossed the wire. JSON: "text" when valid UTF-8, else "base64".
struct TranscriptEntry {
  Direction dir = Direction::client;
  std::uint32_t conn = 0;             ///< connection number within the scenario
  std::uint64_t offset = 0;           ///< octet offset in this direction of this connection
  std::optional<std::uint64_t> t_ms;  ///< since the scenario started
  std::string bytes;
  bool raw = false;       ///< sent by a raw step (unchecked bytes)
  bool redacted = false;  ///< secrets replaced by kRedacted (redact.h)
  bool tls = false;       ///< carried inside TLS
  friend bool operator==(const TranscriptEntry&, const TranscriptEntry&) = default;
};

struct Finding {
  std::string source = "oracle";     ///< "oracle", "runner", "scenario"
  std::string severity = "warning";  ///< "info", "warning", "error"
  std::string message;
  std::string rfc;  ///< "" = none
  std::optional<std::size_t> step;
  std::optional<std::uint64_t> offset;
  friend bool operator==(const Finding&, const Finding&) = default;
};

struct ScenarioResult {
  std::string id;
  std::string title;
  std::string rfc;
  std::string requirement;
  std::string level = "MUST";  ///< "MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY"
  std::vector<std::string> tags;
  std::string file;
  Verdict verdict = Verdict::passed;
  std::string reason;  ///< one line; "" when passed
  std::uint64_t duration_ms = 0;
  std::vector<StepRecord> steps;
  std::vector<TranscriptEntry> transcript;
  std::vector<Finding> findings;
  friend bool operator==(const ScenarioResult&, const ScenarioResult&) = default;
};

struct TlsFacts {
  std::string version;              ///< "TLSv1.3"
  std::string cipher;               ///< "TLS_AES_256_GCM_SHA384"
  std::string certificate_subject;  ///< "CN=localhost"
  bool verified = false;
  std::string verify_error;  ///< "" = none / not attempted
  friend bool operator==(const TlsFacts&, const TlsFacts&) = default;
};

struct Target {
  std::string host;
  std::uint16_t port = 0;
  std::string tls = "none";  ///< "none", "starttls", "implicit"
  bool embedded = false;     ///< the embedded reference server
  friend bool operator==(const Target&, const Target&) = default;
};

struct Counts {
  std::size_t passed = 0, failed = 0, non_strict = 0, skipped = 0, error = 0;
  void add(Verdict v) noexcept;
  [[nodiscard]] std::size_t total() const noexcept {
    return passed + failed + non_strict + skipped + error;
  }
  friend bool operator==(const Counts&, const Counts&) = default;
};

struct Summary {
  std::size_t total = 0;
  Counts by_verdict;
  std::map<std::string, Counts> by_level;  ///< "MUST" ...
  std::map<std::string, Counts> by_rfc;    ///< scenario rfc field, "RFC5321#4.1.1.10"
  friend bool operator==(const Summary&, const Summary&) = default;
};

struct Report {
  std::string tool_name = "smtp-harness";
  std::string tool_version;  ///< SMTPH_VERSION
  Target target;
  std::optional<TlsFacts> tls;
  std::string started_at;  ///< ISO 8601 UTC, iso8601_utc()
  std::uint64_t duration_ms = 0;
  bool strict = false;
  bool interrupted = false;
  std::vector<ScenarioResult> scenarios;
  friend bool operator==(const Report&, const Report&) = default;
};

/// A report with tool_version = this build's version.
[[nodiscard]] Report make_report();

[[nodiscard]] Summary summarize(const Report& report);

/// JSON per reports/schema/report.schema.json (summary computed from the scenarios), keys in
/// a human order.
[[nodiscard]] nlohmann::ordered_json to_json(const Report& report);
/// Serialized JSON text (2-space indent, trailing newline). Invalid UTF-8 in free-text fields
/// is replaced by U+FFFD; transcript bytes go to base64 instead, so they stay exact.
[[nodiscard]] std::string to_json_text(const Report& report);

/// Parse a report that passed schema validation (see read_report()). Error: one line.
[[nodiscard]] tl::expected<Report, std::string> report_from_json(const nlohmann::json& j);

/// Read, validate (schema) and parse a report file; errors as "file:line:col: pointer: msg".
[[nodiscard]] tl::expected<Report, std::vector<std::string>> read_report(
    const std::filesystem::path& path, const std::filesystem::path& schema_dir = {});

/// "2025-01-31T12:34:56.789Z".
[[nodiscard]] std::string iso8601_utc(std::chrono::system_clock::time_point t);

/// DESIGN.md exit codes from a report: 1 when a scenario failed (or, with `strict`, when a
/// SHOULD / SHOULD NOT scenario is non-strict; MAY never counts), else 3 when a scenario
/// could not run (error), else 0.
[[nodiscard]] int exit_code(const Report& report, bool strict) noexcept;

/// One line for humans and reports: control bytes and invalid UTF-8 escaped (\r, \n, \xNN),
/// cut to `max` octets with "...".
[[nodiscard]] std::string one_line(std::string_view text, std::size_t max = 300);

/// True when `bytes` is well-formed UTF-8 (RFC 3629: no overlongs, surrogates, > U+10FFFF).
[[nodiscard]] bool is_valid_utf8(std::string_view bytes) noexcept;

}  // namespace smtp::report
