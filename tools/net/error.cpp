// smtp::net errors: the errc category and names.
#include "net/error.h"

namespace smtp::net {

const char* to_string(errc e) noexcept {
  switch (e) {
    case errc::timeout:
      return "timeout";
    case errc::deadline:
      return "deadline";
    case errc::closed:
      return "closed";
    case errc::bad_address:
      return "bad_address";
    case errc::name_not_allowed:
      return "name_not_allowed";
    case errc::not_loopback:
      return "not_loopback";
    case errc::tls_setup:
      return "tls_setup";
    case errc::tls_handshake:
      return "tls_handshake";
    case errc::line_too_long:
      return "line_too_long";
    case errc::input_limit:
      return "input_limit";
    case errc::output_limit:
      return "output_limit";
    case errc::not_connected:
      return "not_connected";
    case errc::already_tls:
      return "already_tls";
  }
  return "unknown";
}

const char* to_string(Op op) noexcept {
  switch (op) {
    case Op::resolve:
      return "resolve";
    case Op::connect:
      return "connect";
    case Op::tls_handshake:
      return "TLS handshake";
    case Op::read:
      return "read";
    case Op::write:
      return "write";
    case Op::shutdown:
      return "shutdown";
    case Op::listen:
      return "listen";
    case Op::accept:
      return "accept";
    case Op::queue:
      return "queue";
  }
  return "unknown";
}

namespace {

class NetCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "smtp.net"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::timeout:
        return "operation timed out";
      case errc::deadline:
        return "deadline passed";
      case errc::closed:
        return "connection closed by peer";
      case errc::bad_address:
        return "malformed address (want HOST:PORT or [IPV6]:PORT)";
      case errc::name_not_allowed:
        return "host names other than localhost are not resolved";
      case errc::not_loopback:
        return "address is not loopback";
      case errc::tls_setup:
        return "TLS set-up failed";
      case errc::tls_handshake:
        return "TLS handshake failed";
      case errc::line_too_long:
        return "line too long";
      case errc::input_limit:
        return "input limit exceeded";
      case errc::output_limit:
        return "output limit exceeded";
      case errc::not_connected:
        return "not connected";
      case errc::already_tls:
        return "already using TLS";
    }
    return "unknown smtp.net error";
  }
};

}  // namespace

const std::error_category& net_category() noexcept {
  static const NetCategory category;
  return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), net_category()}; }

}  // namespace smtp::net
