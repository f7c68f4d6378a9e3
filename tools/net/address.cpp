// Target parsing and the loopback-only, DNS-free resolver.
#include "net/address.h"

#include <charconv>

namespace smtp::net {

namespace {

tl::unexpected<Error> bad(std::string_view text, std::string_view why) {
  return fail(errc::bad_address, Op::resolve,
              "bad address \"" + std::string(text) + "\": " + std::string(why));
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

bool is_localhost(std::string_view host) noexcept {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return iequals(host, "localhost");
}

}  // namespace

std::string Target::to_string() const {
  // Built by appending: GCC 12 -O3 warns (-Wrestrict, a false positive) on "[" + host + "]".
  const bool v6 = host.find(':') != std::string::npos;
  std::string out;
  out.reserve(host.size() + 8);
  if (v6) out.push_back('[');
  out.append(host);
  if (v6) out.push_back(']');
  out.push_back(':');
  out.append(std::to_string(port));
  return out;
}

Result<Target> parse_target(std::string_view text, bool allow_port_zero) {
  if (text.empty()) return bad(text, "empty");
  std::string_view host;
  std::string_view rest;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad(text, "missing ']'");
    host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
    if (host.find(':') == std::string_view::npos) return bad(text, "brackets are for IPv6 only");
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad(text, "missing \":PORT\"");
    host = text.substr(0, colon);
    rest = text.substr(colon);
    if (host.find(':') != std::string_view::npos) {
      return bad(text, "write IPv6 addresses in brackets, e.g. [::1]:2525");
    }
  }
  if (host.empty()) return bad(text, "empty host");
  if (rest.size() < 2 || rest.front() != ':') return bad(text, "missing \":PORT\"");
  const std::string_view digits = rest.substr(1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc{} || end != digits.data() + digits.size() || digits.size() > 5 ||
      port > 65535) {
    return bad(text, "port must be a number 0-65535");
  }
  if (port == 0 && !allow_port_zero) return bad(text, "port 0");
  for (const char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '%' || c == '_';
    if (!ok) return bad(text, "invalid character in host");
  }
  return Target{std::string(host), static_cast<std::uint16_t>(port)};
}

bool is_loopback(const asio::ip::address& address) noexcept {
  if (address.is_v4()) return address.to_v4().is_loopback();
  const auto v6 = address.to_v6();
  if (v6.is_loopback()) return true;
  if (v6.is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).is_loopback();
  }
  return false;
}

Result<std::vector<asio::ip::tcp::endpoint>> resolve(const Target& target, ResolveOptions options) {
  std::vector<asio::ip::tcp::endpoint> out;
  if (is_localhost(target.host)) {
    out.emplace_back(asio::ip::make_address_v4("127.0.0.1"), target.port);
    out.emplace_back(asio::ip::address_v6::loopback(), target.port);
    return out;
  }
  std::error_code ec;
  const auto address = asio::ip::make_address(target.host, ec);
  if (ec) {
    return fail(errc::name_not_allowed, Op::resolve,
                "refusing to resolve \"" + target.host +
                    "\": only IP literals and localhost are accepted (no DNS lookups)");
  }
  if (!options.allow_non_loopback && !is_loopback(address)) {
    return fail(errc::not_loopback, Op::resolve,
                "refusing non-loopback address " + target.to_string() +
                    " (only 127.0.0.0/8 and ::1 unless non-loopback targets are allowed)");
  }
  out.emplace_back(address, target.port);
  return out;
}

Result<std::vector<asio::ip::tcp::endpoint>> resolve(std::string_view text,
                                                     ResolveOptions options) {
  auto target = parse_target(text);
  if (!target) return tl::make_unexpected(std::move(target.error()));
  return resolve(*target, options);
}

std::string to_string(const asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  return Target{address.to_string(), endpoint.port()}.to_string();
}

}  // namespace smtp::net
