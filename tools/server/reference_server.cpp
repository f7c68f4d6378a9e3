// ReferenceServer: ServerSession driven by Asio coroutines, one per connection, on one strand.
#include "server/reference_server.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <exception>
#include <fstream>
#include <sstream>
#include <utility>
#include <variant>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "net/address.h"
#include "net/transport.h"

namespace smtp::server {

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms.count()));
  return out + frac;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// local part and domain of "local@domain" (split at the last '@').
std::pair<std::string, std::string> split_mailbox(std::string_view mailbox) {
  const auto at = mailbox.rfind('@');
  if (at == std::string_view::npos) return {std::string(mailbox), {}};
  return {std::string(mailbox.substr(0, at)), std::string(mailbox.substr(at + 1))};
}

void add_unique_ci(std::vector<std::string>& list, const std::string& value) {
  if (value.empty()) return;
  const std::string v = lower(value);
  for (const std::string& s : list) {
    if (lower(s) == v) return;
  }
  list.push_back(value);
}

tl::unexpected<net::Error> server_error(net::Op op, std::string message) {
  return net::fail(std::make_error_code(std::errc::io_error), op, std::move(message));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Options helpers
// ---------------------------------------------------------------------------------------------

std::string BoundListener::to_string() const { return net::to_string(endpoint); }

ServerProfile server_profile_from(const scenario::Profile& profile) {
  ServerProfile p;
  p.local_domains.clear();
  add_unique_ci(p.local_domains, profile.local_domain);
  const auto [valid_local, valid_domain] = split_mailbox(profile.valid_mailbox);
  const auto [invalid_local, invalid_domain] = split_mailbox(profile.invalid_mailbox);
  add_unique_ci(p.local_domains, valid_domain);
  add_unique_ci(p.local_domains, invalid_domain);
  p.users = {"alice", "bob"};
  add_unique_ci(p.users, valid_local);
  add_unique_ci(p.users, profile.username);
  const std::string bad = lower(invalid_local);
  std::erase_if(p.users, [&](const std::string& u) { return lower(u) == bad; });
  if (p.users.empty()) p.users.push_back("postmaster");  // empty would mean "all exist"
  p.auth_users = {AuthUser{profile.username, profile.password}};
  p.auth_requires_tls = profile.auth_requires_tls;
  p.max_recipients = std::max<std::size_t>(100, profile.max_recipients);
  return p;
}

ReferenceServerOptions embedded_options(const scenario::Profile& profile) {
  ReferenceServerOptions o;
  o.profile = server_profile_from(profile);
  o.listeners = {ListenerConfig{"127.0.0.1:0", ListenerKind::plain},
                 ListenerConfig{"127.0.0.1:0", ListenerKind::implicit_tls}};
  o.store = profile.store;
  o.vary_cram_md5_nonce = false;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------------------------

struct ReferenceServer::Acceptor {
  asio::ip::tcp::acceptor acceptor;
  ListenerKind kind;
  std::string local;  // "127.0.0.1:2525"
};

class ReferenceServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ReferenceServer& server, std::uint64_t id, std::unique_ptr<net::Connection> connection,
          ListenerKind kind, std::string local, ServerProfile profile)
      : server_(server),
        id_(id),
        connection_(std::move(connection)),
        kind_(kind),
        local_(std::move(local)),
        session_(std::move(profile),
                 ServerOptions{kind == ListenerKind::implicit_tls, /*exchange_events=*/false}) {}

  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

  asio::awaitable<void> run();

  /// stop(): finish with 421. Wakes the session if it waits for input or a handshake.
  void request_stop() {
    if (stop_) return;
    stop_ = true;
    if (wait_ == Wait::read || wait_ == Wait::handshake) {
      std::error_code ignored;
      connection_->socket().cancel(ignored);
    }
  }

  /// Close at once (grace period over, or abort()).
  void abort() {
    aborted_ = true;
    connection_->close();
  }

 private:
  enum class Wait : std::uint8_t { none, read, write, handshake };

  void drain_events();
  void log(const std::string& what) const {
    server_.log("session " + std::to_string(id_) + " " + connection_->peer() + ": " + what);
  }
  [[nodiscard]] bool verbose() const noexcept { return server_.options_.verbose; }

  ReferenceServer& server_;
  std::uint64_t id_;
  std::unique_ptr<net::Connection> connection_;
  ListenerKind kind_;
  std::string local_;
  ServerSession session_;
  Wait wait_ = Wait::none;
  bool stop_ = false;
  bool aborted_ = false;
  bool shutdown_sent_ = false;
  bool tls_wanted_ = false;
};

