// RFC 5321 §4.1.1 command grammar (plus RFC 821 legacy verbs, STARTTLS, AUTH, BDAT, ETRN,
// ATRN), Mail-/Rcpt-parameters with per-keyword value checks, the serializer, and the
// streaming CommandParser. The address grammar lives in path.cpp (command_grammar.h).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "command_grammar.h"
#include "smtp/command.h"
#include "smtp/detail/scan.h"

namespace smtp {

namespace {

using detail::Grammar;
using detail::iequals;
using detail::is;
constexpr std::size_t npos = Grammar::npos;

constexpr std::string_view kVerbNames[] = {
    "",     "HELO", "EHLO", "MAIL", "RCPT", "DATA",     "RSET", "VRFY", "EXPN", "HELP", "NOOP",
    "QUIT", "SEND", "SOML", "SAML", "TURN", "STARTTLS", "AUTH", "BDAT", "ETRN", "ATRN"};
static_assert(std::size(kVerbNames) == static_cast<std::size_t>(Verb::count_));

constexpr std::uint32_t pack4(std::string_view w) noexcept {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(w[0])) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(w[1])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(w[2])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(w[3]));
}

// Per-line facts from the framer (or from scanning a raw line).
struct LineFacts {
  LineEnding ending = LineEnding::crlf;
  bool over_limit = false;
  std::uint64_t bare_lf_at = kNoOffset;
  std::uint64_t bare_cr_at = kNoOffset;
  std::uint64_t nul_at = kNoOffset;
};

// ---- ESMTP parameter values -------------------------------------------------------------

// xtext = *( xchar / hexchar ), hexchar = "+" 2(DIGIT / "A"-"F") (RFC 3461 §4).
// Returns the index of the first bad octet in v, or npos.
std::size_t bad_xtext(std::string_view v) noexcept {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '+') {
      if (i + 1 >= v.size() || !is(v[i + 1], detail::kUpHex)) return i + 1;
      if (i + 2 >= v.size() || !is(v[i + 2], detail::kUpHex)) return i + 2;
      i += 2;
      continue;
    }
    if (!is(v[i], detail::kXchar)) return i;
  }
  return npos;
}

std::size_t bad_digits(std::string_view v, std::size_t max_digits) noexcept {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!is(v[i], detail::kDigit)) return i;
    if (i == max_digits) return i;
  }
  return npos;
}

template <class... Options>
bool one_of(std::string_view v, const Options&... options) noexcept {
  return (iequals(v, options) || ...);
}

struct ValueCheck {
  std::size_t at = npos;  // offset in the value (value.size() = just after it), npos = fine
  const char* reason = nullptr;
};

