#include "smtp/enhanced_status.h"

#include <cstddef>
#include <string>

namespace smtp {

namespace {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// Parses one sub-code (1*3digit, no leading zero unless the sub-code is "0") starting at
/// s[i]; advances i past the digits. False when there is no well-formed sub-code there.
bool sub_code(std::string_view s, std::size_t& i, std::uint16_t& value) noexcept {
  const std::size_t start = i;
  unsigned v = 0;
  while (i < s.size() && is_digit(s[i])) {
    if (i - start == 3) return false;  // a fourth digit: not 1*3digit
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
    ++i;
  }
  const std::size_t n = i - start;
  if (n == 0) return false;
  if (n > 1 && s[start] == '0') return false;  // RFC 3463 §2: no leading zero digits
  value = static_cast<std::uint16_t>(v);
  return true;
}

/// Parses "class.subject.detail" at the start of s; `end` receives its length.
std::optional<EnhancedStatus> parse_at_start(std::string_view s, std::size_t& end) noexcept {
  if (s.size() < 5) return std::nullopt;
  const char k = s[0];
  if (k != '2' && k != '4' && k != '5') return std::nullopt;
  if (s[1] != '.') return std::nullopt;
  EnhancedStatus st;
  st.klass = static_cast<std::uint8_t>(k - '0');
  std::size_t i = 2;
  if (!sub_code(s, i, st.subject)) return std::nullopt;
  if (i >= s.size() || s[i] != '.') return std::nullopt;
  ++i;
  if (!sub_code(s, i, st.detail)) return std::nullopt;
  end = i;
  return st;
}

}  // namespace

std::string EnhancedStatus::to_string() const {
  std::string s = std::to_string(klass);
  s += '.';
  s += std::to_string(subject);
  s += '.';
  s += std::to_string(detail);
  return s;
}

std::optional<EnhancedStatus> parse_enhanced_status(std::string_view s) noexcept {
  std::size_t end = 0;
  auto st = parse_at_start(s, end);
  if (!st || end != s.size()) return std::nullopt;
  return st;
}

std::optional<EnhancedPrefix> enhanced_status_prefix(std::string_view text) noexcept {
  std::size_t end = 0;
  auto st = parse_at_start(text, end);
  if (!st) return std::nullopt;
  if (end != text.size() && text[end] != ' ') return std::nullopt;
  return EnhancedPrefix{*st, end};
}

// The IANA "Simple Mail Transfer Protocol (SMTP) Enhanced Status Codes" registry,
// "Enumerated Status Codes" (RFC 5248): RFC 3463 §3.1-3.8 and later registrations, by
// subject. Index = detail.
namespace {

// X.0.x: RFC 3463 §3.1.
constexpr const char* kSubject0[] = {
    "Other undefined Status",  // X.0.0
};

// X.1.x Addressing Status: RFC 3463 §3.2; X.1.9 RFC 3886; X.1.10 RFC 7505.
constexpr const char* kSubject1[] = {
    "Other address status",                                  // X.1.0
    "Bad destination mailbox address",                       // X.1.1
    "Bad destination system address",                        // X.1.2
    "Bad destination mailbox address syntax",                // X.1.3
    "Destination mailbox address ambiguous",                 // X.1.4
    "Destination address valid",                             // X.1.5
    "Destination mailbox has moved, No forwarding address",  // X.1.6
    "Bad sender's mailbox address syntax",                   // X.1.7
    "Bad sender's system address",                           // X.1.8
    "Message relayed to non-compliant mailer",               // X.1.9  RFC 3886
    "Recipient address has null MX",                         // X.1.10 RFC 7505
};

// X.2.x Mailbox Status: RFC 3463 §3.3.
constexpr const char* kSubject2[] = {
    "Other or undefined mailbox status",            // X.2.0
    "Mailbox disabled, not accepting messages",     // X.2.1
    "Mailbox full",                                 // X.2.2
    "Message length exceeds administrative limit",  // X.2.3
    "Mailing list expansion problem",               // X.2.4
};

// X.3.x Mail System Status: RFC 3463 §3.4; X.3.6 RFC 6710.
constexpr const char* kSubject3[] = {
    "Other or undefined mail system status",    // X.3.0
    "Mail system full",                         // X.3.1
    "System not accepting network messages",    // X.3.2
    "System not capable of selected features",  // X.3.3
    "Message too big for system",               // X.3.4
    "System incorrectly configured",            // X.3.5
    "Requested priority was changed",           // X.3.6 RFC 6710
};

// X.4.x Network and Routing Status: RFC 3463 §3.5.
constexpr const char* kSubject4[] = {
    "Other or undefined network or routing status",  // X.4.0
    "No answer from host",                           // X.4.1
    "Bad connection",                                // X.4.2
    "Directory server failure",                      // X.4.3
    "Unable to route",                               // X.4.4
    "Mail system congestion",                        // X.4.5
    "Routing loop detected",                         // X.4.6
    "Delivery time expired",                         // X.4.7
};

// X.5.x Mail Delivery Protocol Status: RFC 3463 §3.6; X.5.6 RFC 4954.
constexpr const char* kSubject5[] = {
    "Other or undefined protocol status",        // X.5.0
    "Invalid command",                           // X.5.1
    "Syntax error",                              // X.5.2
    "Too many recipients",                       // X.5.3
    "Invalid command arguments",                 // X.5.4
    "Wrong protocol version",                    // X.5.5
    "Authentication Exchange line is too long",  // X.5.6 RFC 4954
};

// X.6.x Message Content or Media Status: RFC 3463 §3.7; X.6.6 RFC 4468; X.6.7-X.6.10
// RFC 6531 (X.6.10 is registered as a deprecated duplicate of X.6.8).
constexpr const char* kSubject6[] = {
    "Other or undefined media error",                                        // X.6.0
    "Media not supported",                                                   // X.6.1
    "Conversion required and prohibited",                                    // X.6.2
    "Conversion required but not supported",                                 // X.6.3
    "Conversion with loss performed",                                        // X.6.4
    "Conversion Failed",                                                     // X.6.5
    "Message content not available",                                         // X.6.6 RFC 4468
    "Non-ASCII addresses not permitted for that sender/recipient",           // X.6.7
    "UTF-8 string reply is required, but not permitted by the SMTP client",  // X.6.8
    ("UTF-8 header message cannot be transferred to one or more recipients, so the message "
     "must be rejected"),                                                    // X.6.9
    "UTF-8 string reply is required, but not permitted by the SMTP client",  // X.6.10
};

// X.7.x Security or Policy Status: RFC 3463 §3.8; X.7.8/9/11/12 RFC 4954; X.7.10/13/14
// RFC 5248; X.7.15/16 RFC 6710; X.7.17-19 RFC 7293; X.7.20-26 RFC 7372; X.7.27 RFC 7505;
// X.7.28 IANA registry; X.7.29 RFC 8617; X.7.30 RFC 8689.
constexpr const char* kSubject7[] = {
    "Other or undefined security status",                          // X.7.0
    "Delivery not authorized, message refused",                    // X.7.1
    "Mailing list expansion prohibited",                           // X.7.2
    "Security conversion required but not possible",               // X.7.3
    "Security features not supported",                             // X.7.4
    "Cryptographic failure",                                       // X.7.5
    "Cryptographic algorithm not supported",                       // X.7.6
    "Message integrity failure",                                   // X.7.7
    "Authentication credentials invalid",                          // X.7.8
    "Authentication mechanism is too weak",                        // X.7.9
    "Encryption Needed",                                           // X.7.10
    "Encryption required for requested authentication mechanism",  // X.7.11
    "A password transition is needed",                             // X.7.12
    "User Account Disabled",                                       // X.7.13
    "Trust relationship required",                                 // X.7.14
    "Priority Level is too low",                                   // X.7.15
    "Message is too big for the specified priority",               // X.7.16
    "Mailbox owner has changed",                                   // X.7.17
    "Domain owner has changed",                                    // X.7.18
    "RRVS test cannot be completed",                               // X.7.19
    "No passing DKIM signature found",                             // X.7.20
    "No acceptable DKIM signature found",                          // X.7.21
    "No valid author-matched DKIM signature found",                // X.7.22
    "SPF validation failed",                                       // X.7.23
    "SPF validation error",                                        // X.7.24
    "Reverse DNS validation failed",                               // X.7.25
    "Multiple authentication checks failed",                       // X.7.26
    "Sender address has null MX",                                  // X.7.27
    "Mail flood detected",                                         // X.7.28
    "ARC validation failure",                                      // X.7.29
    "REQUIRETLS support required",                                 // X.7.30
};

template <std::size_t N>
const char* pick(const char* const (&table)[N], std::uint16_t detail) noexcept {
  return detail < N ? table[detail] : nullptr;
}

}  // namespace

const char* enhanced_status_name(std::uint16_t subject, std::uint16_t detail) noexcept {
  switch (subject) {
    case 0:
      return pick(kSubject0, detail);
    case 1:
      return pick(kSubject1, detail);
    case 2:
      return pick(kSubject2, detail);
    case 3:
      return pick(kSubject3, detail);
    case 4:
      return pick(kSubject4, detail);
    case 5:
      return pick(kSubject5, detail);
    case 6:
      return pick(kSubject6, detail);
    case 7:
      return pick(kSubject7, detail);
    default:
      return nullptr;
  }
}

}  // namespace smtp
