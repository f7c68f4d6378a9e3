#include "smtp/sasl.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace smtp {

// ---------------------------------------------------------------------------------------------
// base64
// ---------------------------------------------------------------------------------------------

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr int b64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto u = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (u(i) << 16) | (u(i + 1) << 8) | u(i + 2);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t v = u(i) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    const std::uint32_t v = (u(i) << 16) | (u(i + 1) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<std::size_t>(k)];
      if (c == '=') {
        // Padding only in the last quantum, only in positions 2-3, and nothing after it.
        if (!last || k < 2) return std::nullopt;
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad != 0) return std::nullopt;
      v[k] = b64_value(c);
      if (v[k] < 0) return std::nullopt;
    }
    const auto n = (static_cast<std::uint32_t>(v[0]) << 18) |
                   (static_cast<std::uint32_t>(v[1]) << 12) |
                   (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
    // Non-zero pad bits make the encoding non-canonical (RFC 4648 §3.5).
    if (pad == 2 && (n & 0xffff) != 0) return std::nullopt;
    if (pad == 1 && (n & 0xff) != 0) return std::nullopt;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// MD5 (RFC 1321 §3)
// ---------------------------------------------------------------------------------------------

namespace {

constexpr std::uint32_t kMd5K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
constexpr unsigned kMd5S[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

constexpr std::uint32_t rotl(std::uint32_t x, unsigned c) noexcept {
  return (x << c) | (x >> (32u - c));
}

}  // namespace

void Md5::block(const std::uint8_t* p) noexcept {
  std::uint32_t m[16];
  for (unsigned i = 0; i < 16; ++i) {
    m[i] = static_cast<std::uint32_t>(p[4 * i]) | (static_cast<std::uint32_t>(p[4 * i + 1]) << 8) |
           (static_cast<std::uint32_t>(p[4 * i + 2]) << 16) |
           (static_cast<std::uint32_t>(p[4 * i + 3]) << 24);
  }
  std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  for (unsigned i = 0; i < 64; ++i) {
    std::uint32_t f;
    unsigned g;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) % 16;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) % 16;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) % 16;
    }
    const std::uint32_t tmp = d;
    d = c;
    c = b;
    b = b + rotl(a + f + kMd5K[i] + m[g], kMd5S[i]);
    a = tmp;
  }
  state_[0] += a;
  state_[1] += b;
  state_[2] += c;
  state_[3] += d;
}

void Md5::update(std::string_view bytes) noexcept {
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  std::size_t n = bytes.size();
  length_ += n;
  if (buffered_ != 0) {
    const std::size_t take = std::min(n, sizeof buffer_ - buffered_);
    std::memcpy(buffer_ + buffered_, p, take);
    buffered_ += take;
    p += take;
    n -= take;
    if (buffered_ < sizeof buffer_) return;
    block(buffer_);
    buffered_ = 0;
  }
  for (; n >= 64; n -= 64, p += 64) block(p);
  if (n != 0) {
    std::memcpy(buffer_, p, n);
    buffered_ = n;
  }
}

