/// @file ehlo.h
/// @brief EHLO capabilities (RFC 5321 §4.1.1.1 ehlo-line grammar) from a whole 250 Reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/error.h"
#include "smtp/reply.h"

namespace smtp {

/// ehlo-line = ehlo-keyword *( SP ehlo-param ); keyword stored upper case.
struct Capability {
  std::string keyword;
  std::vector<std::string> params;
  friend bool operator==(const Capability&, const Capability&) = default;
};

/// RFC 9422 LIMITS values; absent fields were not advertised.
struct LimitsCapability {
  std::optional<std::uint64_t> mailmax, rcptmax, rcptdomainmax;
};

struct Capabilities {
  std::string domain;            ///< Domain / address literal of the first line
  std::string greeting;          ///< rest of the first line after the domain
  std::vector<Capability> list;  ///< in advertised order, unknown keywords kept
  /// Malformed or duplicate keywords (offsets relative to the reply's first byte).
  std::vector<Diagnostic> findings;

  [[nodiscard]] const Capability* find(std::string_view keyword) const noexcept;  ///< case-ins.
  [[nodiscard]] bool has(std::string_view keyword) const noexcept { return find(keyword); }

  /// SIZE (RFC 1870): declared maximum; 0 = no fixed limit; nullopt = not advertised
  /// (or its parameter is malformed, which is also a finding).
  [[nodiscard]] std::optional<std::uint64_t> size() const noexcept;
  /// AUTH (RFC 4954) mechanisms, upper case, in order.
  [[nodiscard]] std::vector<std::string> auth_mechanisms() const;
  [[nodiscard]] bool auth(std::string_view mechanism) const noexcept;
  [[nodiscard]] bool pipelining() const noexcept { return has("PIPELINING"); }
  [[nodiscard]] bool eight_bit_mime() const noexcept { return has("8BITMIME"); }
  [[nodiscard]] bool smtputf8() const noexcept { return has("SMTPUTF8"); }
  [[nodiscard]] bool chunking() const noexcept { return has("CHUNKING"); }
  [[nodiscard]] bool binarymime() const noexcept { return has("BINARYMIME"); }
  [[nodiscard]] bool dsn() const noexcept { return has("DSN"); }
  [[nodiscard]] bool enhanced_status_codes() const noexcept { return has("ENHANCEDSTATUSCODES"); }
  [[nodiscard]] bool starttls() const noexcept { return has("STARTTLS"); }
  [[nodiscard]] bool etrn() const noexcept { return has("ETRN"); }
  [[nodiscard]] bool atrn() const noexcept { return has("ATRN"); }
  [[nodiscard]] bool requiretls() const noexcept { return has("REQUIRETLS"); }
  /// LIMITS (RFC 9422); nullopt when not advertised.
  [[nodiscard]] std::optional<LimitsCapability> limits() const;
  /// DELIVERBY (RFC 2852): minimum by-time in seconds (0 when no parameter); nullopt = absent.
  [[nodiscard]] std::optional<std::uint64_t> deliver_by() const noexcept;
  /// MT-PRIORITY (RFC 6710): the policy name ("" when none); nullopt = absent.
  [[nodiscard]] std::optional<std::string> mt_priority() const;
};

/// Parse the capabilities of a 250 reply to EHLO. A non-250 reply yields an empty list and a
/// finding. Never throws on input.
///
/// Findings (offsets relative to the reply's first byte, counting every line as "250-" + text
/// + CR LF): bad_domain when the first line does not start with a Domain or address literal;
/// bad_capability for an empty ehlo-line (e.g. smtp-sink's final "250 "), an extra SP, a
/// keyword that is not (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"), a parameter outside %d33-126,
/// and parameters the registered keyword does not allow (SIZE: at most one number; AUTH: SASL
/// mechanism names; LIMITS: limit-name-value list, numeric MAILMAX / RCPTMAX / RCPTDOMAINMAX;
/// DELIVERBY: at most 9 digits; MT-PRIORITY: at most one name; none at all for PIPELINING,
/// 8BITMIME, SMTPUTF8, CHUNKING, BINARYMIME, DSN, ENHANCEDSTATUSCODES, STARTTLS, ETRN, ATRN,
/// REQUIRETLS); duplicate_capability for a keyword advertised again. Every line with a keyword
/// stays in `list` (malformed or duplicate ones too; find() returns the first). The legacy
/// "AUTH=PLAIN LOGIN" line of old servers is kept as the unknown keyword "AUTH=PLAIN", is not
/// merged into AUTH and is not reported.
/// @see RFC 5321 §4.1.1.1, RFC 1870, RFC 4954, RFC 9422, RFC 2852, RFC 6710
[[nodiscard]] Capabilities parse_ehlo(const Reply& reply);

/// Serialise capabilities into a 250 multi-line reply (domain + greeting on the first line,
/// then one "KEYWORD param..." line per capability); wire_size is set, offset is 0.
/// parse_ehlo(make_ehlo_reply(c)).list == c.list for well-formed capabilities.
/// @see RFC 5321 §4.1.1.1
[[nodiscard]] Reply make_ehlo_reply(const Capabilities& caps);

}  // namespace smtp
