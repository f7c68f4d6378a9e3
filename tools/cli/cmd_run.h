/// @file cmd_run.h
/// @brief `smtp-harness run`: load scenarios, run them against a server (the embedded reference
///        server when no --target is given), write the compliance report, exit with a verdict.
///
/// ```
/// smtp-harness run [PATHS...] [--target HOST:PORT] [--tls none|starttls|implicit]
///     [--profile FILE] [-j N] [--filter ID-GLOB|TAG]... [--report FILE] [--junit FILE]
///     [--timeout S] [--ca FILE | --insecure] [--sni NAME] [--implicit-target HOST:PORT]
///     [--strict] [--allow-non-loopback] [--dry-run]
/// ```
///  - PATHS: scenario files or directories (default: the source tree's scenarios/, else
///    ./scenarios). Every file is loaded before anything runs; any error prints every error
///    ("file:line:column: pointer: message") and exits 2.
///  - --filter: keep scenarios whose id matches the glob (`*` spans `/`) or that carry the tag;
///    repeatable (any match keeps a scenario).
///  - No --target (and none in the profile): the embedded reference server on 127.0.0.1
///    ephemeral ports (run/embedded.h); the runner trusts its self-signed certificate.
///    Non-loopback targets are refused (exit 2) unless --allow-non-loopback.
///  - --tls: the run's transport; `implicit` connects with TLS (RFC 8314), `starttls` and `none`
///    connect in plain text (scenarios use starttls steps; `requires: ["starttls"]` needs
///    --tls starttls). Default: the profile's target.tls, else none.
///  - Progress on stderr when it is a terminal; the summary (report/summary.h) on stderr.
///  - SIGINT/SIGTERM: stop, mark what did not finish, write the report, exit 130.
/// Exit codes: 0 no MUST-level failure (non-strict counts only with --strict), 1 failures,
/// 2 usage or input error (bad flag, bad scenario or profile, report not writable), 3 target
/// unreachable or TLS set-up failed (the first connection fails; scenarios that could not run
/// and nothing failed), 130 interrupted.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "scenario/model.h"

namespace smtp::cli {

inline constexpr int kExitInterrupted = 130;

struct RunOptions {
  std::vector<std::string> paths;
  std::string target;           ///< "" = the profile's, else the embedded server
  std::string implicit_target;  ///< for connect steps with tls implicit in a plain run
  std::string tls;              ///< "" = the profile's target.tls, else none
  std::string profile;
  std::size_t jobs = 4;
  std::vector<std::string> filters;
  std::string report;  ///< JSON report ("-" = stdout); "" = none
  std::string junit;   ///< JUnit XML; "" = none
  double timeout = 10;  ///< seconds, per operation and default reply wait
  std::string ca;
  bool insecure = false;
  std::string sni;
  bool strict = false;
  bool allow_non_loopback = false;
  bool dry_run = false;
  bool handle_signals = true;  ///< install SIGINT/SIGTERM handlers (off in in-process tests)
  int progress = -1;           ///< 1 on, 0 off, -1 when stderr is a terminal
};

/// The default scenario directory: SMTPH_SOURCE_DIR/scenarios if it exists, else ./scenarios.
[[nodiscard]] std::string default_scenario_dir();

/// True when `s` matches one of `filters` (id glob or tag), or `filters` is empty.
[[nodiscard]] bool matches_filter(const scenario::Scenario& s,
                                  const std::vector<std::string>& filters);

/// The whole subcommand; human text goes to stderr. Returns the exit code.
[[nodiscard]] int run_run(const RunOptions& options);

}  // namespace smtp::cli
