// RFC 5321 §4.1.2 / §4.1.3 address grammar: Domain, address literals, Local-part, Mailbox,
// Path; RFC 6531 UTF-8 extensions; §4.5.3.1 size limits. See command_grammar.h.
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "command_grammar.h"
#include "smtp/command.h"

namespace smtp {
namespace detail {

std::size_t utf8_length(std::string_view s, std::size_t pos) noexcept {
  if (pos >= s.size()) return 0;
  const auto b0 = static_cast<unsigned char>(s[pos]);
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlongs
    if (b0 == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    return 0;  // ASCII, continuation byte, C0/C1 overlong lead, or F5..FF
  }
  if (s.size() - pos < len) return 0;
  const auto b1 = static_cast<unsigned char>(s[pos + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t i = 2; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return len;
}

std::size_t Grammar::fail(std::size_t pos, errc code, std::string_view reason) {
  if (pos < s.size() && static_cast<unsigned char>(s[pos]) >= 0x80) {
    if (!opt_.smtputf8) {
      add(pos, errc::non_ascii,
          "8-bit octet where RFC 5321 allows only ASCII (SMTPUTF8, RFC 6531, not in use).");
      return npos;
    }
    if (utf8_length(s, pos) == 0) {
      add(pos, code, "Malformed UTF-8 sequence (RFC 3629: overlong, surrogate or truncated).");
      return npos;
    }
  }
  add(pos, code, std::string(reason));
  return npos;
}

void Grammar::add(std::size_t pos, errc code, std::string reason) {
  errors_.push_back(Diagnostic{code, base_ + pos, std::move(reason)});
}

void Grammar::length_error(std::size_t pos, std::size_t len, std::size_t limit, errc code,
                           const char* what) {
  add(pos + limit, code,
      std::string(what) + " is " + std::to_string(len) + " octets, over the limit of " +
          std::to_string(limit) + " (RFC 5321 §4.5.3.1).");
}

std::size_t Grammar::domain(std::size_t pos, errc code) {
  const char* const d = s.data();
  const std::size_t n = s.size();
  const bool utf8 = opt_.smtputf8;
  // Fast path (ASCII domain): find the run of LDH and '.', then check the label boundaries.
  const auto end = static_cast<std::size_t>(span_ldh_dot(d + pos, d + n) - d);
  if (!utf8 || end == n || static_cast<unsigned char>(d[end]) < 0x80) {
    std::size_t label = pos;
    for (;;) {
      if (label == end || !is(d[label], kAlpha | kDigit)) {
        return fail(label, code,
                    label > 0 && d[label - 1] == '.'
                        ? "A domain label must follow '.' and start with a letter or digit."
                        : "A domain must start with a letter or digit (RFC 5321 §4.1.2 "
                          "sub-domain).");
      }
      const void* dot = std::memchr(d + label, '.', end - label);
      const std::size_t stop =
          dot == nullptr ? end : static_cast<std::size_t>(static_cast<const char*>(dot) - d);
      if (d[stop - 1] == '-') {
        return fail(stop - 1, code, "A domain label must not end with '-' (RFC 5321 §4.1.2).");
      }
      if (stop == end) return end;
      label = stop + 1;
    }
  }
  for (;;) {
    // sub-domain = Let-dig [Ldh-str]  (RFC 6531: / U-label)
    std::size_t i = pos;
    if (i < n && is(d[i], kAlpha | kDigit)) {
      ++i;
    } else if (std::size_t u = utf8 ? utf8_length(s, i) : 0; u != 0) {
      i += u;
    } else {
      return fail(i, code,
                  i > 0 && d[i - 1] == '.'
                      ? "A domain label must follow '.' and start with a letter or digit."
                      : "A domain must start with a letter or digit (RFC 5321 §4.1.2 sub-domain).");
    }
    for (;;) {
      while (i < n && is(d[i], kLdh)) ++i;
      if (utf8 && i < n && static_cast<unsigned char>(d[i]) >= 0x80) {
        if (const std::size_t u = utf8_length(s, i); u != 0) {
          i += u;
          continue;
        }
      }
      break;
    }
    // A UTF-8 sequence never ends in '-', so the label's last octet decides.
    if (d[i - 1] == '-') {
      return fail(i - 1, code, "A domain label must not end with '-' (RFC 5321 §4.1.2).");
    }
    if (i < n && d[i] == '.') {
      pos = i + 1;
      continue;
    }
    return i;
  }
}

std::size_t Grammar::ipv4(std::size_t pos, errc code) {
  std::size_t i = pos;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (!at(i, '.'))
        return fail(i, code, "An IPv4 address literal has four '.'-separated numbers.");
      ++i;
    }
    const std::size_t start = i;
    unsigned value = 0;
    while (i < s.size() && is(s[i], kDigit)) {
      if (i - start == 3) return fail(i, code, "An IPv4 number (Snum) has at most 3 digits.");
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
    }
    if (i == start) return fail(i, code, "Expected a decimal number (Snum) in the IPv4 literal.");
    if (value > 255) return fail(start, code, "An IPv4 number (Snum) must be 0-255.");
  }
  return i;
}

bool Grammar::ipv6(std::size_t pos, std::size_t end) {
  constexpr errc code = errc::bad_address_literal;
  std::size_t i = pos;
  int groups = 0;           // 16-bit hex groups seen
  bool compressed = false;  // "::" seen
  if (end - i >= 2 && s[i] == ':' && s[i + 1] == ':') {
    compressed = true;
    i += 2;
  }
  while (i < end) {
    const std::size_t start = i;
    while (i < end && is(s[i], kHex)) ++i;
    if (i < end && s[i] == '.') {
      // IPv6v4-full: 6 groups then IPv4; IPv6v4-comp: at most 4 groups around "::".
      if (compressed ? groups > 4 : groups != 6) {
        fail(start, code,
             compressed ? "IPv6v4-comp allows at most 4 groups besides '::' and the IPv4 part."
                        : "IPv6v4-full needs exactly 6 groups before the IPv4 part.");
        return false;
      }
      const std::size_t e = ipv4(start, code);
      if (e == npos) return false;
      if (e != end) {
        fail(e, code, "Unexpected octet after the IPv4 part of an IPv6 literal.");
        return false;
      }
      return true;
    }
    if (i == start) {
      fail(i, code, "Expected a hex group (1-4 HEXDIG) in the IPv6 literal.");
      return false;
    }
    if (i - start > 4) {
      fail(start + 4, code, "An IPv6 group has at most 4 hex digits.");
      return false;
    }
    ++groups;
    if (groups > (compressed ? 6 : 8)) {
      fail(start, code,
           compressed ? "IPv6-comp allows at most 6 groups besides '::'."
                      : "IPv6-full has exactly 8 groups.");
      return false;
    }
    if (i == end) break;
    if (s[i] != ':') {
      fail(i, code, "Expected ':' between IPv6 groups.");
      return false;
    }
    if (i + 1 < end && s[i + 1] == ':') {
      if (compressed) {
        fail(i, code, "Only one '::' is allowed in an IPv6 literal.");
        return false;
      }
      if (groups > 6) {
        fail(i, code, "IPv6-comp allows at most 6 groups besides '::'.");
        return false;
      }
      compressed = true;
      i += 2;
      continue;
    }
    ++i;
    if (i == end) {
      fail(i, code, "An IPv6 literal must not end with a single ':'.");
      return false;
    }
  }
  if (!compressed && groups != 8) {
    fail(end, code, "IPv6-full has exactly 8 groups (or use '::').");
    return false;
  }
  return true;
}

std::size_t Grammar::address_literal(std::size_t pos) {
  constexpr errc code = errc::bad_address_literal;
  if (!at(pos, '[')) return fail(pos, code, "An address literal starts with '['.");
  const std::size_t first = pos + 1;
  std::size_t close = first;
  while (close < s.size() && is(s[close], kDcontent)) ++close;
  if (!at(close, ']')) {
    return fail(close, code, "Expected ']' to close the address literal (RFC 5321 §4.1.3).");
  }
  if (close == first) return fail(close, code, "An address literal must not be empty.");
  std::size_t colon = first;
  while (colon < close && s[colon] != ':') ++colon;
  if (colon == close) {
    const std::size_t e = ipv4(first, code);
    if (e == npos) return npos;
    if (e != close) return fail(e, code, "Unexpected octet in the IPv4 address literal.");
    return close + 1;
  }
  const std::string_view tag = s.substr(first, colon - first);
  if (iequals(tag, "IPv6")) {
    if (!ipv6(colon + 1, close)) return npos;
    return close + 1;
  }
  // General-address-literal = Standardized-tag ":" 1*dcontent; Standardized-tag = Ldh-str.
  if (tag.empty()) return fail(colon, code, "A General-address-literal needs a tag before ':'.");
  for (std::size_t i = first; i < colon; ++i) {
    if (!is(s[i], kLdh)) {
      return fail(i, code,
                  "A General-address-literal tag is letters, digits and '-' (RFC 5321 §4.1.3).");
    }
  }
  if (s[colon - 1] == '-') {
    return fail(colon - 1, code, "A General-address-literal tag must not end with '-'.");
  }
  if (colon + 1 == close) {
    return fail(close, code, "A General-address-literal needs content after the tag's ':'.");
  }
  return close + 1;
}

std::size_t Grammar::domain_or_literal(std::size_t pos) {
  const std::size_t e = at(pos, '[') ? address_literal(pos) : domain(pos);
  if (e != npos)
    check_length(pos, e - pos, opt_.limits.domain, errc::domain_too_long, "The domain");
  return e;
}

std::size_t Grammar::atom(std::size_t pos, errc code, std::string_view what) {
  const bool utf8 = opt_.smtputf8;
  const std::size_t n = s.size();
  std::size_t i = pos;
  for (;;) {
    while (i < n && is(s[i], kAtext)) ++i;
    if (utf8 && i < n && static_cast<unsigned char>(s[i]) >= 0x80) {
      if (const std::size_t u = utf8_length(s, i); u != 0) {
        i += u;
        continue;
      }
    }
    break;
  }
  if (i == pos) {
    return fail(i, code,
                std::string("Expected an atext character in the ") + std::string(what) + ".");
  }
  return i;
}

std::size_t Grammar::quoted_string(std::size_t pos, errc code) {
  const bool utf8 = opt_.smtputf8;
  std::size_t i = pos + 1;  // after DQUOTE
  for (;;) {
    if (i >= s.size()) return fail(i, code, "Unterminated quoted string (missing '\"').");
    const char c = s[i];
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 < s.size() && is(s[i + 1], kPrint)) {
        i += 2;
        continue;
      }
      return fail(i + 1, code,
                  "A quoted-pair is '\\' followed by an octet 32-126 (RFC 5321 §4.1.2).");
    }
    if (is(c, kQtext)) {
      ++i;
    } else if (std::size_t n = utf8 ? utf8_length(s, i) : 0; n != 0) {
      i += n;
    } else {
      return fail(i, code,
                  "Octet not allowed in a quoted string (qtextSMTP is 32-33, 35-91, 93-126).");
    }
  }
}