void ReferenceServer::Session::drain_events() {
  while (auto event = session_.next_event()) {
    std::visit(Overloaded{
                   [&](MessageReceived& m) {
                     DeliveredMessage d;
                     d.session = id_;
                     d.client = connection_->peer();
                     d.listener = local_;
                     d.listener_kind = kind_;
                     d.envelope = std::move(m.envelope);
                     if (connection_->transport() == net::Transport::tls) {
                       d.tls_version = connection_->tls_info().version;
                       d.tls_cipher = connection_->tls_info().cipher;
                     }
                     d.bdat = m.bdat;
                     d.ended_by = m.ended_by;
                     d.data = std::move(m.data);
                     server_.deliver(std::move(d));
                   },
                   [&](TlsWanted&) { tls_wanted_ = true; },
                   [&](AuthResult& a) {
                     if (verbose()) {
                       log("AUTH " + a.mechanism + " " + a.username +
                           (a.success ? " succeeded" : " failed"));
                     }
                   },
                   [&](Violation& v) {
                     if (verbose()) {
                       log("client violation at offset " + std::to_string(v.offset) + " (" +
                           std::string(v.rfc) + "): " + v.text);
                     }
                   },
                   [&](Closed& c) {
                     if (verbose()) log("closing: " + c.reason);
                   },
                   [&](Exchange&) {},
               },
               *event);
  }
}

asio::awaitable<void> ReferenceServer::Session::run() {
  const ReferenceServerOptions& opt = server_.options_;
  if (verbose()) log(std::string("connected (") + to_string(kind_) + " listener " + local_ + ")");
  if (kind_ == ListenerKind::implicit_tls && !stop_) {
    wait_ = Wait::handshake;
    auto hs = co_await connection_->start_tls_server(server_.tls_);
    wait_ = Wait::none;
    server_.count_tls(hs.has_value());
    if (!hs) {
      if (verbose()) log(hs.error().message);
      co_return;
    }
    if (verbose()) log("TLS " + connection_->tls_info().version + " established");
  }
  for (;;) {
    if (aborted_) break;
    drain_events();
    if (stop_ && !shutdown_sent_ && !session_.closed()) {
      shutdown_sent_ = true;
      session_.shutdown();
      drain_events();
    }
    if (session_.wants_write()) {
      const std::string_view out = session_.pending_output();
      wait_ = Wait::write;
      auto written = co_await connection_->write(out, opt.write_timeout);
      wait_ = Wait::none;
      if (!written) {
        if (verbose() && !aborted_) log(written.error().message);
        break;
      }
      session_.consume_output(out.size());
      continue;
    }
    if (session_.closed() || shutdown_sent_) break;
    if (tls_wanted_) {
      tls_wanted_ = false;
      if (stop_) break;
      wait_ = Wait::handshake;
      auto hs = co_await connection_->start_tls_server(server_.tls_);
      wait_ = Wait::none;
      server_.count_tls(hs.has_value());
      if (!hs) {
        if (verbose() && !aborted_) log(hs.error().message);
        break;
      }
      if (verbose()) log("STARTTLS: " + connection_->tls_info().version + " established");
      session_.tls_established();
      continue;
    }
    if (stop_) continue;  // the next iteration sends the 421
    wait_ = Wait::read;
    auto input = co_await connection_->read_some(opt.idle_timeout);
    wait_ = Wait::none;
    if (stop_ || aborted_) continue;  // input after stop() is dropped; 421 next
    if (!input) {
      if (input.error().is(net::errc::timeout)) {
        server_.count_timeout();
        if (verbose()) log("idle timeout");
        session_.timeout();
        continue;
      }
      if (input.error().is(net::errc::closed)) {
        session_.receive_eof();
        continue;
      }
      if (verbose()) log(input.error().message);
      break;
    }
    session_.receive(*input);
  }
  if (aborted_) {
    connection_->close();
  } else {
    co_await connection_->shutdown();
  }
  if (verbose()) log("closed");
}

