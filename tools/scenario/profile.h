/// @file profile.h
/// @brief Target profile: facts about the server under test that scenarios use as
///        ${variables}. JSON form: reports/schema/profile.schema.json (load.h reads it).
///
/// Defaults fit the embedded reference server (`smtp-harness serve` / `run` with no target).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scenario/model.h"
#include "scenario/variables.h"

namespace smtp::scenario {

enum class StoreFormat : std::uint8_t { jsonl, maildir };
[[nodiscard]] const char* to_string(StoreFormat f) noexcept;

/// Where the server under test stores delivered mail.
struct StoreLocation {
  std::string path;
  StoreFormat format = StoreFormat::jsonl;
};

/// Defaults for run's --target / --tls.
struct ProfileTarget {
  std::string host;  ///< "" = not set
  std::optional<std::uint16_t> port;
  std::optional<TlsMode> tls;
  std::string sni;  ///< "" = host
};

struct Profile {
  std::string helo = "client.example";                        ///< ${helo}
  std::string local_domain = "example.test";                  ///< ${local_domain}
  std::string sender = "sender@client.example";               ///< ${sender}
  std::string valid_mailbox = "postmaster@example.test";      ///< ${valid_mailbox}
  std::string invalid_mailbox = "no-such-user@example.test";  ///< ${invalid_mailbox}
  std::string relay_domain = "relay.example";                 ///< ${relay_domain}
  std::string username = "bench";                             ///< ${username}
  std::string password = "benchpass";                         ///< ${password} (redacted)
  bool auth_requires_tls = false;
  std::uint32_t max_recipients = 100;  ///< ${max_recipients}
  std::optional<StoreLocation> store;
  ProfileTarget target;
  std::map<std::string, std::string, std::less<>> vars;  ///< extra ${name}s
};

/// Names every scenario may use whatever the profile:
/// helo, local_domain, sender, valid_mailbox, invalid_mailbox, relay_domain, relay_mailbox
/// (nobody@<relay_domain>), username, password, max_recipients.
[[nodiscard]] const std::vector<std::string>& builtin_variable_names();

/// The values of the built-in variables plus the profile's extra vars.
[[nodiscard]] Variables variables_of(const Profile& profile);

/// Password used for AUTH with "credentials": "invalid" (never the real one, so it cannot
/// leak the real password into a report).
inline constexpr const char* kInvalidPassword = "smtp-harness-wrong-password";

}  // namespace smtp::scenario
