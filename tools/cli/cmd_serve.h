/// @file cmd_serve.h
/// @brief `smtp-harness serve`: the reference SMTP server (server/reference_server.h) as a
///        process, for testing clients and as a local target for `run --target`.
///
/// ```
/// smtp-harness serve [--listen 127.0.0.1:2525]... [--implicit-tls-listen 127.0.0.1:2465]...
///     [--cert FILE --key FILE] [--hostname NAME] [--user NAME:PASSWORD]...
///     [--mailbox LOCAL-PART|*]... [--profile FILE] [--auth-requires-tls] [--size N]
///     [--local-domain D]... [--store DIR|FILE.jsonl] [--quirk NAME]... [--list-quirks]
///     [--max-sessions N] [--idle-timeout S] [--allow-non-loopback] [--port-file FILE] [-v]
/// ```
/// Order of configuration: built-in defaults (those of the default target profile, so `run
/// --target` against `serve` passes with no profile: domain example.test, AUTH user
/// bench:benchpass, mailboxes alice, bob, postmaster; AUTH allowed without TLS), then
/// --profile (a *target profile*, reports/schema/profile.schema.json: local_domain,
/// valid/invalid mailbox, username/password, auth_requires_tls, max_recipients, store, and
/// target host/port/tls as the listen address when no --listen is given), then the flags.
/// With no listener flag: plain 127.0.0.1:2525.
///
/// Output: "listening on 127.0.0.1:2525 (plain)" on stderr per listener; --port-file writes
/// "plain 127.0.0.1:2525" / "implicit-tls 127.0.0.1:2465" lines (atomically, after every
/// listener is bound; removed at exit). SIGINT/SIGTERM: graceful shutdown (421 to every
/// session, close), exit 0; a second signal closes everything at once.
/// Exit codes: 0 after shutdown, 2 usage or input error (bad flag, unknown quirk, bad
/// profile, non-loopback address without --allow-non-loopback), 3 cannot listen (address in
/// use), TLS set-up failed or the store cannot be opened.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "server/reference_server.h"

namespace smtp::cli {

struct ServeOptions {
  std::vector<std::string> listen;               ///< plain listeners (STARTTLS)
  std::vector<std::string> implicit_tls_listen;  ///< implicit-TLS listeners (RFC 8314)
  std::string cert;                              ///< PEM certificate chain file
  std::string key;                               ///< PEM private key file
  std::string hostname;                          ///< greeting / EHLO name ("" = default)
  std::vector<std::string> users;                ///< "NAME:PASSWORD" (replace the default)
  std::vector<std::string> mailboxes;            ///< existing local parts ("*" = all)
  std::string profile;                           ///< target profile JSON
  bool auth_requires_tls = false;
  std::optional<std::uint64_t> size;       ///< SIZE limit, 0 = none
  std::vector<std::string> local_domains;  ///< replace the default
  std::string store;                       ///< DIR (maildir) or FILE.jsonl
  std::vector<std::string> quirks;
  bool list_quirks = false;
  std::size_t max_sessions = 1000;
  double idle_timeout = 300;  ///< seconds (RFC 5321 §4.5.3.2.7)
  bool allow_non_loopback = false;
  std::string port_file;
  bool verbose = false;
};

/// The server configuration the flags describe (see the file comment for precedence).
/// Error: the exit code (2) and one or more lines of text.
struct ServeError {
  int exit_code = 2;
  std::string message;
};
[[nodiscard]] tl::expected<server::ReferenceServerOptions, ServeError> make_server_options(
    const ServeOptions& options);

/// "NAME  description" per quirk, one per line.
[[nodiscard]] std::string quirk_list_text();

/// Run the server until SIGINT/SIGTERM. Returns the exit code.
[[nodiscard]] int run_serve(const ServeOptions& options);

}  // namespace smtp::cli