// ---------------------------------------------------------------------------------------------
// ReferenceServer
// ---------------------------------------------------------------------------------------------

ReferenceServer::ReferenceServer(ReferenceServerOptions options) : options_(std::move(options)) {}

ReferenceServer::~ReferenceServer() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void ReferenceServer::log(std::string_view line) const {
  if (options_.log) options_.log(line);
}

void ReferenceServer::count_tls(bool ok) {
  std::lock_guard lock(mutex_);
  ++(ok ? stats_.tls_handshakes : stats_.tls_failures);
}

void ReferenceServer::count_timeout() {
  std::lock_guard lock(mutex_);
  ++stats_.sessions_timed_out;
}

net::Result<std::vector<BoundListener>> ReferenceServer::start() {
  {
    std::lock_guard lock(mutex_);
    if (started_) return server_error(net::Op::listen, "the server was already started");
  }
  own_io_ = std::make_unique<asio::io_context>(1);
  auto bound = start_on(*own_io_);
  if (!bound) return bound;
  thread_ = std::thread([this, io = own_io_.get()] {
    // A throwing on_message/log callback must not terminate the process: log and go on.
    for (;;) {
      try {
        io->run();
        return;
      } catch (const std::exception& e) {
        log(std::string("reference server: exception in a handler: ") + e.what());
      } catch (...) {
        log("reference server: unknown exception in a handler");
      }
    }
  });
  return bound;
}

net::Result<std::vector<BoundListener>> ReferenceServer::start(asio::io_context& io) {
  {
    std::lock_guard lock(mutex_);
    if (started_) return server_error(net::Op::listen, "the server was already started");
  }
  return start_on(io);
}

