#include "scenario/profile.h"

namespace smtp::scenario {

const char* to_string(StoreFormat f) noexcept {
  return f == StoreFormat::maildir ? "maildir" : "jsonl";
}

const std::vector<std::string>& builtin_variable_names() {
  static const std::vector<std::string> names = {
      "helo",         "local_domain",  "sender",   "valid_mailbox", "invalid_mailbox",
      "relay_domain", "relay_mailbox", "username", "password",      "max_recipients"};
  return names;
}

Variables variables_of(const Profile& p) {
  Variables v;
  for (const auto& [name, value] : p.vars) v.set(name, value);
  v.set("helo", p.helo);
  v.set("local_domain", p.local_domain);
  v.set("sender", p.sender);
  v.set("valid_mailbox", p.valid_mailbox);
  v.set("invalid_mailbox", p.invalid_mailbox);
  v.set("relay_domain", p.relay_domain);
  v.set("relay_mailbox", "nobody@" + p.relay_domain);
  v.set("username", p.username);
  v.set("password", p.password);
  v.set("max_recipients", std::to_string(p.max_recipients));
  return v;
}

}  // namespace smtp::scenario
