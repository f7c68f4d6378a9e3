#include "smtp/reply_codes.h"

#include <algorithm>
#include <iterator>
#include <string_view>

namespace smtp {

const char* reply_code_meaning(std::uint16_t code) noexcept {
  switch (code) {
    // RFC 5321 §4.2.3 "Reply Codes in Numeric Order", verbatim.
    case 211:
      return "System status, or system help reply";
    case 214:
      return "Help message (Information on how to use the receiver or the meaning of a "
             "particular non-standard command; this reply is useful only to the human user)";
    case 220:
      return "<domain> Service ready";
    case 221:
      return "<domain> Service closing transmission channel";
    case 250:
      return "Requested mail action okay, completed";
    case 251:
      return "User not local; will forward to <forward-path> (See Section 3.4)";
    case 252:
      return "Cannot VRFY user, but will accept message and attempt delivery (See Section "
             "3.5.3)";
    case 354:
      return "Start mail input; end with <CRLF>.<CRLF>";
    case 421:
      return "<domain> Service not available, closing transmission channel (This may be a "
             "reply to any command if the service knows it must shut down)";
    case 450:
      return "Requested mail action not taken: mailbox unavailable (e.g., mailbox busy or "
             "temporarily blocked for policy reasons)";
    case 451:
      return "Requested action aborted: local error in processing";
    case 452:
      return "Requested action not taken: insufficient system storage";
    case 455:
      return "Server unable to accommodate parameters";
    case 500:
      return "Syntax error, command unrecognized (This may include errors such as command "
             "line too long)";
    case 501:
      return "Syntax error in parameters or arguments";
    case 502:
      return "Command not implemented (see Section 4.2.4)";
    case 503:
      return "Bad sequence of commands";
    case 504:
      return "Command parameter not implemented";
    case 550:
      return "Requested action not taken: mailbox unavailable (e.g., mailbox not found, no "
             "access, or command rejected for policy reasons)";
    case 551:
      return "User not local; please try <forward-path> (See Section 3.4)";
    case 552:
      return "Requested mail action aborted: exceeded storage allocation";
    case 553:
      return "Requested action not taken: mailbox name not allowed (e.g., mailbox syntax "
             "incorrect)";
    case 554:
      return "Transaction failed (Or, in the case of a connection-opening response, \"No "
             "SMTP service here\")";
    case 555:
      return "MAIL FROM/RCPT TO parameters not recognized or not implemented";
    // RFC 4954 (AUTH) §4 and §6; 454 and 530 are also used by RFC 3207 (STARTTLS) §4.
    case 235:
      return "Authentication Succeeded";
    case 334:
      return "Server challenge: the text is the base64-encoded SASL challenge";
    case 432:
      return "A password transition is needed";
    case 454:
      return "Temporary authentication failure (RFC 4954); TLS not available due to "
             "temporary reason (RFC 3207)";
    case 530:
      return "Authentication required (RFC 4954); Must issue a STARTTLS command first "
             "(RFC 3207)";
    case 534:
      return "Authentication mechanism is too weak";
    case 535:
      return "Authentication credentials invalid";
    case 538:
      return "Encryption required for requested authentication mechanism";
    // RFC 7504.
    case 521:
      return "Host does not accept mail";
    case 556:
      return "Domain does not accept mail";
    // RFC 1985 (ETRN); its 250/251/252 texts are ETRN-specific uses of RFC 5321 codes.
    case 253:
      return "OK, <n> pending messages for node <x> started";
    case 458:
      return "Unable to queue messages for node <x>";
    case 459:
      return "Node <x> not allowed: <reason>";
    // RFC 2645 (ODMR, ATRN).
    case 453:
      return "You have no mail";
    default:
      return nullptr;
  }
}

namespace {

using Codes = std::span<const std::uint16_t>;

// Each table below: RFC 5321 §4.3.2 codes first, in the RFC's order, then the additions.
// Additions common to (almost) every command:
//   500, 501: §4.3.2 "any SMTP command can return any of the following codes ... 500 ...
//             501 ... 421";
//   421:      same sentence; also §4.2.3 ("may be a reply to any command");
//   530:      RFC 4954 §6 (any command other than AUTH, EHLO, HELO, NOOP, RSET, QUIT) and
//             RFC 3207 §4 (every command other than NOOP, EHLO, STARTTLS, QUIT);
//   521:      RFC 7504 (a host that does not accept mail greets with 521; it may keep
//             answering 521 to commands other than QUIT until the client leaves);
//   502:      §4.2.4 (recognized but not implemented) for verbs a server need not implement.

constexpr Codes kEmpty{};

constexpr std::uint16_t kS220[] = {220};
constexpr std::uint16_t kGreetingE[] = {554, 521, 421};
constexpr std::uint16_t kS250[] = {250};
constexpr std::uint16_t kHeloE[] = {504, 550, 502, 500, 501, 421, 530, 521};
constexpr std::uint16_t kEhloE[] = {504, 550, 502, 500, 501, 421, 521};
constexpr std::uint16_t kMailE[] = {552, 451, 452, 550, 553, 503, 455,
                                    555, 500, 501, 421, 530, 521};
constexpr std::uint16_t kRcptS[] = {250, 251};
constexpr std::uint16_t kRcptE[] = {550, 551, 552, 553, 450, 451, 452, 503,
                                    455, 555, 500, 501, 421, 530, 521, 556};
constexpr std::uint16_t kI354[] = {354};
constexpr std::uint16_t kDataE[] = {503, 554, 500, 501, 421, 530, 521};
constexpr std::uint16_t kDataEndE[] = {552, 554, 451, 452, 450, 550, 421};
constexpr std::uint16_t kRsetE[] = {500, 501, 421, 530, 521};
constexpr std::uint16_t kVrfyS[] = {250, 251, 252};
constexpr std::uint16_t kVrfyE[] = {550, 551, 553, 502, 504, 500, 501, 421, 530, 521};
constexpr std::uint16_t kExpnS[] = {250, 252};
constexpr std::uint16_t kExpnE[] = {550, 500, 502, 504, 501, 421, 530, 521};
constexpr std::uint16_t kHelpS[] = {211, 214};
constexpr std::uint16_t kHelpE[] = {502, 504, 500, 501, 421, 530, 521};
constexpr std::uint16_t kNoopE[] = {500, 501, 421, 521};
constexpr std::uint16_t kS221[] = {221};
constexpr std::uint16_t kQuitE[] = {500, 501, 421};
constexpr std::uint16_t kSendE[] = {552, 451, 452, 500, 501, 502, 421, 530, 521};
constexpr std::uint16_t kTurnE[] = {502, 500, 503, 501, 421, 530, 521};
constexpr std::uint16_t kStarttlsE[] = {454, 501, 500, 502, 503, 421, 530, 521};
constexpr std::uint16_t kS235[] = {235};
constexpr std::uint16_t kI334[] = {334};
constexpr std::uint16_t kAuthE[] = {432, 454, 500, 501, 503, 504, 534,
                                    535, 538, 502, 421, 530, 521};
constexpr std::uint16_t kBdatE[] = {552, 554, 451, 452, 450, 550, 503,
                                    500, 501, 502, 421, 530, 521};
constexpr std::uint16_t kEtrnS[] = {250, 251, 252, 253};
constexpr std::uint16_t kEtrnE[] = {458, 459, 500, 501, 502, 421, 530, 521};
constexpr std::uint16_t kAtrnE[] = {450, 451, 453, 502, 530, 500, 501, 421, 521};
constexpr std::uint16_t kUnknownE[] = {500, 501, 502, 421, 530, 521};

// Notes shared by most rows.
#define SMTPH_ANY "500, 501, 421: RFC5321#4.3.2 (any command); "
#define SMTPH_530 "530: RFC4954#6 (authentication required) and RFC3207#4 (STARTTLS first); "
#define SMTPH_521 "521: RFC7504 (host does not accept mail)"

constexpr ReplyRow kGreeting{Verb::unknown,
                             kS220,
                             kEmpty,
                             kGreetingE,
                             "RFC5321#4.3.2",
                             "RFC5321#4.3.2 CONNECTION ESTABLISHMENT: S 220, E 554; "
                             "421: RFC5321#4.2.3 and RFC821#4.3 (F: 421); "
                             "521: RFC7504 (connection-opening reply of a host that does "
                             "not accept mail)"};

constexpr ReplyRow kDataEnd{Verb::data,
                            kS250,
                            kEmpty,
                            kDataEndE,
                            "RFC5321#4.3.2",
                            "RFC5321#4.3.2 DATA after \"-> data ->\": S 250, E 552 554 451 "
                            "452, E 450 550 (rejections for policy reasons), see also "
                            "RFC5321#4.2.5; the same codes end BDAT LAST (RFC3030); "
                            "421: RFC5321#4.2.3"};

const ReplyRow kRows[] = {
    {Verb::unknown, kEmpty, kEmpty, kUnknownE, "RFC5321#4.2.4",
     "500 (not recognized) / 502 (recognized, not implemented): RFC5321#4.2.4, #4.1.5; "
     "501, 421: RFC5321#4.3.2 (any command); "
     "530: RFC3207#4 (every command other than NOOP, EHLO, STARTTLS, QUIT); " SMTPH_521},
    {Verb::helo, kS250, kEmpty, kHeloE, "RFC5321#4.3.2",
     "RFC5321#4.3.2 EHLO or HELO: S 250, E 504 550 502; " SMTPH_ANY
     "530: RFC3207#4 (HELO is not exempt); " SMTPH_521},
    {Verb::ehlo, kS250, kEmpty, kEhloE, "RFC5321#4.3.2",
     "RFC5321#4.3.2 EHLO or HELO: S 250, E 504 550 502; 501/500/502/550 also "
     "RFC5321#4.1.4; " SMTPH_ANY SMTPH_521 "; no 530 (EHLO is exempt in RFC4954#6 and RFC3207#4)"},
    {Verb::mail, kS250, kEmpty, kMailE, "RFC5321#4.3.2",
     "RFC5321#4.3.2 MAIL: S 250, E 552 451 452 550 553 503 455 555 (552/452 also RFC1870 "
     "SIZE, 555 RFC5321#4.1.1.11, 553/550 with 5.6.7 RFC6531); " SMTPH_ANY SMTPH_530 SMTPH_521},
    {Verb::rcpt, kRcptS, kEmpty, kRcptE, "RFC5321#4.3.2",
     "RFC5321#4.3.2 RCPT: S 250 251, E 550 551 552 553 450 451 452 503 455 555 (452 too "
     "many recipients RFC5321#4.5.3.1.10); " SMTPH_ANY SMTPH_530 SMTPH_521
     "; 556: RFC7504 (recipient domain does not accept mail, e.g. null MX RFC7505)"},
    {Verb::data, kEmpty, kI354, kDataE, "RFC5321#4.3.2",
     "RFC5321#4.3.2 DATA: I 354 (then data_end_row()), E 503 554; " SMTPH_ANY SMTPH_530 SMTPH_521},
    {Verb::rset, kS250, kEmpty, kRsetE, "RFC5321#4.3.2",
     "RFC5321#4.3.2 RSET: S 250; " SMTPH_ANY
     "530: RFC3207#4 (RSET is not exempt there); " SMTPH_521},
    {Verb::vrfy, kVrfyS, kEmpty, kVrfyE, "RFC5321#4.3.2",
     "RFC5321#4.3.2 VRFY: S 250 251 252, E 550 551 553 502 504; " SMTPH_ANY SMTPH_530 SMTPH_521},
    {Verb::expn, kExpnS, kEmpty, kExpnE, "RFC5321#4.3.2",
     "RFC5321#4.3.2 EXPN: S 250 252, E 550 500 502 504; " SMTPH_ANY SMTPH_530 SMTPH_521},
    {Verb::help, kHelpS, kEmpty, kHelpE, "RFC5321#4.3.2",
     "RFC5321#4.3.2 HELP: S 211 214, E 502 504; " SMTPH_ANY SMTPH_530 SMTPH_521},
    {Verb::noop, kS250, kEmpty, kNoopE, "RFC5321#4.3.2",
     "RFC5321#4.3.2 NOOP: S 250; " SMTPH_ANY SMTPH_521
     "; no 530 (NOOP is exempt in RFC4954#6 and RFC3207#4)"},
    {Verb::quit, kS221, kEmpty, kQuitE, "RFC5321#4.3.2",
     "RFC5321#4.3.2 QUIT: S 221; " SMTPH_ANY
     "no 530 (exempt in RFC4954#6 and RFC3207#4); no 521 (RFC7504 exempts QUIT)"},
    {Verb::send, kS250, kEmpty, kSendE, "RFC821#4.3",
     "RFC821#4.3 SEND: S 250, F 552 451 452, E 500 501 502 421 (RFC5321 omits SEND, see "
     "RFC5321 Appendix F.6); " SMTPH_530 SMTPH_521},
    {Verb::soml, kS250, kEmpty, kSendE, "RFC821#4.3",
     "RFC821#4.3 SOML: S 250, F 552 451 452, E 500 501 502 421 (RFC5321 Appendix F.6); " SMTPH_530
         SMTPH_521},
    {Verb::saml, kS250, kEmpty, kSendE, "RFC821#4.3",
     "RFC821#4.3 SAML: S 250, F 552 451 452, E 500 501 502 421 (RFC5321 Appendix F.6); " SMTPH_530
         SMTPH_521},
    {Verb::turn, kS250, kEmpty, kTurnE, "RFC821#4.3",
     "RFC821#4.3 TURN: S 250, F 502, E 500 503 (RFC5321 Appendix F.1); 501, 421: "
     "RFC5321#4.3.2 (any command); " SMTPH_530 SMTPH_521},
    {Verb::starttls, kS220, kEmpty, kStarttlsE, "RFC3207#4",
     "RFC3207#4 STARTTLS: 220, 501, 454; 500/502 when not offered: RFC5321#4.2.4; 503 out of "
     "sequence (e.g. TLS already active): RFC5321#4.1.4; " SMTPH_ANY
     "530: RFC4954#6 (STARTTLS is not exempt there); " SMTPH_521},
    {Verb::auth, kS235, kI334, kAuthE, "RFC4954#4",
     "RFC4954#4 and #6 AUTH: S 235, I 334, E 432 454 500 (5.5.6 line too long) 501 (cancel, "
     "bad base64) 503 (already authenticated, in a transaction) 504 (unknown mechanism) 534 "
     "535 538; 502 when not offered: RFC5321#4.2.4; 421: RFC5321#4.3.2; 530: RFC3207#4 "
     "(AUTH before STARTTLS); " SMTPH_521},
    {Verb::bdat, kS250, kEmpty, kBdatE, "RFC3030",
     "RFC3030 BDAT: S 250 per chunk; E as at the end of data (552 554 451 452 450 550, "
     "RFC5321#4.3.2), 503 (BDAT after BDAT LAST, or with no transaction, RFC3030 and "
     "RFC5321#4.1.4); 502 when not offered: RFC5321#4.2.4; " SMTPH_ANY SMTPH_530 SMTPH_521},
    {Verb::etrn, kEtrnS, kEmpty, kEtrnE, "RFC1985",
     "RFC1985 ETRN: S 250 251 252 253, E 458 459 500 501; 502 when not offered: "
     "RFC5321#4.2.4; 421: RFC5321#4.3.2; " SMTPH_530 SMTPH_521},
    {Verb::atrn, kS250, kEmpty, kAtrnE, "RFC2645",
     "RFC2645 ATRN: S 250, E 450 451 453 502 530; " SMTPH_ANY SMTPH_521},
};

#undef SMTPH_ANY
#undef SMTPH_530
#undef SMTPH_521

static_assert(std::size(kRows) == static_cast<std::size_t>(Verb::count_),
              "one ReplyRow per Verb, in enum order");

bool contains(Codes codes, std::uint16_t code) noexcept {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

}  // namespace

const ReplyRow& reply_row(Verb verb) noexcept {
  const auto i = static_cast<std::size_t>(verb);
  if (i >= std::size(kRows)) return kRows[0];
  return kRows[i];
}

const ReplyRow& greeting_row() noexcept { return kGreeting; }

const ReplyRow& data_end_row() noexcept { return kDataEnd; }

ReplyKind classify_reply(const ReplyRow& row, std::uint16_t code) noexcept {
  if (contains(row.success, code)) return ReplyKind::success;
  if (contains(row.intermediate, code)) return ReplyKind::intermediate;
  if (contains(row.error, code)) return ReplyKind::error;
  if (code == 421) return ReplyKind::error;  // RFC 5321 §3.8, §4.2.3: any command
  return ReplyKind::not_allowed;
}

}  // namespace smtp
