/// @file server_session.h
/// @brief The reference SMTP server logic, sans I/O: ServerProfile (what it offers and
///        accepts), named Quirks (deliberate, deterministic misbehaviour), ServerSession.
///
/// ServerSession mirrors ClientSession: client bytes in (receive / receive_eof), reply bytes
/// out (pending_output / consume_output), events pulled with next_event(): every reply it
/// sent with the command it answers and the ServerModel verdict on it (Exchange), delivered
/// messages with their envelope and exact bytes (MessageReceived), TlsWanted after a 220 to
/// STARTTLS, AuthResult, Violation (client misbehaviour) and Closed.
///
/// Conformance (strict by default): RFC 5321 §4.1.4 sequencing through session_state.h
/// (503; RSET, NOOP, VRFY, EXPN, HELP allowed anywhere; HELO/EHLO reset the transaction; MAIL
/// needs HELO/EHLO first); 500 unknown or too long, 501 syntax, 502 not implemented / not
/// advertised, 504 unknown AUTH mechanism, 555 unknown MAIL/RCPT parameter; postmaster and the
/// null reverse-path always accepted; SIZE enforced with 552 at MAIL (declared) and at the end
/// of data (actual); mail data ends only at CRLF "." CRLF (bare LF never ends data); bare CR/LF
/// in command lines rejected (500/501); enhanced status codes when advertised (RFC 2034);
/// 421 on shutdown() and timeout(); STARTTLS discards pipelined plaintext (RFC 3207 §4.2);
/// AUTH PLAIN, LOGIN, CRAM-MD5 (challenge from the profile's nonce: no randomness) and
/// XOAUTH2; BDAT/CHUNKING with LAST and BINARYMIME (RFC 3030). Every reply is also judged by
/// an internal ServerModel: with no quirks, every Exchange verdict is VerdictKind::ok (the
/// fuzzers check this).
///
/// Limits: command lines over Limits::command_line get 500, except AUTH lines and SASL
/// responses, accepted up to kAuthLineLimit (RFC 4954 §4: 12288 octets).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "smtp/command.h"
#include "smtp/dot_stuffing.h"
#include "smtp/ehlo.h"
#include "smtp/line_framer.h"
#include "smtp/reply.h"
#include "smtp/sasl.h"
#include "smtp/server_model.h"
#include "smtp/session_state.h"

