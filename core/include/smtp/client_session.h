/// @file client_session.h
/// @brief ClientSession: one SMTP client conversation, sans I/O (bytes in, bytes out, pulled
///        events), with pipelining (RFC 2920), STARTTLS hand-off (RFC 3207), AUTH (RFC 4954),
///        DATA dot-stuffing and BDAT/CHUNKING (RFC 3030), §4.5.3.2 deadlines, and a
///        byte-exact, secret-free transcript.
///
/// Driving it (h11 / nghttp2 style, no callbacks):
/// @code
///   ClientSession c;
///   c.ehlo("client.example");  c.mail_from("<a@example.org>");  c.rcpt_to("<b@example.net>");
///   c.data(message);  c.quit();                      // intents: validated and queued
///   for (;;) {
///     write(sock, c.pending_output()); c.consume_output(n);   // bytes out
///     c.receive(read(sock));  or  c.receive_eof();            // bytes in
///     while (auto ev = c.next_event()) { ... }                // ReplyEvent, TlsRequested, ...
///     timer.expires_at(c.deadline(now_ms));                   // RFC 5321 §4.5.3.2
///   }
/// @endcode
///
/// Replies are matched in order to what they answer: the greeting, each command, the end of
/// DATA, each BDAT chunk, each SASL response, and the replies announced by send_raw(). A reply
/// with nothing waiting is unsolicited (a Violation); a reply whose code the §4.3.2 row of
/// its command does not list is a Violation; a malformed reply (ReplyParser failure) is a
/// Violation and ends the session (Closed). The state (session_state.h) follows the real
/// replies; intents are checked against the *projected* state (every queued command assumed
/// to succeed) and refused with errc::out_of_sequence unless ClientConfig says to break the
/// rules on purpose.
///
/// Writing: in PipelineMode::rfc2920, commands are written one at a time until EHLO shows
/// PIPELINING; then every command is written at once except after a command that must end a
/// pipelined group (ends_pipeline_group(): EHLO, DATA, VRFY, EXPN, TURN, QUIT, NOOP,
/// STARTTLS, AUTH but AUTH PLAIN with an initial response, ATRN), whose reply is awaited first.
/// Nothing is written before the greeting. DATA content goes after 354 (RFC 2920 §3.1: the
/// content may start a group). send_raw() bytes are written as soon as they reach the front of
/// the queue, whatever is in flight.
///
/// Secrets: AUTH initial responses and every SASL response are replaced by "<redacted>" in
/// the transcript, in ReplyEvent::command / ReplyEvent::sent and in every Violation text; the
/// real bytes exist only in pending_output().
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "smtp/command.h"
#include "smtp/ehlo.h"
#include "smtp/reply.h"
#include "smtp/reply_codes.h"
#include "smtp/sasl.h"
#include "smtp/session_state.h"

