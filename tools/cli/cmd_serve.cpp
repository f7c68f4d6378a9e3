// `smtp-harness serve`: the reference SMTP server as a process (see cmd_serve.h).
#include "cli/cmd_serve.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "net/address.h"
#include "report/write.h"
#include "scenario/load.h"

namespace smtp::cli {

namespace {

void print_err(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  if (text.empty() || text.back() != '\n') std::fputc('\n', stderr);
  std::fflush(stderr);
}

tl::unexpected<ServeError> usage(std::string message) {
  return tl::make_unexpected(ServeError{kExitUsage, std::move(message)});
}

}  // namespace

std::string quirk_list_text() {
  std::size_t width = 0;
  for (const QuirkInfo& q : all_quirks()) width = std::max(width, q.name.size());
  std::string out;
  for (const QuirkInfo& q : all_quirks()) {
    out += q.name;
    out.append(width + 2 - q.name.size(), ' ');
    out += q.description;
    out += '\n';
  }
  return out;
}

tl::expected<server::ReferenceServerOptions, ServeError> make_server_options(
    const ServeOptions& o) {
  using server::ListenerConfig;
  using server::ListenerKind;
  scenario::Profile target;
  if (!o.profile.empty()) {
    auto loaded = scenario::load_profile(o.profile);
    if (!loaded) {
      std::string text;
      for (const auto& e : loaded.error()) text += e.to_string() + "\n";
      return usage(text);
    }
    target = std::move(*loaded);
  }
  server::ReferenceServerOptions s;
  s.profile = server::server_profile_from(target);
  s.store = target.store;
  s.allow_non_loopback = o.allow_non_loopback;

  for (const std::string& a : o.listen)
    s.listeners.push_back(ListenerConfig{a, ListenerKind::plain});
  for (const std::string& a : o.implicit_tls_listen) {
    s.listeners.push_back(ListenerConfig{a, ListenerKind::implicit_tls});
  }
  if (s.listeners.empty() && target.target.port) {
    const std::string host = target.target.host.empty() ? "127.0.0.1" : target.target.host;
    const bool v6 = host.find(':') != std::string::npos;
    const std::string address =
        (v6 ? "[" + host + "]" : host) + ":" + std::to_string(*target.target.port);
    const bool implicit = target.target.tls && *target.target.tls == scenario::TlsMode::implicit;
    s.listeners.push_back(
        ListenerConfig{address, implicit ? ListenerKind::implicit_tls : ListenerKind::plain});
  }
  if (s.listeners.empty()) s.listeners.push_back(ListenerConfig{"127.0.0.1:2525"});
  for (const ListenerConfig& l : s.listeners) {
    // Check the address and the loopback policy now: a usage error, not a run-time failure.
    auto parsed = net::parse_target(l.address, /*allow_port_zero=*/true);
    if (!parsed) return usage("--listen " + l.address + ": " + parsed.error().message);
    auto resolved = net::resolve(*parsed, net::ResolveOptions{o.allow_non_loopback});
    if (!resolved) {
      std::string text = "cannot listen on " + l.address + ": " + resolved.error().message;
      if (resolved.error().is(net::errc::not_loopback)) {
        text += " (pass --allow-non-loopback to listen there)";
      }
      return usage(text);
    }
  }

  if (o.cert.empty() != o.key.empty()) return usage("--cert and --key go together");
  s.cert_file = o.cert;
  s.key_file = o.key;

  if (!o.hostname.empty()) s.profile.hostname = o.hostname;
  if (!o.users.empty()) {
    s.profile.auth_users.clear();
    for (const std::string& u : o.users) {
      const auto colon = u.find(':');
      if (colon == std::string::npos || colon == 0) {
        return usage("--user " + u + ": expected NAME:PASSWORD");
      }
      s.profile.auth_users.push_back(AuthUser{u.substr(0, colon), u.substr(colon + 1)});
    }
  }
  if (!o.mailboxes.empty()) {
    s.profile.users.clear();
    bool all = false;
    for (const std::string& m : o.mailboxes) {
      if (m == "*") {
        all = true;
      } else if (m.empty() || m.find('@') != std::string::npos) {
        return usage("--mailbox " + m + ": expected a local part (no @), or *");
      } else {
        s.profile.users.push_back(m);
      }
    }
    if (all) s.profile.users.clear();  // empty = every local part exists
  }
  if (o.auth_requires_tls) s.profile.auth_requires_tls = true;
  if (o.size) {
    s.profile.max_message_size = *o.size;
  }
  if (!o.local_domains.empty()) s.profile.local_domains = o.local_domains;
  if (!o.store.empty()) s.store = server::store_location_from_path(o.store);
  for (const std::string& name : o.quirks) {
    const auto q = quirk_from_string(name);
    if (!q) return usage("unknown quirk \"" + name + "\" (see --list-quirks)");
    s.profile.quirks.set(*q);
  }
  s.max_sessions = o.max_sessions;
  if (!(o.idle_timeout > 0) || o.idle_timeout > 86'400.0) {
    return usage("--idle-timeout: expected seconds in (0, 86400]");
  }
  s.idle_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.idle_timeout * 1000.0));
  if (s.idle_timeout.count() == 0) s.idle_timeout = std::chrono::milliseconds(1);
  s.verbose = o.verbose;
  s.log = [](std::string_view line) { print_err(line); };
  return s;
}