// Checks the value of a known keyword. `kw` is upper case; `value` null when absent.
ValueCheck check_param_value(std::string_view kw, const std::optional<std::string_view>& value) {
  auto need = [&](const char* r) { return ValueCheck{0, r}; };
  auto none = [&](const char* r) -> ValueCheck { return value ? ValueCheck{0, r} : ValueCheck{}; };
  if (kw == "SIZE") {
    if (!value) return need("SIZE needs a value: SIZE=1*20DIGIT (RFC 1870).");
    if (auto b = bad_digits(*value, 20); b != npos) {
      return {b, "SIZE takes 1 to 20 decimal digits (RFC 1870)."};
    }
  } else if (kw == "BODY") {
    if (!value || !one_of(*value, "7BIT", "8BITMIME", "BINARYMIME")) {
      return need("BODY is 7BIT, 8BITMIME (RFC 6152) or BINARYMIME (RFC 3030).");
    }
  } else if (kw == "SMTPUTF8") {
    return none("SMTPUTF8 takes no value (RFC 6531 §3.4).");
  } else if (kw == "REQUIRETLS") {
    return none("REQUIRETLS takes no value (RFC 8689 §4.1).");
  } else if (kw == "RET") {
    if (!value || !one_of(*value, "FULL", "HDRS")) {
      return need("RET is FULL or HDRS (RFC 3461 §4.3).");
    }
  } else if (kw == "ENVID") {
    if (!value) return need("ENVID needs an xtext value (RFC 3461 §4.4).");
    if (auto b = bad_xtext(*value); b != npos) {
      return {b,
              "ENVID must be xtext: octets 33-126 except '+' and '=', or '+' and two upper-case "
              "hex digits (RFC 3461 §4)."};
    }
  } else if (kw == "NOTIFY") {
    if (!value)
      return need("NOTIFY needs NEVER or a list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1).");
    if (iequals(*value, "NEVER")) return {};
    std::size_t start = 0;
    for (;;) {
      std::size_t comma = value->find(',', start);
      const std::string_view item = value->substr(start, comma == npos ? npos : comma - start);
      if (!one_of(item, "SUCCESS", "FAILURE", "DELAY")) {
        return {start,
                "NOTIFY is NEVER or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1)."};
      }
      if (comma == npos) break;
      start = comma + 1;
    }
  } else if (kw == "ORCPT") {
    if (!value) return need("ORCPT needs addr-type \";\" xtext (RFC 3461 §4.2).");
    const std::size_t semi = value->find(';');
    if (semi == npos || semi == 0) {
      return {semi == npos ? value->size() : 0,
              "ORCPT is addr-type \";\" xtext, e.g. rfc822;user@example.org (RFC 3461 §4.2)."};
    }
    for (std::size_t i = 0; i < semi; ++i) {
      if (!is((*value)[i], detail::kAtext))
        return {i, "The ORCPT addr-type must be an atom (RFC 3461 §4.2)."};
    }
    const std::string_view x = value->substr(semi + 1);
    if (x.empty()) return {value->size(), "ORCPT needs an address after ';' (RFC 3461 §4.2)."};
    if (auto b = bad_xtext(x); b != npos) {
      return {semi + 1 + b, "The ORCPT address must be xtext (RFC 3461 §4)."};
    }
  } else if (kw == "AUTH") {
    if (!value) return need("AUTH= needs a mailbox in xtext or \"<>\" (RFC 4954 §5).");
    if (*value == "<>") return {};
    if (auto b = bad_xtext(*value); b != npos) {
      return {b, "AUTH= must be xtext or \"<>\" (RFC 4954 §5)."};
    }
  } else if (kw == "BY") {
    // by-value = by-time ";" by-mode [ by-trace ]; by-time = ["-" / "+"] 1*9DIGIT;
    // by-mode = "N" / "R"; by-trace = "T" (RFC 2852 §4).
    if (!value) return need("BY needs by-time;by-mode (RFC 2852 §4).");
    const std::string_view v = *value;
    std::size_t i = 0;
    if (i < v.size() && (v[i] == '-' || v[i] == '+')) ++i;
    const std::size_t d = i;
    while (i < v.size() && is(v[i], detail::kDigit)) {
      if (i - d == 9) return {i, "The BY time has at most 9 digits (RFC 2852 §4)."};
      ++i;
    }
    if (i == d) return {i, "BY starts with a number of seconds (RFC 2852 §4)."};
    if (i >= v.size() || v[i] != ';')
      return {i, "Expected ';' and N or R after the BY time (RFC 2852 §4)."};
    ++i;
    if (i >= v.size() || (detail::upper(v[i]) != 'N' && detail::upper(v[i]) != 'R')) {
      return {i, "The BY mode is N or R (RFC 2852 §4)."};
    }
    ++i;
    if (i < v.size() && detail::upper(v[i]) == 'T') ++i;
    if (i != v.size()) return {i, "Unexpected octet after the BY mode (RFC 2852 §4)."};
  } else if (kw == "MT-PRIORITY") {
    if (!value) return need("MT-PRIORITY needs a value from -9 to 9 (RFC 6710 §3).");
    const std::string_view v = *value;
    const std::size_t d = (!v.empty() && (v[0] == '-' || v[0] == '+')) ? 1 : 0;
    if (v.size() != d + 1 || !is(v[d], detail::kDigit)) {
      return {v.size() > d && is(v[d], detail::kDigit) ? d + 1 : d,
              "MT-PRIORITY is an integer from -9 to 9 (RFC 6710 §3)."};
    }
  } else if (kw == "HOLDFOR" || kw == "HOLDUNTIL") {
    if (!value) return need("HOLDFOR / HOLDUNTIL need a value (RFC 4865).");
  }
  return {};
}

// ---- The command parser -----------------------------------------------------------------

class CommandGrammar {
 public:
  CommandGrammar(Command& c, std::string_view text, const CommandOptions& opt)
      : c_(c), g_(text, c.offset, opt, c.errors), s_(text) {}

  void run();
  /// Whether a path was parsed (otherwise parse_into drops the reused Path).
  [[nodiscard]] bool has_path() const noexcept { return has_path_; }

 private:
  std::size_t fail(std::size_t pos, errc code, std::string_view reason) {
    return g_.fail(pos, code, reason);
  }
  // After a production ending at e: the line must end there.
  void expect_end(std::size_t e, const char* what) {
    if (e != npos && e != s_.size()) {
      fail(e, errc::bad_command_syntax, std::string("Unexpected text after ") + what + ".");
    }
  }
  // The argument after "VERB SP"; fails when absent or when more SP follow.
  std::size_t require_argument(std::size_t after_verb, const char* what) {
    if (after_verb == s_.size()) {
      return fail(
          after_verb, errc::bad_command_syntax,
          std::string(to_string(c_.verb)) + " requires SP and " + what + " (RFC 5321 §4.1.1).");
    }
    if (s_[after_verb] != ' ') {
      return fail(after_verb, errc::bad_command_syntax, "Expected SP after the verb.");
    }
    if (at(after_verb + 1, ' ')) {
      return fail(after_verb + 1, errc::bad_command_syntax,
                  "Exactly one SP separates the verb from its argument (RFC 5321 §4.1.1).");
    }
    c_.argument.assign(s_.substr(after_verb + 1));
    return after_verb + 1;
  }
  bool at(std::size_t pos, char ch) const noexcept { return g_.at(pos, ch); }

