#include "smtp/error.h"

#include "smtp/leniency.h"

namespace smtp {

const char* to_string(errc e) noexcept {
  switch (e) {
    case errc::line_too_long: return "line_too_long";
    case errc::bare_lf: return "bare_lf";
    case errc::bare_cr: return "bare_cr";
    case errc::nul_byte: return "nul_byte";
    case errc::unexpected_eof: return "unexpected_eof";
    case errc::bad_reply_code: return "bad_reply_code";
    case errc::reply_code_out_of_range: return "reply_code_out_of_range";
    case errc::multiline_code_mismatch: return "multiline_code_mismatch";
    case errc::too_many_reply_lines: return "too_many_reply_lines";
    case errc::bad_enhanced_status: return "bad_enhanced_status";
    case errc::enhanced_status_mismatch: return "enhanced_status_mismatch";
    case errc::unknown_command: return "unknown_command";
    case errc::bad_command_syntax: return "bad_command_syntax";
    case errc::bad_path: return "bad_path";
    case errc::bad_local_part: return "bad_local_part";
    case errc::bad_domain: return "bad_domain";
    case errc::bad_address_literal: return "bad_address_literal";
    case errc::bad_parameter: return "bad_parameter";
    case errc::duplicate_parameter: return "duplicate_parameter";
    case errc::local_part_too_long: return "local_part_too_long";
    case errc::domain_too_long: return "domain_too_long";
    case errc::path_too_long: return "path_too_long";
    case errc::non_ascii: return "non_ascii";
    case errc::text_line_too_long: return "text_line_too_long";
    case errc::non_canonical_end_of_data: return "non_canonical_end_of_data";
    case errc::bad_capability: return "bad_capability";
    case errc::duplicate_capability: return "duplicate_capability";
    case errc::out_of_sequence: return "out_of_sequence";
    case errc::unsolicited_reply: return "unsolicited_reply";
    case errc::reply_not_allowed: return "reply_not_allowed";
    case errc::invalid_argument: return "invalid_argument";
  }
  return "unknown_error";
}

namespace {
class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "smtp"; }
  std::string message(int ev) const override { return to_string(static_cast<errc>(ev)); }
};
}  // namespace

const std::error_category& smtp_category() noexcept {
  static const Category c;
  return c;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), smtp_category()};
}

const char* to_string(Tolerance t) noexcept {
  switch (t) {
    case Tolerance::bare_lf: return "bare_lf";
    case Tolerance::bare_cr: return "bare_cr";
    case Tolerance::nul: return "nul";
    case Tolerance::long_line: return "long_line";
    case Tolerance::space_after_colon: return "space_after_colon";
    case Tolerance::trailing_whitespace: return "trailing_whitespace";
    case Tolerance::count_: break;
  }
  return "unknown_tolerance";
}

}  // namespace smtp
