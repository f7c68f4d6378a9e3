/// @file write.h
/// @brief Writing reports so a reader never sees a partial file: a temporary file in the
///        target's directory, fsync, rename over the target, fsync of the directory.
///
/// Usable on the shutdown path after Ctrl-C (the runner calls it once the io_context has
/// stopped): nothing here throws, every failure is an error_code, the temporary file is
/// removed on failure. (Not async-signal-safe: it allocates.)
#pragma once

#include <filesystem>
#include <string_view>
#include <system_error>

#include "report/junit.h"
#include "report/report.h"

namespace smtp::report {

/// Write `bytes` to `path` atomically. "-" writes to stdout (not atomic). The file gets mode
/// 0644 (reports hold no secrets). Returns {} on success.
[[nodiscard]] std::error_code write_file_atomic(const std::filesystem::path& path,
                                                std::string_view bytes) noexcept;

/// to_json_text(report) written atomically.
[[nodiscard]] std::error_code write_report(const Report& report,
                                           const std::filesystem::path& path) noexcept;

/// to_junit_xml(report, options) written atomically.
[[nodiscard]] std::error_code write_junit(const Report& report, const std::filesystem::path& path,
                                          const JunitOptions& options = {}) noexcept;

}  // namespace smtp::report