std::size_t Grammar::local_part(std::size_t pos) {
  constexpr errc code = errc::bad_local_part;
  std::size_t e = npos;
  if (at(pos, '"')) {
    e = quoted_string(pos, code);
  } else {
    // Dot-string = Atom *("." Atom)
    std::size_t i = pos;
    for (;;) {
      const std::size_t a = atom(i, code, i == pos ? "local part" : "local part after '.'");
      if (a == npos) return npos;
      i = a;
      if (at(i, '.')) {
        ++i;
        continue;
      }
      break;
    }
    e = i;
  }
  if (e != npos) {
    check_length(pos, e - pos, opt_.limits.local_part, errc::local_part_too_long, "The local part");
  }
  return e;
}

std::size_t Grammar::mailbox(std::size_t pos, Path* out) {
  const std::size_t lp_end = local_part(pos);
  if (lp_end == npos) return npos;
  if (!at(lp_end, '@')) {
    // An octet the local part stopped at (8-bit, malformed UTF-8) belongs to the local part.
    const bool eight_bit = lp_end < s.size() && static_cast<unsigned char>(s[lp_end]) >= 0x80;
    return fail(lp_end, eight_bit ? errc::bad_local_part : errc::bad_path,
                "Expected '@' and a domain after the local part.");
  }
  const std::size_t dom = lp_end + 1;
  const std::size_t e = domain_or_literal(dom);
  if (e == npos) return npos;
  if (out != nullptr) {
    // pos <= lp_end < dom <= e <= s.size(): no bounds checks needed.
    set_text(out->local_part, std::string_view(s.data() + pos, lp_end - pos));
    set_text(out->domain, std::string_view(s.data() + dom, e - dom));
  }
  return e;
}