  void no_argument(std::size_t after_verb);
  void optional_string(std::size_t after_verb);
  void vrfy_expn(std::size_t after_verb);
  void mail_like(std::size_t after_verb, std::string_view keyword, detail::PathKind kind);
  void params(std::size_t pos);
  void auth(std::size_t after_verb);
  void bdat(std::size_t after_verb);
  void etrn(std::size_t after_verb);
  void atrn(std::size_t after_verb);

  Command& c_;
  Grammar g_;
  std::string_view s_;
  bool has_path_ = false;
};

// Empties `c` for reuse, keeping the capacity of its strings and vectors (and of its Path).
void clear_for_reuse(Command& c) noexcept {
  c.verb = Verb::unknown;
  // verb_text is not cleared: CommandGrammar::run() always sets it, and keeping its size
  // lets set_text() overwrite a same-length verb in place.
  c.argument.clear();
  if (c.path) {
    Path& p = *c.path;
    p.null = false;
    p.postmaster = false;
    p.source_route.clear();
    p.local_part.clear();
    p.domain.clear();
  }
  c.params.clear();
  c.mechanism.clear();
  c.initial_response.reset();
  c.chunk_size = 0;
  c.last = false;
  c.offset = 0;
  c.wire_size = 0;
  c.errors.clear();
  c.tolerances.clear();
}

void CommandGrammar::run() {
  const std::size_t n = s_.size();
  std::size_t w = 0;
  while (w < n && s_[w] != ' ') ++w;
  const std::string_view word(s_.data(), w);  // w <= n
  Verb v = verb_from_string(word);
  std::size_t after = w;
  if (v == Verb::unknown) {
    // "QUIT\r", "MAIL\tFROM:": a verb followed by a non-SP delimiter is that verb, misused.
    std::size_t a = 0;
    while (a < w && is(s_[a], detail::kAlpha)) ++a;
    if (a > 0 && a < w && !is(s_[a], detail::kDigit) &&
        verb_from_string(s_.substr(0, a)) != Verb::unknown) {
      v = verb_from_string(s_.substr(0, a));
      c_.verb = v;
      c_.verb_text.assign(s_.substr(0, a));
      c_.argument.assign(s_.substr(a));
      fail(a, errc::bad_command_syntax, "Expected SP or the end of the line after the verb.");
      return;
    }
    c_.verb_text.assign(s_.substr(0, w));
    if (w < n) c_.argument.assign(s_.substr(w + 1));
    g_.add(0, errc::unknown_command,
           n == 0 ? "Empty command line." : "Unrecognised command verb (RFC 5321 §4.1.1).");
    return;
  }
  c_.verb = v;
  detail::set_text(c_.verb_text, word);
  switch (v) {
    case Verb::helo: {
      const std::size_t p = require_argument(after, "a domain");
      if (p == npos) return;
      const std::size_t e = g_.domain(p);
      if (e != npos)
        g_.check_length(p, e - p, g_.options().limits.domain, errc::domain_too_long, "The domain");
      expect_end(e, "the HELO domain");
      return;
    }
    case Verb::ehlo: {
      const std::size_t p = require_argument(after, "a domain or address literal");
      if (p == npos) return;
      expect_end(g_.domain_or_literal(p), "the EHLO domain");
      return;
    }
    case Verb::mail:
    case Verb::send:
    case Verb::soml:
    case Verb::saml:
      mail_like(after, " FROM:", detail::PathKind::reverse);
      return;
    case Verb::rcpt:
      mail_like(after, " TO:", detail::PathKind::forward);
      return;
    case Verb::data:
    case Verb::rset:
    case Verb::quit:
    case Verb::starttls:
    case Verb::turn:
      no_argument(after);
      return;
    case Verb::vrfy:
    case Verb::expn:
      vrfy_expn(after);
      return;
    case Verb::help:
    case Verb::noop:
      optional_string(after);
      return;
    case Verb::auth:
      auth(after);
      return;
    case Verb::bdat:
      bdat(after);
      return;
    case Verb::etrn:
      etrn(after);
      return;
    case Verb::atrn:
      atrn(after);
      return;
    case Verb::unknown:
    case Verb::count_:
      return;
  }
}

void CommandGrammar::no_argument(std::size_t after_verb) {
  if (after_verb != s_.size()) {
    c_.argument.assign(s_.substr(std::min(after_verb + 1, s_.size())));
    fail(after_verb, errc::bad_command_syntax,
         std::string(to_string(c_.verb)) + " takes no argument (RFC 5321 §4.1.1).");
  }
}

void CommandGrammar::optional_string(std::size_t after_verb) {
  if (after_verb == s_.size()) return;
  const std::size_t p = require_argument(after_verb, "an argument");
  if (p == npos) return;
  expect_end(g_.string_arg(p, errc::bad_command_syntax), "the argument");
}