net::Result<std::vector<BoundListener>> ReferenceServer::start_on(asio::io_context& io) {
  // TLS: files, PEM text, or a self-signed certificate made now.
  if (!options_.cert_file.empty() || !options_.key_file.empty()) {
    auto tls = net::make_server_tls_from_files(options_.cert_file, options_.key_file);
    if (!tls) return tl::make_unexpected(std::move(tls.error()));
    tls_ = std::move(*tls);
    std::ifstream in(options_.cert_file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    cert_pem_ = text.str();
  } else {
    net::CertificatePem pem = options_.certificate;
    if (pem.cert_pem.empty()) {
      auto made = net::make_self_signed();
      if (!made) return tl::make_unexpected(std::move(made.error()));
      pem = std::move(*made);
    }
    auto tls = net::make_server_tls(pem);
    if (!tls) return tl::make_unexpected(std::move(tls.error()));
    tls_ = std::move(*tls);
    cert_pem_ = pem.cert_pem;
  }

  if (options_.store) {
    auto store = MessageStore::open(*options_.store);
    if (!store) return server_error(net::Op::listen, "message store: " + store.error());
    store_ = std::move(*store);
  }

  strand_.emplace(asio::make_strand(io));
  std::vector<ListenerConfig> configs = options_.listeners;
  if (configs.empty()) configs.push_back(ListenerConfig{});
  std::vector<std::unique_ptr<Acceptor>> acceptors;
  std::vector<BoundListener> bound;
  for (const ListenerConfig& config : configs) {
    net::ListenOptions lo;
    lo.allow_non_loopback = options_.allow_non_loopback;
    auto acceptor = net::listen(*strand_, config.address, lo);
    if (!acceptor) return tl::make_unexpected(std::move(acceptor.error()));
    std::error_code ec;
    const auto endpoint = acceptor->local_endpoint(ec);
    if (ec) {
      return net::fail(ec, net::Op::listen, "cannot read the bound address of " + config.address);
    }
    bound.push_back(BoundListener{config.kind, endpoint});
    acceptors.push_back(std::make_unique<Acceptor>(
        Acceptor{std::move(*acceptor), config.kind, net::to_string(endpoint)}));
  }
  acceptors_ = std::move(acceptors);
  {
    std::lock_guard lock(mutex_);
    started_ = true;
    bound_ = bound;
  }
  // A stop() that raced ahead of start() is honoured by the accept loops.
  accept_loops_ = acceptors_.size();
  for (std::size_t i = 0; i < acceptors_.size(); ++i) {
    asio::co_spawn(*strand_, accept_loop(i), [this](std::exception_ptr e) {
      if (e) log("accept loop ended by an exception");
      --accept_loops_;
      maybe_finished();
    });
  }
  if (stop_requested_.load()) asio::post(*strand_, [this] { begin_stop(false); });
  return bound;
}

namespace {

asio::awaitable<void> refuse(std::unique_ptr<net::Connection> connection, std::string reply) {
  (void)co_await connection->write(reply, std::chrono::milliseconds(5000));
  co_await connection->shutdown();
}

}  // namespace

asio::awaitable<void> ReferenceServer::accept_loop(std::size_t index) {
  Acceptor& a = *acceptors_[index];
  net::ConnectionOptions copt;
  copt.read_chunk = options_.read_chunk == 0 ? 16 * 1024 : options_.read_chunk;
  copt.allow_non_loopback = options_.allow_non_loopback;
  copt.timeouts.read = options_.idle_timeout;
  copt.timeouts.write = options_.write_timeout;
  copt.timeouts.tls_handshake = options_.tls_handshake_timeout;
  while (!stopping_) {
    auto accepted = co_await net::accept(a.acceptor, copt);
    if (stopping_) {
      if (accepted) (*accepted)->close();
      break;
    }
    if (!accepted) {
      if (accepted.error().code == asio::error::operation_aborted || !a.acceptor.is_open()) break;
      // Transient (e.g. EMFILE): pause briefly instead of spinning.
      log("accept on " + a.local + ": " + accepted.error().message);
      asio::steady_timer pause(*strand_, std::chrono::milliseconds(100));
      (void)co_await pause.async_wait(use_tuple);
      continue;
    }
    std::unique_ptr<net::Connection> connection = std::move(*accepted);
    const std::uint64_t id = ++next_session_;
    bool refused = false;
    {
      std::lock_guard lock(mutex_);
      ++stats_.sessions_total;
      if (options_.max_sessions != 0 && sessions_.size() >= options_.max_sessions) {
        refused = true;
        ++stats_.sessions_refused;
      } else {
        ++stats_.sessions_active;
        stats_.sessions_peak = std::max(stats_.sessions_peak, stats_.sessions_active);
      }
    }
    if (refused) {
      if (options_.verbose) log("refusing " + connection->peer() + ": too many sessions");
      // Implicit TLS: the client expects a handshake, not text; just close.
      if (a.kind == ListenerKind::implicit_tls) {
        connection->close();
      } else {
        asio::co_spawn(*strand_,
                       refuse(std::move(connection), "421 4.3.2 " + options_.profile.hostname +
                                                         " Too many sessions, try again later\r\n"),
                       asio::detached);
      }
      continue;
    }
    ServerProfile profile = options_.profile;
    if (options_.vary_cram_md5_nonce) {
      const auto ns = std::chrono::steady_clock::now().time_since_epoch().count();
      profile.cram_md5_nonce = std::to_string(id) + "." +
                               std::to_string(static_cast<std::uint64_t>(ns) % 10'000'000'000u);
    }
    auto session = std::make_shared<Session>(*this, id, std::move(connection), a.kind, a.local,
                                             std::move(profile));
    sessions_.emplace(id, session);
    asio::co_spawn(*strand_, session->run(), [this, session](std::exception_ptr e) {
      if (e) log("session " + std::to_string(session->id()) + " ended by an exception");
      on_session_end(session->id());
    });
  }
}

void ReferenceServer::on_session_end(std::uint64_t id) {
  sessions_.erase(id);
  {
    std::lock_guard lock(mutex_);
    if (stats_.sessions_active > 0) --stats_.sessions_active;
  }
  changed_.notify_all();
  maybe_finished();
}

void ReferenceServer::deliver(DeliveredMessage message) {
  message.received_at = now_rfc3339();
  message.id = ++next_message_;
  if (store_) {
    auto where = store_->store(message);
    if (!where) {
      {
        std::lock_guard lock(mutex_);
        ++stats_.store_errors;
      }
      log("message " + std::to_string(message.id) + " accepted but not stored: " + where.error());
    }
  }
  if (options_.verbose) {
    log("session " + std::to_string(message.session) + ": message " + std::to_string(message.id) +
        " delivered (" + std::to_string(message.data.size()) + " bytes, " +
        std::to_string(message.envelope.recipients.size()) + " recipients)");
  }
  if (options_.on_message) options_.on_message(message);
  {
    std::lock_guard lock(mutex_);
    ++stats_.messages;
    if (options_.keep_in_memory != 0) {
      if (messages_.size() >= options_.keep_in_memory) {
        messages_.erase(messages_.begin());
        ++messages_dropped_;
      }
      messages_.push_back(std::move(message));
    }
  }
  changed_.notify_all();
}

void ReferenceServer::stop() {
  stop_requested_.store(true);
  asio::io_context* own = own_io_.get();
  bool started = false;
  {
    std::lock_guard lock(mutex_);
    started = started_;
  }
  if (!started || !strand_) return;
  asio::dispatch(*strand_, [this] { begin_stop(false); });
  if (own != nullptr && thread_.joinable() && std::this_thread::get_id() != thread_.get_id()) {
    thread_.join();
  }
}

void ReferenceServer::abort() {
  stop_requested_.store(true);
  bool started = false;
  {
    std::lock_guard lock(mutex_);
    started = started_;
  }
  if (!started || !strand_) return;
  asio::dispatch(*strand_, [this] { begin_stop(true); });
  if (own_io_ && thread_.joinable() && std::this_thread::get_id() != thread_.get_id()) {
    thread_.join();
  }
}

void ReferenceServer::set_on_stopped(std::function<void()> on_stopped) {
  on_stopped_ = std::move(on_stopped);
}

void ReferenceServer::begin_stop(bool abortive) {
  if (!stopping_) {
    stopping_ = true;
    for (auto& a : acceptors_) {
      std::error_code ignored;
      a->acceptor.close(ignored);
    }
    for (auto& [id, session] : sessions_) session->request_stop();
    if (!sessions_.empty() && options_.shutdown_grace.count() > 0) {
      grace_timer_ = std::make_unique<asio::steady_timer>(*strand_, options_.shutdown_grace);
      grace_timer_->async_wait([this](std::error_code ec) {
        if (ec) return;
        if (!sessions_.empty()) {
          log(std::to_string(sessions_.size()) +
              " session(s) still open after the shutdown grace period: closing them");
        }
        for (auto& [id, session] : sessions_) session->abort();
      });
    }
  }
  if (abortive) {
    for (auto& [id, session] : sessions_) session->abort();
  }
  maybe_finished();
}

void ReferenceServer::maybe_finished() {
  if (!stopping_ || !sessions_.empty() || accept_loops_ != 0 || stopped_.load()) return;
  if (grace_timer_) grace_timer_->cancel();
  {
    std::lock_guard lock(mutex_);
    stopped_.store(true);
  }
  changed_.notify_all();
  if (on_stopped_) on_stopped_();
}

bool ReferenceServer::wait_stopped(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return stopped_.load(); });
}

std::vector<BoundListener> ReferenceServer::listeners() const {
  std::lock_guard lock(mutex_);
  return bound_;
}

std::optional<BoundListener> ReferenceServer::endpoint(ListenerKind kind) const {
  std::lock_guard lock(mutex_);
  for (const BoundListener& b : bound_) {
    if (b.kind == kind) return b;
  }
  return std::nullopt;
}

std::string ReferenceServer::certificate_pem() const { return cert_pem_; }

std::string ReferenceServer::certificate_subject() const { return tls_.cert_subject; }

std::vector<DeliveredMessage> ReferenceServer::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

std::uint64_t ReferenceServer::message_count() const {
  std::lock_guard lock(mutex_);
  return stats_.messages;
}

bool ReferenceServer::wait_for_messages(std::uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return stats_.messages >= n; });
}

void ReferenceServer::clear_messages() {
  std::lock_guard lock(mutex_);
  messages_.clear();
}

ServerStats ReferenceServer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace smtp::server
