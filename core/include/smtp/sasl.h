/// @file sasl.h
/// @brief SMTP AUTH (RFC 4954) building blocks: base64 (RFC 4648), a small pure MD5 (RFC 1321)
///        and HMAC-MD5 (RFC 2104) for CRAM-MD5 (RFC 2195), and the PLAIN (RFC 4616), LOGIN
///        (draft-murchison-sasl-login), CRAM-MD5 and XOAUTH2 (Google) message formats, for
///        clients (SaslClient) and servers (parse_sasl_* / verify_cram_md5).
///
/// Pure functions on bytes: no OpenSSL, no randomness (a CRAM-MD5 server challenge comes from
/// the caller). MD5 here serves CRAM-MD5 interoperability only; it is not a security primitive.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace smtp {

// ---------------------------------------------------------------------------------------------
// base64 (RFC 4648 §4)
// ---------------------------------------------------------------------------------------------

/// Standard alphabet, "=" padding.
[[nodiscard]] std::string base64_encode(std::string_view bytes);
/// Strict decode: standard alphabet, length a multiple of 4, "=" padding only at the end, no
/// whitespace, zero pad bits (RFC 4648 §3.5). nullopt on anything else.
/// @see RFC 4954 §4 (a malformed base64 response gets 501)
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

// ---------------------------------------------------------------------------------------------
// MD5 (RFC 1321) and HMAC-MD5 (RFC 2104)
// ---------------------------------------------------------------------------------------------

using Md5Digest = std::array<std::uint8_t, 16>;

/// Incremental MD5. update() any number of times, then finish() once (the object is then reset).
class Md5 {
 public:
  void update(std::string_view bytes) noexcept;
  [[nodiscard]] Md5Digest finish() noexcept;

 private:
  void block(const std::uint8_t* p) noexcept;
  std::uint32_t state_[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
  std::uint64_t length_ = 0;  // bytes
  std::uint8_t buffer_[64] = {};
  std::size_t buffered_ = 0;
};

/// @see RFC 1321
[[nodiscard]] Md5Digest md5(std::string_view bytes) noexcept;
/// @see RFC 2104 (with MD5, B = 64)
[[nodiscard]] Md5Digest hmac_md5(std::string_view key, std::string_view message) noexcept;
/// Lower-case hex, two digits per byte.
[[nodiscard]] std::string to_hex(std::span<const std::uint8_t> bytes);

// ---------------------------------------------------------------------------------------------
// Mechanisms
// ---------------------------------------------------------------------------------------------

enum class SaslMechanism : std::uint8_t { plain, login, cram_md5, xoauth2, unknown };

/// "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"; "" for unknown.
[[nodiscard]] std::string_view to_string(SaslMechanism m) noexcept;
/// Case-insensitive; SaslMechanism::unknown when not one of the four.
[[nodiscard]] SaslMechanism sasl_mechanism_from_string(std::string_view name) noexcept;

/// What a client authenticates with. XOAUTH2 uses `token`; the others `password`.
struct SaslCredentials {
  std::string authzid;  ///< PLAIN authorization identity ("" = same as username)
  std::string username;
  std::string password;
  std::string token;  ///< OAuth 2.0 bearer token (XOAUTH2)
};

/// PLAIN message: authzid NUL authcid NUL passwd (RFC 4616 §2).
[[nodiscard]] std::string sasl_plain(std::string_view authzid, std::string_view username,
                                     std::string_view password);
/// CRAM-MD5 response: username SP lower-hex(HMAC-MD5(password, challenge)) (RFC 2195 §2).
[[nodiscard]] std::string sasl_cram_md5(std::string_view username, std::string_view password,
                                        std::string_view challenge);
/// XOAUTH2 initial client response: "user=" u ^A "auth=Bearer " token ^A ^A.
[[nodiscard]] std::string sasl_xoauth2(std::string_view username, std::string_view token);

struct SaslPlainMessage {
  std::string authzid, username, password;
};
/// Split a decoded PLAIN message; nullopt unless exactly two NULs and a non-empty username.
[[nodiscard]] std::optional<SaslPlainMessage> parse_sasl_plain(std::string_view decoded);

struct SaslCramMd5Message {
  std::string username;
  std::string digest;  ///< 32 lower-case hex digits
};
/// Split a decoded CRAM-MD5 response at its last SP; nullopt unless the digest is 32 hex digits.
[[nodiscard]] std::optional<SaslCramMd5Message> parse_sasl_cram_md5(std::string_view decoded);
/// True when `digest` (hex, any case) is HMAC-MD5(password, challenge).
[[nodiscard]] bool verify_cram_md5(std::string_view password, std::string_view challenge,
                                   std::string_view digest) noexcept;

struct SaslXoauth2Message {
  std::string username, token;
};
/// Parse "user=...^Aauth=Bearer ...^A^A"; nullopt when malformed.
[[nodiscard]] std::optional<SaslXoauth2Message> parse_sasl_xoauth2(std::string_view decoded);

/// The client side of one SASL exchange. Messages are raw (the session base64-encodes them).
class SaslClient {
 public:
  SaslClient(SaslMechanism mechanism, SaslCredentials credentials);

  [[nodiscard]] SaslMechanism mechanism() const noexcept { return mechanism_; }
  /// The initial response for client-first mechanisms (PLAIN, XOAUTH2); nullopt for LOGIN and
  /// CRAM-MD5 (they start with a server challenge). @see RFC 4954 §4
  [[nodiscard]] std::optional<std::string> initial_response() const;
  /// Mark the initial response as sent (it then counts as the first step).
  void initial_response_sent() noexcept { ++step_; }
  /// The response to the next 334 challenge (decoded). nullopt: the mechanism has nothing
  /// more to say; the caller should cancel with "*".
  [[nodiscard]] std::optional<std::string> respond(std::string_view challenge);
  /// True when AUTH with this mechanism's initial response completes in one round trip
  /// (RFC 4954 §4: such an AUTH may be pipelined, not the last of its group): PLAIN.
  [[nodiscard]] bool one_round_trip() const noexcept { return mechanism_ == SaslMechanism::plain; }

 private:
  SaslMechanism mechanism_;
  SaslCredentials credentials_;
  unsigned step_ = 0;
};

}  // namespace smtp