// "VRFY" SP String [SP "SMTPUTF8"] (RFC 5321 §4.1.1.6, RFC 6531 §3.7.4.2); the argument
// names a user or a mailbox (RFC 5321 §3.5.1, §3.5.3), so a Mailbox is accepted as well.
void CommandGrammar::vrfy_expn(std::size_t after_verb) {
  const std::size_t p = require_argument(after_verb, "a string argument");
  if (p == npos) return;
  std::size_t e = npos;
  {
    // A Mailbox when its grammar matches up to SP or the end; otherwise a String.
    std::vector<Diagnostic> scratch;
    detail::Grammar probe(s_, c_.offset, g_.options(), scratch);
    Path mbox;
    const std::size_t m = probe.mailbox(p, &mbox);
    if (m != npos && (m == s_.size() || s_[m] == ' ')) e = g_.mailbox(p, &mbox);
  }
  if (e == npos) e = g_.string_arg(p, errc::bad_command_syntax);
  if (e == npos) return;
  if (e != s_.size() && g_.options().smtputf8) {
    constexpr std::string_view kUtf8 = " SMTPUTF8";
    const std::string_view rest = s_.substr(e);
    bool match = rest.size() == kUtf8.size();
    for (std::size_t i = 0; match && i < rest.size(); ++i) {
      match = detail::upper(rest[i]) == kUtf8[i];
    }
    if (match) {
      c_.argument.assign(s_.substr(p, e - p));
      c_.params.push_back(Param{"SMTPUTF8", std::nullopt});
      return;
    }
  }
  expect_end(e, "the argument");
}

void CommandGrammar::mail_like(std::size_t after_verb, std::string_view keyword,
                               detail::PathKind kind) {
  // "MAIL FROM:" / "RCPT TO:" (the SP is part of the literal, case-insensitive).
  const bool exact = s_.size() - after_verb >= keyword.size() &&
                     std::memcmp(s_.data() + after_verb, keyword.data(), keyword.size()) == 0;
  for (std::size_t k = exact ? keyword.size() : 0; k < keyword.size(); ++k) {
    const std::size_t i = after_verb + k;
    if (i >= s_.size() || detail::upper(s_[i]) != keyword[k]) {
      c_.argument.assign(s_.substr(std::min(after_verb + 1, s_.size())));
      fail(i, errc::bad_command_syntax,
           std::string("Expected \"") + std::string(to_string(c_.verb)) + std::string(keyword) +
               "\" (RFC 5321 §4.1.1.2, §4.1.1.3).");
      return;
    }
  }
  std::size_t p = after_verb + keyword.size();
  detail::set_text(c_.argument, std::string_view(s_.data() + p, s_.size() - p));  // p <= size
  if (at(p, ' ')) {
    const bool tolerated = g_.options().lenient.allows(Tolerance::space_after_colon);
    if (tolerated) {
      c_.tolerances.record(Tolerance::space_after_colon, g_.offset(p));
    } else {
      g_.add(
          p, errc::bad_path,
          "SP after the colon is not allowed; the path must follow it directly (RFC 5321 §4.1.2).");
    }
    while (at(p, ' ')) ++p;
  }
  // Reuse a Path left by parse_into's reset (keeps string capacity); see has_path().
  Path& path = c_.path ? *c_.path : c_.path.emplace();
  const std::size_t e = g_.path(p, kind, &path);
  if (e == npos) return;
  has_path_ = true;
  if (e == s_.size()) return;
  if (s_[e] != ' ') {
    fail(e, errc::bad_command_syntax,
         "Expected SP and parameters, or the end of the line, after the path.");
    return;
  }
  params(e + 1);
}

