// Connection: TCP, implicit TLS and STARTTLS upgrade over one socket, every operation timed.
#include "net/transport.h"

#include <utility>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/ssl/error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace smtp::net {

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

/// A timer racing one operation. On expiry (while armed) it runs `on_expiry`, which cancels
/// the operation; the coroutine then sees fired(). Disarmed when it goes out of scope, so a
/// late expiry handler never touches a finished operation or a destroyed Connection.
class Watchdog {
 public:
  template <class F>
  Watchdog(const asio::any_io_executor& executor, Millis timeout, F on_expiry)
      : state_(std::make_shared<State>()), timer_(executor, timeout) {
    timer_.async_wait([state = state_, f = std::move(on_expiry)](std::error_code ec) mutable {
      if (ec || !state->armed) return;
      state->fired = true;
      f();
    });
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() { disarm(); }

  void disarm() noexcept {
    state_->armed = false;
    timer_.cancel();
  }
  [[nodiscard]] bool fired() const noexcept { return state_->fired; }

 private:
  struct State {
    bool armed = true;
    bool fired = false;
  };
  std::shared_ptr<State> state_;
  asio::steady_timer timer_;
};

std::string ms_text(Millis t) { return std::to_string(t.count()) + " ms"; }

bool is_peer_close(const std::error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

}  // namespace

Connection::Connection(const executor_type& executor, ConnectionOptions options)
    : options_(options),
      socket_(executor),
      read_buffer_(options.read_chunk == 0 ? 1 : options.read_chunk) {}

Connection::Connection(asio::ip::tcp::socket socket, ConnectionOptions options)
    : options_(options),
      socket_(std::move(socket)),
      read_buffer_(options.read_chunk == 0 ? 1 : options.read_chunk) {
  std::error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  if (!ec) peer_ = to_string(remote);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

Connection::~Connection() { close(); }

std::string Connection::where(std::string_view what, Millis timeout) const {
  std::string out = peer_.empty() ? std::string{} : peer_ + ": ";
  out += "timeout after " + ms_text(timeout) + " during " + std::string(what);
  return out;
}

asio::awaitable<Result<void>> Connection::connect(std::string_view target) {
  auto parsed = parse_target(target);
  if (!parsed) co_return tl::make_unexpected(std::move(parsed.error()));
  co_return co_await connect(*parsed);
}

asio::awaitable<Result<void>> Connection::connect(const Target& target) {
  auto endpoints = resolve(target, ResolveOptions{options_.allow_non_loopback});
  if (!endpoints) co_return tl::make_unexpected(std::move(endpoints.error()));
  target_host_ = target.host;
  peer_ = target.to_string();
  Error last{make_error_code(errc::not_connected), Op::connect, "no address to connect to", {}};
  for (const auto& endpoint : *endpoints) {
    std::error_code ignored;
    socket_.close(ignored);
    const std::string name = to_string(endpoint);
    const Millis timeout = options_.timeouts.connect;
    Watchdog dog(socket_.get_executor(), timeout, [this] {
      std::error_code e;
      socket_.close(e);
    });
    auto [ec] = co_await socket_.async_connect(endpoint, use_tuple);
    dog.disarm();
    if (dog.fired()) {
      socket_.close(ignored);
      last = Error{make_error_code(errc::timeout), Op::connect,
                   "connect to " + name + ": timeout after " + ms_text(timeout), ec};
      continue;
    }
    if (ec) {
      socket_.close(ignored);
      last = Error{ec, Op::connect, "connect to " + name + " failed: " + ec.message(), {}};
      continue;
    }
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    peer_ = name;
    peer_closed_ = false;
    co_return Result<void>{};
  }
  co_return tl::make_unexpected(std::move(last));
}

asio::awaitable<Result<void>> Connection::start_tls_client(const ClientTls& tls,
                                                           std::string_view already_read) {
  if (!is_open()) {
    co_return fail(errc::not_connected, Op::tls_handshake, "TLS handshake: not connected");
  }
  if (tls_) co_return fail(errc::already_tls, Op::tls_handshake, peer_ + ": already using TLS");
  if (!tls.context) co_return fail(errc::tls_setup, Op::tls_handshake, "no TLS client context");
  tls_context_ = tls.context;
  tls_ = std::make_unique<asio::ssl::stream<detail::ReplaySocket>>(
      detail::ReplaySocket(socket_, std::string(already_read)), *tls_context_);
  const std::string& host =
      tls.options.server_name.empty() ? target_host_ : tls.options.server_name;
  if (!detail::prepare_client_ssl(tls_->native_handle(), host, tls_info_)) {
    close();
    co_return fail(errc::tls_setup, Op::tls_handshake,
                   "cannot set TLS server name \"" + host + "\": " + openssl_error_text());
  }
  co_return co_await handshake(true, already_read);
}

asio::awaitable<Result<void>> Connection::start_tls_server(const ServerTls& tls,
                                                           std::string_view already_read) {
  if (!is_open()) {
    co_return fail(errc::not_connected, Op::tls_handshake, "TLS handshake: not connected");
  }
  if (tls_) co_return fail(errc::already_tls, Op::tls_handshake, peer_ + ": already using TLS");
  if (!tls.context) co_return fail(errc::tls_setup, Op::tls_handshake, "no TLS server context");
  tls_context_ = tls.context;
  tls_ = std::make_unique<asio::ssl::stream<detail::ReplaySocket>>(
      detail::ReplaySocket(socket_, std::string(already_read)), *tls_context_);
  co_return co_await handshake(false, already_read);
}

asio::awaitable<Result<void>> Connection::handshake(bool client, std::string_view already_read) {
  replayed_into_tls_ += already_read.size();
  const Millis timeout = options_.timeouts.tls_handshake;
  Watchdog dog(socket_.get_executor(), timeout, [this] {
    std::error_code e;
    socket_.close(e);
  });
  auto [ec] = co_await tls_->async_handshake(
      client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server, use_tuple);
  dog.disarm();
  detail::fill_tls_info(tls_->native_handle(), client, tls_info_);
  if (dog.fired()) {
    close();
    co_return fail(errc::timeout, Op::tls_handshake, where("TLS handshake", timeout), ec);
  }
  if (ec) {
    close();
    const std::string prefix = "TLS handshake with " + peer_;
    if (is_peer_close(ec)) {
      co_return fail(errc::closed, Op::tls_handshake,
                     prefix + " failed: the peer closed the connection", ec);
    }
    std::string message = prefix + " failed: " + ec.message();
    if (client && !tls_info_.verify_error.empty()) {
      message += " (certificate: " + tls_info_.verify_error + ")";
    }
    co_return fail(errc::tls_handshake, Op::tls_handshake, std::move(message), ec);
  }
  co_return Result<void>{};
}

asio::awaitable<Result<std::string_view>> Connection::read_some() {
  co_return co_await read_some(options_.timeouts.read);
}

asio::awaitable<Result<std::string_view>> Connection::read_some(Millis timeout) {
  if (!is_open()) {
    co_return fail(errc::not_connected, Op::read, peer_ + ": read: not connected");
  }
  Watchdog dog(socket_.get_executor(), timeout,
               [this] { read_cancel_.emit(asio::cancellation_type::all); });
  auto buffer = asio::buffer(read_buffer_);
  auto token = asio::bind_cancellation_slot(read_cancel_.slot(), use_tuple);
  std::error_code ec;
  std::size_t n = 0;
  if (tls_) {
    std::tie(ec, n) = co_await tls_->async_read_some(buffer, token);
  } else {
    std::tie(ec, n) = co_await socket_.async_read_some(buffer, token);
  }
  dog.disarm();
  read_cancel_.slot().clear();
  bytes_read_ += n;
  if (n > 0) co_return std::string_view(read_buffer_.data(), n);
  if (!ec) co_return std::string_view{};
  if (dog.fired() && ec == asio::error::operation_aborted) {
    co_return fail(errc::timeout, Op::read, where("read", timeout));
  }
  if (is_peer_close(ec)) {
    peer_closed_ = true;
    std::string message = peer_ + ": connection closed by peer";
    if (ec == asio::ssl::error::stream_truncated) message += " (without TLS close_notify)";
    co_return fail(errc::closed, Op::read, std::move(message), ec);
  }
  if (ec == asio::error::operation_aborted || !is_open()) {
    co_return fail(errc::not_connected, Op::read, peer_ + ": read aborted (connection closed)", ec);
  }
  co_return fail(ec, Op::read, peer_ + ": read failed: " + ec.message());
}

asio::awaitable<Result<void>> Connection::write(std::string_view bytes) {
  co_return co_await write(bytes, options_.timeouts.write);
}

asio::awaitable<Result<void>> Connection::write(std::string_view bytes, Millis timeout) {
  if (!is_open()) {
    co_return fail(errc::not_connected, Op::write, peer_ + ": write: not connected");
  }
  Watchdog dog(socket_.get_executor(), timeout, [this] {
    std::error_code e;
    socket_.close(e);
  });
  const auto buffer = asio::buffer(bytes.data(), bytes.size());
  std::error_code ec;
  std::size_t n = 0;
  if (tls_) {
    std::tie(ec, n) = co_await asio::async_write(*tls_, buffer, use_tuple);
  } else {
    std::tie(ec, n) = co_await asio::async_write(socket_, buffer, use_tuple);
  }
  dog.disarm();
  bytes_written_ += n;
  if (dog.fired()) {
    close();
    co_return fail(errc::timeout, Op::write,
                   where("write", timeout) + " (" + std::to_string(n) + " of " +
                       std::to_string(bytes.size()) + " bytes written)",
                   ec);
  }
  if (ec) {
    if (ec == asio::error::operation_aborted || !is_open()) {
      co_return fail(errc::not_connected, Op::write, peer_ + ": write aborted (connection closed)",
                     ec);
    }
    co_return fail(ec, Op::write, peer_ + ": write failed: " + ec.message());
  }
  co_return Result<void>{};
}

asio::awaitable<void> Connection::shutdown() {
  if (!is_open()) co_return;
  if (tls_) {
    Watchdog dog(socket_.get_executor(), options_.timeouts.shutdown, [this] {
      std::error_code e;
      socket_.close(e);
    });
    (void)co_await tls_->async_shutdown(use_tuple);
  }
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  close();
}

void Connection::close() noexcept {
  std::error_code ignored;
  socket_.close(ignored);
}

Result<asio::ip::tcp::acceptor> listen(const asio::any_io_executor& executor,
                                       std::string_view address, ListenOptions options) {
  auto target = parse_target(address, /*allow_port_zero=*/true);
  if (!target) {
    target.error().op = Op::listen;
    return tl::make_unexpected(std::move(target.error()));
  }
  auto endpoints = resolve(*target, ResolveOptions{options.allow_non_loopback});
  if (!endpoints) {
    endpoints.error().op = Op::listen;
    return tl::make_unexpected(std::move(endpoints.error()));
  }
  const auto endpoint = endpoints->front();
  asio::ip::tcp::acceptor acceptor(executor);
  std::error_code ec;
  const auto fail_with = [&](const char* what) {
    return fail(ec, Op::listen,
                std::string(what) + " " + to_string(endpoint) + " failed: " + ec.message());
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail_with("open");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail_with("open");
  if (endpoint.address().is_v6()) {
    acceptor.set_option(asio::ip::v6_only(true), ec);
    if (ec) return fail_with("open");
  }
  acceptor.bind(endpoint, ec);
  if (ec) return fail_with("bind");
  acceptor.listen(options.backlog, ec);
  if (ec) return fail_with("listen on");
  return acceptor;
}

asio::awaitable<Result<std::unique_ptr<Connection>>> accept(asio::ip::tcp::acceptor& acceptor,
                                                            ConnectionOptions options) {
  auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
  if (ec) co_return fail(ec, Op::accept, "accept failed: " + ec.message());
  co_return std::make_unique<Connection>(std::move(socket), options);
}

}  // namespace smtp::net
