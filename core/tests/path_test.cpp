// Tests for the RFC 5321 §4.1.2 / §4.1.3 address grammar in core/include/smtp/command.h:
// parse_path, parse_mailbox, Path::address / serialize; address literals (IPv4, every IPv6
// form, General-address-literal), Dot-string and Quoted-string local parts, source routes,
// Postmaster, RFC 6531 UTF-8, and the §4.5.3.1 limits at and one over each boundary.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/command.h"

namespace smtp {
namespace {

std::string esc(std::string_view s) {
  std::string o;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f) {
      static const char* hex = "0123456789abcdef";
      o += "\\x";
      o += hex[c >> 4];
      o += hex[c & 15];
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

std::string errors_of(const PathResult& r) {
  std::string s;
  for (const auto& e : r.errors) {
    if (!s.empty()) s += ' ';
    s += std::string(to_string(e.code)) + "@" + std::to_string(e.offset);
  }
  return s;
}

struct Case {
  std::string input;
  std::string errors;  // "" = valid, else "code@offset ..."
};

void check_mailboxes(const std::vector<Case>& cases, const CommandOptions& opt = {}) {
  for (const auto& tc : cases) {
    const PathResult r = parse_mailbox(tc.input, opt);
    EXPECT_EQ(errors_of(r), tc.errors) << "mailbox: " << esc(tc.input);
    if (tc.errors.empty()) {
      ASSERT_TRUE(r.path) << esc(tc.input);
      EXPECT_EQ(r.consumed, tc.input.size()) << esc(tc.input);
      EXPECT_EQ(r.path->address(), tc.input) << esc(tc.input);
    }
    for (const auto& e : r.errors) {
      EXPECT_FALSE(e.reason.empty());
      EXPECT_EQ(e.reason.back(), '.') << e.reason;
    }
  }
}

void check_paths(const std::vector<Case>& cases, bool for_mail, const CommandOptions& opt = {}) {
  for (const auto& tc : cases) {
    const PathResult r = parse_path(tc.input, for_mail, opt);
    EXPECT_EQ(errors_of(r), tc.errors)
        << (for_mail ? "reverse" : "forward") << " path: " << esc(tc.input);
    if (tc.errors.empty()) {
      ASSERT_TRUE(r.path) << esc(tc.input);
      EXPECT_EQ(r.consumed, tc.input.size()) << esc(tc.input);
      EXPECT_EQ(r.path->serialize(), tc.input) << esc(tc.input);
    } else {
      EXPECT_FALSE(r.path) << esc(tc.input);
    }
  }
}

// ---- Domain -----------------------------------------------------------------------------

TEST(Domain, SubDomains) {
  check_mailboxes({
      {"a@b", ""},
      {"a@example.com", ""},
      {"a@EXAMPLE.com", ""},
      {"a@a-b--c.d", ""},
      {"a@1", ""},
      {"a@123.456", ""},
      {"a@xn--bcher-kva.example", ""},
      {"a@", "bad_domain@2"},
      {"a@-b", "bad_domain@2"},
      {"a@b-", "bad_domain@3"},
      {"a@b--", "bad_domain@4"},
      {"a@b.-c", "bad_domain@4"},
      {"a@b-.c", "bad_domain@3"},
      {"a@b.", "bad_domain@4"},
      {"a@.b", "bad_domain@2"},
      {"a@b..c", "bad_domain@4"},
      {"a@b_c", "bad_domain@3"},
      {"a@b c", "bad_domain@3"},
      {"a@b>", "bad_domain@3"},
  });
}

TEST(Domain, FastPathMatchesReference) {
  // The SIMD fast path agrees with a plain reference reading, for domains of every length
  // around the 16-octet steps, with SMTPUTF8 off and on.
  std::mt19937 rng(99);
  static constexpr std::string_view kChars = "ab9Z.-..--_ >@";
  CommandOptions on;
  on.smtputf8 = true;
  for (int i = 0; i < 20000; ++i) {
    std::string d;
    const std::size_t len = rng() % 48;
    for (std::size_t k = 0; k < len; ++k) {
      d += (rng() % 4 == 0) ? kChars[rng() % kChars.size()] : static_cast<char>('a' + rng() % 26);
    }
    const std::string in = "x@" + d;
    // Reference: a plain label-by-label reading of sub-domain *("." sub-domain).
    std::string want;
    {
      auto letdig = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      };
      std::size_t j = 2;
      for (;;) {
        if (j >= in.size() || !letdig(in[j])) {
          want = "bad_domain@" + std::to_string(j);
          break;
        }
        while (j < in.size() && (letdig(in[j]) || in[j] == '-')) ++j;
        if (in[j - 1] == '-') {
          want = "bad_domain@" + std::to_string(j - 1);
          break;
        }
        if (j < in.size() && in[j] == '.') {
          ++j;
          continue;
        }
        if (j != in.size()) want = "bad_domain@" + std::to_string(j);  // trailing octet
        break;
      }
    }
    const PathResult a = parse_mailbox(in);
    ASSERT_EQ(errors_of(a), want) << in;
    const PathResult b = parse_mailbox(in, on);
    ASSERT_EQ(errors_of(a), errors_of(b)) << in;
    ASSERT_EQ(a.consumed, b.consumed) << in;
    ASSERT_EQ(a.path.has_value(), b.path.has_value()) << in;
    if (a.path) {
      ASSERT_EQ(*a.path, *b.path) << in;
    }
  }
}

// ---- Address literals (§4.1.3) ----------------------------------------------------------

TEST(AddressLiteral, Ipv4) {
  check_mailboxes({
      {"a@[1.2.3.4]", ""},
      {"a@[0.0.0.0]", ""},
      {"a@[255.255.255.255]", ""},
      {"a@[001.02.3.004]", ""},
      {"a@[256.1.1.1]", "bad_address_literal@3"},
      {"a@[1.2.3.255]", ""},
      {"a@[1.2.3.256]", "bad_address_literal@9"},
      {"a@[1.2.3.0256]", "bad_address_literal@12"},
      {"a@[1.2.3]", "bad_address_literal@8"},
      {"a@[1.2.3.]", "bad_address_literal@9"},
      {"a@[1..2.3]", "bad_address_literal@5"},
      {"a@[1.2.3.4.5]", "bad_address_literal@10"},
      {"a@[1.2.3.-4]", "bad_address_literal@9"},
      {"a@[1.2.3.4", "bad_address_literal@10"},
      {"a@[]", "bad_address_literal@3"},
      {"a@[ 1.2.3.4]", "bad_address_literal@3"},
      {"a@1.2.3.4]", "bad_domain@9"},
  });
}

TEST(AddressLiteral, Ipv6AllForms) {
  // "a@[IPv6:" is 8 octets: the address starts at offset 8.
  const std::vector<std::pair<std::string, std::string>> table = {
      // IPv6-full
      {"2001:db8:0:0:0:0:0:1", ""},
      {"FFFF:ffff:0:0:0:0:0:0", ""},
      {"0000:0000:0000:0000:0000:0000:0000:0000", ""},
      {"1:2:3:4:5:6:7", "bad_address_literal@21"},
      {"1:2:3:4:5:6:7:8:9", "bad_address_literal@24"},
      {"12345:2:3:4:5:6:7:8", "bad_address_literal@12"},
      {"1:2:3:4:5:6:7:", "bad_address_literal@22"},
      {"g:2:3:4:5:6:7:8", "bad_address_literal@8"},
      {"1:2:3:4:5:6:7:8:", "bad_address_literal@24"},
      // IPv6-comp
      {"::", ""},
      {"::1", ""},
      {"1::", ""},
      {"1::2", ""},
      {"2001:db8::1", ""},
      {"1:2:3:4:5:6::", ""},
      {"::1:2:3:4:5:6", ""},
      {"1:2:3::4:5:6", ""},
      {"1:2:3:4:5:6:7::", "bad_address_literal@21"},
      {"::1:2:3:4:5:6:7", "bad_address_literal@22"},
      {"1:2:3:4::5:6:7", "bad_address_literal@21"},
      {"1::2::3", "bad_address_literal@12"},
      {":1::", "bad_address_literal@8"},
      {":::", "bad_address_literal@10"},
      {"1:::2", "bad_address_literal@11"},
      {"", "bad_address_literal@8"},
      // IPv6v4-full
      {"1:2:3:4:5:6:1.2.3.4", ""},
      {"0:0:0:0:0:ffff:192.0.2.1", ""},
      {"1:2:3:4:5:1.2.3.4", "bad_address_literal@18"},
      {"1:2:3:4:5:6:7:1.2.3.4", "bad_address_literal@22"},
      {"1.2.3.4", "bad_address_literal@8"},
      // IPv6v4-comp
      {"::1.2.3.4", ""},
      {"::ffff:192.0.2.1", ""},
      {"1:2:3:4::1.2.3.4", ""},
      {"1::2:3:4:1.2.3.4", ""},
      {"::1:2:3:4:1.2.3.4", ""},
      {"1:2:3:4:5::1.2.3.4", "bad_address_literal@19"},
      {"::1:2:3:4:5:1.2.3.4", "bad_address_literal@20"},
      {"::1.2.3", "bad_address_literal@15"},
      {"::1.2.3.4.5", "bad_address_literal@17"},
      {"::256.1.1.1", "bad_address_literal@10"},
      {"::1.2.3.4:1", "bad_address_literal@17"},
      {"::ab.1.2.3", "bad_address_literal@10"},
  };
  for (const auto& [addr, err] : table) {
    const std::string in = "a@[IPv6:" + addr + "]";
    const PathResult r = parse_mailbox(in);
    EXPECT_EQ(errors_of(r), err) << in;
    if (err.empty()) {
      ASSERT_TRUE(r.path) << in;
      EXPECT_EQ(r.path->domain, "[IPv6:" + addr + "]");
    }
  }
  // The tag is case-insensitive (ABNF string literal).
  EXPECT_TRUE(parse_mailbox("a@[ipv6:::1]").path);
  EXPECT_TRUE(parse_mailbox("a@[IPV6:::1]").path);
}

TEST(AddressLiteral, General) {
  check_mailboxes({
      {"a@[x-tag:abc]", ""},
      {"a@[tag:a:b]", ""},
      {"a@[tag:!\"#$%&'()*+,-./0123456789:;<=>?@ABCXYZ^_`abc{|}~]", ""},
      {"a@[-tag:x]", ""},
      {"a@[9:x]", ""},
      {"a@[tag:]", "bad_address_literal@7"},
      {"a@[tag-:x]", "bad_address_literal@6"},
      {"a@[t_g:x]", "bad_address_literal@4"},
      {"a@[t.g:x]", "bad_address_literal@4"},
      {"a@[:x]", "bad_address_literal@3"},
      {"a@[tag:a b]", "bad_address_literal@8"},
      {"a@[tag:a[b]", "bad_address_literal@8"},
      {"a@[tag:a\\b]", "bad_address_literal@8"},
  });
}

// ---- Local part -------------------------------------------------------------------------

TEST(LocalPart, DotString) {
  check_mailboxes({
      {"a.b.c@d", ""},
      {"!#$%&'*+-/=?^_`{|}~@d", ""},
      {"A9@d", ""},
      {".a@d", "bad_local_part@0"},
      {"a.@d", "bad_local_part@2"},
      {"a..b@d", "bad_local_part@2"},
      {"a(b@d", "bad_path@1"},
      {"a b@d", "bad_path@1"},
      {"a", "bad_path@1"},
      {"@d", "bad_local_part@0"},
      {"", "bad_local_part@0"},
      {"a@b@c", "bad_domain@3"},
  });
}

TEST(LocalPart, QuotedString) {
  check_mailboxes({
      {"\"a\"@d", ""},
      {"\"\"@d", ""},
      {"\"a b\"@d", ""},
      {"\"a@b\"@d", ""},
      {"\"a\\\"b\"@d", ""},  // quoted-pair DQUOTE
      {"\"a\\\\\"@d", ""},   // quoted-pair backslash
      {"\"\\ \\~\"@d", ""},  // quoted-pair of 32 and 126
      {"\" !#[]~\"@d", ""},  // qtextSMTP boundaries: 32, 33, 35, 91, 93, 126
      {"\"a\\\"@d", "bad_local_part@6"},
      {"\"a", "bad_local_part@2"},
      {"\"a\x01\"@d", "bad_local_part@2"},
      {"\"a\x7f\"@d", "bad_local_part@2"},
      {"\"a\\\x7f\"@d", "bad_local_part@3"},
      {"\"a\\\x1f\"@d", "bad_local_part@3"},
      {"\"a\"b@d", "bad_path@3"},
      {"a\"b\"@d", "bad_path@1"},
  });
  const PathResult r = parse_mailbox("\"x\\\"y\"@d");
  ASSERT_TRUE(r.path);
  EXPECT_EQ(r.path->local_part, "\"x\\\"y\"");  // kept as on the wire, quotes included
}

// ---- Paths ------------------------------------------------------------------------------

TEST(PathGrammar, ReversePaths) {
  check_paths(
      {
          {"<>", ""},
          {"<a@b>", ""},
          {"<@hosta.int,@jkl.org:userc@d.bar.org>", ""},
          {"<@[1.2.3.4]:c@d>", ""},
          {"<\"a b\"@[IPv6:::1]>", ""},
          {"<Postmaster>", "bad_path@11"},
          {"<postmaster>", "bad_path@11"},
          {"", "bad_path@0"},
          {"a@b", "bad_path@0"},
          {"<", "bad_local_part@1"},
          {"<a@b", "bad_path@4"},
          {"<a@b c>", "bad_path@4"},
          {"<@a,b:c@d>", "bad_path@4"},
          {"<@a;c@d>", "bad_path@3"},
          {"<@:c@d>", "bad_domain@2"},
          {"<@a:>", "bad_local_part@4"},
          {"<@a>", "bad_path@3"},
          {"<a@b.>", "bad_domain@5"},
          {"<a@>", "bad_domain@3"},
          {"< a@b>", "bad_local_part@1"},
      },
      true);
}

TEST(PathGrammar, ForwardPaths) {
  check_paths(
      {
          {"<a@b>", ""},
          {"<Postmaster>", ""},
          {"<pOsTmAsTeR>", ""},
          {"<Postmaster@example.com>", ""},
          {"<@a:Postmaster@b>", ""},
          {"<>", "bad_path@1"},
          {"<Postmaster", "bad_path@11"},
          {"<Postmaster >", "bad_path@11"},
          {"<@a:Postmaster>", "bad_path@14"},
      },
      false);
}

TEST(PathGrammar, Fields) {
  PathResult r = parse_path("<@hosta.int,@[10.0.0.1]:userc@d.bar.org> SIZE=1", false);
  ASSERT_TRUE(r.path);
  EXPECT_EQ(r.consumed, 40u);
  EXPECT_EQ(r.path->source_route, (std::vector<std::string>{"hosta.int", "[10.0.0.1]"}));
  EXPECT_EQ(r.path->local_part, "userc");
  EXPECT_EQ(r.path->domain, "d.bar.org");
  EXPECT_EQ(r.path->address(), "userc@d.bar.org");
  EXPECT_EQ(r.path->serialize(), "<@hosta.int,@[10.0.0.1]:userc@d.bar.org>");
  EXPECT_FALSE(r.path->null);
  EXPECT_FALSE(r.path->postmaster);

  r = parse_path("<>", true);
  ASSERT_TRUE(r.path);
  EXPECT_TRUE(r.path->null);
  EXPECT_EQ(r.path->address(), "");
  EXPECT_EQ(r.consumed, 2u);

  r = parse_path("<Postmaster>", false);
  ASSERT_TRUE(r.path);
  EXPECT_TRUE(r.path->postmaster);
  EXPECT_EQ(r.path->address(), "Postmaster");
}

TEST(PathGrammar, AddressAndSerializeOfBuiltPaths) {
  Path p;
  p.null = true;
  EXPECT_EQ(p.serialize(), "<>");
  EXPECT_EQ(p.address(), "");
  Path pm;
  pm.postmaster = true;
  EXPECT_EQ(pm.serialize(), "<Postmaster>");
  EXPECT_EQ(pm.address(), "Postmaster");
  Path q;
  q.local_part = "\"a b\"";
  q.domain = "[IPv6:::1]";
  q.source_route = {"x.org"};
  EXPECT_EQ(q.address(), "\"a b\"@[IPv6:::1]");
  EXPECT_EQ(q.serialize(), "<@x.org:\"a b\"@[IPv6:::1]>");
  const PathResult r = parse_path(q.serialize(), true);
  ASSERT_TRUE(r.path);
  EXPECT_EQ(*r.path, q);
}

TEST(PathGrammar, ErrorsAreRelativeToInput) {
  const PathResult r = parse_path("<a..b@c>", true);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].code, errc::bad_local_part);
  EXPECT_EQ(r.errors[0].offset, 3u);
  EXPECT_FALSE(r.errors[0].reason.empty());
}