namespace smtp {

/// RFC 4954 §4: a server accepts AUTH command lines and SASL responses up to 12288 octets.
inline constexpr std::size_t kAuthLineLimit = 12288;

// ---------------------------------------------------------------------------------------------
// Quirks
// ---------------------------------------------------------------------------------------------

/// Deliberate, deterministic misbehaviour of the reference server (to test clients, the
/// suite and the oracle against known-bad servers). Every quirk is visible on the wire.
enum class Quirk : std::uint8_t {
  // One per EodCandidate, same order: take that sequence as the end of data (SMTP smuggling).
  accept_lf_dot_lf = 0,              ///< "accept-lf-dot-lf": "\n.\n" ends data
  accept_lf_dot_cr,                  ///< "accept-lf-dot-cr"
  accept_cr_dot_lf,                  ///< "accept-cr-dot-lf"
  accept_cr_dot_cr,                  ///< "accept-cr-dot-cr"
  accept_lf_dot_crlf,                ///< "accept-lf-dot-crlf": "\n.\r\n" ends data
  accept_crlf_dot_lf,                ///< "accept-crlf-dot-lf"
  accept_cr_dot_crlf,                ///< "accept-cr-dot-crlf"
  accept_crlf_dot_cr,                ///< "accept-crlf-dot-cr"
  accept_crlf_nul_dot_crlf,          ///< "accept-crlf-nul-dot-crlf"
  accept_crlf_dot_nul_crlf,          ///< "accept-crlf-dot-nul-crlf"
  accept_crlf_dot_cr_crlf,           ///< "accept-crlf-dot-cr-crlf"
  accept_cr_crlf_dot_crlf,           ///< "accept-cr-crlf-dot-crlf" (contains CRLF.CRLF: no effect)
  accept_cr_crlf_dot_cr_crlf,        ///< "accept-cr-crlf-dot-cr-crlf"
  accept_any_eod,                    ///< "accept-any-eod": all 13 sequences end data
  skip_sequence_checks,              ///< "skip-503-checks": never 503; MAIL without EHLO, RCPT
                                     ///< without MAIL, DATA without RCPT all accepted
  reply_502_everything,              ///< "502-everything": every command line gets 502
  keep_transaction_across_starttls,  ///< "keep-transaction-across-starttls": STARTTLS is
  ///< accepted inside a transaction, and the transaction and EHLO
  ///< survive the TLS handshake
  starttls_plaintext_injection,  ///< "starttls-plaintext-injection": plaintext pipelined after
                                 ///< STARTTLS is executed after the handshake (CVE-2011-0411)
  accept_bare_lf,                ///< "accept-bare-lf": a bare LF ends a command line
  no_421_on_shutdown,            ///< "no-421-on-shutdown": shutdown()/timeout() close silently
  wrong_multiline_code,          ///< "wrong-multiline-code": the 2nd line of a multi-line reply
                                 ///< carries code+1 ("250-a" "251-b" ...)
  advertise_auth_before_tls,     ///< "advertise-auth-before-tls": AUTH offered and accepted in
                                 ///< plaintext although the profile requires TLS for it
  open_relay,                    ///< "open-relay": relay for anyone
  vrfy_leaks_users,              ///< "vrfy-leaks-users": VRFY says 252 for known users, 550 for
                                 ///< unknown ones (instead of 252 for all)
  count_
};

struct QuirkInfo {
  Quirk quirk;
  std::string_view name;         ///< e.g. "accept-lf-dot-lf" (CLI `serve --quirk NAME`)
  std::string_view description;  ///< one sentence
};
/// Every quirk, in enum order.
[[nodiscard]] std::span<const QuirkInfo> all_quirks() noexcept;
[[nodiscard]] std::string_view to_string(Quirk q) noexcept;
/// Exact (lower-case) name lookup; nullopt for an unknown name.
[[nodiscard]] std::optional<Quirk> quirk_from_string(std::string_view name) noexcept;

class QuirkSet {
 public:
  constexpr QuirkSet() noexcept = default;
  constexpr QuirkSet& set(Quirk q) noexcept {
    bits_ |= bit(q);
    return *this;
  }
  [[nodiscard]] constexpr bool has(Quirk q) const noexcept { return (bits_ & bit(q)) != 0; }
  [[nodiscard]] constexpr bool empty() const noexcept { return bits_ == 0; }
  [[nodiscard]] constexpr std::uint64_t bits() const noexcept { return bits_; }
  /// DataDecoderOptions::accept_as_end mask of the accept-* quirks.
  [[nodiscard]] std::uint32_t accept_as_end() const noexcept;
  friend constexpr bool operator==(QuirkSet, QuirkSet) noexcept = default;

