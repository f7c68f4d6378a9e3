#include "cli/exit_codes.h"

namespace smtp::cli {
const char* version_string() noexcept { return "smtp-harness " SMTPH_VERSION; }
}  // namespace smtp::cli
