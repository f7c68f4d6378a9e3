/// @file runner.h
/// @brief The scenario runner behind `smtp-harness run`: loaded scenarios against a live SMTP
///        server over smtp::net (Asio + OpenSSL), judged by the scenario evaluator and the
///        ServerModel oracle, collected into a compliance report.
///
/// One executor (one io_context, one thread), up to `jobs` scenarios at once, each on its own
/// connection(s), those with the longest planned waits (sleeps, "nothing within" windows)
/// started first; the report lists them in the order given. A scenario's steps run in order (scenarios/README.md): bytes go out through
/// a ClientSession (smtp/client_session.h: reply parsing, matching, byte-exact transcript,
/// STARTTLS hand-off, AUTH with redaction), every raw byte exactly as rendered
/// (scenario/render.h), PipelineMode::always so a step's bytes leave when the step runs.
///
/// Bounds, so that no server can crash or hang a run:
///  - every connect, write and TLS handshake has RunConfig::timeout; every expect waits at
///    most its own timeout (expect.timeout_ms, else the scenario's, else RunConfig::timeout)
///    for the whole reply, however slowly it drips;
///  - input goes through one read buffer per connection (16 KiB) into the ClientSession's
///    ReplyParser, whose RFC 5321 limits (512-octet lines, bounded lines per reply) end a
///    reply that never ends; a malformed reply ends the connection (verdict error);
///  - more than kMaxUnsolicited replies nobody asked for end the connection (a flood);
///  - transcripts keep at most RunConfig::max_transcript octets per connection.
/// A reply that does not come in time, a malformed reply and a failed connect or handshake
/// make the scenario's verdict `error` with the reason; a reply that comes but is wrong makes
/// it `failed` (or non-strict, by level).
///
/// Stopping: request_stop() (e.g. from SIGINT) closes every open connection and cancels every
/// sleep; running scenarios end at once with verdict error ("interrupted"), scenarios not yet
/// started are reported as error ("interrupted before it ran"), and run() returns the report
/// with interrupted = true.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "net/error.h"
#include "net/tls.h"
#include "net/transport.h"
#include "report/report.h"
#include "scenario/model.h"
#include "scenario/profile.h"

namespace smtp::run {

/// Unsolicited replies (nothing was waiting for them) one connection may receive before the
/// runner gives up on it as a flood.
inline constexpr std::size_t kMaxUnsolicited = 100;
/// Findings kept per scenario (more are counted in one last finding).
inline constexpr std::size_t kMaxFindings = 100;

/// Progress after each finished scenario (called on the runner's executor).
struct Progress {
  std::size_t done = 0;
  std::size_t total = 0;
  std::size_t running = 0;
  report::Counts counts;
  std::string last_id;
  report::Verdict last_verdict = report::Verdict::passed;
};

struct RunConfig {
  /// "HOST:PORT" of the server under test, for connections in the run's mode.
  std::string target;
  /// "HOST:PORT" for connect steps that ask for implicit TLS when the run's mode is not
  /// implicit ("" = none: such scenarios are skipped). With mode implicit, `target` is used.
  std::string implicit_target;
  /// "HOST:PORT" for connect steps that ask for a plain connection when the run's mode is
  /// implicit ("" = none: such scenarios are skipped).
  std::string plain_target;
  scenario::TlsMode tls = scenario::TlsMode::none;
  scenario::Profile profile;
  std::size_t jobs = 4;
  /// Per operation (connect, write, TLS handshake) and the default wait for a reply.
  std::chrono::milliseconds timeout{10'000};
  /// Certificate checks for STARTTLS and implicit TLS (--ca, --insecure, SNI).
  net::TlsClientOptions tls_options;
  bool allow_non_loopback = false;
  bool strict = false;
  bool embedded = false;  ///< the target is the embedded reference server (for the report)
  std::size_t max_transcript = 256 * 1024;  ///< octets per connection kept in the report
  /// Called after each scenario finishes. May be empty.
  std::function<void(const Progress&)> on_progress;
  /// Notes on what the target delivered over the given client endpoints ("127.0.0.1:51234"),
  /// one line each (the embedded server knows; empty function = nothing known).
  std::function<std::vector<std::string>(const std::vector<std::string>&)> delivered;
};

class Runner {
 public:
  /// `scenarios` must outlive the runner. Everything runs on `executor`.
  Runner(asio::any_io_executor executor, RunConfig config,
         const std::vector<scenario::Scenario>& scenarios);
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  ~Runner();

  /// Run every scenario (at most config.jobs at once) and return the report. Never throws
  /// for network events; call once.
  [[nodiscard]] asio::awaitable<report::Report> run();

  /// Stop: close every connection, cancel sleeps, start nothing new. Call on the runner's
  /// executor (asio::post it from elsewhere). Idempotent.
  void request_stop();
  [[nodiscard]] bool stopping() const noexcept { return stopping_; }

  /// Open one connection to config.target in the run's mode (TLS handshake for implicit) and
  /// close it again: is the target there at all? Errors: net::Error of connect / handshake.
  [[nodiscard]] asio::awaitable<net::Result<void>> probe();

  [[nodiscard]] const RunConfig& config() const noexcept { return config_; }

 private:
  friend class ScenarioRun;
  asio::awaitable<void> worker();
  void finished(std::size_t index, report::ScenarioResult result);
  net::Result<net::ClientTls>& client_tls();
  void note_tls(const net::TlsInfo& info);

  asio::any_io_executor executor_;
  RunConfig config_;
  const std::vector<scenario::Scenario>& scenarios_;
  std::vector<std::optional<report::ScenarioResult>> results_;  // in scenarios_ order
  std::vector<std::size_t> order_;  // start order: longest planned waits first
  std::size_t next_ = 0;
  std::size_t done_ = 0;
  std::size_t running_ = 0;
  std::size_t workers_ = 0;
  report::Counts counts_;
  bool stopping_ = false;
  std::optional<report::TlsFacts> tls_facts_;
  std::optional<net::Result<net::ClientTls>> client_tls_;
  std::unique_ptr<asio::steady_timer> all_done_;
  // Open connections and pending sleeps, closed / cancelled by request_stop().
  std::set<net::Connection*> connections_;
  std::set<asio::steady_timer*> timers_;
};

}  // namespace smtp::run
