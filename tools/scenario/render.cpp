#include "scenario/render.h"

#include <algorithm>

#include "smtp/sasl.h"

namespace smtp::scenario {
namespace {

bool ends_with_crlf(std::string_view s) {
  return s.size() >= 2 && s[s.size() - 2] == '\r' && s[s.size() - 1] == '\n';
}

/// Every LF not preceded by CR becomes CRLF.
std::string to_crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 16);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

}  // namespace

std::string render_command(const Template& line, const Variables& vars) {
  std::string out = render(line, vars);
  out += "\r\n";
  return out;
}

std::string render_raw(const RawStep& step, const Variables& vars) {
  return render(step.bytes, vars);
}

std::string render_pipeline(const PipelineStep& step, const Variables& vars) {
  std::string out;
  for (const Template& line : step.lines) out += render_command(line, vars);
  return out;
}

std::string render_ehlo(const EhloStep& step, const Variables& vars) {
  return "EHLO " + render(step.domain, vars) + "\r\n";
}

std::string dot_stuff_bytes(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 8);
  for (std::size_t i = 0; i < data.size(); ++i) {
    const bool line_start = i == 0 || (i >= 2 && data[i - 2] == '\r' && data[i - 1] == '\n');
    if (line_start && data[i] == '.') out += '.';
    out += data[i];
  }
  return out;
}

std::string render_data(const DataStep& step, const Variables& vars) {
  std::string content;
  if (step.structured) {
    if (!step.headers.empty()) {
      for (const Template& h : step.headers) {
        content += to_crlf(render(h, vars));
        if (!ends_with_crlf(content)) content += "\r\n";
      }
      content += "\r\n";
    }
    std::string body = to_crlf(render(step.body, vars));
    if (!body.empty() && !ends_with_crlf(body)) body += "\r\n";
    content += body;
  } else {
    content = render(step.raw, vars);
  }
  std::string out = step.dot_stuff ? dot_stuff_bytes(content) : std::move(content);
  if (step.end) {
    out += render(*step.end, vars);
  } else if (out.empty() || ends_with_crlf(out)) {
    out += ".\r\n";
  } else {
    out += "\r\n.\r\n";
  }
  return out;
}

std::string render_bdat(const BdatStep& step, const Variables& vars) {
  std::string chunk;
  if (step.bytes) {
    chunk = render(*step.bytes, vars);
  } else {
    const std::uint64_t n = step.size.value_or(0);
    chunk.reserve(static_cast<std::size_t>(n));
    while (chunk.size() < n) {
      const std::size_t left = static_cast<std::size_t>(n) - chunk.size();
      std::string line(78, 'x');
      line += "\r\n";
      chunk.append(line, 0, std::min(left, line.size()));
    }
  }
  const std::uint64_t declared = step.size.value_or(chunk.size());
  std::string out = "BDAT " + std::to_string(declared);
  if (step.last) out += " LAST";
  out += "\r\n";
  out += chunk;
  return out;
}

AuthExchange render_auth(const AuthStep& step, const Profile& profile) {
  const std::string& user = profile.username;
  const std::string password =
      step.credentials == Credentials::valid ? profile.password : std::string(kInvalidPassword);
  AuthExchange ex;
  ex.secrets = {profile.password, profile.username};
  if (step.mechanism == "LOGIN") {
    const std::string u = smtp::base64_encode(user);
    const std::string p = smtp::base64_encode(password);
    if (step.initial_response) {
      ex.command = "AUTH LOGIN " + u + "\r\n";
      ex.responses = {p + "\r\n"};
    } else {
      ex.command = "AUTH LOGIN\r\n";
      ex.responses = {u + "\r\n", p + "\r\n"};
    }
  } else {  // PLAIN (the schema allows nothing else)
    std::string plain;
    plain += '\0';
    plain += user;
    plain += '\0';
    plain += password;
    const std::string token = smtp::base64_encode(plain);
    if (step.initial_response) {
      ex.command = "AUTH PLAIN " + token + "\r\n";
    } else {
      ex.command = "AUTH PLAIN\r\n";
      ex.responses = {token + "\r\n"};
    }
  }
  return ex;
}

}  // namespace smtp::scenario