void CommandGrammar::params(std::size_t pos) {
  // Mail-parameters = esmtp-param *(SP esmtp-param)
  const bool utf8 = g_.options().smtputf8;
  const std::size_t n = s_.size();
  for (;;) {
    const std::size_t kw = pos;
    auto skip_to_next = [&](std::size_t from) {
      const std::size_t sp = s_.find(' ', from);
      return sp == npos ? n : sp;
    };
    std::size_t i = pos;
    if (i < n && is(s_[i], detail::kAlpha | detail::kDigit)) {
      ++i;
      while (i < n && is(s_[i], detail::kLdh)) ++i;
    }
    std::size_t end = i;
    bool bad = false;
    if (i == kw) {
      fail(i, errc::bad_parameter,
           i == n || s_[i] == ' '
               ? "Expected an esmtp-param after SP (no empty parameters, no trailing SP)."
               : "An esmtp-keyword starts with a letter or digit (RFC 5321 §4.1.2).");
      bad = true;
      end = skip_to_next(i);
    }
    std::optional<std::string_view> value;
    std::size_t vstart = npos;
    if (!bad && at(i, '=')) {
      vstart = i + 1;
      std::size_t j = vstart;
      for (;;) {
        if (j < n && is(s_[j], detail::kValue)) {
          ++j;
        } else if (std::size_t u = utf8 ? detail::utf8_length(s_, j) : 0; u != 0) {
          j += u;
        } else {
          break;
        }
      }
      if (j == vstart) {
        fail(j, errc::bad_parameter,
             "An esmtp-value after '=' must not be empty (RFC 5321 §4.1.2).");
        bad = true;
        end = skip_to_next(j);
      } else {
        value = s_.substr(vstart, j - vstart);
        end = j;
      }
    }
    if (!bad && end != n && s_[end] != ' ') {
      fail(end, errc::bad_parameter,
           vstart == npos ? "Octet not allowed in an esmtp-keyword (ALPHA, DIGIT, '-')."
                          : "Octet not allowed in an esmtp-value (%d33-60 / %d62-126).");
      bad = true;
      end = skip_to_next(end);
    }
    if (!bad) {
      // Stored keywords are upper case, so a case-insensitive compare finds duplicates; the
      // keyword is built in place in its Param (no temporary string per parameter).
      const std::string_view raw(s_.data() + kw, i - kw);
      const bool dup = std::any_of(c_.params.begin(), c_.params.end(),
                                   [&](const Param& p) { return iequals(p.keyword, raw); });
      if (dup) {
        std::string keyword(raw);
        for (char& ch : keyword) ch = detail::upper(ch);
        g_.add(kw, errc::duplicate_parameter,
               "Parameter " + keyword + " given twice in one command.");
      } else {
        if (c_.params.empty()) c_.params.reserve(4);
        Param& p = c_.params.emplace_back();
        detail::set_text(p.keyword, raw);
        for (char& ch : p.keyword) ch = detail::upper(ch);
        const ValueCheck vc = check_param_value(p.keyword, value);
        if (vc.reason != nullptr) {
          const std::size_t at_pos = value ? vstart + vc.at : i;
          g_.add(at_pos, errc::bad_parameter, vc.reason);
        }
        if (value) p.value.emplace(*value);
      }
    }
    if (end >= n) return;
    pos = end + 1;
  }
}

void CommandGrammar::auth(std::size_t after_verb) {
  // auth-command = "AUTH" SP sasl-mech [SP initial-response] (RFC 4954 §4, RFC 4422 §3.1)
  const std::size_t p = require_argument(after_verb, "a SASL mechanism");
  if (p == npos) return;
  std::size_t i = p;
  while (i < s_.size() && (is(s_[i], detail::kMech) || is(s_[i], detail::kAlpha))) ++i;
  c_.mechanism.assign(s_.substr(p, i - p));
  for (char& ch : c_.mechanism) ch = detail::upper(ch);
  if (i == p) {
    fail(i, errc::bad_command_syntax, "Expected a SASL mechanism name (RFC 4422 §3.1).");
    return;
  }
  for (std::size_t k = p; k < i; ++k) {
    if (!is(s_[k], detail::kMech)) {
      fail(k, errc::bad_command_syntax,
           "SASL mechanism names are upper-case letters, digits, '-' and '_' (RFC 4422 §3.1).");
      return;
    }
  }
  if (i - p > 20) {
    fail(p + 20, errc::bad_command_syntax,
         "A SASL mechanism name has at most 20 characters (RFC 4422 §3.1).");
    return;
  }
  if (i == s_.size()) return;
  if (s_[i] != ' ') {
    fail(i, errc::bad_command_syntax,
         "Octet not allowed in a SASL mechanism name (RFC 4422 §3.1).");
    return;
  }
  const std::size_t r = i + 1;
  std::size_t e = r;
  while (e < s_.size() && s_[e] != ' ') ++e;
  const std::string_view resp = s_.substr(r, e - r);
  c_.initial_response.emplace(resp);
  if (e != s_.size()) {
    fail(e, errc::bad_command_syntax, "Unexpected text after the initial response.");
    return;
  }
  if (resp == "=") return;
  // base64 = base64-terminal / ( 1*(4base64-char) [base64-terminal] )  (RFC 4954 §4)
  if (resp.empty()) {
    fail(r, errc::bad_command_syntax, "Expected a base64 initial response or \"=\" after SP.");
    return;
  }
  std::size_t pad = 0;
  for (std::size_t k = 0; k < resp.size(); ++k) {
    const char ch = resp[k];
    if (ch == '=') {
      // Padding only in the last one or two positions of the last 4-group.
      const std::size_t from_end = resp.size() - k;
      if (from_end > 2 || (from_end == 2 && resp[k + 1] != '=')) {
        fail(r + k, errc::bad_command_syntax,
             "Misplaced '=' padding in the base64 initial response.");
        return;
      }
      ++pad;
    } else if (!is(ch, detail::kB64)) {
      fail(r + k, errc::bad_command_syntax,
           "Octet not allowed in base64 (ALPHA, DIGIT, '+', '/', '=').");
      return;
    }
  }
  if (resp.size() % 4 != 0) {
    fail(e, errc::bad_command_syntax, "A base64 initial response has a multiple of 4 characters.");
  }
}

