// Placeholder: replaced by the implementation of `smtp-harness run`.
#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace smtp::cli {
void register_run(CLI::App& /*app*/, int& /*exit_code*/) {}
}  // namespace smtp::cli
