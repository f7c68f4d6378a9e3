#include "run/embedded.h"

#include <utility>

namespace smtp::run {

namespace {

std::string note(const server::DeliveredMessage& m) {
  std::string line = "embedded server delivered message #" + std::to_string(m.id) + ": " +
                     std::to_string(m.data.size()) + " octets via " + (m.bdat ? "BDAT" : "DATA") +
                     ", from <" + m.mail_from() + "> to";
  const auto rcpts = m.rcpt_to();
  for (std::size_t i = 0; i < rcpts.size() && i < 3; ++i) line += " <" + rcpts[i] + ">";
  if (rcpts.size() > 3) line += " (+" + std::to_string(rcpts.size() - 3) + " more)";
  line += ", sha256 " + server::sha256_hex(m.data).substr(0, 16);
  if (m.ended_by) line += std::string(", ended by ") + to_string(*m.ended_by) + " (non-canonical)";
  return line;
}

}  // namespace

net::Result<std::unique_ptr<EmbeddedServer>> EmbeddedServer::start(
    const scenario::Profile& profile) {
  std::unique_ptr<EmbeddedServer> e(new EmbeddedServer());
  server::ReferenceServerOptions options = server::embedded_options(profile);
  options.on_message = [notes = e->notes_](const server::DeliveredMessage& m) {
    std::string line = note(m);
    const std::lock_guard<std::mutex> lock(notes->mutex);
    notes->by_client[m.client].push_back(std::move(line));
  };
  e->server_ = std::make_unique<server::ReferenceServer>(std::move(options));
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

std::vector<std::string> EmbeddedServer::delivered(const std::vector<std::string>& clients) {
  std::vector<std::string> out;
  const std::lock_guard<std::mutex> lock(notes_->mutex);
  for (const std::string& c : clients) {
    const auto it = notes_->by_client.find(c);
    if (it == notes_->by_client.end()) continue;
    out.insert(out.end(), it->second.begin(), it->second.end());
    notes_->by_client.erase(it);  // a later connection may get the same client port
  }
  return out;
}

}  // namespace smtp::run
