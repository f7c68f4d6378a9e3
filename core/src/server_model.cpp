#include "smtp/server_model.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>

namespace smtp {

std::string_view to_string(Requirement r) noexcept {
  switch (r) {
    case Requirement::must:
      return "MUST";
    case Requirement::should:
      return "SHOULD";
    case Requirement::may:
      return "MAY";
  }
  return "?";
}

std::string_view to_string(VerdictKind v) noexcept {
  switch (v) {
    case VerdictKind::ok:
      return "OK";
    case VerdictKind::non_strict:
      return "NON-STRICT";
    case VerdictKind::failed:
      return "FAILED";
  }
  return "?";
}

bool Expectation::allows(std::uint16_t code) const noexcept {
  if (code == 421) return true;
  return std::any_of(codes.begin(), codes.end(),
                     [code](const ExpectedCode& c) { return c.code == code; });
}

bool Expectation::allows_success() const noexcept {
  return std::any_of(codes.begin(), codes.end(),
                     [](const ExpectedCode& c) { return c.code < 400; });
}

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

void add(Expectation& e, std::uint16_t code, Requirement level, std::string_view rfc) {
  for (ExpectedCode& c : e.codes) {
    if (c.code == code) {
      if (level < c.level) {
        c.level = level;
        c.rfc = rfc;
      }
      return;
    }
  }
  e.codes.push_back(ExpectedCode{code, level, rfc});
}

void add_row(Expectation& e, const ReplyRow& row) {
  for (const std::uint16_t c : row.success) add(e, c, Requirement::may, row.rfc);
  for (const std::uint16_t c : row.intermediate) add(e, c, Requirement::may, row.rfc);
  for (const std::uint16_t c : row.error) add(e, c, Requirement::may, row.rfc);
}

bool row_has(const ReplyRow& row, std::uint16_t code) noexcept {
  return classify_reply(row, code) != ReplyKind::not_allowed && code != 421;
}

bool is_mail_like(Verb v) noexcept {
  return v == Verb::mail || v == Verb::send || v == Verb::soml || v == Verb::saml;
}

std::optional<std::uint64_t> to_u64(std::string_view s) noexcept {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

enum class ParamCheck : std::uint8_t { ok, unsupported, bad_value, too_big };

// MAIL parameters against what EHLO advertised (nullptr caps: HELO, no extensions at all).
ParamCheck check_mail_params(const Command& c, const Capabilities* caps) {
  ParamCheck worst = ParamCheck::ok;
  for (const Param& p : c.params) {
    if (caps == nullptr) return ParamCheck::unsupported;
    const std::string_view kw = p.keyword;
    ParamCheck r = ParamCheck::ok;
    if (iequals(kw, "SIZE")) {
      const auto limit = caps->size();
      if (!limit) {
        r = ParamCheck::unsupported;
      } else if (!p.value) {
        r = ParamCheck::bad_value;
      } else if (const auto v = to_u64(*p.value); !v) {
        r = ParamCheck::bad_value;
      } else if (*limit > 0 && *v > *limit) {
        r = ParamCheck::too_big;
      }
    } else if (iequals(kw, "BODY")) {
      const std::string_view v = p.value ? std::string_view(*p.value) : std::string_view();
      if (iequals(v, "7BIT")) {
        r = (caps->eight_bit_mime() || caps->binarymime()) ? ParamCheck::ok
                                                           : ParamCheck::unsupported;
      } else if (iequals(v, "8BITMIME")) {
        r = caps->eight_bit_mime() ? ParamCheck::ok : ParamCheck::unsupported;
      } else if (iequals(v, "BINARYMIME")) {
        r = caps->binarymime() ? ParamCheck::ok : ParamCheck::unsupported;
      } else {
        r = ParamCheck::bad_value;
      }
    } else if (iequals(kw, "SMTPUTF8")) {
      r = caps->smtputf8() ? ParamCheck::ok : ParamCheck::unsupported;
    } else if (iequals(kw, "RET") || iequals(kw, "ENVID")) {
      r = caps->dsn() ? ParamCheck::ok : ParamCheck::unsupported;
    } else if (iequals(kw, "AUTH")) {
      r = caps->has("AUTH") ? ParamCheck::ok : ParamCheck::unsupported;
    } else if (iequals(kw, "BY")) {
      r = caps->deliver_by() ? ParamCheck::ok : ParamCheck::unsupported;
    } else if (iequals(kw, "MT-PRIORITY")) {
      r = caps->has("MT-PRIORITY") ? ParamCheck::ok : ParamCheck::unsupported;
    } else if (iequals(kw, "REQUIRETLS")) {
      r = caps->requiretls() ? ParamCheck::ok : ParamCheck::unsupported;
    } else if (iequals(kw, "HOLDFOR") || iequals(kw, "HOLDUNTIL")) {
      r = caps->has("FUTURERELEASE") ? ParamCheck::ok : ParamCheck::unsupported;
    } else {
      r = ParamCheck::unsupported;
    }
    if (static_cast<int>(r) > static_cast<int>(worst)) worst = r;
  }
  return worst;
}

ParamCheck check_rcpt_params(const Command& c, const Capabilities* caps) {
  for (const Param& p : c.params) {
    if (caps == nullptr) return ParamCheck::unsupported;
    if (iequals(p.keyword, "NOTIFY") || iequals(p.keyword, "ORCPT")) {
      if (!caps->dsn()) return ParamCheck::unsupported;
    } else if (iequals(p.keyword, "RRVS")) {
      if (!caps->has("RRVS")) return ParamCheck::unsupported;
    } else {
      return ParamCheck::unsupported;
    }
  }
  return ParamCheck::ok;
}

bool declared_binarymime(const Command* cmd) {
  if (cmd == nullptr || !is_mail_like(cmd->verb)) return false;
  const Param* body = cmd->param("BODY");
  return body != nullptr && body->value && iequals(*body->value, "BINARYMIME");
}

}  // namespace

Expectation ServerModel::expect(const ModelState& s, ReplyTo to, const Command* cmd,
                                std::uint64_t data_size, bool sasl_cancelled) {
  Expectation e;
  e.to = to;
  const Capabilities* caps = s.capabilities ? &*s.capabilities : nullptr;
  const bool esc = caps != nullptr && caps->enhanced_status_codes();
  std::uint64_t size_limit = 0;  // 0: no fixed limit known
  if (caps != nullptr) size_limit = caps->size().value_or(0);

  switch (to) {
    case ReplyTo::greeting:
      e.row = &greeting_row();
      add_row(e, *e.row);
      e.level = Requirement::must;
      e.rfc = "RFC5321#4.3.2";
      e.reason = "connection opening";
      return e;
    case ReplyTo::data_end:
      e.verb = Verb::data;
      e.row = &data_end_row();
      e.rfc = "RFC5321#4.1.1.4";
      e.reason = "end of mail data";
      e.enhanced_expected = esc;
      if (size_limit > 0 && data_size > size_limit) {
        add(e, 552, Requirement::should, "RFC1870#6");
        add(e, 451, Requirement::may, "RFC5321#4.3.2");
        add(e, 452, Requirement::may, "RFC5321#4.3.2");
        add(e, 554, Requirement::may, "RFC5321#4.3.2");
        e.level = Requirement::should;
        e.reason = "message larger than the advertised SIZE";
        e.rfc = "RFC1870#6";
        return e;
      }
      add_row(e, *e.row);
      return e;
    case ReplyTo::sasl:
      e.verb = Verb::auth;
      e.row = &reply_row(Verb::auth);
      e.enhanced_expected = esc;
      e.rfc = "RFC4954#4";
      if (sasl_cancelled) {
        add(e, 501, Requirement::must, "RFC4954#4");
        e.level = Requirement::must;
        e.reason = "AUTH cancelled with \"*\": the server MUST reject it with 501";
        return e;
      }
      add_row(e, *e.row);
      e.reason = "SASL response";
      return e;
    case ReplyTo::raw:
    case ReplyTo::count_:
      e.reason = "raw bytes: no expectation";
      return e;
    case ReplyTo::command:
    case ReplyTo::bdat:
    case ReplyTo::bdat_last:
      break;
  }

  if (cmd == nullptr) {
    e.reason = "no command given";
    return e;
  }
  const Command& c = *cmd;
  e.verb = c.verb;
  const ReplyRow& row = reply_row(c.verb);
  e.row = &row;
  e.rfc = row.rfc;
  e.enhanced_expected = esc && c.verb != Verb::helo && c.verb != Verb::ehlo;
  const Phase p = s.phase == Phase::connect ? Phase::greeted : s.phase;
  if (p == Phase::closed || !contains(kCommandPhases, p)) {
    e.row = nullptr;
    e.enhanced_expected = false;
    e.reason = p == Phase::closed ? "session closed: no reply expected"
                                  : "no command line is expected in this phase";
    return e;
  }

  // Refused service after a 554/521 greeting: everything but QUIT gets 503/554 (§3.1).
  if (s.greeting_refused && c.verb != Verb::quit) {
    add(e, 554, Requirement::should, "RFC5321#3.1");
    add(e, 503, Requirement::may, "RFC5321#3.1");
    add(e, 521, Requirement::may, "RFC7504#3");
    e.level = Requirement::should;
    e.rfc = "RFC5321#3.1";
    e.reason = "the greeting refused service";
    return e;
  }

  bool line_error = false, too_long = false, bad_param = false, bad_path = false, other = false;
  for (const Diagnostic& d : c.errors) {
    switch (d.code) {
      case errc::bare_lf:
      case errc::bare_cr:
      case errc::nul_byte:
      case errc::unexpected_eof:
        line_error = true;
        break;
      case errc::line_too_long:
        too_long = true;
        break;
      case errc::unknown_command:
        break;
      case errc::bad_parameter:
      case errc::duplicate_parameter:
        bad_param = true;
        break;
      case errc::bad_path:
      case errc::bad_local_part:
      case errc::bad_domain:
      case errc::bad_address_literal:
      case errc::local_part_too_long:
      case errc::domain_too_long:
      case errc::path_too_long:
      case errc::non_ascii:
        bad_path = true;
        break;
      default:
        other = true;
        break;
    }
  }
  const SequenceCheck sc = check_sequence(p, s.flags, c.verb);
  const bool mail_or_rcpt = is_mail_like(c.verb) || c.verb == Verb::rcpt;

  if (too_long) {
    add(e, 500, Requirement::should, "RFC5321#4.5.3.1.4");
    add(e, 501, Requirement::may, "RFC5321#4.3.2");
    if (mail_or_rcpt) add(e, 553, Requirement::may, "RFC5321#4.3.2");
    if (!sc.ok) add(e, 503, Requirement::may, sc.rfc);
    e.level = Requirement::should;
    e.rfc = "RFC5321#4.5.3.1.4";
    e.reason = "command line too long";
    return e;
  }
  if (line_error) {
    add(e, 500, Requirement::may, "RFC5321#2.3.8");
    add(e, 501, Requirement::may, "RFC5321#2.3.8");
    if (!sc.ok) add(e, 503, Requirement::may, sc.rfc);
    e.level = Requirement::should;
    e.rfc = "RFC5321#2.3.8";
    e.reason = "bare CR, bare LF or NUL in a command line";
    return e;
  }
  if (c.verb == Verb::unknown) {
    add(e, 500, Requirement::should, "RFC5321#4.2.4");
    e.level = Requirement::should;
    e.rfc = "RFC5321#4.2.4";
    e.reason = "unrecognized command";
    return e;
  }

  // Extension commands the server did not advertise.
  if (caps != nullptr && s.flags.extended) {
    bool offered = true;
    switch (c.verb) {
      case Verb::bdat:
        offered = caps->chunking();
        break;
      case Verb::starttls:
        offered = caps->starttls() && !s.flags.tls;
        break;
      case Verb::auth:
        offered = caps->has("AUTH");
        break;
      case Verb::etrn:
        offered = caps->etrn();
        break;
      case Verb::atrn:
        offered = caps->atrn();
        break;
      default:
        break;
    }
    if (!offered) {
      add(e, 502, Requirement::should, "RFC5321#4.2.4");
      add(e, 500, Requirement::may, "RFC5321#4.2.4");
      add(e, 503, Requirement::may, "RFC5321#4.1.4");
      if (c.verb == Verb::auth) {
        add(e, 530, Requirement::may, "RFC3207#4");
        add(e, 538, Requirement::may, "RFC4954#6");
      }
      if (c.verb == Verb::starttls) add(e, 554, Requirement::may, "RFC3207#4");
      if (c.verb == Verb::bdat) add(e, 501, Requirement::may, "RFC5321#4.3.2");
      e.level = Requirement::should;
      e.rfc = "RFC5321#4.2.4";
      e.reason = "extension command the server did not advertise";
      return e;
    }
  }

  if (!c.errors.empty() && (bad_param || bad_path || other) && c.verb == Verb::noop) {
    // "If a parameter string is specified, servers SHOULD ignore it" (RFC 5321 §4.1.1.9).
    add(e, 250, Requirement::should, "RFC5321#4.1.1.9");
    add(e, 501, Requirement::may, "RFC5321#4.3.2");
    add(e, 500, Requirement::may, "RFC5321#4.3.2");
    e.level = Requirement::should;
    e.rfc = "RFC5321#4.1.1.9";
    e.reason = "NOOP's parameter string is to be ignored";
    return e;
  }
  if (!c.errors.empty() && (bad_param || bad_path || other)) {
    add(e, 501, Requirement::should, "RFC5321#4.3.2");
    add(e, 500, Requirement::may, "RFC5321#4.3.2");
    if (mail_or_rcpt) {
      add(e, 553, Requirement::may, "RFC5321#4.3.2");
      add(e, 555, Requirement::may, "RFC5321#4.1.1.11");
    }
    if (c.verb == Verb::auth) add(e, 504, Requirement::may, "RFC4954#4");
    if (!sc.ok) add(e, sc.code, Requirement::may, sc.rfc);
    e.level = Requirement::should;
    e.rfc = "RFC5321#4.3.2";
    e.reason = "syntax error in the command's arguments";
    return e;
  }

  if (!sc.ok) {
    add(e, sc.code, Requirement::must, sc.rfc);
    if (sc.alt_code != 0) add(e, sc.alt_code, Requirement::may, sc.rfc);
    if (row_has(row, 530) && sc.code != 530) add(e, 530, Requirement::may, "RFC3207#4");
    e.level = Requirement::must;
    e.rfc = sc.rfc;
    e.reason = sc.reason;
    const bool only_needs_ehlo =
        p == Phase::ready && s.flags.hello && !s.flags.extended && sequence_rule(c.verb).needs_ehlo;
    if (c.verb == Verb::starttls || only_needs_ehlo) {
      // RFC 3207 names no code for STARTTLS inside TLS or a transaction, and extension
      // commands after HELO are unspecified: 503 is the usual answer, not a MUST.
      e.level = Requirement::should;
      e.codes.front().level = Requirement::should;
      add(e, 502, Requirement::may, "RFC5321#4.2.4");
      if (c.verb == Verb::starttls) add(e, 554, Requirement::may, "RFC3207#4");
    }
    return e;
  }

  // In sequence and well-formed: the §4.3.2 row, narrowed where an RFC names the answer.
  add_row(e, row);
  e.level = Requirement::may;
  e.reason = "in sequence";
  switch (c.verb) {
    case Verb::mail:
    case Verb::send:
    case Verb::soml:
    case Verb::saml: {
      const ParamCheck pc = check_mail_params(c, s.flags.extended ? caps : nullptr);
      if (pc == ParamCheck::unsupported || pc == ParamCheck::bad_value) {
        e.codes.clear();
        add(e, pc == ParamCheck::unsupported ? 555 : 501, Requirement::should, "RFC5321#4.1.1.11");
        add(e, pc == ParamCheck::unsupported ? 501 : 555, Requirement::may, "RFC5321#4.1.1.11");
        add(e, 504, Requirement::may, "RFC5321#4.3.2");
        add(e, 503, Requirement::may, "RFC5321#4.3.2");
        e.level = Requirement::should;
        e.rfc = "RFC5321#4.1.1.11";
        e.reason = pc == ParamCheck::unsupported
                       ? "MAIL parameter of an extension that was not advertised"
                       : "MAIL parameter with a value its extension does not define";
        return e;
      }
      if (pc == ParamCheck::too_big) {
        e.codes.clear();
        add(e, 552, Requirement::should, "RFC1870#6");
        add(e, 452, Requirement::may, "RFC1870#6");
        add(e, 451, Requirement::may, "RFC5321#4.3.2");
        add(e, 550, Requirement::may, "RFC5321#4.3.2");
        e.level = Requirement::should;
        e.rfc = "RFC1870#6";
        e.reason = "declared SIZE exceeds the advertised maximum";
        return e;
      }
      if (c.path && c.path->null) {
        e.codes.clear();
        add(e, 250, Requirement::should, "RFC5321#4.5.5");
        for (const std::uint16_t code :
             std::initializer_list<std::uint16_t>{451, 452, 455, 552, 530, 521}) {
          add(e, code, Requirement::may, "RFC5321#4.3.2");
        }
        e.level = Requirement::should;
        e.rfc = "RFC5321#4.5.5";
        e.reason = "the null reverse-path must be accepted";
      }
      return e;
    }
    case Verb::rcpt: {
      const ParamCheck pc = check_rcpt_params(c, s.flags.extended ? caps : nullptr);
      if (pc != ParamCheck::ok) {
        e.codes.clear();
        add(e, 555, Requirement::should, "RFC5321#4.1.1.11");
        add(e, 501, Requirement::may, "RFC5321#4.1.1.11");
        add(e, 504, Requirement::may, "RFC5321#4.3.2");
        e.level = Requirement::should;
        e.rfc = "RFC5321#4.1.1.11";
        e.reason = "RCPT parameter of an extension that was not advertised";
        return e;
      }
      if (c.path && c.path->postmaster) {
        e.codes.clear();
        add(e, 250, Requirement::must, "RFC5321#4.5.1");
        for (const std::uint16_t code :
             std::initializer_list<std::uint16_t>{251, 450, 451, 452, 530, 521}) {
          add(e, code, Requirement::may, "RFC5321#4.3.2");
        }
        e.level = Requirement::must;
        e.rfc = "RFC5321#4.5.1";
        e.reason = "<Postmaster> must be accepted";
      }
      return e;
    }
    case Verb::bdat: {
      const std::uint64_t total = s.bdat_octets + c.chunk_size;
      if (size_limit > 0 && total > size_limit && !s.bdat_failed) {
        e.codes.clear();
        add(e, 552, Requirement::should, "RFC1870#6");
        for (const std::uint16_t code :
             std::initializer_list<std::uint16_t>{451, 452, 554, 550, 503}) {
          add(e, code, Requirement::may, "RFC3030#2");
        }
        e.level = Requirement::should;
        e.rfc = "RFC1870#6";
        e.reason = "BDAT data larger than the advertised SIZE";
      }
      return e;
    }
    case Verb::rset:
      e.codes.clear();
      add(e, 250, Requirement::must, "RFC5321#4.1.1.5");
      add(e, 530, Requirement::may, "RFC3207#4");
      add(e, 521, Requirement::may, "RFC7504#3");
      e.level = Requirement::must;
      e.rfc = "RFC5321#4.1.1.5";
      e.reason = "RSET: the receiver MUST send 250 OK";
      return e;
    case Verb::noop:
      e.codes.clear();
      add(e, 250, Requirement::must, "RFC5321#4.1.1.9");
      add(e, 521, Requirement::may, "RFC7504#3");
      e.level = Requirement::must;
      e.rfc = "RFC5321#4.1.1.9";
      e.reason = "NOOP: the receiver sends 250 OK";
      return e;
    case Verb::quit:
      e.codes.clear();
      add(e, 221, Requirement::must, "RFC5321#4.1.1.10");
      e.level = Requirement::must;
      e.rfc = "RFC5321#4.1.1.10";
      e.reason = "QUIT: the receiver MUST send 221 OK";
      return e;
    case Verb::auth: {
      if (caps != nullptr && !caps->auth(c.mechanism)) {
        e.codes.clear();
        add(e, 504, Requirement::should, "RFC4954#4");
        for (const std::uint16_t code :
             std::initializer_list<std::uint16_t>{501, 534, 535, 538, 530, 454}) {
          add(e, code, Requirement::may, "RFC4954#4");
        }
        e.level = Requirement::should;
        e.rfc = "RFC4954#4";
        e.reason = "AUTH with a mechanism the server did not advertise";
      }
      return e;
    }
    default:
      return e;
  }
}

Verdict ServerModel::judge(const Expectation& e, const Reply& reply) {
  Verdict v;
  const std::uint16_t code = reply.code;
  auto expected_list = [&] {
    std::string s;
    for (const ExpectedCode& c : e.codes) {
      if (!s.empty()) s += ' ';
      s += std::to_string(c.code);
    }
    return s;
  };
  auto what = [&] {
    std::string s(to_string(e.to));
    if (e.to == ReplyTo::command || e.to == ReplyTo::bdat || e.to == ReplyTo::bdat_last) {
      s = std::string(to_string(e.verb));
      if (s.empty()) s = "an unrecognized command";
    }
    return s;
  };
  if (e.allows(code)) {
    v.kind = VerdictKind::ok;
    for (const ExpectedCode& c : e.codes) {
      if (c.code == code) {
        v.rfc = c.rfc;
        v.level = c.level;
      }
    }
    if (code == 421) v.rfc = "RFC5321#3.8";
  } else if (e.level == Requirement::must || e.level == Requirement::should) {
    v.kind = e.level == Requirement::must ? VerdictKind::failed : VerdictKind::non_strict;
    v.level = e.level;
    v.rfc = e.rfc;
    v.reason = std::to_string(code) + " to " + what() + " (" + std::string(e.reason) +
               "): " + std::string(to_string(e.level)) + " be one of " + expected_list() + " (" +
               std::string(e.rfc) + ")";
    return v;
  } else if (e.row == nullptr) {
    v.kind = VerdictKind::ok;
  } else if (classify_reply(*e.row, code) != ReplyKind::not_allowed) {
    v.kind = VerdictKind::ok;
    v.rfc = e.row->rfc;
  } else {
    const int klass = code / 100;
    v.kind = (klass == 4 || klass == 5) ? VerdictKind::non_strict : VerdictKind::failed;
    v.level = Requirement::may;
    v.rfc = e.row->rfc;
    v.reason = std::to_string(code) + " is not a reply " + std::string(e.row->rfc) + " lists for " +
               what() + " (allowed: " + expected_list() + ")";
    return v;
  }
  // RFC 2034 §4: with ENHANCEDSTATUSCODES, 2yz/4yz/5yz replies carry an enhanced code.
  const int klass = code / 100;
  if (e.enhanced_expected && (klass == 2 || klass == 4 || klass == 5)) {
    if (!reply.enhanced) {
      v.kind = VerdictKind::non_strict;
      v.level = Requirement::must;
      v.rfc = "RFC2034#4";
      v.reason = std::to_string(code) + " to " + what() +
                 " has no enhanced status code although ENHANCEDSTATUSCODES was advertised";
    } else if (reply.enhanced->klass != klass) {
      v.kind = VerdictKind::non_strict;
      v.level = Requirement::must;
      v.rfc = "RFC3463#2";
      v.reason = "enhanced status " + reply.enhanced->to_string() + " has another class than " +
                 std::to_string(code);
    }
  }
  return v;
}

void ServerModel::advance(ReplyTo to, const Command* cmd, const Reply& reply) {
  ModelState& s = state_;
  const Verb verb = cmd != nullptr ? cmd->verb : Verb::unknown;
  const Outcome outcome = outcome_of(reply.code);
  if (to == ReplyTo::greeting && outcome == Outcome::failure) s.greeting_refused = true;
  s.phase = next_phase(s.phase, s.flags, to, verb, reply.code);
  s.flags = next_flags(s.flags, to, verb, reply.code, declared_binarymime(cmd));
  if (to == ReplyTo::command && outcome == Outcome::success) {
    if (verb == Verb::ehlo) {
      s.capabilities = parse_ehlo(reply);
    } else if (verb == Verb::helo) {
      s.capabilities.reset();
    } else if (verb == Verb::rcpt) {
      ++s.recipients;
    } else if (is_mail_like(verb)) {
      s.recipients = 0;
      s.bdat_octets = 0;
      s.bdat_failed = false;
    }
  }
  if ((to == ReplyTo::bdat || to == ReplyTo::bdat_last) && cmd != nullptr) {
    if (outcome == Outcome::success) {
      s.bdat_octets += cmd->chunk_size;
    } else if (outcome == Outcome::failure && !is_command_rejection(to, reply.code)) {
      s.bdat_failed = true;
    }
  }
  if (!contains(kTransactionPhases, s.phase) && s.phase != Phase::data) {
    s.recipients = 0;
    s.bdat_octets = 0;
    s.bdat_failed = false;
  }
}

void ServerModel::tls_established() noexcept {
  state_.phase = kPhaseAfterTls;
  state_.flags = flags_after_tls();
  state_.capabilities.reset();
  state_.recipients = 0;
  state_.bdat_octets = 0;
  state_.bdat_failed = false;
  state_.greeting_refused = false;
}

}  // namespace smtp
