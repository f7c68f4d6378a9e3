#include "report/redact.h"

#include "smtp/sasl.h"

namespace smtp::report {
namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/' || c == '=';
}

/// Base64 characters that depend only on `secret` when it starts at offset k (mod 3) of the
/// encoded string.
std::string core_for_alignment(std::string_view secret, std::size_t k) {
  std::string padded(k, '\0');
  padded.append(secret);
  const std::string encoded = base64_encode(padded);
  const std::size_t first_group = (k + 2) / 3;            // first group made only of secret
  const std::size_t end_group = (k + secret.size()) / 3;  // groups fully inside [k, k+len)
  if (end_group <= first_group) return {};
  return encoded.substr(first_group * 4, (end_group - first_group) * 4);
}

/// Replace the maximal base64 token around every occurrence of `needle`.
bool replace_tokens(std::string& text, std::string_view needle) {
  bool changed = false;
  std::size_t from = 0;
  while (true) {
    const std::size_t at = text.find(needle, from);
    if (at == std::string::npos) return changed;
    std::size_t begin = at;
    while (begin > 0 && is_base64_char(text[begin - 1])) --begin;
    std::size_t end = at + needle.size();
    while (end < text.size() && is_base64_char(text[end])) ++end;
    text.replace(begin, end - begin, kRedacted);
    from = begin + kRedacted.size();
    changed = true;
  }
}

bool replace_literal(std::string& text, std::string_view needle) {
  bool changed = false;
  std::size_t from = 0;
  while (true) {
    const std::size_t at = text.find(needle, from);
    if (at == std::string::npos) return changed;
    text.replace(at, needle.size(), kRedacted);
    from = at + kRedacted.size();
    changed = true;
  }
}

}  // namespace

Redactor Redactor::for_credentials(std::string_view username, std::string_view password) {
  Redactor r;
  r.add_secret(password);
  r.add_base64_secret(username);
  return r;
}

void Redactor::add_base64_secret(std::string_view secret) {
  if (secret.empty()) return;
  for (std::size_t k = 0; k < 3; ++k) {
    std::string core = core_for_alignment(secret, k);
    if (!core.empty()) cores_.push_back(std::move(core));
  }
  tokens_.push_back(base64_encode(secret));
}

void Redactor::add_secret(std::string_view secret) {
  if (secret.empty()) return;
  literals_.emplace_back(secret);
  add_base64_secret(secret);
}

bool Redactor::redact(std::string& text) const {
  bool changed = false;
  for (const std::string& core : cores_) changed = replace_tokens(text, core) || changed;
  for (const std::string& token : tokens_) changed = replace_tokens(text, token) || changed;
  for (const std::string& literal : literals_) changed = replace_literal(text, literal) || changed;
  return changed;
}

void Redactor::apply(ScenarioResult& result) const {
  if (empty()) return;
  for (TranscriptEntry& e : result.transcript) {
    if (redact(e.bytes)) e.redacted = true;
  }
  for (StepRecord& s : result.steps) {
    redact(s.observed);
    redact(s.expectation);
    redact(s.reason);
  }
  redact(result.reason);
  for (Finding& f : result.findings) redact(f.message);
}

void Redactor::apply(Report& report) const {
  for (ScenarioResult& s : report.scenarios) apply(s);
}

}  // namespace smtp::report
