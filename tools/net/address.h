/// @file address.h
/// @brief Target addresses: "HOST:PORT" / "[IPV6]:PORT" parsing and a resolver that never
///        queries DNS.
///
/// Only literal IP addresses and the name "localhost" are resolved. Any address outside
/// 127.0.0.0/8 and ::1 (IPv4-mapped loopback included) is refused unless
/// `ResolveOptions::allow_non_loopback` is set; smtp-harness tests never set it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>

#include "net/error.h"

namespace smtp::net {

/// A parsed target: host text (without brackets) and port.
struct Target {
  std::string host;        ///< "127.0.0.1", "::1" or "localhost"
  std::uint16_t port = 0;  ///< 0 only when parsed with allow_port_zero (listeners)

  /// "127.0.0.1:2525", "[::1]:2525", "localhost:2525".
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const Target&, const Target&) = default;
};

/// Parse "HOST:PORT" or "[IPV6]:PORT". An unbracketed IPv6 address is rejected (ambiguous).
/// Errors: errc::bad_address (op resolve). Port 0 is allowed only with allow_port_zero.
[[nodiscard]] Result<Target> parse_target(std::string_view text, bool allow_port_zero = false);

struct ResolveOptions {
  /// Allow addresses outside 127.0.0.0/8 and ::1. Host names other than "localhost" are
  /// still refused (no DNS). The CLI exposes this as a flag; tests never set it.
  bool allow_non_loopback = false;
};

/// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
[[nodiscard]] bool is_loopback(const asio::ip::address& address) noexcept;

/// The endpoints to try, in order: a literal address gives one, "localhost" (any case, an
/// optional trailing dot) gives 127.0.0.1 then ::1. Errors (op resolve):
/// errc::name_not_allowed for any other name, errc::not_loopback per the policy above.
[[nodiscard]] Result<std::vector<asio::ip::tcp::endpoint>> resolve(const Target& target,
                                                                   ResolveOptions options = {});

/// parse_target() then resolve().
[[nodiscard]] Result<std::vector<asio::ip::tcp::endpoint>> resolve(std::string_view text,
                                                                   ResolveOptions options = {});

/// "127.0.0.1:25" or "[::1]:25".
[[nodiscard]] std::string to_string(const asio::ip::tcp::endpoint& endpoint);

}  // namespace smtp::net
