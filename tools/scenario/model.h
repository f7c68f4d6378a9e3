/// @file model.h
/// @brief A loaded scenario (format 1): what the runner executes and the evaluator judges.
///
/// The JSON form is specified by reports/schema/scenario.schema.json and documented for users
/// in scenarios/README.md; load.h turns files into these structures (every template parsed,
/// every variable known, every regular expression compiled), so a runner never meets a
/// malformed scenario.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "scenario/variables.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace smtp::scenario {

/// RFC 2119 requirement level of a scenario.
enum class Level : std::uint8_t { must, must_not, should, should_not, may };
/// "MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY".
[[nodiscard]] const char* to_string(Level level) noexcept;
[[nodiscard]] std::optional<Level> parse_level(std::string_view s) noexcept;
/// MUST and MUST NOT: a failure is a real failure (exit 1).
[[nodiscard]] constexpr bool is_mandatory(Level level) noexcept {
  return level == Level::must || level == Level::must_not;
}

/// Transport of a run or a connect step.
enum class TlsMode : std::uint8_t { none, starttls, implicit };
[[nodiscard]] const char* to_string(TlsMode mode) noexcept;
[[nodiscard]] std::optional<TlsMode> parse_tls_mode(std::string_view s) noexcept;

/// What a failing check does (expect.on_fail, ehlo.on_fail, starttls.on_fail).
enum class OnFail : std::uint8_t {
  fail,        ///< default: the scenario fails at its level and stops
  non_strict,  ///< counts as a SHOULD-level failure; the scenario continues
  warn,        ///< a finding only; the scenario continues
  skip,        ///< a precondition was not met: the scenario is skipped and stops
};
[[nodiscard]] const char* to_string(OnFail on_fail) noexcept;

/// How ServerModel oracle findings count for a scenario.
enum class OracleMode : std::uint8_t { warn, check, off };
[[nodiscard]] const char* to_string(OracleMode mode) noexcept;

/// RFC 3463 pattern: class.subject.detail, subject/detail may be wildcards.
struct EnhancedPattern {
  std::uint8_t klass = 0;
  std::optional<std::uint16_t> subject;         ///< nullopt = *
  std::optional<std::uint16_t> detail;          ///< nullopt = *
  [[nodiscard]] std::string to_string() const;  ///< "5.5.*"
  friend bool operator==(const EnhancedPattern&, const EnhancedPattern&) = default;
};

/// Conditions of one expectation or one any_of outcome. All present conditions must hold.
struct Conditions {
  std::vector<std::uint16_t> codes;                ///< "code" or "codes"; empty = any code
  std::optional<std::uint8_t> klass;               ///< "class": first digit
  std::optional<EnhancedPattern> enhanced;         ///< "enhanced"
  std::string text;                                ///< "text": RE2, searched in each reply line
  std::shared_ptr<const re2::RE2> text_re;         ///< compiled at load time; set iff !text.empty()
  std::optional<std::string> capability;           ///< "capability" (upper case)
  bool present = true;                             ///< "present" (with capability)
  bool closed = false;                             ///< "closed": the server closed the connection
  std::optional<std::uint32_t> nothing_within_ms;  ///< no reply within this time
  bool then_close = false;                         ///< "then": "close" after the matching reply

  /// A reply must be read to evaluate these (false for capability checks, closed, silence).
  [[nodiscard]] bool needs_reply() const noexcept {
    return !capability && !closed && !nothing_within_ms;
  }
};

/// Verdict an any_of outcome gives when it matches.
enum class OutcomeVerdict : std::uint8_t { pass, fail, non_strict };
[[nodiscard]] const char* to_string(OutcomeVerdict v) noexcept;

struct Outcome {
  Conditions when;
  OutcomeVerdict verdict = OutcomeVerdict::pass;
  std::string label;  ///< for the report ("rejected", "kept-as-content")
  bool stop = false;  ///< end the scenario after this outcome, with its verdict
};

