/// @file exit_codes.h
/// @brief Exit codes of smtp-harness (DESIGN.md): one place for all subcommands.
#pragma once

namespace smtp::cli {

inline constexpr int kExitOk = 0;           ///< no (MUST-level) failure
inline constexpr int kExitFailed = 1;       ///< a scenario failed
inline constexpr int kExitUsage = 2;        ///< usage or input error (bad flag, bad scenario)
inline constexpr int kExitUnreachable = 3;  ///< target unreachable or TLS set-up failed

/// "smtp-harness 0.1.0"
const char* version_string() noexcept;

}  // namespace smtp::cli