int run_serve(const ServeOptions& options) {
  if (options.list_quirks) {
    const std::string text = quirk_list_text();
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return kExitOk;
  }
  auto config = make_server_options(options);
  if (!config) {
    print_err("smtp-harness serve: " + config.error().message);
    return config.error().exit_code;
  }

  // A client that resets its connection must not kill the server through a write: Asio
  // sends with MSG_NOSIGNAL, but stderr may be a closed pipe.
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  // SIGINT/SIGTERM are handled through Asio from before anything listens.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  server::ReferenceServer server(std::move(*config));
  server.set_on_stopped([&signals] {
    std::error_code ignored;
    signals.cancel(ignored);
  });
  auto bound = server.start(io);
  if (!bound) {
    const auto& e = bound.error();
    const bool input = e.is(net::errc::bad_address) || e.is(net::errc::not_loopback) ||
                       e.is(net::errc::name_not_allowed);
    print_err("smtp-harness serve: " + e.message);
    return input ? kExitUsage : kExitUnreachable;
  }
  std::string port_text;
  for (const server::BoundListener& b : *bound) {
    print_err("listening on " + b.to_string() + " (" + server::to_string(b.kind) + ")");
    port_text += std::string(server::to_string(b.kind)) + " " + b.to_string() + "\n";
  }
  if (const auto& store = server.options().store) {
    print_err("storing messages in " + store->path + " (" + scenario::to_string(store->format) +
              ")");
  }
  if (!options.port_file.empty()) {
    if (const std::error_code ec = report::write_file_atomic(options.port_file, port_text)) {
      print_err("smtp-harness serve: cannot write --port-file " + options.port_file + ": " +
                ec.message());
      server.abort();
      io.run();
      return kExitUsage;
    }
  }

  int signals_seen = 0;
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int number) {
    if (ec) return;
    ++signals_seen;
    if (signals_seen == 1) {
      print_err(std::string("smtp-harness serve: ") + (number == SIGINT ? "SIGINT" : "SIGTERM") +
                ": shutting down (421 to every session)");
      server.stop();
    } else {
      print_err("smtp-harness serve: second signal: closing every connection now");
      server.abort();
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  io.run();

  if (!options.port_file.empty()) {
    std::error_code ignored;
    std::filesystem::remove(options.port_file, ignored);
  }
  const server::ServerStats st = server.stats();
  print_err("smtp-harness serve: stopped after " + std::to_string(st.sessions_total) +
            " session(s), " + std::to_string(st.messages) + " message(s) delivered");
  return kExitOk;
}

void register_serve(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ServeOptions>();
  CLI::App* sub = app.add_subcommand(
      "serve", "Run the reference SMTP server (loopback only unless --allow-non-loopback)");
  sub->add_option("--listen", opt->listen,
                  "plain listener HOST:PORT with STARTTLS (repeatable; default 127.0.0.1:2525; "
                  "port 0 = ephemeral)");
  sub->add_option("--implicit-tls-listen", opt->implicit_tls_listen,
                  "implicit-TLS listener HOST:PORT, RFC 8314 (repeatable)");
  auto* cert = sub->add_option("--cert", opt->cert, "PEM certificate chain (default: self-signed)")
                   ->check(CLI::ExistingFile);
  auto* key =
      sub->add_option("--key", opt->key, "PEM private key for --cert")->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  sub->add_option("--hostname", opt->hostname, "name in the greeting and EHLO reply");
  sub->add_option("--user", opt->users,
                  "AUTH user NAME:PASSWORD (repeatable; default bench:benchpass)");
  sub->add_option("--mailbox", opt->mailboxes,
                  "existing local part at the local domains (repeatable; * = every one; "
                  "default alice, bob; postmaster always exists)");
  sub->add_option("--profile", opt->profile,
                  "target profile JSON (reports/schema/profile.schema.json) to serve")
      ->check(CLI::ExistingFile);
  sub->add_flag("--auth-requires-tls", opt->auth_requires_tls,
                "offer AUTH only after STARTTLS / on implicit TLS");
  sub->add_option("--size", opt->size, "SIZE limit in octets (0 = none; default 10485760)");
  sub->add_option("--local-domain", opt->local_domains,
                  "domain to accept mail for (repeatable; default example.test)");
  sub->add_option("--store", opt->store,
                  "store delivered messages: FILE.jsonl (JSON Lines) or DIR (maildir)");
  sub->add_option("--quirk", opt->quirks, "enable a named quirk (repeatable; see --list-quirks)");
  sub->add_flag("--list-quirks", opt->list_quirks, "print the quirks and exit");
  sub->add_option("--max-sessions", opt->max_sessions,
                  "concurrent sessions (more get 421; 0 = no limit; default 1000)");
  sub->add_option("--idle-timeout", opt->idle_timeout,
                  "seconds to wait for client input before 421 (default 300, RFC 5321 "
                  "4.5.3.2.7)");
  sub->add_flag("--allow-non-loopback", opt->allow_non_loopback,
                "allow listen addresses outside 127.0.0.0/8 and ::1");
  sub->add_option("--port-file", opt->port_file,
                  "write \"KIND HOST:PORT\" per listener to FILE once listening");
  sub->add_flag("-v,--verbose", opt->verbose, "log sessions, TLS, AUTH and deliveries");
  sub->callback([opt, &exit_code] { exit_code = run_serve(*opt); });
}

}  // namespace smtp::cli