Md5Digest Md5::finish() noexcept {
  const std::uint64_t bits = length_ * 8;
  static constexpr std::uint8_t kPad[64] = {0x80};
  const std::size_t pad = buffered_ < 56 ? 56 - buffered_ : 120 - buffered_;
  update(std::string_view(reinterpret_cast<const char*>(kPad), pad));
  std::uint8_t len[8];
  for (unsigned i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(bits >> (8 * i));
  update(std::string_view(reinterpret_cast<const char*>(len), 8));
  Md5Digest out{};
  for (unsigned i = 0; i < 4; ++i) {
    for (unsigned k = 0; k < 4; ++k)
      out[4 * i + k] = static_cast<std::uint8_t>(state_[i] >> (8 * k));
  }
  *this = Md5{};
  return out;
}

Md5Digest md5(std::string_view bytes) noexcept {
  Md5 h;
  h.update(bytes);
  return h.finish();
}

Md5Digest hmac_md5(std::string_view key, std::string_view message) noexcept {
  std::uint8_t k[64] = {};
  if (key.size() > 64) {
    const Md5Digest kd = md5(key);
    std::memcpy(k, kd.data(), kd.size());
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  std::uint8_t ipad[64], opad[64];
  for (unsigned i = 0; i < 64; ++i) {
    ipad[i] = static_cast<std::uint8_t>(k[i] ^ 0x36);
    opad[i] = static_cast<std::uint8_t>(k[i] ^ 0x5c);
  }
  Md5 inner;
  inner.update(std::string_view(reinterpret_cast<const char*>(ipad), 64));
  inner.update(message);
  const Md5Digest ih = inner.finish();
  Md5 outer;
  outer.update(std::string_view(reinterpret_cast<const char*>(opad), 64));
  outer.update(std::string_view(reinterpret_cast<const char*>(ih.data()), ih.size()));
  return outer.finish();
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mechanisms
// ---------------------------------------------------------------------------------------------

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view to_string(SaslMechanism m) noexcept {
  switch (m) {
    case SaslMechanism::plain:
      return "PLAIN";
    case SaslMechanism::login:
      return "LOGIN";
    case SaslMechanism::cram_md5:
      return "CRAM-MD5";
    case SaslMechanism::xoauth2:
      return "XOAUTH2";
    case SaslMechanism::unknown:
      break;
  }
  return "";
}

SaslMechanism sasl_mechanism_from_string(std::string_view name) noexcept {
  for (const auto m : {SaslMechanism::plain, SaslMechanism::login, SaslMechanism::cram_md5,
                       SaslMechanism::xoauth2}) {
    if (iequals(name, to_string(m))) return m;
  }
  return SaslMechanism::unknown;
}

std::string sasl_plain(std::string_view authzid, std::string_view username,
                       std::string_view password) {
  std::string s;
  s.reserve(authzid.size() + username.size() + password.size() + 2);
  s.append(authzid);
  s += '\0';
  s.append(username);
  s += '\0';
  s.append(password);
  return s;
}

std::string sasl_cram_md5(std::string_view username, std::string_view password,
                          std::string_view challenge) {
  const Md5Digest d = hmac_md5(password, challenge);
  std::string s(username);
  s += ' ';
  s += to_hex(d);
  return s;
}

std::string sasl_xoauth2(std::string_view username, std::string_view token) {
  std::string s = "user=";
  s.append(username);
  s += "\x01"
       "auth=Bearer ";
  s.append(token);
  s += "\x01\x01";
  return s;
}

std::optional<SaslPlainMessage> parse_sasl_plain(std::string_view decoded) {
  const auto a = decoded.find('\0');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = decoded.find('\0', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  if (decoded.find('\0', b + 1) != std::string_view::npos) return std::nullopt;
  SaslPlainMessage m;
  m.authzid = std::string(decoded.substr(0, a));
  m.username = std::string(decoded.substr(a + 1, b - a - 1));
  m.password = std::string(decoded.substr(b + 1));
  if (m.username.empty()) return std::nullopt;
  return m;
}

std::optional<SaslCramMd5Message> parse_sasl_cram_md5(std::string_view decoded) {
  const auto sp = decoded.rfind(' ');
  if (sp == std::string_view::npos || sp == 0) return std::nullopt;
  const std::string_view digest = decoded.substr(sp + 1);
  if (digest.size() != 32) return std::nullopt;
  for (const char c : digest) {
    if (hex_value(c) < 0) return std::nullopt;
  }
  SaslCramMd5Message m;
  m.username = std::string(decoded.substr(0, sp));
  m.digest.reserve(32);
  for (const char c : digest) m.digest += (c >= 'A' && c <= 'F') ? static_cast<char>(c + 32) : c;
  return m;
}

bool verify_cram_md5(std::string_view password, std::string_view challenge,
                     std::string_view digest) noexcept {
  if (digest.size() != 32) return false;
  const Md5Digest d = hmac_md5(password, challenge);
  unsigned diff = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    const int hi = hex_value(digest[2 * i]);
    const int lo = hex_value(digest[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    diff |= static_cast<unsigned>((hi << 4 | lo) ^ d[i]);
  }
  return diff == 0;
}

std::optional<SaslXoauth2Message> parse_sasl_xoauth2(std::string_view decoded) {
  // user=<u> ^A auth=Bearer <t> ^A ^A
  constexpr std::string_view kUser = "user=";
  constexpr std::string_view kAuth = "auth=Bearer ";
  if (decoded.size() < kUser.size() + kAuth.size() + 3) return std::nullopt;
  if (decoded.substr(0, kUser.size()) != kUser) return std::nullopt;
  if (decoded.substr(decoded.size() - 2) != "\x01\x01") return std::nullopt;
  const auto sep = decoded.find('\x01');
  if (sep == std::string_view::npos) return std::nullopt;
  const std::string_view auth = decoded.substr(sep + 1, decoded.size() - 2 - sep - 1);
  if (auth.substr(0, kAuth.size()) != kAuth) return std::nullopt;
  SaslXoauth2Message m;
  m.username = std::string(decoded.substr(kUser.size(), sep - kUser.size()));
  m.token = std::string(auth.substr(kAuth.size()));
  if (m.token.find('\x01') != std::string::npos) return std::nullopt;
  return m;
}

SaslClient::SaslClient(SaslMechanism mechanism, SaslCredentials credentials)
    : mechanism_(mechanism), credentials_(std::move(credentials)) {}

std::optional<std::string> SaslClient::initial_response() const {
  switch (mechanism_) {
    case SaslMechanism::plain:
      return sasl_plain(credentials_.authzid, credentials_.username, credentials_.password);
    case SaslMechanism::xoauth2:
      return sasl_xoauth2(credentials_.username, credentials_.token);
    default:
      return std::nullopt;
  }
}

std::optional<std::string> SaslClient::respond(std::string_view challenge) {
  const unsigned step = step_++;
  switch (mechanism_) {
    case SaslMechanism::plain:
      // Empty challenge after AUTH PLAIN without an initial response.
      if (step == 0) {
        return sasl_plain(credentials_.authzid, credentials_.username, credentials_.password);
      }
      return std::nullopt;
    case SaslMechanism::login:
      // The prompts ("Username:", "Password:") are informational: answer by position.
      if (step == 0) return credentials_.username;
      if (step == 1) return credentials_.password;
      return std::nullopt;
    case SaslMechanism::cram_md5:
      if (step == 0) return sasl_cram_md5(credentials_.username, credentials_.password, challenge);
      return std::nullopt;
    case SaslMechanism::xoauth2:
      if (step == 0) return sasl_xoauth2(credentials_.username, credentials_.token);
      // A challenge after the token is the server's JSON error: answer with an empty response
      // so the server sends its final 535.
      return std::string();
    case SaslMechanism::unknown:
      break;
  }
  return std::nullopt;
}

}  // namespace smtp
