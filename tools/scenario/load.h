/// @file load.h
/// @brief Loading scenario files, target profiles and any JSON checked against a schema in
///        reports/schema/, with every error pinned to file:line:column and a JSON pointer.
///
/// Pipeline per file: JSON syntax (positions recorded through nlohmann's SAX parser;
/// duplicate keys are errors) -> JSON Schema draft 7 (valijson; unknown keys and wrong types
/// are errors) -> semantics (templates and ${variables}, byte escapes, RE2 patterns compiled,
/// combinations of expect conditions, duplicate ids across files). Semantic checks run only
/// on files that passed the schema. Nothing is partially loaded: either every scenario comes
/// back or the full error list does (the CLI then exits 2 and runs nothing).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "scenario/model.h"
#include "scenario/profile.h"

namespace smtp::scenario {

struct LoadError {
  std::string file;        ///< as given (or found in a directory)
  std::size_t line = 0;    ///< 1-based; 0 when the error concerns the file as a whole
  std::size_t column = 0;  ///< 1-based, in characters
  std::string pointer;     ///< JSON pointer (RFC 6901), "" = the whole document
  std::string message;     ///< one line
  /// "file:line:column: pointer: message" (compiler style; "(root)" for the empty pointer,
  /// line/column omitted when unknown).
  [[nodiscard]] std::string to_string() const;
};

struct LoadOptions {
  /// Directory holding <name>.schema.json; empty = the schemas embedded at build time.
  std::filesystem::path schema_dir;
  /// Known ${variables}: the built-ins plus profile.vars.
  Profile profile;
};

using LoadResult = tl::expected<std::vector<Scenario>, std::vector<LoadError>>;

/// Load scenario files and directories (every *.json below a directory, recursively, in
/// sorted path order; files named explicitly are loaded whatever their extension). Scenarios
/// come back in that order. Errors: unreadable paths, an empty directory, any per-file error
/// (see load_scenario_text) and duplicate ids across files.
[[nodiscard]] LoadResult load_scenarios(const std::vector<std::filesystem::path>& paths,
                                        const LoadOptions& options = {});

/// Load one scenario from `text`; `file` names it in errors and in Scenario::file.
[[nodiscard]] LoadResult load_scenario_text(std::string_view text, std::string_view file,
                                            const LoadOptions& options = {});

/// Read a target profile (reports/schema/profile.schema.json); absent fields keep defaults.
[[nodiscard]] tl::expected<Profile, std::vector<LoadError>> load_profile(
    const std::filesystem::path& path, const std::filesystem::path& schema_dir = {});
[[nodiscard]] tl::expected<Profile, std::vector<LoadError>> load_profile_text(
    std::string_view text, std::string_view file, const std::filesystem::path& schema_dir = {});

/// Check any JSON text against the schema `schema_name` ("scenario", "profile", "report"):
/// syntax and schema errors with positions; empty = valid. Used by `report validate`.
[[nodiscard]] std::vector<LoadError> validate_json_text(
    std::string_view text, std::string_view file, std::string_view schema_name,
    const std::filesystem::path& schema_dir = {});
[[nodiscard]] std::vector<LoadError> validate_json_file(
    const std::filesystem::path& path, std::string_view schema_name,
    const std::filesystem::path& schema_dir = {});

/// Read a whole file (capped at `max_bytes`); error: a one-line reason.
[[nodiscard]] tl::expected<std::string, std::string> read_text_file(
    const std::filesystem::path& path, std::size_t max_bytes = 64u * 1024u * 1024u);

}  // namespace smtp::scenario