void CommandGrammar::bdat(std::size_t after_verb) {
  // bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ]; chunk-size = 1*DIGIT; end-marker = "LAST"
  const std::size_t p = require_argument(after_verb, "a chunk size");
  if (p == npos) return;
  constexpr std::uint64_t kMax = std::uint64_t{1} << 63;
  std::uint64_t v = 0;
  std::size_t i = p;
  while (i < s_.size() && is(s_[i], detail::kDigit)) {
    const auto d = static_cast<std::uint64_t>(s_[i] - '0');
    if (v > (kMax - d) / 10) {
      fail(i, errc::bad_command_syntax, "BDAT chunk size exceeds 2^63 octets.");
      return;
    }
    v = v * 10 + d;
    ++i;
  }
  if (i == p) {
    fail(i, errc::bad_command_syntax, "BDAT chunk size is 1*DIGIT (RFC 3030 §2).");
    return;
  }
  c_.chunk_size = v;
  if (i == s_.size()) return;
  if (s_[i] != ' ') {
    fail(i, errc::bad_command_syntax,
         "Expected SP LAST or the end of the line after the chunk size.");
    return;
  }
  const std::string_view rest = s_.substr(i + 1);
  if (rest.size() >= 4 && iequals(rest.substr(0, 4), "LAST")) {
    c_.last = true;
    expect_end(i + 5, "LAST");
    return;
  }
  std::size_t k = 0;
  while (k < 4 && k < rest.size() && detail::upper(rest[k]) == "LAST"[k]) ++k;
  fail(i + 1 + k, errc::bad_command_syntax,
       "Only \"LAST\" may follow the BDAT chunk size (RFC 3030 §2).");
}

void CommandGrammar::etrn(std::size_t after_verb) {
  // "ETRN" SP ( ["@"] Domain / "#" queue-name )  (RFC 1985 §5)
  const std::size_t p = require_argument(after_verb, "a node name");
  if (p == npos) return;
  if (at(p, '#')) {
    std::size_t i = p + 1;
    while (i < s_.size() && is(s_[i], detail::kVchar)) ++i;
    if (i == p + 1) {
      fail(i, errc::bad_command_syntax, "Expected a queue name after '#' (RFC 1985 §5).");
      return;
    }
    expect_end(i, "the queue name");
    return;
  }
  const std::size_t d = at(p, '@') ? p + 1 : p;
  const std::size_t e = g_.domain(d);
  if (e != npos)
    g_.check_length(d, e - d, g_.options().limits.domain, errc::domain_too_long, "The domain");
  expect_end(e, "the ETRN domain");
}

void CommandGrammar::atrn(std::size_t after_verb) {
  // "ATRN" [SP domain *("," domain)]  (RFC 2645 §4)
  if (after_verb == s_.size()) return;
  std::size_t p = require_argument(after_verb, "domains");
  if (p == npos) return;
  for (;;) {
    const std::size_t e = g_.domain(p);
    if (e == npos) return;
    g_.check_length(p, e - p, g_.options().limits.domain, errc::domain_too_long, "The domain");
    if (at(e, ',')) {
      p = e + 1;
      continue;
    }
    expect_end(e, "the ATRN domain list");
    return;
  }
}

// Parses into `c` (fresh or previously used: its storage is reused).
void parse_into(Command& c, std::string_view text, const CommandOptions& opt, std::uint64_t offset,
                std::uint64_t wire_size, const LineFacts& f) {
  clear_for_reuse(c);
  const bool cut = f.ending == LineEnding::cut;
  if (cut && !text.empty() && text.back() == '\r' && f.bare_cr_at != offset + text.size() - 1) {
    text.remove_suffix(1);  // the CR of a CRLF that fell just past the cut
  }
  c.offset = offset;
  c.wire_size = wire_size;
  const Leniency& len = opt.lenient;

  // Line-level findings (framing) first.
  auto line_finding = [&](std::uint64_t at, Tolerance t, errc code, const char* reason) {
    if (at == kNoOffset) return;
    if (len.allows(t)) {
      c.tolerances.record(t, at);
    } else {
      c.errors.push_back(Diagnostic{code, at, reason});
    }
  };
  line_finding(f.bare_cr_at, Tolerance::bare_cr, errc::bare_cr,
               "Bare CR inside the command line; CR is allowed only in CRLF (RFC 5321 §2.3.8).");
  line_finding(f.bare_lf_at, Tolerance::bare_lf, errc::bare_lf,
               "Bare LF inside the command line; lines end only with CRLF (RFC 5321 §2.3.8).");
  line_finding(f.nul_at, Tolerance::nul, errc::nul_byte, "NUL octet inside the command line.");
  if (f.ending == LineEnding::lf) c.tolerances.record(Tolerance::bare_lf, offset + text.size());
  const bool over = f.over_limit || wire_size > opt.limits.command_line;
  if (over) {
    const bool tolerated = len.allows(Tolerance::long_line) && f.ending != LineEnding::cut;
    if (tolerated) {
      c.tolerances.record(Tolerance::long_line, offset);
    } else {
      const std::uint64_t at =
          offset + (len.allows(Tolerance::long_line) ? text.size() : opt.limits.command_line);
      c.errors.push_back(Diagnostic{errc::line_too_long, at,
                                    "The command line exceeds " +
                                        std::to_string(opt.limits.command_line) +
                                        " octets including CRLF (RFC 5321 §4.5.3.1.4)."});
    }
  }
  if (f.ending == LineEnding::eof) {
    c.errors.push_back(Diagnostic{errc::unexpected_eof, offset + text.size(),
                                  "The stream ended before the command line's CRLF."});
  }

  if (len.allows(Tolerance::trailing_whitespace) && !cut) {
    // "RSET ", "NOOP\t": white space before CRLF (many clients send it), ignored.
    std::size_t n = text.size();
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t')) --n;
    if (n != text.size()) {
      c.tolerances.record(Tolerance::trailing_whitespace, offset + n);
      text = text.substr(0, n);
    }
  }

  const std::size_t line_errors = c.errors.size();
  {
    CommandGrammar grammar(c, text, opt);
    grammar.run();
    if (!grammar.has_path()) c.path.reset();
  }
  if (cut) {
    // The text was truncated by the framer: "expected more here" at the cut is an artefact.
    const std::uint64_t end = offset + text.size();
    c.errors.erase(
        std::remove_if(c.errors.begin() + static_cast<std::ptrdiff_t>(line_errors), c.errors.end(),
                       [&](const Diagnostic& d) { return d.offset == end; }),
        c.errors.end());
  }

  if (c.errors.size() > 1) {
    std::stable_sort(c.errors.begin(), c.errors.end(),
                     [](const Diagnostic& a, const Diagnostic& b) { return a.offset < b.offset; });
  }
}

