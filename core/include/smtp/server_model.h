/// @file server_model.h
/// @brief The oracle: what a conformant SMTP server may answer now, and verdicts on what a
///        real server did answer.
///
/// ServerModel knows the server only approximately: from what it advertised in its EHLO reply
/// (SIZE, CHUNKING, AUTH mechanisms, ENHANCEDSTATUSCODES, ...) and from the replies it gave so
/// far. It never knows local users or relay policy, so where the RFCs leave a choice to the
/// server (accept or refuse a recipient) every code of the RFC 5321 §4.3.2 row is fine; where
/// they do not (503 for RCPT before MAIL, 221 for QUIT, 501 for a cancelled AUTH) the
/// expectation says so, with its requirement level and the RFC reference.
///
/// Use (check/proceed split, as OpenSMTPD's smtp_session.c): expect() and judge() are pure;
/// advance() follows the reply the real server chose, through the transition table of
/// session_state.h.
///
/// The runner calls, for each reply its ClientSession matched (ReplyEvent in
/// client_session.h): `judge(expect(ev.to, ev.command ? &*ev.command : nullptr, size), reply)`
/// then `advance(...)`, and `tls_established()` after a STARTTLS handshake. The fuzzers check
/// that every ServerSession reply gets VerdictKind::ok.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/command.h"
#include "smtp/ehlo.h"
#include "smtp/reply.h"
#include "smtp/reply_codes.h"
#include "smtp/session_state.h"

namespace smtp {

/// RFC 2119 requirement levels.
enum class Requirement : std::uint8_t { must = 0, should, may };
[[nodiscard]] std::string_view to_string(Requirement r) noexcept;

/// One code a conformant server may give now.
struct ExpectedCode {
  std::uint16_t code = 0;
  /// How strongly the RFC ties this code to this situation: must = the RFC names this code
  /// for it ("MUST reply 503"), should = the recommended code, may = an allowed code.
  Requirement level = Requirement::may;
  std::string_view rfc;  ///< e.g. "RFC5321#4.1.4" (static storage)
  friend bool operator==(const ExpectedCode&, const ExpectedCode&) = default;
};

/// What a conformant server may answer now.
struct Expectation {
  ReplyTo to = ReplyTo::command;
  Verb verb = Verb::unknown;
  /// The codes a conformant server may give (421 is always allowed as well, RFC 5321 §3.8).
  std::vector<ExpectedCode> codes;
  /// How strongly the reply must be one of `codes`: must = any other code FAILS; should =
  /// another code is NON-STRICT; may = `codes` are typical, any code of the §4.3.2 row (`row`)
  /// is fine.
  Requirement level = Requirement::may;
  const ReplyRow* row = nullptr;  ///< the §4.3.2 row that bounds the answer (nullptr: none)
  std::string_view rfc;           ///< where the expectation comes from
  std::string_view reason;        ///< one phrase, static storage ("nested MAIL", ...)
  /// ENHANCEDSTATUSCODES was advertised and this reply must carry one (RFC 2034 §4: all but
  /// the greeting, HELO/EHLO replies and 3yz).
  bool enhanced_expected = false;

  /// True when `code` is one of `codes` or 421.
  [[nodiscard]] bool allows(std::uint16_t code) const noexcept;
  /// True when `code` is a success (2yz/3yz) that `codes` allows.
  [[nodiscard]] bool allows_success() const noexcept;
};

enum class VerdictKind : std::uint8_t { ok = 0, non_strict, failed };
[[nodiscard]] std::string_view to_string(VerdictKind v) noexcept;

/// The judgement of one reply (Autobahn's OK / NON-STRICT / FAILED).
struct Verdict {
  VerdictKind kind = VerdictKind::ok;
  std::string reason;  ///< empty for ok
  std::string_view rfc;
  Requirement level = Requirement::may;  ///< the level of the requirement that decided it
  [[nodiscard]] bool ok() const noexcept { return kind == VerdictKind::ok; }
};

/// Everything the model knows about the session.
struct ModelState {
  Phase phase = Phase::connect;
  SessionFlags flags;
  bool greeting_refused = false;             ///< greeted with 554/521 (RFC 5321 §3.1, RFC 7504)
  std::size_t recipients = 0;                ///< accepted RCPTs in this transaction
  std::uint64_t bdat_octets = 0;             ///< BDAT octets accepted in this transaction
  bool bdat_failed = false;                  ///< a BDAT chunk of this transaction failed
  std::optional<Capabilities> capabilities;  ///< from the last 250 to EHLO (nullopt: none)
};

class ServerModel {
 public:
  ServerModel() = default;
  explicit ServerModel(ModelState initial) : state_(std::move(initial)) {}

