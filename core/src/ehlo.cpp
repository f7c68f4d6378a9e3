#include "smtp/ehlo.h"

#include <initializer_list>

namespace smtp {
namespace {

constexpr bool is_alpha(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alnum(char c) noexcept { return is_alpha(c) || is_digit(c); }
constexpr char upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != upper(b[i])) return false;
  }
  return true;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = upper(c);
  return out;
}

/// ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool valid_keyword(std::string_view k) noexcept {
  if (k.empty() || !is_alnum(k.front())) return false;
  for (char c : k) {
    if (!is_alnum(c) && c != '-') return false;
  }
  return true;
}

/// ehlo-param = 1*(%d33-126)
bool valid_param(std::string_view p) noexcept {
  if (p.empty()) return false;
  for (char c : p) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126) return false;
  }
  return true;
}

/// 1*max_digits DIGIT that fits in 64 bits.
std::optional<std::uint64_t> parse_number(std::string_view s,
                                          std::size_t max_digits = 20) noexcept {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

/// RFC 5321 §4.1.2 Domain (sub-domain *("." sub-domain)) or an address literal "[...]".
bool valid_domain(std::string_view d) noexcept {
  if (d.empty() || d.size() > 255) return false;
  if (d.front() == '[') {
    if (d.size() < 3 || d.back() != ']') return false;
    for (char c : d.substr(1, d.size() - 2)) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 33 || u > 126 || c == '[' || c == ']' || c == '\\') return false;
    }
    return true;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = d.find('.', start);
    const std::string_view label =
        d.substr(start, dot == std::string_view::npos ? d.npos : dot - start);
    if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back())) return false;
    for (char c : label) {
      if (!is_alnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

/// sasl-mech = 1*20mech-char; mech-char = ALPHA / DIGIT / "-" / "_" (RFC 4422 §3.1 asks for
/// upper case; lower case is accepted and upper-cased by auth_mechanisms()).
bool valid_mechanism(std::string_view m) noexcept {
  if (m.empty() || m.size() > 20) return false;
  for (char c : m) {
    if (!is_alnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

/// RFC 9422 limit-name = 1*(ALPHA / DIGIT / "-" / "_")
bool valid_limit_name(std::string_view n) noexcept {
  if (n.empty()) return false;
  for (char c : n) {
    if (!is_alnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

/// RFC 9422 limit-value = 1*(%x21-3A / %x3C-7E)
bool valid_limit_value(std::string_view v) noexcept {
  if (v.empty()) return false;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || u == 0x3b) return false;
  }
  return true;
}

constexpr std::string_view kNoParamKeywords[] = {
    "PIPELINING",          "8BITMIME", "SMTPUTF8", "CHUNKING", "BINARYMIME", "DSN",
    "ENHANCEDSTATUSCODES", "STARTTLS", "ETRN",     "ATRN",     "REQUIRETLS",
};

constexpr std::string_view kNumericLimits[] = {"MAILMAX", "RCPTMAX", "RCPTDOMAINMAX"};

/// A token of an ehlo-line with its offset relative to the reply's first byte.
struct Token {
  std::string_view text;
  std::uint64_t offset;
};

void add(std::vector<Diagnostic>& f, errc code, std::uint64_t offset, std::string reason) {
  f.push_back(Diagnostic{code, offset, std::move(reason)});
}

/// Checks of the parameters of the keywords this header knows. Unknown keywords: none.
void check_known(const std::string& kw, const std::vector<Token>& params, std::uint64_t kw_off,
                 std::vector<Diagnostic>& f) {
  if (kw == "SIZE") {
    if (params.size() > 1) {
      add(f, errc::bad_capability, params[1].offset, "SIZE takes at most one parameter (RFC 1870)");
    } else if (params.size() == 1 && !parse_number(params[0].text)) {
      add(f, errc::bad_capability, params[0].offset,
          "SIZE parameter is not a decimal number that fits 64 bits (RFC 1870)");
    }
  } else if (kw == "AUTH") {
    for (const Token& t : params) {
      if (!valid_mechanism(t.text)) {
        add(f, errc::bad_capability, t.offset,
            "AUTH mechanism name is not 1-20 of A-Z, 0-9, '-', '_' (RFC 4954, RFC 4422)");
      }
    }
  } else if (kw == "LIMITS") {
    if (params.empty()) {
      add(f, errc::bad_capability, kw_off, "LIMITS needs at least one limit (RFC 9422 §3)");
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const std::string_view t = params[i].text;
      const std::size_t eq = t.find('=');
      const std::string_view name = t.substr(0, eq);
      const std::string_view value = eq == t.npos ? std::string_view{} : t.substr(eq + 1);
      if (!valid_limit_name(name) || (eq != t.npos && !valid_limit_value(value))) {
        add(f, errc::bad_capability, params[i].offset, "malformed limit-name-value (RFC 9422 §3)");
        continue;
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (iequals(params[j].text.substr(0, params[j].text.find('=')), name)) {
          add(f, errc::bad_capability, params[i].offset, "limit advertised twice (RFC 9422)");
          break;
        }
      }
      for (std::string_view numeric : kNumericLimits) {
        if (iequals(name, numeric) && !parse_number(value)) {
          add(f, errc::bad_capability, params[i].offset,
              "MAILMAX, RCPTMAX and RCPTDOMAINMAX need a decimal value (RFC 9422 §5)");
        }
      }
    }
  } else if (kw == "DELIVERBY") {
    if (params.size() > 1 || (params.size() == 1 && !parse_number(params[0].text, 9))) {
      add(f, errc::bad_capability, params.size() > 1 ? params[1].offset : params[0].offset,
          "DELIVERBY takes at most one parameter of 1-9 digits (RFC 2852 §4)");
    }
  } else if (kw == "MT-PRIORITY") {
    if (params.size() > 1 || (params.size() == 1 && !valid_keyword(params[0].text))) {
      add(f, errc::bad_capability, params.size() > 1 ? params[1].offset : params[0].offset,
          "MT-PRIORITY takes at most one priority-profile name (RFC 6710 §3)");
    }
  } else {
    for (std::string_view k : kNoParamKeywords) {
      if (kw == k && !params.empty()) {
        add(f, errc::bad_capability, params[0].offset, kw + " takes no parameters");
        break;
      }
    }
  }
}

/// One ehlo-line (text after "250-" / "250 ") at reply offset `off`.
void parse_line(std::string_view text, std::uint64_t off, Capabilities& caps) {
  if (text.empty()) {
    add(caps.findings, errc::bad_capability, off, "empty ehlo-line");
    return;
  }
  std::vector<Token> tokens;
  std::size_t pos = 0;
  bool empty_token = false;
  while (true) {
    const std::size_t sp = text.find(' ', pos);
    const std::string_view tok = text.substr(pos, sp == text.npos ? text.npos : sp - pos);
    if (tok.empty()) {
      if (!empty_token) {
        add(caps.findings, errc::bad_capability, off + pos,
            "ehlo-line has an empty keyword or parameter (extra SP)");
      }
      empty_token = true;
    } else {
      tokens.push_back(Token{tok, off + pos});
    }
    if (sp == text.npos) break;
    pos = sp + 1;
  }
  if (tokens.empty()) return;
  if (tokens.front().offset != off) return;  // the line starts with SP: no keyword
  const Token kw_tok = tokens.front();
  const std::vector<Token> params(tokens.begin() + 1, tokens.end());

  Capability cap;
  cap.keyword = to_upper(kw_tok.text);
  // Legacy "AUTH=PLAIN LOGIN" (pre-RFC 2554 clients such as Outlook Express): kept as the
  // unknown keyword "AUTH=PLAIN", not merged into AUTH, and not reported.
  const bool legacy_auth = cap.keyword.size() > 5 && cap.keyword.compare(0, 5, "AUTH=") == 0;
  if (!legacy_auth && !valid_keyword(kw_tok.text)) {
    add(caps.findings, errc::bad_capability, kw_tok.offset,
        "ehlo-keyword must be (ALPHA / DIGIT) *(ALPHA / DIGIT / \"-\")");
  }
  for (const Token& t : params) {
    if (!valid_param(t.text)) {
      add(caps.findings, errc::bad_capability, t.offset,
          "ehlo-param must be 1*(%d33-126) (no 8-bit or control octets)");
    }
    cap.params.emplace_back(t.text);
  }
  if (caps.find(cap.keyword) != nullptr) {
    add(caps.findings, errc::duplicate_capability, kw_tok.offset,
        cap.keyword + " advertised more than once");
  }
  check_known(cap.keyword, params, kw_tok.offset, caps.findings);
  caps.list.push_back(std::move(cap));
}

}  // namespace

const Capability* Capabilities::find(std::string_view keyword) const noexcept {
  for (const Capability& c : list) {
    if (iequals(c.keyword, keyword)) return &c;
  }
  return nullptr;
}

std::optional<std::uint64_t> Capabilities::size() const noexcept {
  const Capability* c = find("SIZE");
  if (c == nullptr || c->params.size() > 1) return std::nullopt;
  if (c->params.empty()) return 0;
  return parse_number(c->params.front());
}

std::vector<std::string> Capabilities::auth_mechanisms() const {
  std::vector<std::string> out;
  if (const Capability* c = find("AUTH")) {
    for (const std::string& m : c->params) out.push_back(to_upper(m));
  }
  return out;
}

bool Capabilities::auth(std::string_view mechanism) const noexcept {
  const Capability* c = find("AUTH");
  if (c == nullptr) return false;
  for (const std::string& m : c->params) {
    if (iequals(m, mechanism)) return true;
  }
  return false;
}

std::optional<LimitsCapability> Capabilities::limits() const {
  const Capability* c = find("LIMITS");
  if (c == nullptr) return std::nullopt;
  LimitsCapability out;
  for (const std::string& p : c->params) {
    const std::size_t eq = p.find('=');
    if (eq == std::string::npos) continue;
    const std::string_view name = std::string_view(p).substr(0, eq);
    const auto value = parse_number(std::string_view(p).substr(eq + 1));
    if (!value) continue;
    std::optional<std::uint64_t>* field = nullptr;
    if (iequals(name, "MAILMAX"))
      field = &out.mailmax;
    else if (iequals(name, "RCPTMAX"))
      field = &out.rcptmax;
    else if (iequals(name, "RCPTDOMAINMAX"))
      field = &out.rcptdomainmax;
    if (field != nullptr && !*field) *field = value;  // the first one counts
  }
  return out;
}

std::optional<std::uint64_t> Capabilities::deliver_by() const noexcept {
  const Capability* c = find("DELIVERBY");
  if (c == nullptr || c->params.size() > 1) return std::nullopt;
  if (c->params.empty()) return 0;
  return parse_number(c->params.front(), 9);
}

std::optional<std::string> Capabilities::mt_priority() const {
  const Capability* c = find("MT-PRIORITY");
  if (c == nullptr || c->params.size() > 1) return std::nullopt;
  if (c->params.empty()) return std::string{};
  if (!valid_keyword(c->params.front())) return std::nullopt;
  return c->params.front();
}

Capabilities parse_ehlo(const Reply& reply) {
  Capabilities caps;
  if (reply.code != 250) {
    add(caps.findings, errc::bad_capability, 0,
        "reply code " + std::to_string(reply.code) + " is not 250: no capabilities");
    return caps;
  }
  if (reply.lines.empty()) {
    add(caps.findings, errc::bad_capability, 0, "reply has no lines");
    return caps;
  }
  // Offsets: every line is "250-" / "250 " + text + CRLF on the wire.
  std::uint64_t line_off = 0;
  {
    const std::string_view first = reply.lines.front();
    const std::size_t sp = first.find(' ');
    const std::string_view domain = first.substr(0, sp);
    caps.domain = std::string(domain);
    if (sp != std::string_view::npos) caps.greeting = std::string(first.substr(sp + 1));
    if (!valid_domain(domain)) {
      add(caps.findings, errc::bad_domain, 4,
          "first line of the EHLO reply must start with a Domain or address literal");
    }
  }
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    line_off += 4 + reply.lines[i - 1].size() + 2;
    parse_line(reply.lines[i], line_off + 4, caps);
  }
  return caps;
}

Reply make_ehlo_reply(const Capabilities& caps) {
  Reply r;
  r.code = 250;
  std::string first = caps.domain;
  if (!caps.greeting.empty()) {
    first += ' ';
    first += caps.greeting;
  }
  r.lines.push_back(std::move(first));
  for (const Capability& c : caps.list) {
    std::string line = c.keyword;
    for (const std::string& p : c.params) {
      line += ' ';
      line += p;
    }
    r.lines.push_back(std::move(line));
  }
  for (const std::string& l : r.lines) r.wire_size += 4 + l.size() + 2;
  return r;
}

}  // namespace smtp