 private:
  static constexpr std::uint64_t bit(Quirk q) noexcept {
    return std::uint64_t{1} << static_cast<unsigned>(q);
  }
  std::uint64_t bits_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Profile
// ---------------------------------------------------------------------------------------------

enum class RelayPolicy : std::uint8_t {
  authenticated = 0,  ///< relay (RCPT to a non-local domain) only after AUTH
  nobody,             ///< never relay
  anyone,             ///< open relay
};

/// Which EHLO keywords the server advertises (and therefore implements).
struct ServerExtensions {
  bool pipelining = true;           ///< RFC 2920
  bool size = true;                 ///< RFC 1870 (with max_message_size)
  bool eightbitmime = true;         ///< RFC 6152
  bool smtputf8 = true;             ///< RFC 6531
  bool chunking = true;             ///< RFC 3030
  bool binarymime = true;           ///< RFC 3030
  bool dsn = true;                  ///< RFC 3461
  bool enhancedstatuscodes = true;  ///< RFC 2034
  bool starttls = true;             ///< RFC 3207
  bool auth = true;                 ///< RFC 4954
  bool etrn = false;                ///< RFC 1985
  bool vrfy = true;                 ///< VRFY implemented (not a keyword; false = 502)
  bool expn = false;                ///< EXPN implemented (false = 502)
};

struct AuthUser {
  std::string username;
  std::string password;  ///< also the XOAUTH2 bearer token
};

struct ServerProfile {
  std::string hostname = "mx.example.test";
  std::string greeting = "ESMTP smtp-harness reference server";
  ServerExtensions extensions;
  std::uint64_t max_message_size = 10 * 1024 * 1024;  ///< SIZE; 0 = no fixed limit
  std::vector<std::string> local_domains = {"example.test"};
  /// Local parts that exist at the local domains (case-insensitive); empty = all exist.
  /// "postmaster" always exists (RFC 5321 §4.5.1).
  std::vector<std::string> users = {"alice", "bob"};
  std::vector<AuthUser> auth_users = {{"alice", "wonderland"}};
  /// Mechanisms offered, in order (PLAIN, LOGIN, CRAM-MD5, XOAUTH2 are implemented).
  std::vector<std::string> auth_mechanisms = {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"};
  bool auth_requires_tls = true;
  RelayPolicy relay = RelayPolicy::authenticated;
  std::size_t max_recipients = 100;  ///< RFC 5321 §4.5.3.1.8: at least 100
  /// CRAM-MD5 challenge is "<" nonce "@" hostname ">" (RFC 2195): the caller varies it per
  /// session if it wants to; core has no randomness.
  std::string cram_md5_nonce = "1896.697170952";
  Limits limits;
  QuirkSet quirks;
};

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

struct Envelope {
  std::string helo;       ///< HELO/EHLO argument
  bool extended = false;  ///< EHLO (not HELO)
  Path reverse_path;      ///< MAIL FROM (null = "<>")
  std::vector<Param> mail_params;
  std::vector<Path> recipients;  ///< accepted RCPTs, in order
  std::string auth_user;         ///< "" when not authenticated
  bool tls = false;
};

/// A message the server accepted (it answered 250 to the end of data / BDAT LAST).
struct MessageReceived {
  Envelope envelope;
  std::string data;                      ///< exact message bytes (dot-unstuffed for DATA)
  bool bdat = false;                     ///< received with BDAT (else DATA)
  std::optional<EodCandidate> ended_by;  ///< a quirk accepted this non-canonical ending
  std::uint64_t offset = 0;              ///< stream offset of the first data byte
};

/// One reply the server sent, with what it answered and the oracle's verdict on it.
struct Exchange {
  ReplyTo to = ReplyTo::command;
  std::optional<Command> command;  ///< for command / bdat replies (AUTH secrets redacted)
  Reply reply;
  Phase before = Phase::connect;  ///< session phase before the reply
  Verdict verdict;                ///< ServerModel::judge of this reply
};

struct TlsWanted {};

struct AuthResult {
  std::string mechanism;
  std::string username;
  bool success = false;
};

using ServerEvent =
    std::variant<Exchange, MessageReceived, TlsWanted, AuthResult, Violation, Closed>;

struct ServerOptions {
  bool implicit_tls = false;    ///< the connection is already TLS (port 465, RFC 8314)
  bool exchange_events = true;  ///< emit an Exchange (with verdict) per reply
};

// ---------------------------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------------------------

class ServerSession {
 public:
  /// Queues the 220 greeting at once.
  explicit ServerSession(ServerProfile profile = {}, ServerOptions options = {});

  /// Bytes from the client. Processes every complete command line / data / chunk they hold.
  void receive(std::string_view bytes);
  /// The client closed its side. Pending partial input becomes a Violation; Closed follows.
  void receive_eof();
  /// The TLS handshake the driver started after TlsWanted completed (RFC 3207 §4.2: state is
  /// reset). Ignored unless phase() == Phase::tls.
  void tls_established();
  /// Shut down: 421 (unless no-421-on-shutdown) and close. @see RFC 5321 §3.8
  void shutdown();
  /// The driver's §4.5.3.2.7 server timeout fired: 421 and close.
  void timeout();

  /// Reply bytes not yet written. Valid until the next non-const call.
  [[nodiscard]] std::string_view pending_output() const noexcept;
  /// The driver wrote `n` octets of pending_output().
  void consume_output(std::size_t n) noexcept;
  [[nodiscard]] std::optional<ServerEvent> next_event();

