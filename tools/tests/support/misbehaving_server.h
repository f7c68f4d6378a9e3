/// @file misbehaving_server.h
/// @brief In-process SMTP servers that misbehave, for transport and runner tests.
///
/// Each listens on 127.0.0.1 with an ephemeral port, runs on the test's io_context (same
/// thread as the client under test), and serves every connection with one Misbehaviour until
/// the client goes away or stop() is called. Endless behaviours write as fast as the client
/// reads (back-pressure through the socket), so they never buffer more than one block.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "net/transport.h"

namespace smtp::testing {

enum class Misbehaviour : std::uint8_t {
  never_greet,        ///< accepts, never writes a byte (reads and discards)
  drip,               ///< "220 drip.example ESMTP\r\n", one byte per drip_interval
  endless_multiline,  ///< "220-..." continuation lines forever, never a last line
  long_line,          ///< long_line_bytes of 'x' without CRLF, then silence
  binary_garbage,     ///< endless pseudo-random bytes (NUL, CR, LF, 8-bit included)
  close_mid_reply,    ///< "250-first line\r\n250-second li" then close
  tls_garbage,        ///< reads the ClientHello, answers with text and garbage, not TLS
  starttls_garbage,   ///< greets, offers STARTTLS, answers it with 220, then garbage
  unsolicited_flood,  ///< greets, then "250 2.0.0 unsolicited\r\n" forever
};

struct MisbehaviourOptions {
  std::chrono::milliseconds drip_interval{1000};
  std::size_t long_line_bytes = 10 * 1024 * 1024;
};

class MisbehavingServer {
 public:
  MisbehavingServer(asio::io_context& io, Misbehaviour behaviour, MisbehaviourOptions options = {})
      : state_(std::make_shared<State>(io, behaviour, options)) {
    auto acceptor = net::listen(io.get_executor(), "127.0.0.1:0");
    if (!acceptor) throw std::runtime_error(acceptor.error().message);
    state_->acceptor = std::move(*acceptor);
    port_ = state_->acceptor.local_endpoint().port();
    asio::co_spawn(io, accept_loop(state_), asio::detached);
  }
  MisbehavingServer(const MisbehavingServer&) = delete;
  MisbehavingServer& operator=(const MisbehavingServer&) = delete;
  ~MisbehavingServer() { stop(); }

  /// "127.0.0.1:PORT"
  [[nodiscard]] std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::uint64_t bytes_sent() const noexcept { return state_->bytes_sent; }
  [[nodiscard]] std::size_t connections() const noexcept { return state_->sockets.size(); }

  /// Close the listener and every connection; the serving coroutines end.
  void stop() {
    std::error_code ignored;
    state_->stopped = true;
    state_->acceptor.close(ignored);
    for (auto& socket : state_->sockets) socket->close(ignored);
  }

 private:
  using Socket = asio::ip::tcp::socket;
  static constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

  struct State {
    State(asio::io_context& io, Misbehaviour b, MisbehaviourOptions o)
        : acceptor(io), behaviour(b), options(o) {}
    asio::ip::tcp::acceptor acceptor;
    Misbehaviour behaviour;
    MisbehaviourOptions options;
    std::vector<std::shared_ptr<Socket>> sockets;
    std::uint64_t bytes_sent = 0;
    bool stopped = false;
  };

  static asio::awaitable<void> accept_loop(std::shared_ptr<State> state) {
    for (;;) {
      auto [ec, socket] = co_await state->acceptor.async_accept(use_tuple);
      if (ec || state->stopped) co_return;
      auto shared = std::make_shared<Socket>(std::move(socket));
      state->sockets.push_back(shared);
      asio::co_spawn(state->acceptor.get_executor(), serve(state, shared), asio::detached);
    }
  }

  static asio::awaitable<bool> put(State& state, Socket& socket, std::string_view bytes) {
    auto [ec, n] =
        co_await asio::async_write(socket, asio::buffer(bytes.data(), bytes.size()), use_tuple);
    state.bytes_sent += n;
    co_return !ec;
  }

