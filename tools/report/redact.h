/// @file redact.h
/// @brief Keeping AUTH secrets out of reports: a password (and the username's base64 form)
///        is replaced wherever it appears, literally or inside base64 in any alignment.
///
/// Base64 of a string containing the secret at an offset k (mod 3) always contains a fixed
/// "core" run of characters that depends on the secret only; the redactor looks for the three
/// cores and replaces the whole base64 token around a match (so "AUTH PLAIN <token>" loses
/// its token, and an AUTH LOGIN response line is replaced). Secrets shorter than 5 octets are
/// matched literally and as whole base64 tokens only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "report/report.h"

namespace smtp::report {

/// What replaces a secret.
inline constexpr std::string_view kRedacted = "<redacted>";

class Redactor {
 public:
  Redactor() = default;

  /// The usual pair: `password` literally and in base64; `username` in base64 only (the
  /// AUTH LOGIN user line; the literal name is not secret and would match too much).
  [[nodiscard]] static Redactor for_credentials(std::string_view username,
                                                std::string_view password);

  /// Hide `secret` literally and inside base64. Empty secrets are ignored.
  void add_secret(std::string_view secret);
  /// Hide `secret` only inside base64.
  void add_base64_secret(std::string_view secret);

  [[nodiscard]] bool empty() const noexcept { return literals_.empty() && cores_.empty(); }

  /// Replace every occurrence in `text`; true when something was replaced.
  bool redact(std::string& text) const;
  /// Transcript entries (marking them redacted), step texts, reasons and findings.
  void apply(ScenarioResult& result) const;
  void apply(Report& report) const;

 private:
  std::vector<std::string> literals_;
  std::vector<std::string> cores_;   ///< base64 runs to find inside tokens
  std::vector<std::string> tokens_;  ///< whole base64 encodings (short secrets)
};

}  // namespace smtp::report
