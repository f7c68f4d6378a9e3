#include "scenario/variables.h"

#include <charconv>

namespace smtp::scenario {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_name_start(char c) { return c >= 'a' && c <= 'z'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9') || c == '_'; }

/// Decode one backslash escape at s[i] == '\\'; appends to `out`, returns the new index.
tl::expected<std::size_t, TemplateError> decode_escape(std::string_view s, std::size_t i,
                                                       std::string& out) {
  if (i + 1 >= s.size()) return tl::unexpected(TemplateError{i, "a backslash ends the string"});
  switch (s[i + 1]) {
    case 'r':
      out += '\r';
      return i + 2;
    case 'n':
      out += '\n';
      return i + 2;
    case 't':
      out += '\t';
      return i + 2;
    case '0':
      out += '\0';
      return i + 2;
    case '\\':
      out += '\\';
      return i + 2;
    case 'x': {
      const int hi = i + 2 < s.size() ? hex_digit(s[i + 2]) : -1;
      const int lo = i + 3 < s.size() ? hex_digit(s[i + 3]) : -1;
      if (hi < 0 || lo < 0) {
        return tl::unexpected(TemplateError{i, "\\x needs two hex digits (\\x00 to \\xff)"});
      }
      out += static_cast<char>(hi * 16 + lo);
      return i + 4;
    }
    default: {
      const auto c = static_cast<unsigned char>(s[i + 1]);
      std::string shown = c >= 0x20 && c < 0x7F ? std::string(1, static_cast<char>(c))
                                                : escape_bytes(s.substr(i + 1, 1));
      return tl::unexpected(
          TemplateError{i, "unknown escape \\" + shown + " (known: \\r \\n \\t \\0 \\\\ \\xNN)"});
    }
  }
}

}  // namespace

bool Template::is_literal() const noexcept {
  for (const TemplatePart& p : parts) {
    if (p.kind != TemplatePart::Kind::literal) return false;
  }
  return true;
}

tl::expected<Template, TemplateError> parse_template(std::string_view s, bool byte_escapes) {
  Template t;
  std::string literal;
  std::size_t literal_start = 0;
  auto flush = [&] {
    if (!literal.empty()) {
      t.parts.push_back({TemplatePart::Kind::literal, std::move(literal), 0, literal_start});
      literal.clear();
    }
  };
  std::size_t i = 0;
  while (i < s.size()) {
    if (literal.empty()) literal_start = i;
    const char c = s[i];
    if (c == '\\' && byte_escapes) {
      auto next = decode_escape(s, i, literal);
      if (!next) return tl::unexpected(next.error());
      i = *next;
      continue;
    }
    if (c == '$' && i + 1 < s.size() && s[i + 1] == '$') {
      literal += '$';
      i += 2;
      continue;
    }
    if (c == '$' && i + 1 < s.size() && s[i + 1] == '{') {
      const std::size_t close = s.find('}', i + 2);
      if (close == std::string_view::npos) {
        return tl::unexpected(TemplateError{i, "unterminated ${ (write $$ for a literal $)"});
      }
      const std::string_view inner = s.substr(i + 2, close - i - 2);
      flush();
      if (inner.substr(0, 5) == "fill:") {
        const std::string_view digits = inner.substr(5);
        std::size_t n = 0;
        const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() ||
            n > kMaxFill) {
          return tl::unexpected(TemplateError{
              i, "${fill:N} needs a decimal N from 0 to " + std::to_string(kMaxFill)});
        }
        t.parts.push_back({TemplatePart::Kind::fill, {}, n, i});
      } else {
        bool valid = !inner.empty() && is_name_start(inner[0]);
        for (const char k : inner) valid = valid && is_name_char(k);
        if (!valid) {
          return tl::unexpected(TemplateError{
              i, "bad variable name '" + std::string(inner) +
                     "' (lower case letters, digits and _; write $$ for a literal $)"});
        }
        t.parts.push_back({TemplatePart::Kind::variable, std::string(inner), 0, i});
      }
      i = close + 1;
      continue;
    }
    literal += c;
    ++i;
  }
  flush();
  return t;
}

tl::expected<std::string, TemplateError> decode_escapes(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '\\') {
      auto next = decode_escape(s, i, out);
      if (!next) return tl::unexpected(next.error());
      i = *next;
    } else {
      out += s[i++];
    }
  }
  return out;
}

std::string escape_bytes(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\0':
        out += "\\0";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c >= 0x7F) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string_view Variables::get(std::string_view name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return {};
  return it->second;
}

std::vector<std::string> Variables::names() const {
  std::vector<std::string> out;
  out.reserve(values_.size());
  for (const auto& [name, value] : values_) out.push_back(name);
  return out;
}

std::string render(const Template& t, const Variables& vars) {
  std::string out;
  for (const TemplatePart& p : t.parts) {
    switch (p.kind) {
      case TemplatePart::Kind::literal:
        out += p.text;
        break;
      case TemplatePart::Kind::variable:
        out += vars.get(p.text);
        break;
      case TemplatePart::Kind::fill:
        out.append(p.count, 'x');
        break;
    }
  }
  return out;
}

}  // namespace smtp::scenario
