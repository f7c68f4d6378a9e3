// Fuzz target: parse_ehlo / make_ehlo_reply / Capabilities accessors (RFC 5321 §4.1.1.1 and
// the extension RFCs: SIZE 1870, AUTH 4954, LIMITS 9422, DELIVERBY 2852, MT-PRIORITY 6710).
//
// Input: server bytes, e.g. a recorded EHLO reply. Every reply the strict ReplyParser finds is
// given to parse_ehlo(); with flags bit 0 the input's LF-separated lines also go straight into
// make_reply(250, lines), so parse_ehlo() sees octets the reply parser would reject.
// Invariants:
//  - a non-250 reply gives an empty list and a finding; finding offsets lie within the reply;
//  - make_ehlo_reply() -> parse_ehlo() reproduces domain, greeting and list exactly when the
//    capabilities had no findings, and is a fixed point after one round in any case;
//    make_ehlo_reply() sets wire_size to its serialized size;
//  - the accessors agree with the list: find() is case-insensitive and returns the first
//    match, has(X) == (find(X) != nullptr), and size()/auth_mechanisms()/limits()/
//    deliver_by()/mt_priority() are only set when their keyword is advertised.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "fuzz_reply_util.h"
#include "smtp/ehlo.h"
#include "smtp/reply.h"

namespace {

using smtp::fuzz::fail;
using smtp::fuzz::Log;

SMTPH_FUZZ_HARNESS std::string describe(const smtp::Capabilities& c) {
  Log log;
  log << "domain=" << smtp::fuzz::escape(c.domain) << " greeting=" << smtp::fuzz::escape(c.greeting)
      << '\n';
  for (const auto& cap : c.list) {
    log << "  " << smtp::fuzz::escape(cap.keyword);
    for (const auto& p : cap.params) log << " [" << smtp::fuzz::escape(p) << ']';
    log << '\n';
  }
  for (const auto& f : c.findings) {
    log << "  finding " << smtp::to_string(f.code) << '@' << f.offset << ' ' << f.reason << '\n';
  }
  return log.str();
}

SMTPH_FUZZ_HARNESS bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

SMTPH_FUZZ_HARNESS std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void check_accessors(const smtp::Capabilities& caps) {
  for (const auto& cap : caps.list) {
    const smtp::Capability* first = nullptr;
    for (const auto& other : caps.list) {
      if (iequal(other.keyword, cap.keyword)) {
        first = &other;
        break;
      }
    }
    SMTPH_FUZZ_CHECK(caps.find(cap.keyword) == first);
    SMTPH_FUZZ_CHECK(caps.find(lower(cap.keyword)) == first);
    SMTPH_FUZZ_CHECK(caps.has(cap.keyword));
  }
  SMTPH_FUZZ_CHECK(caps.pipelining() == caps.has("PIPELINING"));
  SMTPH_FUZZ_CHECK(caps.starttls() == caps.has("STARTTLS"));
  SMTPH_FUZZ_CHECK(caps.chunking() == caps.has("CHUNKING"));
  if (caps.size()) SMTPH_FUZZ_CHECK(caps.has("SIZE"));
  const std::vector<std::string> mechs = caps.auth_mechanisms();
  if (!mechs.empty()) SMTPH_FUZZ_CHECK(caps.has("AUTH"));
  for (const auto& m : mechs) SMTPH_FUZZ_CHECK(caps.auth(m) && caps.auth(lower(m)));
  if (caps.limits()) SMTPH_FUZZ_CHECK(caps.has("LIMITS"));
  if (caps.deliver_by()) SMTPH_FUZZ_CHECK(caps.has("DELIVERBY"));
  if (caps.mt_priority()) SMTPH_FUZZ_CHECK(caps.has("MT-PRIORITY"));
  (void)caps.eight_bit_mime();
  (void)caps.smtputf8();
  (void)caps.binarymime();
  (void)caps.dsn();
  (void)caps.enhanced_status_codes();
  (void)caps.etrn();
  (void)caps.atrn();
  (void)caps.requiretls();
}

SMTPH_FUZZ_HARNESS bool same_caps(const smtp::Capabilities& a, const smtp::Capabilities& b) {
  return a.domain == b.domain && a.greeting == b.greeting && a.list == b.list;
}

void check_reply(const smtp::Reply& reply) {
  const smtp::Capabilities caps = smtp::parse_ehlo(reply);
  if (reply.code != 250) {
    SMTPH_FUZZ_CHECK(caps.list.empty() && !caps.findings.empty());
    return;
  }
  std::uint64_t wire = 0;
  for (const auto& l : reply.lines) wire += 4 + l.size() + 2;
  for (const auto& f : caps.findings) SMTPH_FUZZ_CHECK(f.offset <= wire);
  check_accessors(caps);

  const smtp::Reply r2 = smtp::make_ehlo_reply(caps);
  SMTPH_FUZZ_CHECK(r2.code == 250 && r2.offset == 0);
  SMTPH_FUZZ_CHECK(r2.wire_size == r2.serialize().size());
  const smtp::Capabilities caps2 = smtp::parse_ehlo(r2);
  if (caps.findings.empty() && (!same_caps(caps, caps2) || !caps2.findings.empty())) {
    fail("parse_ehlo(make_ehlo_reply(caps)) != caps", describe(caps), describe(caps2));
  }
  const smtp::Capabilities caps3 = smtp::parse_ehlo(smtp::make_ehlo_reply(caps2));
  if (!same_caps(caps2, caps3)) {
    fail("parse_ehlo . make_ehlo_reply is not a fixed point after one round", describe(caps2),
         describe(caps3));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = smtp::fuzz::as_view(data, size);
  const smtp::fuzz::Chunker ch(input);

  smtp::ReplyParser parser(smtp::fuzz::fuzz_limits());
  parser.feed(input);
  parser.feed_eof();
  while (auto reply = parser.next()) check_reply(*reply);

  if (ch.flag(0)) {
    std::vector<std::string> lines;
    std::size_t pos = 0;
    while (pos <= input.size() && lines.size() < 64) {
      const std::size_t lf = input.find('\n', pos);
      const std::size_t end = lf == std::string_view::npos ? input.size() : lf;
      lines.emplace_back(input.substr(pos, end - pos));
      if (lf == std::string_view::npos) break;
      pos = lf + 1;
    }
    check_reply(smtp::make_reply(250, std::move(lines)));
  }
  return 0;
}
