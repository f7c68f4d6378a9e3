/// @file session_state.h
/// @brief Every SMTP session state, and every rule that moves between states, in one place.
///
/// Theory of operation
/// -------------------
/// h11's "Rule 1" applied to SMTP: everything that affects the session state machine lives in
/// this file, as data. ClientSession, ServerSession and the ServerModel oracle all consult the
/// same tables, so the client, the reference server and the judge of real servers cannot
/// disagree about what state a conversation is in.
///
/// An SMTP conversation has ONE shared state (RFC 5321 §4.1.4, §3.3): both peers see the same
/// commands and the same replies, so both can compute it. A state change happens only when a
/// reply is seen (the server *chooses* the reply, the client *learns* it), plus two events
/// outside the command/reply stream: the end of a TLS handshake after STARTTLS, and the
/// connection closing. Three tables drive everything:
///
///  1. **Sequencing** (kSequenceRules, check_sequence): in which Phase a command is in order.
///     A command out of order gets 503 (§4.1.4: "If the commands in a transaction are out of
///     order to the degree that they cannot be processed by the server, a 503 failure reply MUST
///     be returned and the SMTP server MUST stay in the same state").
///  2. **Transitions** (kTransitions, next_phase, next_flags): (what the reply answers, verb,
///     reply outcome) -> next Phase. Replies the RFCs do not tie to a change leave the state as
///     it was ("stay"). 421 from any state closes the session (§3.8).
///  3. **Pipelining groups** (ends_pipeline_group, RFC 2920 §3.1): which commands must be the
///     last in a group, i.e. after which the client waits for the reply before sending more.
///
/// Plus the §4.5.3.2 timeouts (Timeouts, timeout_for) and the small vocabulary shared by the
/// sessions' event streams (Violation, Closed, TranscriptEntry).
///
/// Who uses what:
///  - ClientSession: check_sequence() on its *projected* state (assuming every queued command
///    succeeds) to refuse out-of-order intents unless told to break the rules, and
///    next_phase()/next_flags() on the *real* replies to track the true state;
///    ends_pipeline_group() to decide what may be written before a reply arrives;
///    timeout_for() for deadlines.
///  - ServerSession: check_sequence() to choose 503, next_phase()/next_flags() after each reply
///    it sends (so its state is, by construction, what the client computes).
///  - ServerModel: check_sequence() to know when a conformant server MUST say 503, and
///    next_phase()/next_flags() to follow the real server's choice.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/command.h"
#include "smtp/error.h"

