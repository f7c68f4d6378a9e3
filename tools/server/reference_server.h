/// @file reference_server.h
/// @brief ReferenceServer: smtp::ServerSession over Asio + OpenSSL. Plain listeners (STARTTLS,
///        RFC 3207) and implicit-TLS listeners (RFC 8314), many concurrent sessions on one
///        executor, an idle timeout per session, every delivered message kept in memory and
///        optionally stored (message_store.h), graceful shutdown with 421.
///
/// Used by `smtp-harness serve` and, embedded, by `smtp-harness run` with no --target:
/// ```
///   smtp::server::ReferenceServer server(smtp::server::embedded_options(profile));
///   auto bound = server.start();               // own thread; or start(io_context)
///   if (!bound) { /* bound.error().message; exit 3 */ }
///   std::string target = server.endpoint(ListenerKind::plain)->to_string();  // 127.0.0.1:N
///   net::TlsClientOptions tls; tls.ca_pem = server.certificate_pem();       // verify it
///   ... run scenarios ...
///   auto delivered = server.messages();        // what arrived, in order
///   server.stop();                             // 421 to every session, close, join
/// ```
///
/// Threading: every socket, timer and ServerSession lives on one strand of the io_context
/// (start(io) may be run by any number of threads; start() runs its own single thread).
/// messages(), message_count(), wait_for_messages(), stats(), listeners() and stop() are
/// thread-safe. Options::on_message and Options::log are called on the server's strand.
///
/// Per session (memory is bounded): one read buffer (ConnectionOptions::read_chunk, 16 KiB),
/// the ServerSession's own bounded buffers (command line, SASL line, message up to the SIZE
/// limit), and its reply output, which is always written before more input is read. Reads
/// wait at most `idle_timeout` (RFC 5321 §4.5.3.2.7 server timeout, 5 minutes by default),
/// then the session answers 421 (ServerSession::timeout()) and closes; writes and TLS
/// handshakes have their own timeouts. Connections beyond `max_sessions` get "421 4.3.2" and
/// are closed at once.
///
/// Shutdown (stop()): the listeners close, and every session is told ServerSession::shutdown()
/// (a 421 reply unless the no-421-on-shutdown quirk is set), which is flushed before the
/// connection closes (TLS close_notify included). A session blocked writing to a client that
/// does not read is closed when its write times out, and in any case after `shutdown_grace`.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/error.h"
#include "net/tls.h"
#include "scenario/profile.h"
#include "server/message_store.h"
#include "smtp/server_session.h"

