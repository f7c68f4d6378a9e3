// smtp-harness: entry point. Wires CLI11 subcommands and maps outcomes to exit codes
// (0 no failure, 1 a scenario failed, 2 usage or input error, 3 target unreachable / TLS).
#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  CLI::App app{"smtp-harness: SMTP conformance and robustness testing"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SMTPH_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return 0;
}