namespace smtp {

enum class PipelineMode : std::uint8_t {
  rfc2920 = 0,  ///< pipeline only when PIPELINING is advertised, honouring group ends
  never,        ///< one command at a time
  always,       ///< RULE-BREAKING on purpose: write every command at once, before the greeting,
                ///< across group ends, after STARTTLS, and DATA content without waiting for 354
};

struct ClientConfig {
  Limits limits{};
  Leniency lenient{};  ///< tolerances for the ReplyParser (strict by default)
  PipelineMode pipelining = PipelineMode::rfc2920;
  /// Refuse intents that §4.1.4 (via check_sequence) forbids in the projected state. Turn off
  /// to send out-of-sequence commands on purpose (e.g. RCPT before MAIL, expecting 503).
  bool enforce_sequence = true;
  /// Refuse extension commands and MAIL/RCPT parameters the server did not advertise (when its
  /// EHLO reply is known). Turn off to use them anyway.
  bool enforce_capabilities = true;
  bool smtputf8 = false;  ///< UTF-8 allowed in paths given to intents (RFC 6531)
  Timeouts timeouts{};
  /// Octets the transcript keeps (both directions); later bytes are counted, not stored
  /// (transcript_truncated()). Bounds memory against a flooding server.
  std::size_t max_transcript = 16 * 1024 * 1024;
};

struct AuthOptions {
  /// Send the initial response on the AUTH line for client-first mechanisms (PLAIN,
  /// XOAUTH2), unless that line would exceed 512 octets (RFC 4954 §4).
  bool initial_response = true;
  /// Do not answer 334 challenges from the credentials: emit AuthChallenge and wait for
  /// auth_respond() / auth_cancel().
  bool manual = false;
};

/// A reply, matched to what it answers.
struct ReplyEvent {
  Reply reply;
  ReplyTo to = ReplyTo::command;
  /// The command it answers (command / bdat / bdat_last), with AUTH secrets redacted.
  std::optional<Command> command;
  /// What was sent, as in the transcript (redacted), without CRLF: the command line, "*" or
  /// "<redacted>" for SASL responses, the raw bytes for send_raw(); "" for the greeting and
  /// the end of data.
  std::string sent;
  std::uint64_t sent_offset = 0;  ///< client stream offset of what was sent
  std::uint64_t data_size = 0;    ///< ReplyTo::data_end: octets of the message (unstuffed)
  bool sasl_cancelled = false;    ///< ReplyTo::sasl: the response was "*"
  /// How the code fits the §4.3.2 row (not_allowed is also reported as a Violation).
  ReplyKind kind = ReplyKind::success;
  bool solicited = true;  ///< false: nothing was waiting (also a Violation)
};

/// The server answered STARTTLS with 220: start the TLS handshake, then call
/// tls_established(). Plaintext received meanwhile is discarded (and reported).
struct TlsRequested {};

/// A 334 challenge during AUTH (informational unless AuthOptions::manual).
struct AuthChallenge {
  std::string mechanism;
  std::string text;                    ///< as received (base64)
  std::optional<std::string> decoded;  ///< nullopt: not valid base64 (also a Violation)
};

using ClientEvent = std::variant<ReplyEvent, TlsRequested, AuthChallenge, Violation, Closed>;

class ClientSession {
 public:
  explicit ClientSession(ClientConfig config = {});

  // --- intents: validate and queue -------------------------------------------------------
  // Each returns an empty error_code when queued; errc::invalid_argument when the arguments
  // do not make a valid command (checked with the shared command parser, so what is sent
  // parses); errc::out_of_sequence when the command is not allowed in the projected state or
  // not advertised (see ClientConfig) or the session is closed. Paths may be given with or
  // without angle brackets ("a@b.example" or "<a@b.example>"; "" or "<>" is the null path).

