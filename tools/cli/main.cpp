// smtp-harness: entry point. Wires CLI11 subcommands and maps outcomes to exit codes
// (0 no failure, 1 a scenario failed, 2 usage or input error, 3 target unreachable / TLS).
// Each subcommand lives in cmd_<name>.cpp and registers itself through commands.h.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/exit_codes.h"

int main(int argc, char** argv) {
  using namespace smtp::cli;
  CLI::App app{"smtp-harness: SMTP conformance and robustness testing"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_string());
  int exit_code = kExitOk;
  register_parse(app, exit_code);
  register_run(app, exit_code);
  register_serve(app, exit_code);
  register_report(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "smtp-harness: error: %s\n", e.what());
    return kExitUsage;
  }
  return exit_code;
}