LineFacts facts_of(const Line& line) noexcept {
  LineFacts f;
  f.ending = line.ending;
  f.over_limit = line.over_limit;
  f.bare_lf_at = line.bare_lf_at;
  f.bare_cr_at = line.bare_cr_at;
  f.nul_at = line.nul_at;
  return f;
}

}  // namespace

std::string_view to_string(Verb v) noexcept {
  const auto i = static_cast<std::size_t>(v);
  return i < std::size(kVerbNames) ? kVerbNames[i] : std::string_view();
}

Verb verb_from_string(std::string_view word) noexcept {
  if (word.size() == 4) {
    // The verbs are letters only: OR-ing 0x20 into an octet lower-cases a letter, and gives a
    // lower-case letter only from that letter in either case, so this is an exact
    // case-insensitive match without a per-octet loop.
    constexpr std::uint32_t kCase = 0x20202020u;
    switch (pack4(word) | kCase) {
      case pack4("HELO") | kCase:
        return Verb::helo;
      case pack4("EHLO") | kCase:
        return Verb::ehlo;
      case pack4("MAIL") | kCase:
        return Verb::mail;
      case pack4("RCPT") | kCase:
        return Verb::rcpt;
      case pack4("DATA") | kCase:
        return Verb::data;
      case pack4("RSET") | kCase:
        return Verb::rset;
      case pack4("VRFY") | kCase:
        return Verb::vrfy;
      case pack4("EXPN") | kCase:
        return Verb::expn;
      case pack4("HELP") | kCase:
        return Verb::help;
      case pack4("NOOP") | kCase:
        return Verb::noop;
      case pack4("QUIT") | kCase:
        return Verb::quit;
      case pack4("SEND") | kCase:
        return Verb::send;
      case pack4("SOML") | kCase:
        return Verb::soml;
      case pack4("SAML") | kCase:
        return Verb::saml;
      case pack4("TURN") | kCase:
        return Verb::turn;
      case pack4("AUTH") | kCase:
        return Verb::auth;
      case pack4("BDAT") | kCase:
        return Verb::bdat;
      case pack4("ETRN") | kCase:
        return Verb::etrn;
      case pack4("ATRN") | kCase:
        return Verb::atrn;
      default:
        return Verb::unknown;
    }
  }
  if (word.size() == 8 && iequals(word, "STARTTLS")) return Verb::starttls;
  return Verb::unknown;
}

const Param* Command::param(std::string_view keyword) const noexcept {
  for (const Param& p : params) {
    if (iequals(p.keyword, keyword)) return &p;
  }
  return nullptr;
}

Command parse_command_line(std::string_view line, const CommandOptions& opt, std::uint64_t offset,
                           std::uint64_t wire_size) {
  if (wire_size == kNoOffset) wire_size = line.size() + 2;
  LineFacts f;
  const char* const b = line.data();
  const char* const e = b + line.size();
  for (const char* p = detail::find_line_special(b, e); p != e;
       p = detail::find_line_special(p + 1, e)) {
    const std::uint64_t at = offset + static_cast<std::uint64_t>(p - b);
    std::uint64_t& slot = *p == '\r' ? f.bare_cr_at : *p == '\n' ? f.bare_lf_at : f.nul_at;
    if (slot == kNoOffset) slot = at;
  }
  Command c;
  parse_into(c, line, opt, offset, wire_size, f);
  return c;
}

