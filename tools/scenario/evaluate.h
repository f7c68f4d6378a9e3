/// @file evaluate.h
/// @brief Pure judgement: an expectation against what was observed, step results to a
///        scenario verdict, and whether a scenario applies to a target at all. No I/O.
///
/// Runner protocol for an expect step (and the implicit checks of ehlo / starttls):
///  1. `plan_expect()` says whether to read a reply, how long to wait, whether silence is an
///     answer (nothing_within_ms), and whether to wait for EOF after the reply (then: close).
///  2. The runner builds an `Observation` from what happened.
///  3. `evaluate_expect()` returns the step status, a one-line reason and whether to stop.
/// At the end `aggregate()` turns the step records into the scenario verdict.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "report/report.h"
#include "scenario/model.h"
#include "smtp/ehlo.h"
#include "smtp/reply.h"

namespace smtp::scenario {

/// What the runner saw in answer to an expectation.
struct Observation {
  enum class Kind : std::uint8_t {
    reply,     ///< a complete reply arrived
    closed,    ///< the server closed the connection (EOF) before a reply
    timeout,   ///< nothing arrived within the wait
    io_error,  ///< the connection failed (reset, TLS alert, reply parser failure)
  };
  Kind kind = Kind::timeout;
  std::optional<Reply> reply;   ///< set iff kind == reply
  std::uint32_t waited_ms = 0;  ///< the wait that ran out (timeout)
  /// After a reply, when plan.wait_for_close: true = EOF followed within the wait, false = the
  /// connection was still open at the deadline. nullopt = not checked.
  std::optional<bool> closed_after;
  std::string detail;  ///< io_error text, or how the close happened

  [[nodiscard]] static Observation of_reply(Reply r, std::optional<bool> closed_after = {});
  [[nodiscard]] static Observation of_close(std::string detail = {});
  [[nodiscard]] static Observation of_timeout(std::uint32_t waited_ms);
  [[nodiscard]] static Observation of_error(std::string detail);
};

/// How the runner must observe for an expectation.
struct ReadPlan {
  bool read_reply = true;         ///< false: capability check, judged on recorded capabilities
  std::uint32_t wait_ms = 0;      ///< how long to wait for a reply (or EOF)
  bool silence_expected = false;  ///< a timeout is an answer to judge (nothing_within_ms)
  bool wait_for_close = false;    ///< after a reply, wait up to wait_ms for EOF (then: close)
};

/// `default_timeout_ms`: the scenario's timeout_ms, else the run's --timeout. For
/// nothing_within_ms (also as an any_of outcome) the wait is that window (the longest one
/// when several outcomes have one); otherwise expect.timeout_ms, else the default.
[[nodiscard]] ReadPlan plan_expect(const Expect& expect, std::uint32_t default_timeout_ms);

/// Result of evaluating one step.
struct StepOutcome {
  report::StepStatus status = report::StepStatus::passed;
  std::string reason;  ///< one line; "" when passed without a label
  std::string label;   ///< the any_of outcome that matched
  bool stop = false;   ///< end the scenario after this step (failure, skip, outcome stop)
};

/// Judge `obs` against `expect`. `caps`: capabilities of the last successful EHLO on this
/// connection (nullptr when none). Failing checks follow expect.on_fail: fail -> failed and
/// stop; non_strict -> non_strict; warn -> warned; skip -> skipped and stop.
[[nodiscard]] StepOutcome evaluate_expect(const Expect& expect, const Observation& obs,
                                          const Capabilities* caps);

/// For steps that only send (send, raw, pipeline, data, bdat, auth command, sleep, close,
/// connect): passed, or error (and stop) when `io_error` is set (write failed, connect or TLS
/// handshake failed).
[[nodiscard]] StepOutcome evaluate_action(const std::optional<std::string>& io_error);

/// The report record of step `index`: kind, the expectation (for expect, ehlo and starttls
/// steps: describe() of what they check), `observed` (describe(Observation), or what was sent,
/// e.g. escape_bytes() of the rendered bytes), and the outcome's status, reason and label.
[[nodiscard]] report::StepRecord make_step_record(std::size_t index, const Step& step,
                                                  const StepOutcome& outcome,
                                                  std::string observed = {});

/// "code 250", "class 5, enhanced 5.5.*", "any of: class 2 -> fail (accepted); ...".
[[nodiscard]] std::string describe(const Conditions& c);
[[nodiscard]] std::string describe(const Expect& e);
/// "250 2.0.0 OK (+3 lines)", "connection closed", "no reply within 5000 ms".
[[nodiscard]] std::string describe(const Observation& obs);
/// "250-first line" / "250 text" first line of a reply, escaped, one line.
[[nodiscard]] std::string describe(const Reply& reply);

/// Facts about the run and the profile that `requires` and `tls` refer to.
struct TargetFacts {
  TlsMode tls = TlsMode::none;  ///< the run's transport (--tls)
  bool credentials = true;      ///< the profile has a username and a password
  bool store = false;           ///< the profile names a delivered-mail store
  bool auth_requires_tls = false;
};

/// Reason to skip before connecting (tls constraint, lower-case facts); nullopt = runs.
[[nodiscard]] std::optional<std::string> unmet_facts(const Scenario& s, const TargetFacts& facts);
/// True when `requires` names EHLO keywords (checked after the first successful ehlo step).
[[nodiscard]] bool needs_capabilities(const Scenario& s) noexcept;
/// Reason to skip given the capabilities of an EHLO reply ("target does not advertise
/// PIPELINING", "AUTH does not offer PLAIN"); nullopt = all advertised.
[[nodiscard]] std::optional<std::string> unmet_capabilities(const Scenario& s,
                                                            const Capabilities& caps);

/// What happened outside the steps.
struct AggregateExtras {
  std::string skipped;  ///< not applicable (from unmet_*): verdict skipped with this reason
  std::string error;    ///< could not run / interrupted: verdict error unless a step failed first
  /// ServerModel findings; they fail the scenario only when its oracle mode is check.
  std::vector<std::string> oracle_findings;
};

struct ScenarioVerdict {
  report::Verdict verdict = report::Verdict::passed;
  std::string reason;  ///< one line; "" when passed
};

/// Verdict of a scenario from its step records, in order: skipped (extras.skipped), then the
/// first failed / error / skipped step (a failed step gives failed for MUST and MUST NOT,
/// non-strict for SHOULD, SHOULD NOT and MAY), then extras.error, then oracle findings in
/// check mode, then any non_strict step, else passed.
[[nodiscard]] ScenarioVerdict aggregate(const Scenario& s,
                                        std::span<const report::StepRecord> steps,
                                        const AggregateExtras& extras = {});

/// A report entry for `s` with its metadata filled in (verdict etc. still to set).
[[nodiscard]] report::ScenarioResult make_result(const Scenario& s);

}  // namespace smtp::scenario