/// An "expect" step (also the implicit checks of ehlo and starttls).
struct Expect {
  Conditions when;              ///< used when any_of is empty
  std::vector<Outcome> any_of;  ///< three-way (or more) checks: first match decides
  OnFail on_fail = OnFail::fail;
  std::optional<std::uint32_t> timeout_ms;  ///< wait for the reply (else scenario/run default)
  std::string note;
};

struct ConnectStep {
  std::optional<TlsMode> tls;  ///< none or implicit; nullopt = the run's mode
};
/// One command line; the runner appends CRLF.
struct SendStep {
  Template line;
};
/// Bytes sent verbatim (escapes decoded at load time).
struct RawStep {
  Template bytes;
};
/// Command lines sent in one write, CRLF after each.
struct PipelineStep {
  std::vector<Template> lines;
};
/// Mail data after a 354 reply.
struct DataStep {
  bool structured = true;         ///< headers + body (else raw)
  std::vector<Template> headers;  ///< "Name: value" lines
  Template body;                  ///< LF or CRLF line breaks, sent as CRLF
  Template raw;                   ///< exact bytes (escapes decoded)
  bool dot_stuff = true;          ///< default: structured true, raw false
  std::optional<Template> end;    ///< terminator override (escapes decoded)
};
/// One BDAT chunk (RFC 3030).
struct BdatStep {
  std::optional<Template> bytes;      ///< chunk bytes; nullopt = `size` filler octets
  std::optional<std::uint64_t> size;  ///< declared size; default = byte count of `bytes`
  bool last = false;
};
struct StartTlsStep {
  bool handshake_only = false;  ///< STARTTLS was sent and its 220 read by earlier steps
  Expect expect;                ///< {"code": 220}, with the step's on_fail
};
enum class Credentials : std::uint8_t { valid, invalid };
struct AuthStep {
  std::string mechanism;  ///< "PLAIN" or "LOGIN"
  Credentials credentials = Credentials::valid;
  bool initial_response = true;  ///< send the first response with the AUTH command (RFC 4954)
};
struct EhloStep {
  Template domain;  ///< default ${helo}
  Expect expect;    ///< {"code": 250}, with the step's on_fail
};
struct SleepStep {
  std::uint32_t ms = 0;
};
struct ExpectStep {
  Expect expect;
};
struct CloseStep {};

using StepAction = std::variant<ConnectStep, SendStep, RawStep, PipelineStep, DataStep, BdatStep,
                                StartTlsStep, AuthStep, EhloStep, SleepStep, ExpectStep, CloseStep>;

/// The step's JSON key: "connect", "send", ... "close".
[[nodiscard]] const char* kind_name(const StepAction& action) noexcept;

struct Step {
  StepAction action;
  std::string pointer;   ///< "/steps/3" in the scenario file
  std::size_t line = 0;  ///< of the step in the file (1-based)
  std::size_t column = 0;
};

struct Scenario {
  std::string id;  ///< "rfc5321/4.1.1.10/quit-221"
  std::string title;
  std::string rfc;          ///< "RFC5321#4.1.1.10"
  std::string requirement;  ///< the quoted RFC sentence
  Level level = Level::must;
  std::vector<std::string> tags;
  /// EHLO keywords ("PIPELINING", "AUTH=PLAIN") and facts ("tls", "credentials", ...).
  std::vector<std::string> prerequisites;  ///< the "requires" field
  std::vector<TlsMode> tls;                ///< run only in these modes; empty = any
  std::optional<std::uint32_t> timeout_ms;
  OracleMode oracle = OracleMode::warn;
  std::string notes;
  std::vector<Step> steps;  ///< never empty
  std::string file;         ///< the file it was loaded from
  std::size_t line = 0;     ///< of the scenario's "id" value
  std::size_t column = 0;
};

}  // namespace smtp::scenario