Command parse_command(const Line& line, const CommandOptions& opt) {
  Command c;
  parse_into(c, line.text, opt, line.offset, line.wire_size, facts_of(line));
  return c;
}

std::string serialize(const Command& c) {
  std::string out;
  out.reserve(16 + c.argument.size() + c.verb_text.size() + 64);
  const std::string_view verb =
      c.verb == Verb::unknown ? std::string_view(c.verb_text) : to_string(c.verb);
  out += verb;
  switch (c.verb) {
    case Verb::mail:
    case Verb::send:
    case Verb::soml:
    case Verb::saml:
    case Verb::rcpt:
      out += c.verb == Verb::rcpt ? " TO:" : " FROM:";
      if (c.path) {
        out += c.path->serialize();
        for (const Param& p : c.params) {
          out += ' ';
          out += p.keyword;
          if (p.value) {
            out += '=';
            out += *p.value;
          }
        }
      } else {
        out += c.argument;
      }
      break;
    case Verb::auth:
      out += ' ';
      out += c.mechanism;
      if (c.initial_response) {
        out += ' ';
        out += *c.initial_response;
      }
      break;
    case Verb::bdat:
      out += ' ';
      out += std::to_string(c.chunk_size);
      if (c.last) out += " LAST";
      break;
    case Verb::data:
    case Verb::rset:
    case Verb::quit:
    case Verb::starttls:
    case Verb::turn:
      break;
    case Verb::vrfy:
    case Verb::expn:
      if (!c.argument.empty()) {
        out += ' ';
        out += c.argument;
      }
      for (const Param& p : c.params) {
        out += ' ';
        out += p.keyword;
      }
      break;
    default:
      if (!c.argument.empty()) {
        out += ' ';
        out += c.argument;
      }
      break;
  }
  out += "\r\n";
  return out;
}

CommandParser::CommandParser(CommandOptions opt)
    : opt_(opt), framer_(opt.limits.command_line, opt.limits.line_buffer_cap, opt.lenient) {}

void CommandParser::feed(std::string_view bytes) { framer_.feed(bytes); }

void CommandParser::feed_eof() noexcept { framer_.feed_eof(); }

std::optional<Command> CommandParser::next() {
  std::optional<Command> out;
  if (!next(out.emplace())) out.reset();
  return out;
}

bool CommandParser::next(Command& out) {
  auto note_tolerances = [&] {
    if (out.tolerances.any()) {
      for (unsigned i = 0; i < static_cast<unsigned>(Tolerance::count_); ++i) {
        const auto t = static_cast<Tolerance>(i);
        if (out.tolerances.fired(t)) fired_.record(t, out.tolerances.first_offset(t));
      }
    }
  };
  // Fast path: a clean line (no CR, LF or NUL before its CRLF, within the line limit) taken
  // straight from the framer's buffer; next_line() would return it with no findings and record
  // no tolerance. Anything else goes through next_line().
  if (!framer_.in_cut_line()) {
    const std::string_view buf = framer_.buffered();
    const char* const b = buf.data();
    const char* const e = b + std::min(buf.size(), framer_.limit());
    const char* const p = detail::find_line_special(b, e);
    if (p != e && *p == '\r' && p + 1 != e && p[1] == '\n') {
      const std::uint64_t offset = framer_.offset();
      const auto len = static_cast<std::size_t>(p - b);
      framer_.discard(len + 2);  // only advances a position: the text stays valid
      parse_into(out, std::string_view(b, len), opt_, offset, len + 2, LineFacts{});
      note_tolerances();
      return true;
    }
  }
  const auto line = framer_.next_line();
  if (!line) return false;
  parse_into(out, line->text, opt_, line->offset, line->wire_size, facts_of(*line));
  note_tolerances();
  return true;
}

ToleranceLog CommandParser::tolerances() const noexcept {
  // The commands' own records cover every tolerance on the octets they were parsed from. From
  // the framer only what no Line shows: a bare LF that ended a line discarded after a cut.
  // (Its bare CR / NUL records may include octets past a cut, seen or not depending on how
  // the input was split, so they are not used.)
  ToleranceLog merged;
  const ToleranceLog& fr = framer_.tolerances();
  for (unsigned i = 0; i < static_cast<unsigned>(Tolerance::count_); ++i) {
    const auto t = static_cast<Tolerance>(i);
    const bool mine = fired_.fired(t);
    const bool framer = (t == Tolerance::bare_lf || t == Tolerance::long_line) && fr.fired(t);
    if (mine && framer) {
      merged.record(t, std::min(fired_.first_offset(t), fr.first_offset(t)));
    } else if (mine) {
      merged.record(t, fired_.first_offset(t));
    } else if (framer) {
      merged.record(t, fr.first_offset(t));
    }
  }
  return merged;
}

void CommandParser::reset() {
  framer_.reset();
  fired_.clear();
}

}  // namespace smtp
