#include "smtp/session_state.h"

#include <array>

namespace smtp {

std::string_view to_string(Phase p) noexcept {
  switch (p) {
    case Phase::connect:
      return "connect";
    case Phase::greeted:
      return "greeted";
    case Phase::ready:
      return "ready";
    case Phase::mail:
      return "mail";
    case Phase::rcpt:
      return "rcpt";
    case Phase::data:
      return "data";
    case Phase::bdat:
      return "bdat";
    case Phase::auth:
      return "auth";
    case Phase::tls:
      return "tls";
    case Phase::closed:
      return "closed";
    case Phase::count_:
      break;
  }
  return "?";
}

std::string_view to_string(ReplyTo r) noexcept {
  switch (r) {
    case ReplyTo::greeting:
      return "greeting";
    case ReplyTo::command:
      return "command";
    case ReplyTo::data_end:
      return "data_end";
    case ReplyTo::bdat:
      return "bdat";
    case ReplyTo::bdat_last:
      return "bdat_last";
    case ReplyTo::sasl:
      return "sasl";
    case ReplyTo::raw:
      return "raw";
    case ReplyTo::count_:
      break;
  }
  return "?";
}

std::string_view to_string(TimeoutKind k) noexcept {
  switch (k) {
    case TimeoutKind::initial:
      return "initial";
    case TimeoutKind::mail:
      return "mail";
    case TimeoutKind::rcpt:
      return "rcpt";
    case TimeoutKind::data_init:
      return "data_init";
    case TimeoutKind::data_block:
      return "data_block";
    case TimeoutKind::data_term:
      return "data_term";
    case TimeoutKind::other:
      return "other";
    case TimeoutKind::server:
      return "server";
    case TimeoutKind::count_:
      break;
  }
  return "?";
}

namespace {

constexpr PhaseSet P(Phase p) { return phase_bit(p); }
constexpr PhaseSet kAny = kCommandPhases;
constexpr PhaseSet kReady = P(Phase::ready);

// Table 1. One row per Verb, in Verb order (checked by a static_assert below).
constexpr SequenceRule kSequenceRules[] = {
    // verb            allowed                         hello  ehlo   !tls   !auth  auth   rfc
    {Verb::unknown, kAny, false, false, false, false, false, "RFC5321#4.2.4"},
    {Verb::helo, kAny, false, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::ehlo, kAny, false, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::mail, kReady, true, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::rcpt, P(Phase::mail) | P(Phase::rcpt), true, false, false, false, false, "RFC5321#3.3"},
    {Verb::data, P(Phase::rcpt), true, false, false, false, false, "RFC5321#3.3"},
    {Verb::rset, kAny, false, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::vrfy, kAny, false, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::expn, kAny, false, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::help, kAny, false, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::noop, kAny, false, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::quit, kAny, false, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::send, kReady, true, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::soml, kReady, true, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::saml, kReady, true, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::turn, kReady, true, false, false, false, false, "RFC5321#4.1.4"},
    {Verb::starttls, P(Phase::greeted) | kReady, false, false, true, false, false, "RFC3207#4"},
    {Verb::auth, kReady, true, true, false, true, false, "RFC4954#4"},
    {Verb::bdat, P(Phase::rcpt) | P(Phase::bdat), true, false, false, false, false, "RFC3030#2"},
    {Verb::etrn, kReady, true, true, false, false, false, "RFC1985#5"},
    {Verb::atrn, kReady, true, true, false, false, true, "RFC2645#4"},
};
static_assert(std::size(kSequenceRules) == static_cast<std::size_t>(Verb::count_));

constexpr bool rules_in_verb_order() {
  for (std::size_t i = 0; i < std::size(kSequenceRules); ++i) {
    if (static_cast<std::size_t>(kSequenceRules[i].verb) != i) return false;
  }
  return true;
}
static_assert(rules_in_verb_order(), "kSequenceRules must be indexed by Verb");

// Table 2. First match wins; 421 is handled before the table (any state -> closed).
constexpr TransitionRule kTransitions[] = {
    {ReplyTo::greeting, Verb::unknown, Outcome::success, Next::greeted, "RFC5321#3.1"},
    // 554 greeting: the server waits for QUIT (§3.1); commands get 503/554.
    {ReplyTo::greeting, Verb::unknown, Outcome::failure, Next::greeted, "RFC5321#3.1"},
    {ReplyTo::command, Verb::helo, Outcome::success, Next::ready, "RFC5321#4.1.4"},
    {ReplyTo::command, Verb::ehlo, Outcome::success, Next::ready, "RFC5321#4.1.4"},
    {ReplyTo::command, Verb::mail, Outcome::success, Next::mail, "RFC5321#3.3"},
    {ReplyTo::command, Verb::send, Outcome::success, Next::mail, "RFC821#4.1.1"},
    {ReplyTo::command, Verb::soml, Outcome::success, Next::mail, "RFC821#4.1.1"},
    {ReplyTo::command, Verb::saml, Outcome::success, Next::mail, "RFC821#4.1.1"},
    {ReplyTo::command, Verb::rcpt, Outcome::success, Next::rcpt, "RFC5321#3.3"},
    {ReplyTo::command, Verb::data, Outcome::intermediate, Next::data, "RFC5321#4.1.1.4"},
    {ReplyTo::command, Verb::rset, Outcome::success, Next::base, "RFC5321#4.1.1.5"},
    {ReplyTo::command, Verb::starttls, Outcome::success, Next::tls, "RFC3207#4.2"},
    {ReplyTo::command, Verb::auth, Outcome::intermediate, Next::auth, "RFC4954#4"},
    {ReplyTo::command, Verb::quit, Outcome::success, Next::closed, "RFC5321#4.1.1.10"},
    {ReplyTo::command, Verb::turn, Outcome::success, Next::closed, "RFC821#4.1.1"},
    {ReplyTo::command, Verb::atrn, Outcome::success, Next::closed, "RFC2645#4"},
    // The end of data ends the transaction whatever the reply (§4.1.1.4, §3.3).
    {ReplyTo::data_end, Verb::unknown, Outcome::success, Next::base, "RFC5321#4.1.1.4"},
    {ReplyTo::data_end, Verb::unknown, Outcome::failure, Next::base, "RFC5321#4.1.1.4"},
    {ReplyTo::bdat, Verb::unknown, Outcome::success, Next::bdat, "RFC3030#2"},
    // A failed non-LAST chunk leaves the transaction open: the server discards further chunks
    // until BDAT LAST or RSET (RFC 3030 §2).
    {ReplyTo::bdat_last, Verb::unknown, Outcome::success, Next::base, "RFC3030#2"},
    {ReplyTo::bdat_last, Verb::unknown, Outcome::failure, Next::base, "RFC3030#2"},
    {ReplyTo::sasl, Verb::unknown, Outcome::intermediate, Next::auth, "RFC4954#4"},
    {ReplyTo::sasl, Verb::unknown, Outcome::success, Next::base, "RFC4954#4"},
    {ReplyTo::sasl, Verb::unknown, Outcome::failure, Next::base, "RFC4954#4"},
};

}  // namespace

const SequenceRule& sequence_rule(Verb verb) noexcept {
  const auto i = static_cast<std::size_t>(verb);
  return i < std::size(kSequenceRules) ? kSequenceRules[i] : kSequenceRules[0];
}

SequenceCheck check_sequence(Phase phase, const SessionFlags& flags, Verb verb) noexcept {
  const SequenceRule& rule = sequence_rule(verb);
  SequenceCheck c;
  c.rfc = rule.rfc;
  if (!contains(kCommandPhases, phase)) {
    c.ok = false;
    c.code = 503;
    c.reason = "no command is expected in this phase";
    c.rfc = "RFC5321#4.1.4";
    return c;
  }
  if (rule.needs_authenticated && !flags.authenticated && contains(rule.allowed, phase)) {
    c.ok = false;
    c.code = 530;
    c.reason = "ATRN requires authentication first";
    return c;
  }
  if (rule.refused_in_tls && flags.tls) {
    c.ok = false;
    c.code = 503;
    c.reason = "STARTTLS while TLS is already active";
    return c;
  }
  if (rule.refused_when_authenticated && flags.authenticated) {
    c.ok = false;
    c.code = 503;
    c.reason = "AUTH after a successful AUTH: the server MUST reject it with 503";
    return c;
  }
  if (verb == Verb::data && flags.binarymime && contains(kTransactionPhases, phase)) {
    c.ok = false;
    c.code = 503;
    c.reason = "DATA in a BODY=BINARYMIME transaction: only BDAT may carry it";
    c.rfc = "RFC3030#3";
    return c;
  }
  if (contains(rule.allowed, phase) && (!rule.needs_hello || flags.hello) &&
      (!rule.needs_ehlo || flags.extended)) {
    return c;
  }
  c.ok = false;
  c.code = 503;
  switch (verb) {
    case Verb::mail:
    case Verb::send:
    case Verb::soml:
    case Verb::saml:
      c.reason = contains(kTransactionPhases, phase) ? "nested MAIL inside a mail transaction"
                                                     : "MAIL before HELO/EHLO";
      break;
    case Verb::rcpt:
      c.reason = "RCPT without a preceding accepted MAIL";
      break;
    case Verb::data:
      if (phase == Phase::mail) {
        c.alt_code = 554;  // §3.3: "503 ... or 554 no valid recipients"
        c.reason = "DATA with no accepted RCPT";
      } else if (phase == Phase::bdat) {
        c.reason = "DATA after BDAT in the same transaction";
        c.rfc = "RFC3030#2";
      } else {
        c.reason = "DATA without a mail transaction";
      }
      break;
    case Verb::bdat:
      if (phase == Phase::mail) {
        c.alt_code = 554;
        c.reason = "BDAT with no accepted RCPT";
      } else {
        c.reason = "BDAT without a mail transaction";
      }
      break;
    case Verb::starttls:
      c.reason = "STARTTLS inside a mail transaction";
      break;
    case Verb::auth:
      c.reason = contains(kTransactionPhases, phase) ? "AUTH during a mail transaction"
                                                     : "AUTH before EHLO";
      break;
    case Verb::turn:
    case Verb::etrn:
    case Verb::atrn:
      c.reason = "command not allowed here (needs EHLO, no transaction)";
      break;
    default:
      c.reason = "command out of sequence";
      break;
  }
  return c;
}

std::span<const TransitionRule> transition_table() noexcept { return kTransitions; }

Phase next_phase(Phase phase, const SessionFlags& flags, ReplyTo to, Verb verb,
                 std::uint16_t code) noexcept {
  if (phase == Phase::closed) return phase;
  const Outcome outcome = outcome_of(code);
  if (outcome == Outcome::shutdown) return Phase::closed;  // §3.8
  if (to == ReplyTo::raw) return phase;
  if (is_command_rejection(to, code)) return phase;
  for (const TransitionRule& r : kTransitions) {
    if (r.to != to || r.outcome != outcome) continue;
    if (to == ReplyTo::command && r.verb != verb) continue;
    const bool hello = flags.hello || verb == Verb::helo || verb == Verb::ehlo;
    switch (r.next) {
      case Next::stay:
        return phase;
      case Next::base:
        return hello ? Phase::ready : Phase::greeted;
      case Next::greeted:
        return Phase::greeted;
      case Next::ready:
        return Phase::ready;
      case Next::mail:
        return Phase::mail;
      case Next::rcpt:
        return Phase::rcpt;
      case Next::data:
        return Phase::data;
      case Next::bdat:
        return Phase::bdat;
      case Next::auth:
        return Phase::auth;
      case Next::tls:
        return Phase::tls;
      case Next::closed:
        return Phase::closed;
    }
  }
  return phase;
}

SessionFlags next_flags(const SessionFlags& flags, ReplyTo to, Verb verb, std::uint16_t code,
                        bool declared_binarymime) noexcept {
  SessionFlags f = flags;
  const Outcome outcome = outcome_of(code);
  if (is_command_rejection(to, code)) return f;
  switch (to) {
    case ReplyTo::command:
      if (outcome != Outcome::success) break;
      switch (verb) {
        case Verb::ehlo:
          f.hello = f.extended = true;
          f.binarymime = false;
          break;
        case Verb::helo:
          f.hello = true;
          f.extended = false;
          f.binarymime = false;
          break;
        case Verb::mail:
        case Verb::send:
        case Verb::soml:
        case Verb::saml:
          f.binarymime = declared_binarymime;
          break;
        case Verb::rset:
          f.binarymime = false;
          break;
        case Verb::auth:
          f.authenticated = true;
          break;
        default:
          break;
      }
      break;
    case ReplyTo::data_end:
    case ReplyTo::bdat_last:
      if (outcome == Outcome::success || outcome == Outcome::failure) f.binarymime = false;
      break;
    case ReplyTo::sasl:
      if (outcome == Outcome::success) f.authenticated = true;
      break;
    default:
      break;
  }
  return f;
}

bool ends_pipeline_group(Verb verb, bool auth_one_round_trip) noexcept {
  switch (verb) {
    case Verb::ehlo:
    case Verb::helo:
    case Verb::data:
    case Verb::vrfy:
    case Verb::expn:
    case Verb::turn:
    case Verb::quit:
    case Verb::noop:
    case Verb::starttls:
    case Verb::atrn:
      return true;
    case Verb::auth:
      return !auth_one_round_trip;
    default:
      return false;
  }
}

std::uint64_t Timeouts::get(TimeoutKind k) const noexcept {
  switch (k) {
    case TimeoutKind::initial:
      return initial_ms;
    case TimeoutKind::mail:
      return mail_ms;
    case TimeoutKind::rcpt:
      return rcpt_ms;
    case TimeoutKind::data_init:
      return data_init_ms;
    case TimeoutKind::data_block:
      return data_block_ms;
    case TimeoutKind::data_term:
      return data_term_ms;
    case TimeoutKind::other:
      return other_ms;
    case TimeoutKind::server:
      return server_ms;
    case TimeoutKind::count_:
      break;
  }
  return other_ms;
}

TimeoutKind timeout_for(ReplyTo to, Verb verb) noexcept {
  switch (to) {
    case ReplyTo::greeting:
      return TimeoutKind::initial;
    case ReplyTo::data_end:
    case ReplyTo::bdat_last:
      return TimeoutKind::data_term;
    case ReplyTo::bdat:
      return TimeoutKind::data_block;
    case ReplyTo::command:
      switch (verb) {
        case Verb::mail:
        case Verb::send:
        case Verb::soml:
        case Verb::saml:
          return TimeoutKind::mail;
        case Verb::rcpt:
          return TimeoutKind::rcpt;
        case Verb::data:
          return TimeoutKind::data_init;
        default:
          return TimeoutKind::other;
      }
    default:
      return TimeoutKind::other;
  }
}

}  // namespace smtp