// ---- Limits -----------------------------------------------------------------------------

std::string domain_of_length(std::size_t n) {
  std::string d;
  while (d.size() < n) {
    if (!d.empty()) d += '.';
    d += std::string(std::min<std::size_t>(63, n - d.size()), 'd');
  }
  if (d.back() == '.') d.back() = 'e';
  return d;
}

TEST(Limits, LocalPartAndDomain) {
  const std::string lp64(64, 'l');
  check_mailboxes({
      {lp64 + "@d", ""},
      {lp64 + "l@d", "local_part_too_long@64"},
      {"\"" + std::string(62, 'q') + "\"@d", ""},
      {"\"" + std::string(63, 'q') + "\"@d", "local_part_too_long@64"},
      {"a@" + domain_of_length(255), ""},
      {"a@" + domain_of_length(256), "domain_too_long@257"},
      {"a@[" + std::string(248, 'x') + ":abcd]", ""},
      {"a@[" + std::string(249, 'x') + ":abcd]", "domain_too_long@257"},
  });
  // Over-limit mailboxes are still returned (the error says why they are invalid).
  const PathResult r = parse_mailbox(lp64 + "l@" + domain_of_length(256));
  EXPECT_EQ(errors_of(r), "local_part_too_long@64 domain_too_long@321");
  ASSERT_TRUE(r.path);
  EXPECT_EQ(r.path->local_part.size(), 65u);
}