namespace smtp {

// ---------------------------------------------------------------------------------------------
// States
// ---------------------------------------------------------------------------------------------

/// Where the conversation is. @see RFC 5321 §4.1.4, §3.3; RFC 3207 §4.2; RFC 4954 §4;
/// RFC 3030 §2.
enum class Phase : std::uint8_t {
  connect = 0,  ///< connection open, greeting (220/554) not seen yet (§3.1)
  greeted,      ///< greeting seen; no HELO/EHLO accepted yet (also after a TLS handshake)
  ready,        ///< HELO/EHLO accepted, no mail transaction (§4.1.4)
  mail,         ///< MAIL (or SEND/SOML/SAML) accepted: transaction open, no recipient yet
  rcpt,         ///< at least one RCPT accepted
  data,         ///< 354 seen: mail data flowing until CRLF.CRLF (§4.1.1.4)
  bdat,         ///< at least one non-LAST BDAT chunk answered (RFC 3030 §2)
  auth,         ///< 334 seen: a SASL exchange in progress (RFC 4954 §4)
  tls,          ///< 220 to STARTTLS seen: TLS handshake in progress (RFC 3207 §4.2)
  closed,       ///< 221 to QUIT, 421, TURN/ATRN role reversal, or the connection is gone
  count_
};
[[nodiscard]] std::string_view to_string(Phase p) noexcept;

/// A set of phases (bit i = Phase(i)).
using PhaseSet = std::uint16_t;
[[nodiscard]] constexpr PhaseSet phase_bit(Phase p) noexcept {
  return static_cast<PhaseSet>(1u << static_cast<unsigned>(p));
}
[[nodiscard]] constexpr bool contains(PhaseSet set, Phase p) noexcept {
  return (set & phase_bit(p)) != 0;
}
/// Phases in which the client may send a command line (and the server parses one).
inline constexpr PhaseSet kCommandPhases = phase_bit(Phase::greeted) | phase_bit(Phase::ready) |
                                           phase_bit(Phase::mail) | phase_bit(Phase::rcpt) |
                                           phase_bit(Phase::bdat);
/// Phases inside a mail transaction (§4.1.4: between MAIL and the end of data).
inline constexpr PhaseSet kTransactionPhases =
    phase_bit(Phase::mail) | phase_bit(Phase::rcpt) | phase_bit(Phase::bdat);

/// Facts about the session that are not a Phase but change what is in sequence.
struct SessionFlags {
  bool hello = false;          ///< HELO or EHLO accepted since connect / TLS handshake
  bool extended = false;       ///< ... and it was EHLO (extensions in effect)
  bool tls = false;            ///< TLS is active (STARTTLS completed, or implicit TLS)
  bool authenticated = false;  ///< AUTH completed with 235 (RFC 4954 §4)
  bool binarymime = false;     ///< this transaction declared BODY=BINARYMIME (RFC 3030 §3)
  friend bool operator==(const SessionFlags&, const SessionFlags&) = default;
};

/// What a reply answers. Every reply belongs to exactly one of these.
enum class ReplyTo : std::uint8_t {
  greeting = 0,  ///< the connection opening (§3.1, §4.3.2 "CONNECTION ESTABLISHMENT")
  command,       ///< a command line (BDAT excepted)
  data_end,      ///< the end of DATA mail data (CRLF.CRLF)
  bdat,          ///< a BDAT chunk without LAST
  bdat_last,     ///< a BDAT LAST chunk (ends the transaction)
  sasl,          ///< a SASL response line during AUTH (RFC 4954 §4)
  raw,           ///< bytes sent raw by the client: no rule applies
  count_
};
[[nodiscard]] std::string_view to_string(ReplyTo r) noexcept;

/// The kind of a reply code as far as state changes go.
enum class Outcome : std::uint8_t {
  success,       ///< 2yz
  intermediate,  ///< 3yz
  failure,       ///< 4yz / 5yz (421 excepted)
  shutdown,      ///< 421: service closing the transmission channel (§3.8)
};
[[nodiscard]] constexpr Outcome outcome_of(std::uint16_t code) noexcept {
  if (code == 421) return Outcome::shutdown;
  if (code >= 200 && code < 300) return Outcome::success;
  if (code >= 300 && code < 400) return Outcome::intermediate;
  return Outcome::failure;
}

// ---------------------------------------------------------------------------------------------
// Table 1: sequencing (RFC 5321 §4.1.4, §3.3; RFC 3207; RFC 4954; RFC 3030; RFC 1985)
// ---------------------------------------------------------------------------------------------

/// When a command is in sequence. A command is out of sequence when the phase is not in
/// `allowed`, or a precondition flag fails.
struct SequenceRule {
  Verb verb = Verb::unknown;
  PhaseSet allowed = 0;
  bool needs_hello = false;                 ///< HELO/EHLO first (§4.1.4)
  bool needs_ehlo = false;                  ///< EHLO (not HELO) first: extension commands
  bool refused_in_tls = false;              ///< STARTTLS when TLS is active (RFC 3207 §4)
  bool refused_when_authenticated = false;  ///< AUTH after 235 (RFC 4954 §4)
  bool needs_authenticated = false;         ///< ATRN (RFC 2645 §4)
  std::string_view rfc;                     ///< where the ordering rule is stated
};

/// The rule for `verb` (Verb::unknown: allowed in every command phase).
[[nodiscard]] const SequenceRule& sequence_rule(Verb verb) noexcept;

/// Result of check_sequence().
struct SequenceCheck {
  bool ok = true;
  /// The codes a server must (one of) answer when !ok: 503, or 503/554 for DATA/BDAT with no
  /// accepted recipient (§3.3), 530 for ATRN before AUTH.
  std::uint16_t code = 0;
  std::uint16_t alt_code = 0;  ///< 0 = none
  std::string_view rfc;
  std::string_view reason;  ///< one sentence, static storage
};

/// Is `verb` (with BDAT's `last` irrelevant) in sequence in `phase` with `flags`?
/// @see RFC 5321 §4.1.4, §3.3
[[nodiscard]] SequenceCheck check_sequence(Phase phase, const SessionFlags& flags,
                                           Verb verb) noexcept;

// ---------------------------------------------------------------------------------------------
// Table 2: transitions
// ---------------------------------------------------------------------------------------------

/// Where a transition goes. `base` = Phase::ready when HELO/EHLO was accepted, else
/// Phase::greeted (what RSET, the end of data and the end of AUTH return to).
enum class Next : std::uint8_t {
  stay,
  base,
  greeted,
  ready,
  mail,
  rcpt,
  data,
  bdat,
  auth,
  tls,
  closed
};

struct TransitionRule {
  ReplyTo to = ReplyTo::command;
  Verb verb = Verb::unknown;  ///< for ReplyTo::command; ignored otherwise
  Outcome outcome = Outcome::success;
  Next next = Next::stay;
  std::string_view rfc;
};

/// RFC 5321 §4.1.4: a command refused as unrecognised, malformed, not implemented or out of
/// sequence (500-504) leaves the state as it was. The table handles this for every command
/// (their 5yz rows say "stay"); for BDAT it must be explicit, because a failed chunk otherwise
/// ends (LAST) or poisons the transaction (RFC 3030 §2): a BDAT LAST refused with 503 or 502
/// was never a chunk.
[[nodiscard]] constexpr bool is_command_rejection(ReplyTo to, std::uint16_t code) noexcept {
  return (to == ReplyTo::bdat || to == ReplyTo::bdat_last) && code >= 500 && code <= 504;
}

/// All transitions, first match wins; no match = stay. Exposed for documentation and tests.
[[nodiscard]] std::span<const TransitionRule> transition_table() noexcept;

/// The phase after a reply with `code` to `to` (and `verb` for commands), from `phase`.
/// @see RFC 5321 §4.1.4, §3.3, §3.8; RFC 3207 §4.2; RFC 4954 §4; RFC 3030 §2
[[nodiscard]] Phase next_phase(Phase phase, const SessionFlags& flags, ReplyTo to, Verb verb,
                               std::uint16_t code) noexcept;

/// The flags after the same reply. `declared_binarymime`: the MAIL command had
/// BODY=BINARYMIME.
[[nodiscard]] SessionFlags next_flags(const SessionFlags& flags, ReplyTo to, Verb verb,
                                      std::uint16_t code,
                                      bool declared_binarymime = false) noexcept;

/// State after the TLS handshake that follows a 220 to STARTTLS: RFC 3207 §4.2, both sides
/// "MUST discard any knowledge obtained from the client": Phase::greeted, no HELO/EHLO, no
/// transaction, not authenticated, TLS active.
inline constexpr Phase kPhaseAfterTls = Phase::greeted;
[[nodiscard]] constexpr SessionFlags flags_after_tls() noexcept {
  SessionFlags f;
  f.tls = true;
  return f;
}

// ---------------------------------------------------------------------------------------------
// Table 3: pipelining (RFC 2920 §3.1) and related send rules
// ---------------------------------------------------------------------------------------------

/// True when `verb` may only be the last command of a pipelined group: "The EHLO, DATA, VRFY,
/// EXPN, TURN, QUIT, and NOOP commands can only appear as the last command in a group"
/// (RFC 2920 §3.1); STARTTLS (RFC 3207 §4.2); AUTH (RFC 4954 §4), except AUTH with an initial
/// response for a mechanism that completes in one round trip (`auth_one_round_trip`, e.g.
/// PLAIN); ATRN (role reversal, RFC 2645). HELO is treated like EHLO. MAIL, RCPT, RSET, HELP,
/// ETRN and BDAT (RFC 3030 §4.2) may be anywhere in a group.
/// @see RFC 2920 §3.1
[[nodiscard]] bool ends_pipeline_group(Verb verb, bool auth_one_round_trip = false) noexcept;

// ---------------------------------------------------------------------------------------------
// Timeouts (RFC 5321 §4.5.3.2)
// ---------------------------------------------------------------------------------------------

/// Which §4.5.3.2 timeout applies.
enum class TimeoutKind : std::uint8_t {
  initial,     ///< §4.5.3.2.1 initial 220 message: 5 min
  mail,        ///< §4.5.3.2.2 MAIL command: 5 min
  rcpt,        ///< §4.5.3.2.3 RCPT command: 5 min
  data_init,   ///< §4.5.3.2.4 DATA initiation (354): 2 min
  data_block,  ///< §4.5.3.2.5 data block (each send of data): 3 min
  data_term,   ///< §4.5.3.2.6 DATA termination (reply to "."): 10 min
  other,       ///< any other command: 5 min (not in §4.5.3.2; configurable)
  server,      ///< §4.5.3.2.7 server timeout waiting for the next command: 5 min
  count_
};
[[nodiscard]] std::string_view to_string(TimeoutKind k) noexcept;

/// Durations in milliseconds, RFC 5321 §4.5.3.2 defaults.
struct Timeouts {
  std::uint64_t initial_ms = 5 * 60 * 1000;
  std::uint64_t mail_ms = 5 * 60 * 1000;
  std::uint64_t rcpt_ms = 5 * 60 * 1000;
  std::uint64_t data_init_ms = 2 * 60 * 1000;
  std::uint64_t data_block_ms = 3 * 60 * 1000;
  std::uint64_t data_term_ms = 10 * 60 * 1000;
  std::uint64_t other_ms = 5 * 60 * 1000;
  std::uint64_t server_ms = 5 * 60 * 1000;