std::size_t Grammar::path(std::size_t pos, PathKind kind, Path* out) {
  if (!at(pos, '<'))
    return fail(pos, errc::bad_path, "A path must start with '<' (RFC 5321 §4.1.2).");
  std::size_t i = pos + 1;
  if (at(i, '>')) {
    if (kind != PathKind::reverse) {
      return fail(i, errc::bad_path,
                  "The null path '<>' is allowed only as a reverse-path (MAIL).");
    }
    if (out != nullptr) out->null = true;
    return i + 1;
  }
  constexpr std::string_view kPostmaster = "<Postmaster>";
  if (s.size() - pos >= kPostmaster.size() && (s[i] == 'P' || s[i] == 'p') &&
      iequals(s.substr(pos, kPostmaster.size()), kPostmaster)) {
    if (kind != PathKind::forward) {
      return fail(
          i + 10, errc::bad_path,
          "'<Postmaster>' without a domain is allowed only in RCPT TO (RFC 5321 §4.1.1.3).");
    }
    if (out != nullptr) {
      out->postmaster = true;
      out->local_part.assign(s.data() + i, 10);
    }
    return pos + kPostmaster.size();
  }
  if (at(i, '@')) {
    // A-d-l = At-domain *( "," At-domain ) ":"  (source route: kept, to be ignored)
    for (;;) {
      const std::size_t d = i + 1;
      const std::size_t e = domain_or_literal(d);
      if (e == npos) return npos;
      if (out != nullptr) out->source_route.emplace_back(s.data() + d, e - d);
      if (at(e, ',')) {
        if (!at(e + 1, '@'))
          return fail(e + 1, errc::bad_path, "Expected '@' after ',' in the source route.");
        i = e + 1;
        continue;
      }
      if (!at(e, ':')) {
        return fail(e, errc::bad_path, "Expected ',' or ':' after a source-route domain.");
      }
      i = e + 1;
      break;
    }
  }
  const std::size_t e = mailbox(i, out);
  if (e == npos) return npos;
  if (!at(e, '>')) {
    const bool eight_bit = e < s.size() && static_cast<unsigned char>(s[e]) >= 0x80;
    return fail(e, eight_bit && s[e - 1] != ']' ? errc::bad_domain : errc::bad_path,
                "Expected '>' at the end of the path.");
  }
  check_length(pos, e + 1 - pos, opt_.limits.path, errc::path_too_long, "The path");
  return e + 1;
}