  /// @see RFC 5321 §4.1.1.1
  std::error_code helo(std::string_view domain);
  /// @see RFC 5321 §4.1.1.1
  std::error_code ehlo(std::string_view domain);
  /// @see RFC 5321 §4.1.1.2 (params: RFC 1870 SIZE, RFC 6152 BODY, RFC 6531, RFC 3461 ...)
  std::error_code mail_from(std::string_view reverse_path, std::vector<Param> params = {});
  /// @see RFC 5321 §4.1.1.3
  std::error_code rcpt_to(std::string_view forward_path, std::vector<Param> params = {});
  /// DATA, then (after 354) the dot-stuffed message and CRLF.CRLF. A message not ending in
  /// CRLF gets one (dot_stuffing.h). @see RFC 5321 §4.1.1.4, §4.5.2
  std::error_code data(std::string_view message);
  /// DATA, then (after 354) `wire_body` exactly as given (no stuffing, no terminator; marked
  /// raw in the transcript). With `expect_reply` a reply to the end of data is awaited (it may
  /// come when a later send_raw() supplies a terminator).
  std::error_code data_raw(std::string_view wire_body, bool expect_reply = true);
  /// "BDAT <size>[ LAST]" followed by `chunk`. @see RFC 3030 §2
  std::error_code bdat(std::string_view chunk, bool last);
  std::error_code rset();                                ///< @see RFC 5321 §4.1.1.5
  std::error_code vrfy(std::string_view argument);       ///< @see RFC 5321 §4.1.1.6
  std::error_code expn(std::string_view argument);       ///< @see RFC 5321 §4.1.1.7
  std::error_code help(std::string_view argument = {});  ///< @see RFC 5321 §4.1.1.8
  std::error_code noop(std::string_view argument = {});  ///< @see RFC 5321 §4.1.1.9
  std::error_code quit();                                ///< @see RFC 5321 §4.1.1.10
  std::error_code starttls();                            ///< @see RFC 3207 §4
  /// AUTH with PLAIN, LOGIN, CRAM-MD5 or XOAUTH2 (any other mechanism name needs
  /// AuthOptions::manual). @see RFC 4954 §4
  std::error_code auth(std::string_view mechanism, SaslCredentials credentials,
                       AuthOptions options = {});
  /// Manual AUTH: answer the pending 334 with `response` (raw; base64-encoded here).
  std::error_code auth_respond(std::string_view response);
  /// Cancel the pending AUTH exchange with "*" (the server MUST answer 501, RFC 4954 §4).
  std::error_code auth_cancel();
  std::error_code etrn(std::string_view node);               ///< @see RFC 1985
  std::error_code atrn(std::string_view domains = {});       ///< @see RFC 2645
  std::error_code turn();                                    ///< RFC 821 (obsolete)
  std::error_code send_from(std::string_view reverse_path);  ///< RFC 821 SEND (obsolete)
  std::error_code soml_from(std::string_view reverse_path);  ///< RFC 821 SOML (obsolete)
  std::error_code saml_from(std::string_view reverse_path);  ///< RFC 821 SAML (obsolete)
  /// Any command, as a parsed Command (serialize()d, then checked like the named intents;
  /// not for DATA/BDAT/AUTH, which need their intents).
  std::error_code command(const Command& c);
  /// Unchecked bytes, marked raw in the transcript. `expected_replies` replies are matched to
  /// them (not checked against §4.3.2).
  void send_raw(std::string_view bytes, std::size_t expected_replies = 0);

  // --- bytes and events ----------------------------------------------------------------------

  /// Bytes to write. Valid until the next non-const call.
  [[nodiscard]] std::string_view pending_output() const noexcept;
  /// The driver wrote `n` octets of pending_output().
  void consume_output(std::size_t n) noexcept;
  /// Bytes from the server.
  void receive(std::string_view bytes);
  /// The server closed the connection.
  void receive_eof();
  /// The TLS handshake after TlsRequested completed: forget the capabilities, require EHLO
  /// again (RFC 3207 §4.2). Ignored unless a handshake was requested.
  void tls_established();
  [[nodiscard]] std::optional<ClientEvent> next_event();

  // --- state ---------------------------------------------------------------------------------

  [[nodiscard]] Phase phase() const noexcept { return phase_; }
  [[nodiscard]] const SessionFlags& flags() const noexcept { return flags_; }
  /// From the last 250 to EHLO; nullopt before it, after HELO and after STARTTLS.
  [[nodiscard]] const std::optional<Capabilities>& capabilities() const noexcept { return caps_; }
  [[nodiscard]] bool pipelining_active() const noexcept;
  [[nodiscard]] std::size_t in_flight() const noexcept { return inflight_.size(); }
  [[nodiscard]] std::size_t queued() const noexcept { return queue_.size(); }
  [[nodiscard]] bool tls_requested() const noexcept { return tls_wait_; }
  [[nodiscard]] bool wants_write() const noexcept { return out_pos_ < out_.size(); }
  [[nodiscard]] bool wants_read() const noexcept { return !closed_; }
  /// Closed was emitted: flush pending_output() and close the connection.
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// Everything sent and received so far (secrets redacted).
  [[nodiscard]] const std::vector<TranscriptEntry>& transcript() const noexcept {
    return transcript_;
  }
  /// True when ClientConfig::max_transcript was reached and later bytes were not stored.
  [[nodiscard]] bool transcript_truncated() const noexcept { return transcript_truncated_; }

