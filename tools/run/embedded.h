/// @file embedded.h
/// @brief The embedded target of `smtp-harness run` with no --target: the reference server
///        (server/reference_server.h) on 127.0.0.1 ephemeral ports, in the same process, set
///        up to fit the default scenario suite and the target profile.
///
/// What it offers (embedded_options()): a plain listener with STARTTLS and an implicit-TLS
/// listener, both with a self-signed certificate made at start (the runner trusts exactly that
/// certificate); AUTH with the profile's username and password; the profile's local domain and
/// mailboxes; every delivered message kept in memory, so the runner can say per scenario what
/// the server delivered (smuggling probes: one message or two?).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/error.h"
#include "scenario/profile.h"
#include "server/reference_server.h"

namespace smtp::run {

class EmbeddedServer {
 public:
  /// Start the server on its own thread. Errors: those of ReferenceServer::start().
  [[nodiscard]] static net::Result<std::unique_ptr<EmbeddedServer>> start(
      const scenario::Profile& profile);

  EmbeddedServer(const EmbeddedServer&) = delete;
  EmbeddedServer& operator=(const EmbeddedServer&) = delete;
  ~EmbeddedServer();

  /// "127.0.0.1:PORT" of the plain (STARTTLS) listener.
  [[nodiscard]] const std::string& plain_target() const noexcept { return plain_; }
  /// "127.0.0.1:PORT" of the implicit-TLS listener.
  [[nodiscard]] const std::string& implicit_target() const noexcept { return implicit_; }
  /// The server's certificate (PEM): the only one the runner trusts for it.
  [[nodiscard]] const std::string& certificate_pem() const noexcept { return cert_pem_; }

  /// One line per message delivered over a connection from one of `clients` (client
  /// endpoints, "127.0.0.1:51234"): id, size, transfer, envelope, SHA-256, and a non-canonical
  /// end of data when a quirk accepted one. Each message is reported once (the notes are
  /// forgotten once returned: client ports are reused). Thread-safe.
  [[nodiscard]] std::vector<std::string> delivered(const std::vector<std::string>& clients);

  /// Graceful shutdown (421 to open sessions); also done by the destructor.
  void stop();

  [[nodiscard]] server::ReferenceServer& server() noexcept { return *server_; }

 private:
  EmbeddedServer() = default;

  /// Delivery notes by client endpoint, recorded as messages arrive (on the server's thread).
  struct Notes {
    std::mutex mutex;
    std::map<std::string, std::vector<std::string>> by_client;
  };

  std::shared_ptr<Notes> notes_ = std::make_shared<Notes>();
  std::unique_ptr<server::ReferenceServer> server_;
  std::string plain_;
  std::string implicit_;
  std::string cert_pem_;
};

}  // namespace smtp::run
