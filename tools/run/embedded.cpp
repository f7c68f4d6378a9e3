#include "run/embedded.h"

#include <algorithm>

namespace smtp::run {

net::Result<std::unique_ptr<EmbeddedServer>> EmbeddedServer::start(
    const scenario::Profile& profile) {
  std::unique_ptr<EmbeddedServer> e(new EmbeddedServer());
  e->server_ = std::make_unique<server::ReferenceServer>(server::embedded_options(profile));
  auto bound = e->server_->start();
  if (!bound) return tl::make_unexpected(std::move(bound.error()));
  for (const server::BoundListener& l : *bound) {
    std::string& slot = l.kind == server::ListenerKind::plain ? e->plain_ : e->implicit_;
    if (slot.empty()) slot = l.to_string();
  }
  e->cert_pem_ = e->server_->certificate_pem();
  return e;
}

EmbeddedServer::~EmbeddedServer() { stop(); }

void EmbeddedServer::stop() {
  if (server_) server_->stop();
}

std::vector<std::string> EmbeddedServer::delivered(const std::vector<std::string>& clients) const {
  std::vector<std::string> out;
  if (!server_) return out;
  for (const server::DeliveredMessage& m : server_->messages()) {
    if (std::find(clients.begin(), clients.end(), m.client) == clients.end()) continue;
    std::string line = "embedded server delivered message #" + std::to_string(m.id) + ": " +
                       std::to_string(m.data.size()) + " octets via " +
                       (m.bdat ? "BDAT" : "DATA") + ", from <" + m.mail_from() + "> to";
    for (const std::string& r : m.rcpt_to()) line += " <" + r + ">";
    line += ", sha256 " + server::sha256_hex(m.data).substr(0, 16);
    if (m.ended_by) line += std::string(", ended by ") + to_string(*m.ended_by) + " (non-canonical)";
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace smtp::run