TEST(Limits, Path) {
  const std::string at = "<" + std::string(64, 'p') + "@" + domain_of_length(189) + ">";
  ASSERT_EQ(at.size(), 256u);
  const std::string over = "<" + std::string(64, 'p') + "@" + domain_of_length(190) + ">";
  EXPECT_EQ(errors_of(parse_path(at, true)), "");
  const PathResult r = parse_path(over, true);
  EXPECT_EQ(errors_of(r), "path_too_long@256");
  ASSERT_TRUE(r.path);
  EXPECT_EQ(r.consumed, 257u);
  // Configurable limits.
  CommandOptions opt;
  opt.limits.path = 7;
  opt.limits.local_part = 1;
  opt.limits.domain = 2;
  EXPECT_EQ(errors_of(parse_path("<a@bc>", true, opt)), "");
  EXPECT_EQ(errors_of(parse_path("<ab@cde>", true, opt)),
            "local_part_too_long@2 domain_too_long@6 path_too_long@7");
}

// ---- RFC 6531 UTF-8 ---------------------------------------------------------------------

TEST(Utf8, WellFormedOnly) {
  CommandOptions on;
  on.smtputf8 = true;
  struct U {
    std::string bytes;
    bool valid;
  };
  const std::vector<U> table = {
      {"\xc2\x80", true},
      {"\xdf\xbf", true},
      {"\xc1\xbf", false},
      {"\xc0\x80", false},
      {"\xe0\xa0\x80", true},
      {"\xe0\x9f\xbf", false},
      {"\xed\x9f\xbf", true},
      {"\xed\xa0\x80", false},
      {"\xed\xbf\xbf", false},
      {"\xee\x80\x80", true},
      {"\xef\xbf\xbf", true},
      {"\xf0\x90\x80\x80", true},
      {"\xf0\x8f\xbf\xbf", false},
      {"\xf4\x8f\xbf\xbf", true},
      {"\xf4\x90\x80\x80", false},
      {"\xf5\x80\x80\x80", false},
      {"\xf0\x90\x80", false},
      {"\xe2\x82", false},
      {"\xbf", false},
      {"\xff", false},
      {"\xc3\x28", false},
  };
  for (const auto& u : table) {
    // In a local part (atext), in a quoted string (qtext) and in a domain label (U-label).
    const std::string mailboxes[] = {"x" + u.bytes + "@d", "\"x" + u.bytes + "\"@d",
                                     "a@x" + u.bytes + ".org"};
    const std::size_t at[] = {1, 2, 3};
    const errc code[] = {errc::bad_local_part, errc::bad_local_part, errc::bad_domain};
    for (int i = 0; i < 3; ++i) {
      const PathResult r = parse_mailbox(mailboxes[i], on);
      if (u.valid) {
        EXPECT_EQ(errors_of(r), "") << esc(mailboxes[i]);
      } else {
        ASSERT_FALSE(r.errors.empty()) << esc(mailboxes[i]);
        EXPECT_EQ(r.errors[0].code, code[i]) << esc(mailboxes[i]);
        EXPECT_EQ(r.errors[0].offset, at[i]) << esc(mailboxes[i]);
      }
      // Without SMTPUTF8 every 8-bit octet is non_ascii.
      const PathResult off = parse_mailbox(mailboxes[i]);
      ASSERT_FALSE(off.errors.empty()) << esc(mailboxes[i]);
      EXPECT_EQ(off.errors[0].code, errc::non_ascii) << esc(mailboxes[i]);
      EXPECT_EQ(off.errors[0].offset, at[i]) << esc(mailboxes[i]);
    }
  }
}

TEST(Utf8, Mailboxes) {
  CommandOptions on;
  on.smtputf8 = true;
  check_mailboxes(
      {
          {"\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8", ""},
          {"j\xc3\xb6rg@b\xc3\xbc"
           "cher.de",
           ""},
          {"\"j\xc3\xb6 rg\"@x", ""},
          {"a@\xc3\xbc-x", ""},
          {"a@x-\xc3\xbc", ""},
          {"a@-\xc3\xbc", "bad_domain@2"},
          {"a@\xc3\xbc-", "bad_domain@4"},
          {"a@[\xc3\xbc]", "bad_address_literal@3"},
      },
      on);
  // The 64-octet limit counts octets, not characters.
  std::string lp;
  for (int i = 0; i < 32; ++i) lp += "\xc3\xb6";
  check_mailboxes({{lp + "@x", ""}, {lp + "a@x", "local_part_too_long@64"}}, on);
}

}  // namespace
}  // namespace smtp
