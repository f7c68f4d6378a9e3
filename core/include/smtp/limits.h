/// @file limits.h
/// @brief Size limits, with RFC 5321 §4.5.3.1 defaults. Buffers are bounded by them.
#pragma once

#include <cstddef>

namespace smtp {

struct Limits {
  std::size_t command_line = 512;  ///< §4.5.3.1.4: command line incl. CRLF
  std::size_t reply_line = 512;    ///< §4.5.3.1.5: reply line incl. CRLF
  std::size_t text_line = 1000;    ///< §4.5.3.1.6: text line of mail data incl. CRLF
  std::size_t local_part = 64;     ///< §4.5.3.1.1
  std::size_t domain = 255;        ///< §4.5.3.1.2
  std::size_t path = 256;          ///< §4.5.3.1.3: incl. the angle brackets
  std::size_t recipients = 100;    ///< §4.5.3.1.8: minimum a server must accept
  std::size_t reply_lines = 256;   ///< not in the RFC: bound on lines in one multi-line reply
  /// Hard cap on any buffered line, whatever the RFC limit: a line past its RFC limit is a
  /// finding; a line past this cap is cut and the rest discarded up to the next LF.
  std::size_t line_buffer_cap = 64 * 1024;
};

}  // namespace smtp
