/// @file json_source.h
/// @brief A parsed JSON document that remembers where every value and key came from, so
///        errors found later (schema, semantics) point at file:line:column + JSON pointer.
///
/// Parsing runs nlohmann's SAX parser over an iterator that records how far the lexer has
/// read; at each value/key event the token start is the first non-separator byte after the
/// previous token. A second, ordinary parse builds the DOM.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace smtp::scenario {

/// 1-based line and column; column counts Unicode code points (UTF-8 lead bytes) from the
/// start of the line, so it matches what an editor shows. 0 means unknown.
struct SourceLocation {
  std::size_t line = 0;
  std::size_t column = 0;
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

/// A syntax problem found while parsing (bad JSON, duplicate key).
struct JsonIssue {
  std::size_t offset = 0;  ///< byte offset into the text
  std::string pointer;     ///< JSON pointer of the value/key concerned ("" = document)
  std::string message;
};

/// Deepest nesting of arrays/objects accepted (every format of smtp-harness needs < 10); deeper
/// documents are a syntax issue, which also keeps every later recursive walk shallow.
inline constexpr std::size_t kMaxJsonDepth = 64;

/// Escape one reference token for a JSON pointer (RFC 6901: ~ -> ~0, / -> ~1).
[[nodiscard]] std::string json_pointer_token(std::string_view token);

class JsonDocument {
 public:
  /// Parse `text`. Never throws on input: syntax errors and duplicate keys become issues().
  /// When issues() is not empty, value() is null.
  [[nodiscard]] static JsonDocument parse(std::string text);

  [[nodiscard]] bool ok() const noexcept { return issues_.empty(); }
  [[nodiscard]] const std::vector<JsonIssue>& issues() const noexcept { return issues_; }
  [[nodiscard]] const nlohmann::json& value() const noexcept { return value_; }
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

  /// Byte offset of the first byte of the value at `pointer` (its quote, brace, digit...).
  [[nodiscard]] std::optional<std::size_t> value_offset(std::string_view pointer) const;
  /// Byte offset of the key (its opening quote) whose value is at `pointer`.
  [[nodiscard]] std::optional<std::size_t> key_offset(std::string_view pointer) const;
  /// Location of the value at `pointer`; when absent, of its closest recorded ancestor.
  [[nodiscard]] SourceLocation value_location(std::string_view pointer) const;
  /// Location of the key of `pointer` (falls back to value_location()).
  [[nodiscard]] SourceLocation key_location(std::string_view pointer) const;
  /// For the string value at `pointer`: location of the source character that produced byte
  /// `index` of the decoded string (an escape maps to its backslash). Falls back to the value.
  [[nodiscard]] SourceLocation string_location(std::string_view pointer, std::size_t index) const;

  /// Line and column of a byte offset.
  [[nodiscard]] SourceLocation locate(std::size_t offset) const;

 private:
  std::string text_;
  nlohmann::json value_;
  std::vector<JsonIssue> issues_;
  std::unordered_map<std::string, std::size_t> values_;
  std::unordered_map<std::string, std::size_t> keys_;
  std::vector<std::size_t> line_starts_;
};

}  // namespace smtp::scenario