namespace smtp::server {

/// One address to listen on.
struct ListenerConfig {
  std::string address = "127.0.0.1:0";  ///< "HOST:PORT" / "[V6]:PORT"; port 0 = ephemeral
  ListenerKind kind = ListenerKind::plain;
};

/// A listener after start(): what it is bound to.
struct BoundListener {
  ListenerKind kind = ListenerKind::plain;
  asio::ip::tcp::endpoint endpoint;
  /// "127.0.0.1:2525" / "[::1]:2525" (usable as run's --target).
  [[nodiscard]] std::string to_string() const;
};

struct ReferenceServerOptions {
  /// What the server offers and accepts (hostname, extensions, SIZE, domains, mailboxes, AUTH
  /// users, quirks...). ServerSession semantics; see server_session.h.
  ServerProfile profile;
  /// Empty: one plain listener on 127.0.0.1:0.
  std::vector<ListenerConfig> listeners;
  /// Server certificate (PEM). Empty cert_pem and cert_file: a self-signed EC P-256
  /// certificate (CN=localhost, SAN localhost, 127.0.0.1, ::1) is made at start.
  net::CertificatePem certificate;
  std::string cert_file;  ///< PEM chain file (with key_file); takes precedence over PEM text
  std::string key_file;
  /// Listen addresses outside 127.0.0.0/8 and ::1 are refused unless set.
  bool allow_non_loopback = false;
  /// Concurrent sessions; a connection beyond gets "421 4.3.2" and is closed. 0 = no limit.
  std::size_t max_sessions = 1000;
  /// RFC 5321 §4.5.3.2.7: how long a session waits for client input before 421 + close.
  std::chrono::milliseconds idle_timeout{5 * 60 * 1000};
  std::chrono::milliseconds write_timeout{60 * 1000};
  std::chrono::milliseconds tls_handshake_timeout{30 * 1000};
  /// After stop(): sessions still open this long afterwards are closed abortively.
  std::chrono::milliseconds shutdown_grace{10 * 1000};
  /// Read chunk per session (the one input buffer).
  std::size_t read_chunk = 16 * 1024;
  /// Where delivered messages are written (nullopt: memory only).
  std::optional<scenario::StoreLocation> store;
  /// Keep delivered messages in memory for messages() (at most this many, oldest dropped
  /// first; message_count() still counts all). 0 = keep none.
  std::size_t keep_in_memory = 100'000;
  /// Vary the CRAM-MD5 challenge per session (session number + time), as RFC 2195 wants.
  /// false: every session uses profile.cram_md5_nonce (deterministic tests).
  bool vary_cram_md5_nonce = true;
  /// Called on the server's strand for every delivered message (after it is stored).
  std::function<void(const DeliveredMessage&)> on_message;
  /// Human log lines (no newline), e.g. to stderr. Null: quiet.
  std::function<void(std::string_view)> log;
  /// Also log every connection, TLS handshake, AUTH result, client violation and close.
  bool verbose = false;
};

/// The defaults `run` needs for a target profile (scenario/profile.h): the profile's local
/// domain, mailboxes, AUTH user and auth_requires_tls applied to a ServerProfile (see
/// server_profile_from()); one plain and one implicit-TLS listener on 127.0.0.1:0; a
/// self-signed certificate; memory only (unless profile.store); the CRAM-MD5 nonce fixed;
/// quiet.
[[nodiscard]] ReferenceServerOptions embedded_options(const scenario::Profile& profile = {});

/// A ServerProfile that fits a target profile (the "where they apply" mapping of
/// `serve --profile`): local_domains = {local_domain}; existing local parts = alice, bob, the
/// valid mailbox's and the sender's local parts and the AUTH user (invalid_mailbox's local
/// part never: it must get 550); auth_users = {username: password}; auth_requires_tls;
/// max_recipients = max(100, profile.max_recipients) (RFC 5321 §4.5.3.1.8). Other
/// ServerProfile fields keep their defaults. helo, relay_domain, vars and target do not apply
/// (relay_domain is simply not local, so it is refused without AUTH).
[[nodiscard]] ServerProfile server_profile_from(const scenario::Profile& profile);

/// Counters, for logs and tests.
struct ServerStats {
  std::uint64_t sessions_total = 0;      ///< accepted connections (refused ones included)
  std::uint64_t sessions_active = 0;     ///< open now
  std::uint64_t sessions_peak = 0;       ///< most open at once
  std::uint64_t sessions_refused = 0;    ///< over max_sessions (421 4.3.2)
  std::uint64_t sessions_timed_out = 0;  ///< idle timeout fired
  std::uint64_t messages = 0;            ///< delivered (answered 250)
  std::uint64_t store_errors = 0;        ///< messages accepted but not written to the store
  std::uint64_t tls_handshakes = 0;      ///< successful (STARTTLS and implicit)
  std::uint64_t tls_failures = 0;
};

class ReferenceServer {
 public:
  explicit ReferenceServer(ReferenceServerOptions options = {});
  ReferenceServer(const ReferenceServer&) = delete;
  ReferenceServer& operator=(const ReferenceServer&) = delete;
  /// stop() + waits for an own thread. With start(io): the io_context must not run this
  /// server's handlers any more (stop and let io.run() return, or stop the io_context) before
  /// the server is destroyed.
  ~ReferenceServer();

