/// @file variables.h
/// @brief Scenario text templates: ${variables}, ${fill:N}, and byte escapes for raw bytes.
///
/// Template syntax (every string that is sent):
///  - `${name}`    the profile variable `name` ([a-z][a-z0-9_]*); unknown names are load errors.
///  - `${fill:N}`  N octets of 'x' (N <= 16 MiB), for line- and size-limit checks.
///  - `$$`         a literal `$`. A `$` not followed by `{` or `$` is literal too.
/// Byte escapes (only in raw, data.raw, data.end and bdat.bytes), applied to the string after
/// JSON decoding: `\r` CR, `\n` LF, `\t` TAB, `\0` NUL, `\\` backslash, `\xNN` any octet (two
/// hex digits). Any other backslash sequence is a load error. In a JSON file the backslash is
/// itself escaped: write "\\x00" for NUL (or use JSON's own "\u0000", "\r", "\n").
/// Variable values are inserted verbatim: escapes inside them are not interpreted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace smtp::scenario {

/// Longest ${fill:N}.
inline constexpr std::size_t kMaxFill = 16u * 1024u * 1024u;

struct TemplatePart {
  enum class Kind : std::uint8_t { literal, variable, fill };
  Kind kind = Kind::literal;
  std::string text;       ///< literal: the bytes (escapes decoded); variable: its name
  std::size_t count = 0;  ///< fill: number of octets
  std::size_t index = 0;  ///< offset of the part's first character in the source string
  friend bool operator==(const TemplatePart&, const TemplatePart&) = default;
};

/// A parsed template. Rendering needs the variables' values.
struct Template {
  std::vector<TemplatePart> parts;
  [[nodiscard]] bool empty() const noexcept { return parts.empty(); }
  /// True when the template has no variables or fills (its bytes are known at load time).
  [[nodiscard]] bool is_literal() const noexcept;
  friend bool operator==(const Template&, const Template&) = default;
};

struct TemplateError {
  std::size_t index = 0;  ///< offset in the source string where the problem starts
  std::string message;
};

/// Parse `source`; `byte_escapes` enables the backslash escapes listed above.
[[nodiscard]] tl::expected<Template, TemplateError> parse_template(std::string_view source,
                                                                   bool byte_escapes);

/// Decode only the byte escapes of `source` (no variables), e.g. for tests and tools.
[[nodiscard]] tl::expected<std::string, TemplateError> decode_escapes(std::string_view source);

/// Render bytes with llhttp-style escapes (\r \n \t \0 \\ \xNN for other controls and
/// octets >= 0x7F): the inverse of decode_escapes(); used in human-readable output.
[[nodiscard]] std::string escape_bytes(std::string_view bytes);

/// Variable values by name.
class Variables {
 public:
  Variables() = default;
  void set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }
  [[nodiscard]] bool has(std::string_view name) const {
    return values_.find(name) != values_.end();
  }
  /// The value, or "" for an unknown name (the loader has rejected those already).
  [[nodiscard]] std::string_view get(std::string_view name) const;
  [[nodiscard]] std::vector<std::string> names() const;
  [[nodiscard]] const std::map<std::string, std::string, std::less<>>& all() const noexcept {
    return values_;
  }

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

/// The template's bytes with variables substituted and fills expanded.
[[nodiscard]] std::string render(const Template& t, const Variables& vars);

}  // namespace smtp::scenario