  /// Read and discard until the peer closes or the server stops.
  static asio::awaitable<void> drain(Socket& socket) {
    std::array<char, 4096> buf{};
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_tuple);
      if (ec) co_return;
    }
  }

  /// Read one CRLF line (bounded), or empty on error.
  static asio::awaitable<std::string> line(Socket& socket, std::string& pending) {
    std::array<char, 1024> buf{};
    for (;;) {
      if (const auto pos = pending.find("\r\n"); pos != std::string::npos) {
        std::string out = pending.substr(0, pos);
        pending.erase(0, pos + 2);
        co_return out;
      }
      if (pending.size() > 4096) co_return std::string{};
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_tuple);
      if (ec) co_return std::string{};
      pending.append(buf.data(), n);
    }
  }

  static std::string garbage_block(std::uint64_t& seed, std::size_t size) {
    std::string out(size, '\0');
    for (auto& c : out) {  // xorshift64: deterministic, all byte values
      seed ^= seed << 13;
      seed ^= seed >> 7;
      seed ^= seed << 17;
      c = static_cast<char>(seed & 0xff);
    }
    return out;
  }

  static std::string repeat_lines(std::string_view line, std::size_t size) {
    std::string out;
    out.reserve(size + line.size());
    while (out.size() < size) out.append(line);
    return out;
  }

  static asio::awaitable<void> serve(std::shared_ptr<State> state, std::shared_ptr<Socket> sock) {
    State& s = *state;
    Socket& socket = *sock;
    switch (s.behaviour) {
      case Misbehaviour::never_greet:
        co_await drain(socket);
        break;
      case Misbehaviour::drip: {
        const std::string greeting = "220 drip.example ESMTP\r\n";
        asio::steady_timer timer(socket.get_executor());
        for (const char c : greeting) {
          timer.expires_after(s.options.drip_interval);
          auto [ec] = co_await timer.async_wait(use_tuple);
          if (ec || s.stopped || !socket.is_open()) co_return;
          if (!co_await put(s, socket, std::string_view(&c, 1))) co_return;
        }
        co_await drain(socket);
        break;
      }
      case Misbehaviour::endless_multiline: {
        const std::string block =
            repeat_lines("220-endless.example this reply never ends, no last line here\r\n", 65536);
        while (co_await put(s, socket, block)) {
        }
        break;
      }
      case Misbehaviour::long_line: {
        const std::string block(65536, 'x');
        for (std::size_t sent = 0; sent < s.options.long_line_bytes; sent += block.size()) {
          const std::size_t n = std::min(block.size(), s.options.long_line_bytes - sent);
          if (!co_await put(s, socket, std::string_view(block).substr(0, n))) co_return;
        }
        co_await drain(socket);
        break;
      }
      case Misbehaviour::binary_garbage: {
        std::uint64_t seed = 0x9e3779b97f4a7c15ULL;
        for (;;) {
          const std::string block = garbage_block(seed, 65536);
          if (!co_await put(s, socket, block)) break;
        }
        break;
      }
      case Misbehaviour::close_mid_reply: {
        if (co_await put(s, socket, "250-first line\r\n250-second li")) {
          std::error_code ignored;
          socket.shutdown(Socket::shutdown_both, ignored);
          socket.close(ignored);
        }
        break;
      }
      case Misbehaviour::tls_garbage: {
        std::array<char, 512> hello{};
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(hello), use_tuple);
        if (ec) co_return;
        std::uint64_t seed = 42;
        const std::string answer = "220 this is not TLS\r\n" + garbage_block(seed, 4096);
        if (!co_await put(s, socket, answer)) co_return;
        co_await drain(socket);
        break;
      }
      case Misbehaviour::starttls_garbage: {
        std::string pending;
        if (!co_await put(s, socket, "220 starttls-garbage.example ESMTP\r\n")) co_return;
        for (;;) {
          const std::string cmd = co_await line(socket, pending);
          if (cmd.empty()) co_return;
          if (cmd.rfind("EHLO", 0) == 0) {
            if (!co_await put(s, socket, "250-starttls-garbage.example\r\n250 STARTTLS\r\n")) {
              co_return;
            }
          } else if (cmd == "STARTTLS") {
            std::uint64_t seed = 7;
            if (!co_await put(s, socket, "220 2.0.0 Ready to start TLS\r\n")) co_return;
            // Wait for the ClientHello, then answer with garbage.
            std::array<char, 512> hello{};
            auto [ec, n] = co_await socket.async_read_some(asio::buffer(hello), use_tuple);
            if (ec) co_return;
            const std::string garbage = garbage_block(seed, 4096);
            if (!co_await put(s, socket, garbage)) co_return;
            co_await drain(socket);
            co_return;
          } else {
            if (!co_await put(s, socket, "502 5.5.2 not here\r\n")) co_return;
          }
        }
      }
      case Misbehaviour::unsolicited_flood: {
        if (!co_await put(s, socket, "220 flood.example ESMTP\r\n")) co_return;
        const std::string block = repeat_lines("250 2.0.0 unsolicited\r\n", 65536);
        while (co_await put(s, socket, block)) {
        }
        break;
      }
    }
  }

  std::shared_ptr<State> state_;
  std::uint16_t port_ = 0;
};

}  // namespace smtp::testing
