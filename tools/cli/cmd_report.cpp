// Placeholder: replaced by the implementation of `smtp-harness report`.
#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace smtp::cli {
void register_report(CLI::App& /*app*/, int& /*exit_code*/) {}
}  // namespace smtp::cli