std::size_t Grammar::string_arg(std::size_t pos, errc code) {
  if (at(pos, '"')) return quoted_string(pos, code);
  return atom(pos, code, "argument (String = Atom / Quoted-string)");
}

}  // namespace detail

std::string Path::address() const {
  if (null) return {};
  if (postmaster) return local_part.empty() ? std::string("Postmaster") : local_part;
  std::string out;
  out.reserve(local_part.size() + 1 + domain.size());
  out += local_part;
  out += '@';
  out += domain;
  return out;
}

std::string Path::serialize() const {
  std::string out;
  out.reserve(2 + local_part.size() + 1 + domain.size() + source_route.size() * 16);
  out += '<';
  if (!null) {
    if (postmaster) {
      out += local_part.empty() ? std::string_view("Postmaster") : std::string_view(local_part);
    } else {
      for (std::size_t i = 0; i < source_route.size(); ++i) {
        out += i == 0 ? "@" : ",@";
        out += source_route[i];
      }
      if (!source_route.empty()) out += ':';
      out += local_part;
      out += '@';
      out += domain;
    }
  }
  out += '>';
  return out;
}

PathResult parse_path(std::string_view s, bool for_mail, const CommandOptions& opt) {
  PathResult r;
  detail::Grammar g(s, 0, opt, r.errors);
  Path p;
  const std::size_t e =
      g.path(0, for_mail ? detail::PathKind::reverse : detail::PathKind::forward, &p);
  if (e != detail::Grammar::npos) {
    r.path = std::move(p);
    r.consumed = e;
  }
  return r;
}

PathResult parse_mailbox(std::string_view s, const CommandOptions& opt) {
  PathResult r;
  detail::Grammar g(s, 0, opt, r.errors);
  Path p;
  const std::size_t e = g.mailbox(0, &p);
  if (e != detail::Grammar::npos) {
    r.consumed = e;
    if (e != s.size()) {
      g.fail(e, errc::bad_domain, "Unexpected octet after the mailbox's domain.");
    } else {
      r.path = std::move(p);
    }
  }
  return r;
}

}  // namespace smtp