  /// Set up TLS (load or make the certificate), open the store, bind every listener and start
  /// accepting on `io` (which the caller runs). Returns the bound listeners in options order.
  /// Errors (nothing is left listening): net::errc::tls_setup, the listen errors of
  /// net::listen() (bad_address, not_loopback, address in use...), and a store that cannot
  /// be opened (std::errc::io_error, op listen, the reason in the message). Call once.
  [[nodiscard]] net::Result<std::vector<BoundListener>> start(asio::io_context& io);
  /// Same, on an io_context and thread of the server's own (started here, joined by stop()).
  [[nodiscard]] net::Result<std::vector<BoundListener>> start();

  /// Graceful shutdown (see the file comment). Thread-safe, idempotent. With an own thread:
  /// returns when every session is closed and the thread has ended. With start(io): returns
  /// at once; the io_context runs out of this server's work when the last session is closed
  /// (then is_stopped() is true and `on_stopped` has been called).
  void stop();
  /// Abortive: close every connection at once, no 421. Thread-safe.
  void abort();
  /// Called once (on the strand) when stop()/abort() has finished closing everything.
  void set_on_stopped(std::function<void()> on_stopped);
  [[nodiscard]] bool is_stopped() const noexcept { return stopped_.load(); }
  /// Block until stopped or `timeout` passes. True when stopped.
  bool wait_stopped(std::chrono::milliseconds timeout) const;

  /// Bound listeners (empty before start()).
  [[nodiscard]] std::vector<BoundListener> listeners() const;
  /// The first listener of `kind`, if any.
  [[nodiscard]] std::optional<BoundListener> endpoint(
      ListenerKind kind = ListenerKind::plain) const;
  /// The server's certificate (PEM), for a client's TlsClientOptions::ca_pem; empty when it
  /// came from files that could not be read back, or before start().
  [[nodiscard]] std::string certificate_pem() const;
  /// Subject of the server certificate (RFC 2253).
  [[nodiscard]] std::string certificate_subject() const;

  /// Delivered messages kept in memory, in acceptance order (a copy).
  [[nodiscard]] std::vector<DeliveredMessage> messages() const;
  /// Delivered messages since start (all, not only those kept).
  [[nodiscard]] std::uint64_t message_count() const;
  /// Block until message_count() >= n or `timeout` passes. True when reached.
  bool wait_for_messages(std::uint64_t n, std::chrono::milliseconds timeout) const;
  /// Forget the messages kept in memory (message_count() is not reset).
  void clear_messages();
  [[nodiscard]] ServerStats stats() const;

  [[nodiscard]] const ReferenceServerOptions& options() const noexcept { return options_; }

 private:
  class Session;
  friend class Session;
  using Strand = asio::strand<asio::io_context::executor_type>;

  net::Result<std::vector<BoundListener>> start_on(asio::io_context& io);
  asio::awaitable<void> accept_loop(std::size_t index);
  void on_session_end(std::uint64_t id);
  void deliver(DeliveredMessage message);
  void count_tls(bool ok);
  void count_timeout();
  void begin_stop(bool abortive);
  void maybe_finished();
  void log(std::string_view line) const;

  ReferenceServerOptions options_;
  std::unique_ptr<asio::io_context> own_io_;
  std::thread thread_;
  std::optional<Strand> strand_;
  net::ServerTls tls_;
  std::string cert_pem_;
  std::unique_ptr<MessageStore> store_;

  // Strand-only state.
  struct Acceptor;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> sessions_;
  std::unique_ptr<asio::steady_timer> grace_timer_;
  std::uint64_t next_session_ = 0;
  std::uint64_t next_message_ = 0;
  std::size_t accept_loops_ = 0;
  bool stopping_ = false;
  std::function<void()> on_stopped_;

  // Shared state (mutex_).
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<BoundListener> bound_;
  std::vector<DeliveredMessage> messages_;
  std::size_t messages_dropped_ = 0;
  ServerStats stats_;
  bool started_ = false;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace smtp::server
