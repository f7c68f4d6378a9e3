// Fuzz target: parse_path / parse_mailbox / Path::serialize / Path::address
// (RFC 5321 §4.1.2 Path, Mailbox, Local-part, Domain; §4.1.3 address literals; RFC 6531).
//
// Input: one path or mailbox ("<a@b>", "<@r1,@r2:a@[IPv6:::1]>", "a@b"). Each input is parsed
// as a MAIL reverse-path, a RCPT forward-path and a bare Mailbox, each without and with
// SMTPUTF8. Invariants:
//  - consumed <= input size; a path starts with "<" and its consumed octets end with ">"; a
//    mailbox consumes all of the input; error offsets lie within the input;
//  - an error-free path serializes to exactly the octets it was parsed from, and
//    parse_path(serialize(path)) gives the same path (fixed point); "<>" only for MAIL and a
//    bare "<Postmaster>" only for RCPT;
//  - an error-free path or mailbox respects the §4.5.3.1 limits (local part 64, domain 255,
//    path 256 octets) and, without SMTPUTF8, is all ASCII;
//  - the mailbox of an error-free path reparses with parse_mailbox(address()) to the same
//    local part and domain.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "smtp/command.h"

namespace {

using smtp::fuzz::fail;
using smtp::fuzz::Log;

SMTPH_FUZZ_HARNESS std::string describe(const smtp::PathResult& r) {
  Log log;
  log << "consumed=" << static_cast<std::uint64_t>(r.consumed);
  if (r.path) {
    const smtp::Path& p = *r.path;
    log << " null=" << p.null << " postmaster=" << p.postmaster
        << " local=" << smtp::fuzz::escape(p.local_part)
        << " domain=" << smtp::fuzz::escape(p.domain) << " route=";
    for (const auto& d : p.source_route) log << smtp::fuzz::escape(d) << ',';
  }
  for (const auto& e : r.errors) {
    log << "\n  error " << smtp::to_string(e.code) << '@' << e.offset << ' ' << e.reason;
  }
  return log.str();
}

SMTPH_FUZZ_HARNESS bool is_ascii(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

void check_result(std::string_view input, const smtp::PathResult& r) {
  SMTPH_FUZZ_CHECK(r.consumed <= input.size());
  for (const auto& e : r.errors) SMTPH_FUZZ_CHECK(e.offset <= input.size());
}

void check_error_free(const smtp::Path& p, const smtp::CommandOptions& opt) {
  SMTPH_FUZZ_CHECK(p.local_part.size() <= opt.limits.local_part);
  SMTPH_FUZZ_CHECK(p.domain.size() <= opt.limits.domain);
  if (!opt.smtputf8) SMTPH_FUZZ_CHECK(is_ascii(p.local_part) && is_ascii(p.domain));
}

void check_path(std::string_view input, bool for_mail, const smtp::CommandOptions& opt) {
  const smtp::PathResult r = smtp::parse_path(input, for_mail, opt);
  check_result(input, r);
  if (!r.path) return;
  const smtp::Path& p = *r.path;
  SMTPH_FUZZ_CHECK(r.consumed >= 2 && input[0] == '<' && input[r.consumed - 1] == '>');
  if (!r.errors.empty()) return;
  if (p.null) SMTPH_FUZZ_CHECK(for_mail);
  if (p.postmaster) SMTPH_FUZZ_CHECK(!for_mail);
  if (!p.null && !p.postmaster) check_error_free(p, opt);

  const std::string wire = p.serialize();
  SMTPH_FUZZ_CHECK(wire.size() <= opt.limits.path);
  smtp::fuzz::check_equal("Path::serialize() != the octets it was parsed from",
                          input.substr(0, r.consumed), wire);
  const smtp::PathResult again = smtp::parse_path(wire, for_mail, opt);
  if (!again.path || !again.errors.empty() || again.consumed != wire.size() || *again.path != p) {
    fail("parse_path(serialize(path)) differs", describe(r), describe(again));
  }

  if (!p.null && !p.postmaster) {
    const std::string address = p.address();
    const smtp::PathResult m = smtp::parse_mailbox(address, opt);
    if (!m.path || !m.errors.empty() || m.consumed != address.size() ||
        m.path->local_part != p.local_part || m.path->domain != p.domain) {
      fail("parse_mailbox(path.address()) differs from the path's mailbox", describe(r),
           describe(m));
    }
  }
}

void check_mailbox(std::string_view input, const smtp::CommandOptions& opt) {
  const smtp::PathResult r = smtp::parse_mailbox(input, opt);
  check_result(input, r);
  if (!r.path || !r.errors.empty()) return;
  const smtp::Path& p = *r.path;
  SMTPH_FUZZ_CHECK(r.consumed == input.size());
  SMTPH_FUZZ_CHECK(!p.null && p.source_route.empty());
  check_error_free(p, opt);
  const std::string address = p.address();
  smtp::fuzz::check_equal("Path::address() != the mailbox it was parsed from", input, address);
  // The same mailbox in angle brackets is a valid forward-path.
  const std::string bracketed = "<" + address + ">";
  if (bracketed.size() <= opt.limits.path) {
    const smtp::PathResult as_path = smtp::parse_path(bracketed, false, opt);
    if (!as_path.path || !as_path.errors.empty() || as_path.path->local_part != p.local_part ||
        as_path.path->domain != p.domain) {
      fail("parse_path(\"<\" + mailbox + \">\") differs from parse_mailbox", describe(r),
           describe(as_path));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = smtp::fuzz::as_view(data, size);
  for (const bool utf8 : {false, true}) {
    smtp::CommandOptions opt;
    opt.limits = smtp::fuzz::fuzz_limits();
    opt.smtputf8 = utf8;
    check_path(input, true, opt);
    check_path(input, false, opt);
    check_mailbox(input, opt);
  }
  return 0;
}
