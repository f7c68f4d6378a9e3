/// @file json_schema.h
/// @brief JSON Schema (draft 7) validation through valijson, with errors as JSON pointers and
///        one readable sentence each (the schema files live in reports/schema/).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace smtp::scenario {

/// One schema violation.
struct SchemaViolation {
  std::string pointer;  ///< JSON pointer of the offending value (or of the unknown key)
  std::string message;  ///< one line
  bool at_key = false;  ///< the problem is the key itself (unknown key): point at the key
  friend bool operator==(const SchemaViolation&, const SchemaViolation&) = default;
};

class JsonSchema {
 public:
  /// Compile a schema from its text. Error: a one-line reason (bad JSON, unsupported schema).
  [[nodiscard]] static tl::expected<JsonSchema, std::string> from_text(std::string_view text);

  /// The schema `name` ("scenario", "profile", "report"): from `<dir>/<name>.schema.json` when
  /// `dir` is not empty, else the copy embedded at build time. Compiled once per (name, dir)
  /// and cached (thread-safe); the reference stays valid for the program's lifetime.
  [[nodiscard]] static tl::expected<const JsonSchema*, std::string> named(
      std::string_view name, const std::filesystem::path& dir = {});

  /// Every violation of `instance`, parents' summary errors folded into the specific ones,
  /// in document order of discovery.
  [[nodiscard]] std::vector<SchemaViolation> validate(const nlohmann::json& instance) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace smtp::scenario
