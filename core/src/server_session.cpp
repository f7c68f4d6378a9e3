#include "smtp/server_session.h"

#include <algorithm>
#include <utility>

namespace smtp {

// ---------------------------------------------------------------------------------------------
// Quirks
// ---------------------------------------------------------------------------------------------

namespace {

constexpr QuirkInfo kQuirks[] = {
    {Quirk::accept_lf_dot_lf, "accept-lf-dot-lf", "\"\\n.\\n\" ends mail data (SMTP smuggling)"},
    {Quirk::accept_lf_dot_cr, "accept-lf-dot-cr", "\"\\n.\\r\" ends mail data"},
    {Quirk::accept_cr_dot_lf, "accept-cr-dot-lf", "\"\\r.\\n\" ends mail data"},
    {Quirk::accept_cr_dot_cr, "accept-cr-dot-cr", "\"\\r.\\r\" ends mail data"},
    {Quirk::accept_lf_dot_crlf, "accept-lf-dot-crlf", "\"\\n.\\r\\n\" ends mail data"},
    {Quirk::accept_crlf_dot_lf, "accept-crlf-dot-lf", "\"\\r\\n.\\n\" ends mail data"},
    {Quirk::accept_cr_dot_crlf, "accept-cr-dot-crlf", "\"\\r.\\r\\n\" ends mail data"},
    {Quirk::accept_crlf_dot_cr, "accept-crlf-dot-cr", "\"\\r\\n.\\r\" ends mail data"},
    {Quirk::accept_crlf_nul_dot_crlf, "accept-crlf-nul-dot-crlf",
     "\"\\r\\n\\0.\\r\\n\" ends mail data"},
    {Quirk::accept_crlf_dot_nul_crlf, "accept-crlf-dot-nul-crlf",
     "\"\\r\\n.\\0\\r\\n\" ends mail data"},
    {Quirk::accept_crlf_dot_cr_crlf, "accept-crlf-dot-cr-crlf",
     "\"\\r\\n.\\r\\r\\n\" ends mail data"},
    {Quirk::accept_cr_crlf_dot_crlf, "accept-cr-crlf-dot-crlf",
     "\"\\r\\r\\n.\\r\\n\" ends mail data (it contains CRLF.CRLF: same as strict)"},
    {Quirk::accept_cr_crlf_dot_cr_crlf, "accept-cr-crlf-dot-cr-crlf",
     "\"\\r\\r\\n.\\r\\r\\n\" ends mail data"},
    {Quirk::accept_any_eod, "accept-any-eod",
     "every non-canonical end-of-data sequence ends mail data"},
    {Quirk::skip_sequence_checks, "skip-503-checks",
     "never answer 503: commands out of sequence are accepted"},
    {Quirk::reply_502_everything, "502-everything", "answer 502 to every command line"},
    {Quirk::keep_transaction_across_starttls, "keep-transaction-across-starttls",
     "accept STARTTLS inside a transaction and keep the transaction and EHLO across the "
     "TLS handshake"},
    {Quirk::starttls_plaintext_injection, "starttls-plaintext-injection",
     "execute plaintext pipelined after STARTTLS once TLS is up (CVE-2011-0411)"},
    {Quirk::accept_bare_lf, "accept-bare-lf", "a bare LF ends a command line"},
    {Quirk::no_421_on_shutdown, "no-421-on-shutdown", "close without 421 on shutdown or timeout"},
    {Quirk::wrong_multiline_code, "wrong-multiline-code",
     "the second line of a multi-line reply carries another code"},
    {Quirk::advertise_auth_before_tls, "advertise-auth-before-tls",
     "offer and accept AUTH before TLS although the profile requires TLS"},
    {Quirk::open_relay, "open-relay", "relay mail for anyone"},
    {Quirk::vrfy_leaks_users, "vrfy-leaks-users",
     "VRFY answers 252 for existing users and 550 for unknown ones"},
};
static_assert(std::size(kQuirks) == static_cast<std::size_t>(Quirk::count_));
static_assert(static_cast<unsigned>(Quirk::accept_cr_crlf_dot_cr_crlf) + 1 == kEodCandidateCount,
              "one accept-* quirk per EodCandidate, same order");

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

// A local part compared by its meaning: quoting removed ("post\master" -> postmaster), since
// quoted and unquoted forms of a local part are equivalent (RFC 5321 §4.1.2).
std::string canonical_local_part(std::string_view lp) {
  if (lp.size() < 2 || lp.front() != '"' || lp.back() != '"') return std::string(lp);
  std::string out;
  out.reserve(lp.size() - 2);
  for (std::size_t i = 1; i + 1 < lp.size(); ++i) {
    if (lp[i] == '\\' && i + 2 < lp.size()) ++i;
    out += lp[i];
  }
  return out;
}

// Postmaster is case-insensitive (RFC 5321 §4.5.1), in any quoting (§4.1.2).
bool is_postmaster_local(std::string_view lp) {
  return iequals(canonical_local_part(lp), "postmaster");
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool is_mail_like(Verb v) noexcept {
  return v == Verb::mail || v == Verb::send || v == Verb::soml || v == Verb::saml;
}

std::optional<EnhancedStatus> esc(const char* s) {
  if (s == nullptr) return std::nullopt;
  return parse_enhanced_status(s);
}

std::string_view rfc_of(errc code) noexcept {
  switch (code) {
    case errc::bare_lf:
    case errc::bare_cr:
      return "RFC5321#2.3.8";
    case errc::text_line_too_long:
      return "RFC5321#4.5.3.1.6";
    case errc::non_canonical_end_of_data:
      return "RFC5321#4.1.1.4";
    default:
      return "RFC5321#4.5.2";
  }
}

}  // namespace

std::span<const QuirkInfo> all_quirks() noexcept { return kQuirks; }

std::string_view to_string(Quirk q) noexcept {
  const auto i = static_cast<std::size_t>(q);
  return i < std::size(kQuirks) ? kQuirks[i].name : std::string_view();
}

std::optional<Quirk> quirk_from_string(std::string_view name) noexcept {
  for (const QuirkInfo& q : kQuirks) {
    if (q.name == name) return q.quirk;
  }
  return std::nullopt;
}

std::uint32_t QuirkSet::accept_as_end() const noexcept {
  if (has(Quirk::accept_any_eod)) return (std::uint32_t{1} << kEodCandidateCount) - 1;
  std::uint32_t mask = 0;
  for (std::size_t i = 0; i < kEodCandidateCount; ++i) {
    if (has(static_cast<Quirk>(i))) mask |= std::uint32_t{1} << i;
  }
  return mask;
}

// ---------------------------------------------------------------------------------------------
// ServerSession
// ---------------------------------------------------------------------------------------------

namespace {

Leniency command_leniency(const ServerProfile& p) {
  Leniency l;
  // Trailing SP/HTAB after a command: robust and harmless (RFC 5321 §4.1.1 grammar has none).
  l.allow(Tolerance::trailing_whitespace);
  if (p.quirks.has(Quirk::accept_bare_lf)) l.allow(Tolerance::bare_lf);
  return l;
}

Leniency framer_leniency(const ServerProfile& p) {
  Leniency l = command_leniency(p);
  // The framer buffers AUTH-length lines; parse_command decides which lines are too long.
  l.allow(Tolerance::long_line);
  return l;
}

}  // namespace

ServerSession::ServerSession(ServerProfile profile, ServerOptions options)
    : profile_(std::move(profile)),
      options_(options),
      framer_(profile_.limits.command_line, std::max(kAuthLineLimit, profile_.limits.command_line),
              framer_leniency(profile_)),
      decoder_(DataDecoderOptions{profile_.limits, profile_.quirks.accept_as_end(), 1024}) {
  cmd_opt_.limits = profile_.limits;
  cmd_opt_.lenient = command_leniency(profile_);
  cmd_opt_.smtputf8 = profile_.extensions.smtputf8;
  auth_opt_ = cmd_opt_;
  auth_opt_.limits.command_line = std::max(kAuthLineLimit, profile_.limits.command_line);
  if (options_.implicit_tls) {
    flags_.tls = true;
    ModelState s;
    s.flags.tls = true;
    model_ = ServerModel(s);
  }
  env_.tls = flags_.tls;
  reply1(Context{ReplyTo::greeting}, 220, nullptr, profile_.hostname + " " + profile_.greeting);
}

std::string_view ServerSession::pending_output() const noexcept {
  return std::string_view(out_).substr(out_pos_);
}

void ServerSession::consume_output(std::size_t n) noexcept {
  out_pos_ += std::min(n, out_.size() - out_pos_);
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  }
}

std::optional<ServerEvent> ServerSession::next_event() {
  if (events_.empty()) return std::nullopt;
  ServerEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

bool ServerSession::auth_offered() const noexcept {
  const auto& x = profile_.extensions;
  if (!x.auth || profile_.auth_mechanisms.empty()) return false;
  return flags_.tls || !profile_.auth_requires_tls ||
         profile_.quirks.has(Quirk::advertise_auth_before_tls);
}

bool ServerSession::ext_offered(Verb v) const noexcept {
  const auto& x = profile_.extensions;
  switch (v) {
    case Verb::bdat:
      return x.chunking;
    case Verb::starttls:
      return x.starttls && !flags_.tls;
    case Verb::auth:
      return auth_offered();
    case Verb::etrn:
      return x.etrn;
    case Verb::atrn:
      return false;
    default:
      return true;
  }
}

Capabilities ServerSession::capabilities() const {
  const auto& x = profile_.extensions;
  Capabilities caps;
  caps.domain = profile_.hostname;
  caps.greeting = "greets you";
  auto add = [&](std::string kw, std::vector<std::string> params = {}) {
    caps.list.push_back(Capability{std::move(kw), std::move(params)});
  };
  if (x.pipelining) add("PIPELINING");
  if (x.size) add("SIZE", {std::to_string(profile_.max_message_size)});
  if (x.eightbitmime) add("8BITMIME");
  if (x.smtputf8) add("SMTPUTF8");
  if (x.chunking) add("CHUNKING");
  if (x.binarymime) add("BINARYMIME");
  if (x.dsn) add("DSN");
  if (x.enhancedstatuscodes) add("ENHANCEDSTATUSCODES");
  if (x.starttls && !flags_.tls) add("STARTTLS");
  if (auth_offered()) {
    std::vector<std::string> mechs;
    for (const std::string& m : profile_.auth_mechanisms) {
      if (sasl_mechanism_from_string(m) != SaslMechanism::unknown) {
        mechs.emplace_back(to_string(sasl_mechanism_from_string(m)));
      }
    }
    if (!mechs.empty()) add("AUTH", std::move(mechs));
  }
  if (x.etrn) add("ETRN");
  return caps;
}

std::uint64_t ServerSession::stored_cap() const noexcept {
  // Keep at most one octet more than the limit: enough to know it was exceeded.
  constexpr std::uint64_t kHardCap = 64u * 1024u * 1024u;
  const std::uint64_t m = profile_.max_message_size;
  return m == 0 ? kHardCap : std::min(m + 1, kHardCap);
}

void ServerSession::reply(const Context& ctx, std::uint16_t code, const char* esc_text,
                          std::vector<std::string> lines) {
  const bool use_esc = profile_.extensions.enhancedstatuscodes && esc_text != nullptr &&
                       ctx.to != ReplyTo::greeting && code / 100 != 3;
  Reply r = make_reply(code, std::move(lines), use_esc ? esc(esc_text) : std::nullopt);
  std::string wire = r.serialize();
  if (profile_.quirks.has(Quirk::wrong_multiline_code) && r.lines.size() > 1) {
    const std::size_t p = wire.find("\r\n") + 2;
    const std::string bad = std::to_string(code % 10 == 9 ? code - 1 : code + 1);
    wire.replace(p, 3, bad);
  }
  out_ += wire;

  const Verb verb = ctx.cmd != nullptr ? ctx.cmd->verb : Verb::unknown;
  bool binarymime = false;
  if (ctx.cmd != nullptr && is_mail_like(verb)) {
    const Param* body = ctx.cmd->param("BODY");
    binarymime = body != nullptr && body->value && iequals(*body->value, "BINARYMIME");
  }
  const Phase before = phase_;
  phase_ = next_phase(phase_, flags_, ctx.to, verb, code);
  flags_ = next_flags(flags_, ctx.to, verb, code, binarymime);

  if (options_.exchange_events) {
    const Expectation e = model_.expect(ctx.to, ctx.cmd, ctx.data_size, ctx.sasl_cancelled);
    Exchange ex;
    ex.to = ctx.to;
    ex.before = before;
    ex.verdict = ServerModel::judge(e, r);
    model_.advance(ctx.to, ctx.cmd, r);
    if (ctx.cmd != nullptr) {
      ex.command = *ctx.cmd;
      if (ex.command->initial_response && *ex.command->initial_response != "=") {
        ex.command->initial_response = "<redacted>";
        ex.command->argument = ex.command->mechanism + " <redacted>";
      }
    }
    ex.reply = std::move(r);
    events_.emplace_back(std::move(ex));
  }
}

void ServerSession::violation(errc code, std::uint64_t offset, std::string_view rfc,
                              std::string text) {
  events_.emplace_back(Violation{code, offset, rfc, std::move(text)});
}

void ServerSession::close(bool clean, std::string reason) {
  if (closing_) return;
  closing_ = true;
  mode_ = Mode::closed;
  phase_ = Phase::closed;
  model_.closed();
  events_.emplace_back(Closed{clean, std::move(reason)});
}

void ServerSession::reset_transaction() {
  env_.reverse_path = Path{};
  env_.mail_params.clear();
  env_.recipients.clear();
  data_.clear();
  data_oversize_ = false;
  bdat_total_ = 0;
  bdat_failed_ = false;
  bdat_fail_code_ = 0;
}

bool ServerSession::is_local(std::string_view domain) const {
  return std::any_of(profile_.local_domains.begin(), profile_.local_domains.end(),
                     [&](const std::string& d) { return iequals(d, domain); });
}

bool ServerSession::mailbox_exists(const Path& p) const {
  if (p.postmaster || is_postmaster_local(p.local_part)) return true;
  if (profile_.users.empty()) return true;
  const std::string local = canonical_local_part(p.local_part);
  return std::any_of(profile_.users.begin(), profile_.users.end(), [&](const std::string& u) {
    return iequals(canonical_local_part(u), local);
  });
}

void ServerSession::receive(std::string_view bytes) {
  if (closing_ || bytes.empty()) return;
  framer_.feed(bytes);
  process();
}

void ServerSession::receive_eof() {
  if (closing_) return;
  process();
  if (closing_) return;
  if (mode_ == Mode::data || mode_ == Mode::bdat_chunk || mode_ == Mode::sasl ||
      !framer_.buffered().empty()) {
    violation(errc::unexpected_eof, framer_.offset() + framer_.buffered().size(), "RFC5321#3.8",
              "the client closed the connection in the middle of a command, SASL exchange or "
              "mail data");
  }
  close(false, "the client closed the connection without QUIT");
}

void ServerSession::tls_established() {
  if (phase_ != Phase::tls || closing_) return;
  const bool keep = profile_.quirks.has(Quirk::keep_transaction_across_starttls);
  if (keep) {
    phase_ = phase_before_tls_;
    flags_ = flags_before_tls_;
    flags_.tls = true;
  } else {
    phase_ = kPhaseAfterTls;
    flags_ = flags_after_tls();
    helo_.clear();
    helo_extended_ = false;
    auth_user_.clear();
    reset_transaction();
  }
  env_.tls = true;
  mode_ = Mode::command;
  model_.tls_established();
  process();  // plaintext kept by starttls-plaintext-injection
}

void ServerSession::shutdown() {
  if (closing_) return;
  if (!profile_.quirks.has(Quirk::no_421_on_shutdown)) {
    reply1(Context{ReplyTo::raw}, 421, "4.3.2",
           profile_.hostname + " Service not available, closing transmission channel");
  }
  close(false, "server shutdown");
}

void ServerSession::timeout() {
  if (closing_) return;
  if (!profile_.quirks.has(Quirk::no_421_on_shutdown)) {
    reply1(Context{ReplyTo::raw}, 421, "4.4.2", profile_.hostname + " Timeout, closing connection");
  }
  close(false, "server timeout");
}

void ServerSession::process() {
  for (;;) {
    switch (mode_) {
      case Mode::closed:
        return;
      case Mode::tls: {
        const std::string_view buf = framer_.buffered();
        if (buf.empty() || profile_.quirks.has(Quirk::starttls_plaintext_injection)) return;
        violation(errc::out_of_sequence, framer_.offset(), "RFC3207#4.2",
                  std::to_string(buf.size()) +
                      " octets of plaintext after STARTTLS discarded (command injection)");
        framer_.discard(buf.size());
        return;
      }
      case Mode::data: {
        const std::string_view buf = framer_.buffered();
        if (buf.empty()) return;
        const std::size_t n = decoder_.decode(buf, data_);
        if (data_.size() > stored_cap()) {
          data_oversize_ = true;
          data_.resize(stored_cap());
        }
        framer_.discard(n);
        if (!decoder_.done()) return;
        finish_data();
        break;
      }
      case Mode::bdat_chunk: {
        const std::string_view buf = framer_.buffered();
        if (bdat_remaining_ > 0 && buf.empty()) return;
        const auto take =
            static_cast<std::size_t>(std::min<std::uint64_t>(bdat_remaining_, buf.size()));
        if (!bdat_failed_ && !bdat_refused_ && data_.size() < stored_cap()) {
          const std::size_t room = static_cast<std::size_t>(stored_cap() - data_.size());
          data_.append(buf.substr(0, std::min(room, take)));
        }
        framer_.discard(take);
        bdat_remaining_ -= take;
        if (bdat_remaining_ != 0) return;
        finish_bdat_chunk();
        break;
      }
      case Mode::sasl:
      case Mode::command: {
        const auto line = framer_.next_line();
        if (!line) return;
        if (mode_ == Mode::sasl) {
          handle_sasl(*line);
        } else {
          handle_line(*line);
        }
        break;
      }
    }
  }
}

void ServerSession::handle_line(const Line& line) {
  const bool auth_line = istarts_with(line.text, "AUTH ") || iequals(line.text, "AUTH");
  Command c;
  if (auth_line && line.over_limit && line.ending != LineEnding::cut) {
    Line l = line;
    l.over_limit = false;
    c = parse_command(l, auth_opt_);
  } else {
    c = parse_command(line, cmd_opt_);
  }
  handle_command(c);
}

void ServerSession::handle_command(Command& c) {
  Context ctx;
  ctx.to = ServerModel::reply_to(c);
  ctx.cmd = &c;
  const Verb verb = c.verb;
  const auto& quirks = profile_.quirks;

  // --- check (OpenSMTPD's check/proceed split): the refusal, if any -------------------------
  struct Refusal {
    std::uint16_t code;
    const char* esc;
    std::string text;
  };
  std::optional<Refusal> refusal;
  bool too_long = false, line_error = false, syntax = false;
  errc first_syntax{};
  for (const Diagnostic& d : c.errors) {
    switch (d.code) {
      case errc::line_too_long:
        too_long = true;
        break;
      case errc::bare_lf:
      case errc::bare_cr:
      case errc::nul_byte:
      case errc::unexpected_eof:
        line_error = true;
        break;
      case errc::unknown_command:
        break;
      default:
        // "If a parameter string is specified, servers SHOULD ignore it" (RFC 5321 §4.1.1.9).
        if (verb == Verb::noop) break;
        if (!syntax) first_syntax = d.code;
        syntax = true;
        break;
    }
  }
  if (quirks.has(Quirk::reply_502_everything)) {
    refusal = Refusal{502, "5.5.1", "Command not implemented"};
  } else if (too_long) {
    refusal = Refusal{500, "5.5.2", "Line too long"};
  } else if (line_error) {
    refusal = Refusal{static_cast<std::uint16_t>(verb == Verb::unknown ? 500 : 501), "5.5.2",
                      "Bare CR or LF, or NUL, in the command line"};
  } else if (verb == Verb::unknown) {
    refusal = Refusal{500, "5.5.2", "Command unrecognized"};
  } else if (flags_.extended && !ext_offered(verb)) {
    if (verb == Verb::auth && profile_.extensions.auth && !flags_.tls &&
        profile_.auth_requires_tls) {
      refusal =
          Refusal{538, "5.7.11", "Encryption required for requested authentication mechanism"};
    } else {
      refusal = Refusal{502, "5.5.1", "Command not implemented"};
    }
  } else if (syntax) {
    const bool path =
        first_syntax == errc::bad_path || first_syntax == errc::bad_local_part ||
        first_syntax == errc::bad_domain || first_syntax == errc::bad_address_literal ||
        first_syntax == errc::local_part_too_long || first_syntax == errc::domain_too_long ||
        first_syntax == errc::path_too_long || first_syntax == errc::non_ascii;
    const char* e = "5.5.4";
    if (path) e = verb == Verb::rcpt ? "5.1.3" : "5.1.7";
    refusal = Refusal{
        501, e,
        std::string("Syntax error in parameters or arguments (") + to_string(first_syntax) + ")"};
  } else if (!quirks.has(Quirk::skip_sequence_checks)) {
    const bool starttls_in_tx = verb == Verb::starttls &&
                                quirks.has(Quirk::keep_transaction_across_starttls) &&
                                contains(kTransactionPhases, phase_) && !flags_.tls;
    const SequenceCheck sc = check_sequence(phase_, flags_, verb);
    if (!sc.ok && !starttls_in_tx) {
      refusal = Refusal{sc.code, sc.code == 530 ? "5.7.0" : "5.5.1",
                        std::string("Bad sequence of commands: ") + std::string(sc.reason)};
    }
  }

  // BDAT: the chunk follows the command line whatever the answer (RFC 3030 §2); read it
  // first, answer after.
  if (ctx.to == ReplyTo::bdat || ctx.to == ReplyTo::bdat_last) {
    bdat_cmd_ = c;
    bdat_remaining_ = c.chunk_size;
    bdat_offset_ = framer_.offset();
    bdat_refused_ = refusal.has_value();
    if (refusal) {
      bdat_refusal_code_ = refusal->code;
      bdat_refusal_esc_ = refusal->esc;
      bdat_refusal_text_ = std::move(refusal->text);
    }
    mode_ = Mode::bdat_chunk;
    return;
  }
  if (refusal) {
    reply1(ctx, refusal->code, refusal->esc, std::move(refusal->text));
    return;
  }

  // --- proceed ---------------------------------------------------------------------------
  switch (verb) {
    case Verb::helo:
      reset_transaction();
      helo_ = c.argument;
      helo_extended_ = false;
      env_.helo = helo_;
      env_.extended = false;
      reply1(ctx, 250, nullptr, profile_.hostname + " greets " + c.argument);
      return;
    case Verb::ehlo: {
      reset_transaction();
      helo_ = c.argument;
      helo_extended_ = true;
      env_.helo = helo_;
      env_.extended = true;
      Reply r = make_ehlo_reply(capabilities());
      reply(ctx, 250, nullptr, std::move(r.lines));
      return;
    }
    case Verb::mail:
      do_mail(ctx, c);
      return;
    case Verb::rcpt:
      do_rcpt(ctx, c);
      return;
    case Verb::data:
      reply1(ctx, 354, nullptr, "End data with <CR><LF>.<CR><LF>");
      mode_ = Mode::data;
      decoder_.reset();
      data_.clear();
      data_oversize_ = false;
      data_offset_ = framer_.offset();
      return;
    case Verb::rset:
      reset_transaction();
      reply1(ctx, 250, "2.0.0", "OK");
      return;
    case Verb::vrfy: {
      if (!profile_.extensions.vrfy) {
        reply1(ctx, 502, "5.5.1", "VRFY not available");
        return;
      }
      if (quirks.has(Quirk::vrfy_leaks_users)) {
        std::string_view arg = c.argument;
        if (!arg.empty() && arg.front() == '<') arg.remove_prefix(1);
        if (!arg.empty() && arg.back() == '>') arg.remove_suffix(1);
        const std::string local = canonical_local_part(arg.substr(0, arg.rfind('@')));
        const bool known =
            iequals(local, "postmaster") ||
            std::any_of(profile_.users.begin(), profile_.users.end(), [&](const std::string& u) {
              return iequals(canonical_local_part(u), local);
            });
        if (known) {
          reply1(ctx, 252, "2.1.5", "User exists; try RCPT to attempt delivery");
        } else {
          reply1(ctx, 550, "5.1.1", "User unknown");
        }
        return;
      }
      reply1(ctx, 252, "2.1.5", "Cannot VRFY user, but will accept message and attempt delivery");
      return;
    }
    case Verb::expn:
      reply1(ctx, 502, "5.5.1", "EXPN not available");
      return;
    case Verb::help:
      reply(ctx, 214, "2.0.0",
            {"Commands supported:",
             "HELO EHLO MAIL RCPT DATA BDAT RSET VRFY EXPN HELP NOOP QUIT STARTTLS AUTH"});
      return;
    case Verb::noop:
      reply1(ctx, 250, "2.0.0", "OK");
      return;
    case Verb::quit:
      reply1(ctx, 221, "2.0.0", profile_.hostname + " Service closing transmission channel");
      close(true, "QUIT");
      return;
    case Verb::starttls:
      phase_before_tls_ = phase_;
      flags_before_tls_ = flags_;
      reply1(ctx, 220, "2.0.0", "Ready to start TLS");
      mode_ = Mode::tls;
      events_.emplace_back(TlsWanted{});
      return;
    case Verb::auth:
      do_auth(ctx, c);
      return;
    case Verb::etrn:
      reply1(ctx, 250, "2.0.0", "Queuing for node " + c.argument + " started");
      return;
    case Verb::send:
    case Verb::soml:
    case Verb::saml:
    case Verb::turn:
    case Verb::atrn:
    case Verb::bdat:
    case Verb::unknown:
    case Verb::count_:
      break;
  }
  reply1(ctx, 502, "5.5.1", "Command not implemented");
}

void ServerSession::do_mail(const Context& ctx, const Command& c) {
  const auto& x = profile_.extensions;
  // Parameters: each must belong to an advertised extension (RFC 5321 §4.1.1.11: 555).
  for (const Param& p : c.params) {
    const std::string_view kw = p.keyword;
    const std::string_view v = p.value ? std::string_view(*p.value) : std::string_view();
    bool known = helo_extended_;
    bool bad_value = false;
    if (!known) {
    } else if (iequals(kw, "SIZE")) {
      known = x.size;
      bad_value = v.empty() || v.find_first_not_of("0123456789") != std::string_view::npos;
    } else if (iequals(kw, "BODY")) {
      if (iequals(v, "7BIT")) {
        known = x.eightbitmime || x.binarymime;
      } else if (iequals(v, "8BITMIME")) {
        known = x.eightbitmime;
      } else if (iequals(v, "BINARYMIME")) {
        known = x.binarymime;
      } else {
        bad_value = true;
      }
    } else if (iequals(kw, "SMTPUTF8")) {
      known = x.smtputf8;
    } else if (iequals(kw, "RET") || iequals(kw, "ENVID")) {
      known = x.dsn;
    } else if (iequals(kw, "AUTH")) {
      known = auth_offered();
    } else {
      known = false;
    }
    if (known && bad_value) {
      reply1(ctx, 501, "5.5.4", "Invalid value of the " + std::string(kw) + " parameter");
      return;
    }
    if (!known) {
      reply1(ctx, 555, "5.5.4", "Unsupported parameter " + std::string(kw));
      return;
    }
  }
  if (const Param* size = c.param("SIZE"); size != nullptr && size->value) {
    const std::string& v = *size->value;
    const bool huge = v.size() > 19;
    std::uint64_t n = 0;
    if (!huge) {
      for (const char ch : v) n = n * 10 + static_cast<std::uint64_t>(ch - '0');
    }
    if (profile_.max_message_size > 0 && (huge || n > profile_.max_message_size)) {
      reply1(ctx, 552, "5.3.4", "Message size exceeds fixed maximum message size");
      return;
    }
  }
  reset_transaction();
  env_.reverse_path = c.path ? *c.path : Path{};
  env_.mail_params = c.params;
  reply1(ctx, 250, "2.1.0", "Sender OK");
}

void ServerSession::do_rcpt(const Context& ctx, const Command& c) {
  for (const Param& p : c.params) {
    const bool known = helo_extended_ && profile_.extensions.dsn &&
                       (iequals(p.keyword, "NOTIFY") || iequals(p.keyword, "ORCPT"));
    if (!known) {
      reply1(ctx, 555, "5.5.4", "Unsupported parameter " + p.keyword);
      return;
    }
  }
  const Path path = c.path ? *c.path : Path{};
  const bool postmaster =
      path.postmaster || (is_postmaster_local(path.local_part) && is_local(path.domain));
  if (!postmaster) {
    if (env_.recipients.size() >= profile_.max_recipients) {
      reply1(ctx, 452, "4.5.3", "Too many recipients");
      return;
    }
    if (is_local(path.domain)) {
      if (!mailbox_exists(path)) {
        reply1(ctx, 550, "5.1.1", "User unknown");
        return;
      }
    } else {
      const bool relay = profile_.quirks.has(Quirk::open_relay) ||
                         profile_.relay == RelayPolicy::anyone ||
                         (profile_.relay == RelayPolicy::authenticated && flags_.authenticated);
      if (!relay) {
        reply1(ctx, 550, "5.7.1", "Relaying denied");
        return;
      }
    }
  }
  env_.recipients.push_back(path);
  reply1(ctx, 250, "2.1.5", "Recipient OK");
}

void ServerSession::finish_data() {
  mode_ = Mode::command;
  Context ctx{ReplyTo::data_end};
  ctx.data_size = data_oversize_ ? stored_cap() : data_.size();
  for (const DataFinding& f : decoder_.findings()) {
    std::string text;
    switch (f.code) {
      case errc::bare_lf:
        text = "bare LF in mail data (kept as content)";
        break;
      case errc::bare_cr:
        text = "bare CR in mail data (kept as content)";
        break;
      case errc::nul_byte:
        text = "NUL in mail data";
        break;
      case errc::text_line_too_long:
        text = "mail data line longer than 1000 octets";
        break;
      case errc::non_canonical_end_of_data:
        text = std::string("non-canonical end-of-data sequence ") +
               (f.candidate ? to_string(*f.candidate) : "?") +
               (decoder_.ended_by() && f.candidate == decoder_.ended_by()
                    ? " accepted as the end of data (quirk)"
                    : " kept as content");
        break;
      default:
        text = to_string(f.code);
        break;
    }
    violation(f.code, data_offset_ + f.offset, rfc_of(f.code), std::move(text));
  }
  if (profile_.max_message_size > 0 && ctx.data_size > profile_.max_message_size) {
    reply1(ctx, 552, "5.3.4", "Message size exceeds fixed maximum message size");
    reset_transaction();
    return;
  }
  MessageReceived m;
  m.envelope = env_;
  m.envelope.auth_user = auth_user_;
  m.envelope.tls = flags_.tls;
  m.data = std::move(data_);
  m.bdat = false;
  m.ended_by = decoder_.ended_by();
  m.offset = data_offset_;
  reply1(ctx, 250, "2.0.0", "OK: message accepted");
  events_.emplace_back(std::move(m));
  reset_transaction();
}

void ServerSession::finish_bdat_chunk() {
  mode_ = Mode::command;
  Context ctx;
  ctx.to = bdat_cmd_.last ? ReplyTo::bdat_last : ReplyTo::bdat;
  ctx.cmd = &bdat_cmd_;
  const bool last = bdat_cmd_.last;
  if (bdat_refused_) {
    bdat_refused_ = false;
    reply1(ctx, bdat_refusal_code_, bdat_refusal_esc_, std::move(bdat_refusal_text_));
    return;
  }
  if (bdat_failed_) {
    reply1(ctx, bdat_fail_code_, bdat_fail_code_ == 552 ? "5.3.4" : "5.5.0",
           "Earlier chunk failed; chunk discarded");
    if (last) reset_transaction();
    return;
  }
  bdat_total_ += bdat_cmd_.chunk_size;
  if (profile_.max_message_size > 0 && bdat_total_ > profile_.max_message_size) {
    bdat_failed_ = true;
    bdat_fail_code_ = 552;
    reply1(ctx, 552, "5.3.4", "Message size exceeds fixed maximum message size");
    if (last) reset_transaction();
    return;
  }
  if (!last) {
    reply1(ctx, 250, "2.0.0", std::to_string(bdat_cmd_.chunk_size) + " octets received");
    return;
  }
  MessageReceived m;
  m.envelope = env_;
  m.envelope.auth_user = auth_user_;
  m.envelope.tls = flags_.tls;
  m.data = std::move(data_);
  m.bdat = true;
  m.offset = bdat_offset_;
  reply1(ctx, 250, "2.0.0", "Message accepted (" + std::to_string(bdat_total_) + " octets)");
  events_.emplace_back(std::move(m));
  reset_transaction();
}

void ServerSession::do_auth(const Context& ctx, const Command& c) {
  const SaslMechanism mech = sasl_mechanism_from_string(c.mechanism);
  const bool offered =
      mech != SaslMechanism::unknown &&
      std::any_of(profile_.auth_mechanisms.begin(), profile_.auth_mechanisms.end(),
                  [&](const std::string& m) { return sasl_mechanism_from_string(m) == mech; });
  if (!offered) {
    reply1(ctx, 504, "5.5.4", "Unrecognized authentication type");
    return;
  }
  std::optional<std::string> ir;
  if (c.initial_response) {
    if (*c.initial_response == "=") {
      ir = std::string();
    } else {
      ir = base64_decode(*c.initial_response);
      if (!ir) {
        reply1(ctx, 501, "5.5.2", "Invalid base64 in the initial response");
        return;
      }
    }
  }
  auth_mech_ = mech;
  auth_step_ = 0;
  auth_login_user_.clear();
  xoauth2_failed_ = false;
  switch (mech) {
    case SaslMechanism::plain:
    case SaslMechanism::xoauth2:
      if (ir) {
        auth_context_ = ctx;
        auth_check(*ir);
        return;
      }
      reply1(ctx, 334, nullptr, "");
      mode_ = Mode::sasl;
      return;
    case SaslMechanism::login:
      if (ir) {
        auth_login_user_ = *ir;
        auth_step_ = 1;
        reply1(ctx, 334, nullptr, base64_encode("Password:"));
      } else {
        reply1(ctx, 334, nullptr, base64_encode("Username:"));
      }
      mode_ = Mode::sasl;
      return;
    case SaslMechanism::cram_md5:
      if (ir) {
        reply1(ctx, 501, "5.5.2", "CRAM-MD5 does not take an initial response");
        return;
      }
      cram_challenge_ = "<" + profile_.cram_md5_nonce + "@" + profile_.hostname + ">";
      reply1(ctx, 334, nullptr, base64_encode(cram_challenge_));
      mode_ = Mode::sasl;
      return;
    case SaslMechanism::unknown:
      break;
  }
  reply1(ctx, 504, "5.5.4", "Unrecognized authentication type");
}

void ServerSession::auth_finish(bool ok, const std::string& user) {
  const Context& ctx = auth_context_;
  mode_ = Mode::command;
  if (ok) {
    auth_user_ = user;
    env_.auth_user = user;
    reply1(ctx, 235, "2.7.0", "Authentication successful");
  } else {
    reply1(ctx, 535, "5.7.8", "Authentication credentials invalid");
  }
  events_.emplace_back(AuthResult{std::string(to_string(auth_mech_)), user, ok});
}

void ServerSession::auth_check(const std::string& decoded) {
  auto password_of = [&](std::string_view user) -> const std::string* {
    for (const AuthUser& u : profile_.auth_users) {
      if (u.username == user) return &u.password;
    }
    return nullptr;
  };
  switch (auth_mech_) {
    case SaslMechanism::plain: {
      const auto m = parse_sasl_plain(decoded);
      const std::string* pw = m ? password_of(m->username) : nullptr;
      const bool ok =
          pw != nullptr && *pw == m->password && (m->authzid.empty() || m->authzid == m->username);
      auth_finish(ok, m ? m->username : std::string());
      return;
    }
    case SaslMechanism::login: {
      const std::string* pw = password_of(auth_login_user_);
      auth_finish(pw != nullptr && *pw == decoded, auth_login_user_);
      return;
    }
    case SaslMechanism::cram_md5: {
      const auto m = parse_sasl_cram_md5(decoded);
      const std::string* pw = m ? password_of(m->username) : nullptr;
      const bool ok = pw != nullptr && verify_cram_md5(*pw, cram_challenge_, m->digest);
      auth_finish(ok, m ? m->username : std::string());
      return;
    }
    case SaslMechanism::xoauth2: {
      const auto m = parse_sasl_xoauth2(decoded);
      const std::string* pw = m ? password_of(m->username) : nullptr;
      if (pw != nullptr && *pw == m->token) {
        auth_finish(true, m->username);
        return;
      }
      // Google's XOAUTH2: a 334 with a base64 JSON error, the client answers with an empty
      // line, then 535.
      xoauth2_failed_ = true;
      xoauth2_user_ = m ? m->username : std::string();
      reply1(auth_context_, 334, nullptr,
             base64_encode(
                 R"({"status":"401","schemes":"bearer","scope":"https://mail.example.test/"})"));
      mode_ = Mode::sasl;
      return;
    }
    case SaslMechanism::unknown:
      break;
  }
  auth_finish(false, std::string());
}

void ServerSession::handle_sasl(const Line& line) {
  auth_context_ = Context{ReplyTo::sasl};
  // SASL responses may be up to kAuthLineLimit octets (RFC 4954 §4): over_limit (past the
  // 512-octet command limit) is fine here, a cut line is not.
  const bool clean = line.ending == LineEnding::crlf && line.bare_lf_at == kNoOffset &&
                     line.bare_cr_at == kNoOffset && line.nul_at == kNoOffset;
  if (!clean) {
    mode_ = Mode::command;
    const bool long_line = line.ending == LineEnding::cut;
    reply1(auth_context_, long_line ? 500 : 501, long_line ? "5.5.6" : "5.5.2",
           long_line ? "Authentication Exchange line is too long"
                     : "Bare CR or LF, or NUL, in the SASL response");
    events_.emplace_back(AuthResult{std::string(to_string(auth_mech_)), std::string(), false});
    return;
  }
  if (line.text == "*") {
    auth_context_.sasl_cancelled = true;
    mode_ = Mode::command;
    reply1(auth_context_, 501, "5.7.0", "Authentication cancelled");
    events_.emplace_back(AuthResult{std::string(to_string(auth_mech_)), std::string(), false});
    return;
  }
  const auto decoded = base64_decode(line.text);
  if (!decoded) {
    mode_ = Mode::command;
    reply1(auth_context_, 501, "5.5.2", "Invalid base64 in the SASL response");
    events_.emplace_back(AuthResult{std::string(to_string(auth_mech_)), std::string(), false});
    return;
  }
  if (auth_mech_ == SaslMechanism::xoauth2 && xoauth2_failed_) {
    auth_finish(false, xoauth2_user_);
    return;
  }
  if (auth_mech_ == SaslMechanism::login && auth_step_ == 0) {
    auth_login_user_ = *decoded;
    auth_step_ = 1;
    reply1(auth_context_, 334, nullptr, base64_encode("Password:"));
    return;
  }
  auth_check(*decoded);
}

}  // namespace smtp