  /// Which §4.5.3.2 timeout applies now (nullopt: not waiting for the server).
  [[nodiscard]] std::optional<TimeoutKind> waiting_for() const noexcept;
  /// When the current wait times out, in the caller's clock (`now` in milliseconds). A wait
  /// starts at the first call that sees it; call after every receive/consume_output/intent.
  /// nullopt: no deadline. @see RFC 5321 §4.5.3.2
  [[nodiscard]] std::optional<std::uint64_t> deadline(std::uint64_t now) noexcept;

 private:
  struct Item {
    ReplyTo to = ReplyTo::command;
    Verb verb = Verb::unknown;
    std::optional<Command> command;  // redacted copy, for events
    std::string wire;                // bytes to write first (command line, raw bytes)
    std::string shown;               // transcript form of `wire` ("" = same as wire)
    std::string payload;             // written with `wire` (BDAT chunk) or after 354 (DATA)
    bool payload_after_354 = false;
    bool payload_raw = false;  // DATA body from data_raw()
    bool payload_sent = false;
    bool expect_data_end = true;  // DATA: a reply to the end of data follows
    std::uint64_t data_size = 0;
    bool raw = false;
    bool redacted = false;
    bool ends_group = false;
    bool sasl_cancel = false;
    bool declared_binarymime = false;
    std::size_t replies = 1;
    std::uint64_t offset = 0;  // client stream offset once written
  };

  std::error_code queue_command(std::string line, Item item);
  std::error_code check_allowed(const Command& c) const;
  void project(Phase& p, SessionFlags& f, const Item& it) const;
  void project_queued(const Item& it) const;
  void flush();
  bool may_write(const Item& next) const;
  void write_item(Item& it);
  void write_payload(Item& it);
  void write_sasl(std::string_view response, bool cancel);
  void record(Direction d, std::string_view bytes, std::uint64_t offset, std::uint64_t wire,
              bool raw, bool redacted);
  void on_reply(Reply& r);
  void on_challenge(const Reply& r);
  void violation(errc code, std::uint64_t offset, std::string_view rfc, std::string text);
  void close(bool clean, std::string reason);
  void fail_parser();
  void bump_wait() noexcept { ++wait_gen_; }

  ClientConfig config_;
  ReplyParser parser_;
  Phase phase_ = Phase::connect;
  SessionFlags flags_;
  std::optional<Capabilities> caps_;
  bool closed_ = false;
  bool tls_wait_ = false;

  std::deque<Item> queue_;     // not written yet
  std::deque<Item> inflight_;  // written, replies awaited (front first)
  std::string out_;
  std::size_t out_pos_ = 0;
  std::uint64_t out_offset_ = 0;  // client stream offset of out_ end
  std::uint64_t in_offset_ = 0;   // server stream offset of bytes received
  std::deque<ClientEvent> events_;
  std::vector<TranscriptEntry> transcript_;
  std::size_t transcript_bytes_ = 0;
  bool transcript_truncated_ = false;

  // AUTH
  std::optional<SaslClient> sasl_;
  std::string auth_mechanism_;
  bool auth_manual_ = false;
  bool auth_awaiting_response_ = false;

  // projected state (check_allowed), cached
  mutable bool proj_valid_ = false;
  mutable Phase proj_phase_ = Phase::connect;
  mutable SessionFlags proj_flags_;
  mutable bool proj_hello_pending_ = false;

  // deadlines
  std::uint64_t wait_gen_ = 0;
  std::uint64_t timer_gen_ = ~std::uint64_t{0};
  TimeoutKind timer_kind_ = TimeoutKind::other;
  std::uint64_t timer_start_ = 0;
};

}  // namespace smtp
