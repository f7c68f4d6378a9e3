// Fuzz target: RFC 3463 enhanced status codes (parse_enhanced_status, enhanced_status_prefix,
// EnhancedStatus::to_string, enhanced_status_name) and their use in replies (RFC 2034 §4).
//
// Input: text, e.g. "5.7.1 Relay access denied". Invariants:
//  - parse_enhanced_status(s) accepts only the canonical form: to_string() gives s back;
//    class is 2, 4 or 5, subject and detail at most 999;
//  - enhanced_status_prefix(s) is a parse_enhanced_status() of s's first `length` octets,
//    followed by SP or the end; it agrees with parse_enhanced_status(s) on whole codes;
//  - a registered name is non-empty;
//  - make_reply(code, {text}, status) serializes to a reply whose parse gives the status back
//    (with a class-matching code and no enhanced-status finding) when text is clean.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "smtp/enhanced_status.h"
#include "smtp/error.h"
#include "smtp/reply.h"

namespace {

using smtp::fuzz::fail;

SMTPH_FUZZ_HARNESS bool is_textstring(std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c != 9 && (c < 32 || c > 126)) return false;
  }
  return true;
}

void check_status(const smtp::EnhancedStatus& st) {
  SMTPH_FUZZ_CHECK(st.klass == 2 || st.klass == 4 || st.klass == 5);
  SMTPH_FUZZ_CHECK(st.subject <= 999 && st.detail <= 999);
  const std::string text = st.to_string();
  const auto again = smtp::parse_enhanced_status(text);
  SMTPH_FUZZ_CHECK(again && *again == st);
  if (const char* name = smtp::enhanced_status_name(st.subject, st.detail)) {
    SMTPH_FUZZ_CHECK(std::strlen(name) > 0);
  }
}

void check_in_reply(const smtp::EnhancedStatus& st, std::string_view text) {
  if (text.size() > 400 || !is_textstring(text)) return;
  const auto code = static_cast<std::uint16_t>(st.klass * 100 + 50);  // 250, 450, 550
  const smtp::Reply r = smtp::make_reply(code, {std::string(text)}, st);
  const std::string wire = r.serialize();
  SMTPH_FUZZ_CHECK(r.wire_size == wire.size());
  const smtp::ReplyParseResult parsed = smtp::parse_reply(wire);
  if (!parsed.reply || parsed.reply->enhanced != st || parsed.reply->lines != r.lines) {
    fail("parse_reply(make_reply(code, text, status)) lost the status", wire,
         parsed.reply ? parsed.reply->serialize() : std::string("(no reply)"));
  }
  for (const auto& f : parsed.errors) {
    SMTPH_FUZZ_CHECK(f.code != smtp::errc::enhanced_status_mismatch &&
                     f.code != smtp::errc::bad_enhanced_status);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = smtp::fuzz::as_view(data, size);

  const std::optional<smtp::EnhancedStatus> whole = smtp::parse_enhanced_status(input);
  if (whole) {
    check_status(*whole);
    smtp::fuzz::check_equal("parse_enhanced_status accepted a non-canonical code", input,
                            whole->to_string());
  }

  const std::optional<smtp::EnhancedPrefix> prefix = smtp::enhanced_status_prefix(input);
  if (prefix) {
    SMTPH_FUZZ_CHECK(prefix->length > 0 && prefix->length <= input.size());
    SMTPH_FUZZ_CHECK(prefix->length == input.size() || input[prefix->length] == ' ');
    const auto head = smtp::parse_enhanced_status(input.substr(0, prefix->length));
    SMTPH_FUZZ_CHECK(head && *head == prefix->status);
    check_status(prefix->status);
    const std::string_view rest =
        input.substr(prefix->length == input.size() ? prefix->length : prefix->length + 1);
    check_in_reply(prefix->status, rest);
  }
  // Whole codes are prefixes of themselves, and a prefix followed by nothing is a whole code.
  SMTPH_FUZZ_CHECK(whole.has_value() == (prefix && prefix->length == input.size()));
  if (whole && prefix) SMTPH_FUZZ_CHECK(*whole == prefix->status);

  // Every (subject, detail) pair the input's first four bytes name: the registry lookup must
  // not misbehave for unregistered pairs either.
  if (input.size() >= 4) {
    const auto subject = static_cast<std::uint16_t>(
        (static_cast<unsigned char>(input[0]) << 8 | static_cast<unsigned char>(input[1])) % 1000);
    const auto detail = static_cast<std::uint16_t>(
        (static_cast<unsigned char>(input[2]) << 8 | static_cast<unsigned char>(input[3])) % 1000);
    if (const char* name = smtp::enhanced_status_name(subject, detail)) {
      SMTPH_FUZZ_CHECK(std::strlen(name) > 0);
    }
  }
  return 0;
}
