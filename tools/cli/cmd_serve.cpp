// Placeholder: replaced by the implementation of `smtp-harness serve`.
#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace smtp::cli {
void register_serve(CLI::App& /*app*/, int& /*exit_code*/) {}
}  // namespace smtp::cli
