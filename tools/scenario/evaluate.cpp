#include "scenario/evaluate.h"

#include <algorithm>
#include <cctype>

#include <re2/re2.h>

namespace smtp::scenario {
namespace {

using report::StepStatus;
using report::Verdict;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

/// Capabilities::find() without depending on its out-of-line definition.
const Capability* find_capability(const Capabilities& caps, std::string_view keyword) {
  for (const Capability& c : caps.list) {
    if (iequals(c.keyword, keyword)) return &c;
  }
  return nullptr;
}

std::string codes_text(const std::vector<std::uint16_t>& codes) {
  std::string out;
  for (const std::uint16_t c : codes) {
    if (!out.empty()) out += '|';
    out += std::to_string(c);
  }
  return out;
}

bool is_closed_kind(Observation::Kind k) {
  return k == Observation::Kind::closed || k == Observation::Kind::io_error;
}

/// Why `obs` does not satisfy `c`; nullopt when it does.
std::optional<std::string> mismatch(const Conditions& c, const Observation& obs,
                                    const Capabilities* caps) {
  if (c.capability) {
    if (caps == nullptr) return "no EHLO capabilities recorded (an ehlo step must come first)";
    const bool has = find_capability(*caps, *c.capability) != nullptr;
    if (has == c.present) return std::nullopt;
    return c.present ? "target does not advertise " + *c.capability
                     : "target advertises " + *c.capability;
  }
  if (c.closed) {
    if (is_closed_kind(obs.kind)) return std::nullopt;
    if (obs.kind == Observation::Kind::reply) {
      return "expected the connection to close, got " + describe(*obs.reply);
    }
    return "connection still open after " + std::to_string(obs.waited_ms) + " ms";
  }
  if (c.nothing_within_ms) {
    if (obs.kind == Observation::Kind::timeout) return std::nullopt;
    if (obs.kind == Observation::Kind::reply) {
      return "expected no reply within " + std::to_string(*c.nothing_within_ms) + " ms, got " +
             describe(*obs.reply);
    }
    return "expected no reply within " + std::to_string(*c.nothing_within_ms) + " ms, " +
           describe(obs);
  }
  // Reply conditions.
  if (obs.kind != Observation::Kind::reply || !obs.reply) {
    std::string what = describe(c);
    return "expected " + what + ", " + describe(obs);
  }
  const Reply& r = *obs.reply;
  if (!c.codes.empty() && std::find(c.codes.begin(), c.codes.end(), r.code) == c.codes.end()) {
    return "expected " + codes_text(c.codes) + ", got " + describe(r);
  }
  if (c.klass && r.code / 100 != *c.klass) {
    return "expected a " + std::to_string(*c.klass) + "xx reply, got " + describe(r);
  }
  if (c.enhanced) {
    if (!r.enhanced) {
      return "expected enhanced status " + c.enhanced->to_string() + ", got none in " + describe(r);
    }
    const EnhancedStatus& e = *r.enhanced;
    const bool ok = e.klass == c.enhanced->klass &&
                    (!c.enhanced->subject || *c.enhanced->subject == e.subject) &&
                    (!c.enhanced->detail || *c.enhanced->detail == e.detail);
    if (!ok) {
      return "expected enhanced status " + c.enhanced->to_string() + ", got " + e.to_string();
    }
  }
  if (!c.text.empty()) {
    if (!c.text_re || !c.text_re->ok()) return "text pattern /" + c.text + "/ is not compiled";
    const bool any = std::any_of(r.lines.begin(), r.lines.end(), [&](const std::string& line) {
      return RE2::PartialMatch(line, *c.text_re);
    });
    if (!any) {
      return "reply text does not match /" + c.text + "/: " + describe(r);
    }
  }
  if (c.then_close) {
    if (!obs.closed_after) return "connection close after the reply was not observed";
    if (!*obs.closed_after) {
      return "connection still open after " + describe(r) + " (expected the server to close)";
    }
  }
  return std::nullopt;
}

StepOutcome failing(OnFail on_fail, std::string reason, std::string label = {}) {
  StepOutcome out;
  out.reason = report::one_line(reason);
  out.label = std::move(label);
  switch (on_fail) {
    case OnFail::fail:
      out.status = StepStatus::failed;
      out.stop = true;
      break;
    case OnFail::non_strict:
      out.status = StepStatus::non_strict;
      break;
    case OnFail::warn:
      out.status = StepStatus::warned;
      break;
    case OnFail::skip:
      out.status = StepStatus::skipped;
      out.stop = true;
      break;
  }
  return out;
}

bool is_upper_token(const std::string& token) {
  return !token.empty() && (std::isupper(static_cast<unsigned char>(token[0])) ||
                            std::isdigit(static_cast<unsigned char>(token[0])));
}

}  // namespace

Observation Observation::of_reply(Reply r, std::optional<bool> closed_after) {
  Observation o;
  o.kind = Kind::reply;
  o.reply = std::move(r);
  o.closed_after = closed_after;
  return o;
}

Observation Observation::of_close(std::string detail) {
  Observation o;
  o.kind = Kind::closed;
  o.detail = std::move(detail);
  return o;
}

Observation Observation::of_timeout(std::uint32_t waited_ms) {
  Observation o;
  o.kind = Kind::timeout;
  o.waited_ms = waited_ms;
  return o;
}

Observation Observation::of_error(std::string detail) {
  Observation o;
  o.kind = Kind::io_error;
  o.detail = std::move(detail);
  return o;
}

ReadPlan plan_expect(const Expect& expect, std::uint32_t default_timeout_ms) {
  ReadPlan plan;
  plan.wait_ms = expect.timeout_ms.value_or(default_timeout_ms);
  if (expect.any_of.empty()) {
    const Conditions& c = expect.when;
    if (c.capability) {
      plan.read_reply = false;
      plan.wait_ms = 0;
      return plan;
    }
    if (c.nothing_within_ms) {
      plan.wait_ms = *c.nothing_within_ms;
      plan.silence_expected = true;
    }
    plan.wait_for_close = c.then_close;
    return plan;
  }
  std::uint32_t silence = 0;
  for (const Outcome& o : expect.any_of) {
    if (o.when.nothing_within_ms) silence = std::max(silence, *o.when.nothing_within_ms);
    plan.wait_for_close = plan.wait_for_close || o.when.then_close;
  }
  if (silence > 0) {
    plan.wait_ms = silence;
    plan.silence_expected = true;
  }
  return plan;
}

StepOutcome evaluate_expect(const Expect& expect, const Observation& obs,
                            const Capabilities* caps) {
  if (expect.any_of.empty()) {
    if (auto why = mismatch(expect.when, obs, caps)) return failing(expect.on_fail, *why);
    return {};
  }
  for (const Outcome& o : expect.any_of) {
    if (mismatch(o.when, obs, caps)) continue;
    const std::string label = o.label.empty() ? describe(o.when) : o.label;
    switch (o.verdict) {
      case OutcomeVerdict::pass: {
        StepOutcome out;
        out.label = label;
        out.stop = o.stop;
        return out;
      }
      case OutcomeVerdict::fail: {
        StepOutcome out =
            failing(expect.on_fail, "outcome '" + label + "': " + describe(obs), label);
        out.stop = out.stop || o.stop;
        return out;
      }
      case OutcomeVerdict::non_strict: {
        StepOutcome out;
        out.status = StepStatus::non_strict;
        out.reason = report::one_line("outcome '" + label + "': " + describe(obs));
        out.label = label;
        out.stop = o.stop;
        return out;
      }
    }
  }
  return failing(expect.on_fail, "no expected outcome matched: " + describe(obs));
}

StepOutcome evaluate_action(const std::optional<std::string>& io_error) {
  StepOutcome out;
  if (io_error) {
    out.status = StepStatus::error;
    out.reason = report::one_line(*io_error);
    out.stop = true;
  }
  return out;
}

std::string describe(const Conditions& c) {
  std::vector<std::string> parts;
  if (c.codes.size() == 1) parts.push_back("code " + codes_text(c.codes));
  if (c.codes.size() > 1) parts.push_back("codes " + codes_text(c.codes));
  if (c.klass) parts.push_back("class " + std::to_string(*c.klass));
  if (c.enhanced) parts.push_back("enhanced " + c.enhanced->to_string());
  if (!c.text.empty()) parts.push_back("text /" + c.text + "/");
  if (c.capability) {
    parts.push_back("capability " + *c.capability + (c.present ? " present" : " absent"));
  }
  if (c.closed) parts.push_back("connection closed");
  if (c.nothing_within_ms) {
    parts.push_back("nothing within " + std::to_string(*c.nothing_within_ms) + " ms");
  }
  if (c.then_close) parts.push_back(parts.empty() ? "any reply, then close" : "then close");
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out.empty() ? "any reply" : out;
}

std::string describe(const Expect& e) {
  if (e.any_of.empty()) return describe(e.when);
  std::string out = "any of: ";
  for (std::size_t i = 0; i < e.any_of.size(); ++i) {
    const Outcome& o = e.any_of[i];
    if (i > 0) out += "; ";
    out += describe(o.when);
    out += " -> ";
    out += to_string(o.verdict);
    if (!o.label.empty()) out += " (" + o.label + ")";
    if (o.stop) out += " [stop]";
  }
  return out;
}

std::string describe(const Reply& r) {
  std::string line = std::to_string(r.code);
  const bool multi = r.lines.size() > 1;
  if (!r.lines.empty() && (!r.lines[0].empty() || multi)) {
    line += multi ? '-' : ' ';
    line += r.lines[0];
  }
  if (multi) line += " (+" + std::to_string(r.lines.size() - 1) + " lines)";
  return report::one_line(line, 200);
}

std::string describe(const Observation& obs) {
  switch (obs.kind) {
    case Observation::Kind::reply: {
      if (!obs.reply) return "reply (missing)";
      std::string out = describe(*obs.reply);
      if (obs.closed_after) out += *obs.closed_after ? ", then closed" : ", connection left open";
      return out;
    }
    case Observation::Kind::closed:
      return obs.detail.empty() ? "connection closed"
                                : "connection closed (" + report::one_line(obs.detail, 120) + ")";
    case Observation::Kind::timeout:
      return "no reply within " + std::to_string(obs.waited_ms) + " ms";
    case Observation::Kind::io_error:
      return "connection error: " + report::one_line(obs.detail, 160);
  }
  return "nothing";
}

std::optional<std::string> unmet_facts(const Scenario& s, const TargetFacts& facts) {
  if (!s.tls.empty() && std::find(s.tls.begin(), s.tls.end(), facts.tls) == s.tls.end()) {
    std::string modes;
    for (const TlsMode m : s.tls) {
      if (!modes.empty()) modes += '|';
      modes += to_string(m);
    }
    return std::string("needs --tls ") + modes + ", the run uses " + to_string(facts.tls);
  }
  for (const std::string& r : s.prerequisites) {
    if (is_upper_token(r)) continue;
    if (r == "tls" && facts.tls == TlsMode::none)
      return "needs TLS (run with --tls starttls|implicit)";
    if (r == "starttls" && facts.tls != TlsMode::starttls) return "needs --tls starttls";
    if (r == "implicit_tls" && facts.tls != TlsMode::implicit) return "needs --tls implicit";
    if (r == "credentials" && !facts.credentials) return "needs AUTH credentials in the profile";
    if (r == "store" && !facts.store) return "needs a delivered-mail store in the profile";
    if (r == "auth_requires_tls" && !facts.auth_requires_tls) {
      return "applies only when the profile says auth_requires_tls";
    }
    if (r == "auth_without_tls" && facts.auth_requires_tls) {
      return "applies only when AUTH is allowed without TLS (profile auth_requires_tls)";
    }
  }
  return std::nullopt;
}

bool needs_capabilities(const Scenario& s) noexcept {
  return std::any_of(s.prerequisites.begin(), s.prerequisites.end(), is_upper_token);
}

std::optional<std::string> unmet_capabilities(const Scenario& s, const Capabilities& caps) {
  for (const std::string& r : s.prerequisites) {
    if (!is_upper_token(r)) continue;
    const std::size_t eq = r.find('=');
    const std::string keyword = r.substr(0, eq);
    const Capability* cap = find_capability(caps, keyword);
    if (cap == nullptr) return "target does not advertise " + keyword;
    if (eq != std::string::npos) {
      const std::string param = r.substr(eq + 1);
      const bool has = std::any_of(cap->params.begin(), cap->params.end(),
                                   [&](const std::string& p) { return iequals(p, param); });
      if (!has) return keyword + " does not offer " + param;
    }
  }
  return std::nullopt;
}

ScenarioVerdict aggregate(const Scenario& s, std::span<const report::StepRecord> steps,
                          const AggregateExtras& extras) {
  const auto failed_verdict = is_mandatory(s.level) ? Verdict::failed : Verdict::non_strict;
  auto step_reason = [](const report::StepRecord& r) {
    return report::one_line("step " + std::to_string(r.index + 1) + " (" + r.kind +
                            "): " + r.reason);
  };
  if (!extras.skipped.empty()) return {Verdict::skipped, report::one_line(extras.skipped)};
  const report::StepRecord* non_strict = nullptr;
  for (const report::StepRecord& r : steps) {
    switch (r.status) {
      case StepStatus::failed:
        return {failed_verdict, step_reason(r)};
      case StepStatus::error:
        return {Verdict::error, step_reason(r)};
      case StepStatus::skipped:
        return {Verdict::skipped, step_reason(r)};
      case StepStatus::non_strict:
        if (non_strict == nullptr) non_strict = &r;
        break;
      case StepStatus::passed:
      case StepStatus::warned:
        break;
    }
  }
  if (!extras.error.empty()) return {Verdict::error, report::one_line(extras.error)};
  if (s.oracle == OracleMode::check && !extras.oracle_findings.empty()) {
    return {failed_verdict, report::one_line("oracle: " + extras.oracle_findings.front())};
  }
  if (non_strict != nullptr) return {Verdict::non_strict, step_reason(*non_strict)};
  return {};
}

report::StepRecord make_step_record(std::size_t index, const Step& step, const StepOutcome& outcome,
                                    std::string observed) {
  report::StepRecord r;
  r.index = index;
  r.kind = kind_name(step.action);
  if (const auto* e = std::get_if<ExpectStep>(&step.action)) {
    r.expectation = describe(e->expect);
  } else if (const auto* h = std::get_if<EhloStep>(&step.action)) {
    r.expectation = describe(h->expect);
  } else if (const auto* t = std::get_if<StartTlsStep>(&step.action)) {
    r.expectation = t->handshake_only ? "TLS handshake" : describe(t->expect) + ", TLS handshake";
  }
  r.observed = report::one_line(observed, 300);
  r.status = outcome.status;
  r.reason = outcome.reason;
  r.label = outcome.label;
  return r;
}

report::ScenarioResult make_result(const Scenario& s) {
  report::ScenarioResult r;
  r.id = s.id;
  r.title = s.title;
  r.rfc = s.rfc;
  r.requirement = s.requirement;
  r.level = to_string(s.level);
  r.tags = s.tags;
  r.file = s.file;
  return r;
}

}  // namespace smtp::scenario
