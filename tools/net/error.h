/// @file error.h
/// @brief Transport errors of smtp::net: an error code, the operation it happened in, and one
///        human sentence ("127.0.0.1:2525: timeout after 500 ms during read").
///
/// `Error::code` is either a `net::errc` (timeouts, policy refusals, limits, TLS set-up and
/// handshake failures, peer close) or the system/Asio code itself (connection refused, reset).
/// `Error::cause` keeps the underlying code when `code` is a net::errc (e.g. the OpenSSL error
/// behind errc::tls_handshake).
#pragma once

#include <cstdint>
#include <string>
#include <system_error>

#include <tl/expected.hpp>

namespace smtp::net {

/// What went wrong at the transport level. Values are stable (they appear in reports by name).
enum class errc : std::uint8_t {
  timeout = 1,       ///< one operation (connect, read, write, handshake) exceeded its timeout
  deadline,          ///< the overall deadline of a pump call passed
  closed,            ///< the peer closed the connection (EOF, or TLS without close_notify)
  bad_address,       ///< not "HOST:PORT" or "[IPV6]:PORT"
  name_not_allowed,  ///< a host name other than "localhost": smtp-harness never queries DNS
  not_loopback,      ///< outside 127.0.0.0/8 and ::1, and allow_non_loopback is not set
  tls_setup,         ///< TLS context: bad CA/cert/key file, key or certificate generation
  tls_handshake,     ///< the TLS handshake failed (OpenSSL's reason in the message)
  line_too_long,     ///< line mode: more than the cap without CRLF
  input_limit,       ///< a pump call read more than its max_input
  output_limit,      ///< more queued output than the pump's max_output
  not_connected,     ///< operation on a closed or never connected Connection
  already_tls,       ///< start_tls on a connection that already speaks TLS
};

/// The enumerator's name, e.g. "timeout". Never null.
[[nodiscard]] const char* to_string(errc e) noexcept;
[[nodiscard]] const std::error_category& net_category() noexcept;
[[nodiscard]] std::error_code make_error_code(errc e) noexcept;

/// The operation an error happened in.
enum class Op : std::uint8_t {
  resolve,
  connect,
  tls_handshake,
  read,
  write,
  shutdown,
  listen,
  accept,
  queue,
};
/// "resolve", "connect", "TLS handshake", "read", ... Never null.
[[nodiscard]] const char* to_string(Op op) noexcept;

struct Error {
  std::error_code code;   ///< net::errc or a system/Asio/OpenSSL code
  Op op = Op::read;       ///< where it happened
  std::string message;    ///< one human sentence, includes the peer and the timeout when known
  std::error_code cause;  ///< underlying code when `code` is a net::errc (may be empty)

  [[nodiscard]] bool is(errc e) const noexcept { return code == make_error_code(e); }
  /// timeout or deadline: the peer was too slow (not a hard failure of the transport).
  [[nodiscard]] bool timed_out() const noexcept { return is(errc::timeout) || is(errc::deadline); }
};

/// Result of a transport call: the value, or an Error.
template <class T>
using Result = tl::expected<T, Error>;

/// Shorthand for tl::make_unexpected(Error{...}).
[[nodiscard]] inline tl::unexpected<Error> fail(std::error_code code, Op op, std::string message,
                                                std::error_code cause = {}) {
  return tl::make_unexpected(Error{code, op, std::move(message), cause});
}

}  // namespace smtp::net

template <>
struct std::is_error_code_enum<smtp::net::errc> : std::true_type {};