  [[nodiscard]] bool wants_read() const noexcept { return !closing_; }
  [[nodiscard]] bool wants_write() const noexcept { return out_pos_ < out_.size(); }
  /// The session is over and its output flushed: close the connection.
  [[nodiscard]] bool closed() const noexcept { return closing_ && !wants_write(); }

  [[nodiscard]] Phase phase() const noexcept { return phase_; }
  [[nodiscard]] const SessionFlags& flags() const noexcept { return flags_; }
  [[nodiscard]] const std::string& authenticated_user() const noexcept { return auth_user_; }
  [[nodiscard]] const ServerProfile& profile() const noexcept { return profile_; }
  /// The oracle following this session (used for Exchange verdicts).
  [[nodiscard]] const ServerModel& model() const noexcept { return model_; }
  /// The capabilities the next EHLO reply advertises.
  [[nodiscard]] Capabilities capabilities() const;
  /// Offset of the next client byte to be processed.
  [[nodiscard]] std::uint64_t input_offset() const noexcept { return framer_.offset(); }

 private:
  enum class Mode : std::uint8_t { command, data, bdat_chunk, sasl, tls, closed };
  struct Context {
    ReplyTo to = ReplyTo::command;
    const Command* cmd = nullptr;
    std::uint64_t data_size = 0;
    bool sasl_cancelled = false;
  };

  void process();
  void handle_line(const Line& line);
  void handle_command(Command& c);
  void handle_sasl(const Line& line);
  void finish_data();
  void finish_bdat_chunk();
  bool ext_offered(Verb v) const noexcept;
  bool auth_offered() const noexcept;
  void reply(const Context& ctx, std::uint16_t code, const char* esc,
             std::vector<std::string> lines);
  void reply1(const Context& ctx, std::uint16_t code, const char* esc, std::string text) {
    reply(ctx, code, esc, {std::move(text)});
  }
  void violation(errc code, std::uint64_t offset, std::string_view rfc, std::string text);
  void close(bool clean, std::string reason);
  void reset_transaction();
  bool mailbox_exists(const Path& p) const;
  bool is_local(std::string_view domain) const;
  std::uint64_t stored_cap() const noexcept;

  // MAIL/RCPT/AUTH helpers
  void do_mail(const Context& ctx, const Command& c);
  void do_rcpt(const Context& ctx, const Command& c);
  void do_auth(const Context& ctx, const Command& c);
  void auth_finish(bool ok, const std::string& user);
  void auth_check(const std::string& decoded);

  ServerProfile profile_;
  ServerOptions options_;
  CommandOptions cmd_opt_;
  CommandOptions auth_opt_;
  LineFramer framer_;
  ServerModel model_;
  Mode mode_ = Mode::command;
  Phase phase_ = Phase::connect;
  SessionFlags flags_;
  bool closing_ = false;

  std::string out_;
  std::size_t out_pos_ = 0;
  std::deque<ServerEvent> events_;

  Envelope env_;
  std::string helo_;
  bool helo_extended_ = false;
  std::string auth_user_;

  // DATA
  DataDecoder decoder_;
  std::string data_;
  std::uint64_t data_offset_ = 0;
  bool data_oversize_ = false;
  // BDAT
  Command bdat_cmd_;
  std::uint64_t bdat_remaining_ = 0;
  std::uint64_t bdat_total_ = 0;
  bool bdat_failed_ = false;
  std::uint16_t bdat_fail_code_ = 0;
  std::uint64_t bdat_offset_ = 0;
  bool bdat_refused_ = false;  // the BDAT command was refused: discard, then answer
  std::uint16_t bdat_refusal_code_ = 0;
  const char* bdat_refusal_esc_ = nullptr;
  std::string bdat_refusal_text_;
  // AUTH
  Context auth_context_;
  SaslMechanism auth_mech_ = SaslMechanism::unknown;
  unsigned auth_step_ = 0;
  std::string auth_login_user_;
  std::string cram_challenge_;
  bool xoauth2_failed_ = false;
  std::string xoauth2_user_;
  // STARTTLS
  Phase phase_before_tls_ = Phase::greeted;
  SessionFlags flags_before_tls_;
};

}  // namespace smtp