  [[nodiscard]] std::uint64_t get(TimeoutKind k) const noexcept;
};

/// The timeout a client applies while waiting for the reply to `to`/`verb`.
/// @see RFC 5321 §4.5.3.2
[[nodiscard]] TimeoutKind timeout_for(ReplyTo to, Verb verb) noexcept;

// ---------------------------------------------------------------------------------------------
// Shared event vocabulary
// ---------------------------------------------------------------------------------------------

/// The peer broke a rule: a finding to report, not an error of ours.
struct Violation {
  errc code{};
  std::uint64_t offset = 0;  ///< stream offset (bytes from the peer) where it was seen
  std::string_view rfc;      ///< e.g. "RFC5321#4.3.2" (static storage)
  std::string text;          ///< one sentence; never contains AUTH secrets
  friend bool operator==(const Violation&, const Violation&) = default;
};

/// The session is over: the driver should flush pending output and close the connection.
struct Closed {
  bool clean = false;  ///< after 221 to QUIT (client) / QUIT answered (server)
  std::string reason;
  friend bool operator==(const Closed&, const Closed&) = default;
};

enum class Direction : std::uint8_t { sent = 0, received };

/// One piece of a byte-exact transcript, as the runner writes it into reports.
struct TranscriptEntry {
  Direction direction = Direction::sent;
  /// The bytes, except when `redacted`: then the secret parts are replaced by "<redacted>"
  /// (e.g. "AUTH PLAIN <redacted>\r\n") and `wire_size` tells how many octets really went.
  std::string bytes;
  std::uint64_t offset = 0;     ///< stream offset in its direction
  std::uint64_t wire_size = 0;  ///< octets on the wire
  bool raw = false;             ///< sent unchecked with send_raw()/data_raw()
  bool redacted = false;
  friend bool operator==(const TranscriptEntry&, const TranscriptEntry&) = default;
};

}  // namespace smtp