  [[nodiscard]] const ModelState& state() const noexcept { return state_; }

  /// The expectation for a reply to `to` in `state`. `cmd` is required for
  /// ReplyTo::command/bdat/bdat_last; `data_size` is the message size for data_end (and for
  /// bdat_last the chunk is in `cmd`); `sasl_cancelled`: the SASL response was "*".
  /// Never throws on input.
  /// @see RFC 5321 §4.3.2, §4.1.4, §3.3; RFC 3207; RFC 4954; RFC 3030; RFC 1870
  [[nodiscard]] static Expectation expect(const ModelState& state, ReplyTo to,
                                          const Command* cmd = nullptr, std::uint64_t data_size = 0,
                                          bool sasl_cancelled = false);
  [[nodiscard]] Expectation expect(ReplyTo to, const Command* cmd = nullptr,
                                   std::uint64_t data_size = 0, bool sasl_cancelled = false) const {
    return expect(state_, to, cmd, data_size, sasl_cancelled);
  }
  /// For a command line (BDAT mapped to bdat/bdat_last).
  [[nodiscard]] Expectation expect(const Command& cmd) const {
    return expect(state_, reply_to(cmd), &cmd);
  }
  [[nodiscard]] Expectation expect_greeting() const { return expect(state_, ReplyTo::greeting); }
  [[nodiscard]] Expectation expect_data_end(std::uint64_t size) const {
    return expect(state_, ReplyTo::data_end, nullptr, size);
  }
  [[nodiscard]] Expectation expect_sasl(bool cancelled) const {
    return expect(state_, ReplyTo::sasl, nullptr, 0, cancelled);
  }

  /// Judge `reply` against `e`. @see RFC 2034 §4 for the enhanced-code check.
  [[nodiscard]] static Verdict judge(const Expectation& e, const Reply& reply);
  [[nodiscard]] Verdict judge(const Command& cmd, const Reply& reply) const {
    return judge(expect(cmd), reply);
  }

  /// Follow the real server's reply (its choice, conformant or not).
  void advance(ReplyTo to, const Command* cmd, const Reply& reply);
  void advance(const Command& cmd, const Reply& reply) { advance(reply_to(cmd), &cmd, reply); }
  void advance_greeting(const Reply& reply) { advance(ReplyTo::greeting, nullptr, reply); }
  void advance_data_end(const Reply& reply) { advance(ReplyTo::data_end, nullptr, reply); }
  void advance_sasl(const Reply& reply) { advance(ReplyTo::sasl, nullptr, reply); }
  /// The TLS handshake after 220 to STARTTLS completed (RFC 3207 §4.2: forget everything).
  void tls_established() noexcept;
  /// The connection is gone.
  void closed() noexcept { state_.phase = Phase::closed; }

  /// ReplyTo::bdat / bdat_last for BDAT, ReplyTo::command otherwise.
  [[nodiscard]] static ReplyTo reply_to(const Command& cmd) noexcept {
    if (cmd.verb == Verb::bdat && cmd.errors.empty()) {
      return cmd.last ? ReplyTo::bdat_last : ReplyTo::bdat;
    }
    return ReplyTo::command;
  }

 private:
  ModelState state_;
};

}  // namespace smtp
