#include "smtp/client_session.h"

#include <algorithm>
#include <utility>

#include "smtp/dot_stuffing.h"

namespace smtp {

namespace {

std::error_code err(errc e) { return make_error_code(e); }

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

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return u;
}

std::string bracket(std::string_view path) {
  if (path.empty()) return "<>";
  if (path.front() == '<') return std::string(path);
  return "<" + std::string(path) + ">";
}

bool is_mail_like(Verb v) noexcept {
  return v == Verb::mail || v == Verb::send || v == Verb::soml || v == Verb::saml;
}

std::string_view strip_crlf(std::string_view s) noexcept {
  if (s.size() >= 2 && s.substr(s.size() - 2) == "\r\n") s.remove_suffix(2);
  return s;
}

std::string with_params(std::string line, const std::vector<Param>& params) {
  for (const Param& p : params) {
    line += ' ';
    line += p.keyword;
    if (p.value) {
      line += '=';
      line += *p.value;
    }
  }
  return line;
}

// Does `caps` (nullptr: HELO, no extensions) allow MAIL parameter `p`?
bool mail_param_advertised(const Param& p, const Capabilities* caps) {
  if (caps == nullptr) return false;
  const std::string_view kw = p.keyword;
  const std::string_view v = p.value ? std::string_view(*p.value) : std::string_view();
  if (iequals(kw, "SIZE")) return caps->size().has_value();
  if (iequals(kw, "BODY")) {
    if (iequals(v, "8BITMIME")) return caps->eight_bit_mime();
    if (iequals(v, "BINARYMIME")) return caps->binarymime() && caps->chunking();
    if (iequals(v, "7BIT")) return caps->eight_bit_mime() || caps->binarymime();
    return false;
  }
  if (iequals(kw, "SMTPUTF8")) return caps->smtputf8();
  if (iequals(kw, "RET") || iequals(kw, "ENVID")) return caps->dsn();
  if (iequals(kw, "AUTH")) return caps->has("AUTH");
  if (iequals(kw, "BY")) return caps->deliver_by().has_value();
  if (iequals(kw, "REQUIRETLS")) return caps->requiretls();
  if (iequals(kw, "MT-PRIORITY")) return caps->has("MT-PRIORITY");
  if (iequals(kw, "HOLDFOR") || iequals(kw, "HOLDUNTIL")) return caps->has("FUTURERELEASE");
  return false;
}

bool rcpt_param_advertised(const Param& p, const Capabilities* caps) {
  if (caps == nullptr) return false;
  if (iequals(p.keyword, "NOTIFY") || iequals(p.keyword, "ORCPT")) return caps->dsn();
  if (iequals(p.keyword, "RRVS")) return caps->has("RRVS");
  return false;
}

std::uint16_t assumed_success(Verb v) noexcept {
  switch (v) {
    case Verb::data:
      return 354;
    case Verb::starttls:
      return 220;
    case Verb::auth:
      return 235;
    case Verb::quit:
      return 221;
    case Verb::help:
      return 214;
    default:
      return 250;
  }
}

}  // namespace

ClientSession::ClientSession(ClientConfig config)
    : config_(config), parser_(config.limits, config.lenient) {
  Item greeting;
  greeting.to = ReplyTo::greeting;
  greeting.ends_group = true;
  inflight_.push_back(std::move(greeting));
}

// ---------------------------------------------------------------------------------------------
// Intents
// ---------------------------------------------------------------------------------------------

void ClientSession::project_queued(const Item& it) const {
  project(proj_phase_, proj_flags_, it);
  proj_hello_pending_ |=
      it.verb == Verb::ehlo || it.verb == Verb::helo || it.verb == Verb::starttls;
}

void ClientSession::project(Phase& p, SessionFlags& f, const Item& it) const {
  auto step = [&](ReplyTo to, Verb v, std::uint16_t code, bool binarymime = false) {
    const Phase np = next_phase(p, f, to, v, code);
    f = next_flags(f, to, v, code, binarymime);
    p = np;
  };
  switch (it.to) {
    case ReplyTo::greeting:
      step(ReplyTo::greeting, Verb::unknown, 220);
      break;
    case ReplyTo::command:
      step(ReplyTo::command, it.verb, assumed_success(it.verb), it.declared_binarymime);
      if (it.verb == Verb::data) step(ReplyTo::data_end, Verb::unknown, 250);
      if (it.verb == Verb::starttls) {
        p = kPhaseAfterTls;
        f = flags_after_tls();
      }
      break;
    case ReplyTo::data_end:
      step(ReplyTo::data_end, Verb::unknown, 250);
      break;
    case ReplyTo::bdat:
    case ReplyTo::bdat_last:
      step(it.to, Verb::bdat, 250);
      break;
    case ReplyTo::sasl:
      step(ReplyTo::sasl, Verb::auth, 235);
      break;
    case ReplyTo::raw:
    case ReplyTo::count_:
      break;
  }
}

std::error_code ClientSession::check_allowed(const Command& c) const {
  if (!proj_valid_) {
    // Fold every pending item, assumed successful, over the real state. Cached until a reply
    // (or TLS, or close) changes the real state; queueing extends the cache (project_queued).
    proj_phase_ = phase_;
    proj_flags_ = flags_;
    if (tls_wait_) {
      proj_phase_ = kPhaseAfterTls;
      proj_flags_ = flags_after_tls();
    }
    proj_hello_pending_ = tls_wait_;
    for (const Item& it : inflight_) project_queued(it);
    for (const Item& it : queue_) project_queued(it);
    proj_valid_ = true;
  }
  const Phase p = proj_phase_;
  const SessionFlags& f = proj_flags_;
  const bool hello_pending = proj_hello_pending_;
  if (config_.enforce_sequence) {
    if (p == Phase::closed) return err(errc::out_of_sequence);
    const Phase pp = p == Phase::connect ? Phase::greeted : p;
    if (!check_sequence(pp, f, c.verb).ok) return err(errc::out_of_sequence);
  }
  if (config_.enforce_capabilities && !hello_pending && flags_.hello) {
    const Capabilities* caps = caps_ ? &*caps_ : nullptr;
    bool ok = true;
    switch (c.verb) {
      case Verb::bdat:
        ok = caps != nullptr && caps->chunking();
        break;
      case Verb::starttls:
        ok = caps != nullptr && caps->starttls();
        break;
      case Verb::auth:
        ok = caps != nullptr && caps->auth(c.mechanism);
        break;
      case Verb::etrn:
        ok = caps != nullptr && caps->etrn();
        break;
      case Verb::atrn:
        ok = caps != nullptr && caps->atrn();
        break;
      case Verb::rcpt:
        for (const Param& prm : c.params) ok &= rcpt_param_advertised(prm, caps);
        break;
      default:
        if (is_mail_like(c.verb)) {
          for (const Param& prm : c.params) ok &= mail_param_advertised(prm, caps);
        }
        break;
    }
    if (!ok) return err(errc::out_of_sequence);
  }
  return {};
}

std::error_code ClientSession::queue_command(std::string line, Item item) {
  if (closed_) return err(errc::out_of_sequence);
  CommandOptions opt;
  opt.limits = config_.limits;
  opt.smtputf8 = config_.smtputf8;
  if (item.verb == Verb::auth)
    opt.limits.command_line = std::max<std::size_t>(opt.limits.command_line, 12288);
  Command c = parse_command_line(line, opt);
  if (!c.ok() || c.verb != item.verb) return err(errc::invalid_argument);
  if (auto ec = check_allowed(c)) return ec;
  if (is_mail_like(c.verb)) {
    const Param* body = c.param("BODY");
    item.declared_binarymime =
        body != nullptr && body->value && iequals(*body->value, "BINARYMIME");
  }
  if (item.verb != Verb::auth) item.ends_group = ends_pipeline_group(c.verb);
  if (item.redacted && c.initial_response) {
    c.initial_response = "<redacted>";
    c.argument = c.mechanism + " <redacted>";
  }
  item.wire = std::move(line);
  item.wire += "\r\n";
  item.command = std::move(c);
  if (proj_valid_) project_queued(item);
  queue_.push_back(std::move(item));
  flush();
  return {};
}

std::error_code ClientSession::helo(std::string_view domain) {
  Item it;
  it.verb = Verb::helo;
  return queue_command("HELO " + std::string(domain), std::move(it));
}

std::error_code ClientSession::ehlo(std::string_view domain) {
  Item it;
  it.verb = Verb::ehlo;
  return queue_command("EHLO " + std::string(domain), std::move(it));
}

std::error_code ClientSession::mail_from(std::string_view reverse_path, std::vector<Param> params) {
  Item it;
  it.verb = Verb::mail;
  return queue_command(with_params("MAIL FROM:" + bracket(reverse_path), params), std::move(it));
}

std::error_code ClientSession::rcpt_to(std::string_view forward_path, std::vector<Param> params) {
  Item it;
  it.verb = Verb::rcpt;
  return queue_command(with_params("RCPT TO:" + bracket(forward_path), params), std::move(it));
}

std::error_code ClientSession::data(std::string_view message) {
  Item it;
  it.verb = Verb::data;
  it.payload = dot_stuff(message);
  it.payload_after_354 = true;
  const bool ends_crlf = message.size() >= 2 && message.substr(message.size() - 2) == "\r\n";
  it.data_size = message.size() + (message.empty() || ends_crlf ? 0 : 2);
  return queue_command("DATA", std::move(it));
}

std::error_code ClientSession::data_raw(std::string_view wire_body, bool expect_reply) {
  Item it;
  it.verb = Verb::data;
  it.payload = std::string(wire_body);
  it.payload_after_354 = true;
  it.payload_raw = true;
  it.expect_data_end = expect_reply;
  it.data_size = wire_body.size();
  return queue_command("DATA", std::move(it));
}

std::error_code ClientSession::bdat(std::string_view chunk, bool last) {
  Item it;
  it.verb = Verb::bdat;
  it.to = last ? ReplyTo::bdat_last : ReplyTo::bdat;
  it.payload = std::string(chunk);
  it.data_size = chunk.size();
  return queue_command("BDAT " + std::to_string(chunk.size()) + (last ? " LAST" : ""),
                       std::move(it));
}

std::error_code ClientSession::rset() {
  Item it;
  it.verb = Verb::rset;
  return queue_command("RSET", std::move(it));
}

std::error_code ClientSession::vrfy(std::string_view argument) {
  Item it;
  it.verb = Verb::vrfy;
  return queue_command("VRFY " + std::string(argument), std::move(it));
}

std::error_code ClientSession::expn(std::string_view argument) {
  Item it;
  it.verb = Verb::expn;
  return queue_command("EXPN " + std::string(argument), std::move(it));
}

std::error_code ClientSession::help(std::string_view argument) {
  Item it;
  it.verb = Verb::help;
  return queue_command(argument.empty() ? std::string("HELP") : "HELP " + std::string(argument),
                       std::move(it));
}

std::error_code ClientSession::noop(std::string_view argument) {
  Item it;
  it.verb = Verb::noop;
  return queue_command(argument.empty() ? std::string("NOOP") : "NOOP " + std::string(argument),
                       std::move(it));
}

std::error_code ClientSession::quit() {
  Item it;
  it.verb = Verb::quit;
  return queue_command("QUIT", std::move(it));
}

std::error_code ClientSession::starttls() {
  Item it;
  it.verb = Verb::starttls;
  return queue_command("STARTTLS", std::move(it));
}

std::error_code ClientSession::etrn(std::string_view node) {
  Item it;
  it.verb = Verb::etrn;
  return queue_command("ETRN " + std::string(node), std::move(it));
}

std::error_code ClientSession::atrn(std::string_view domains) {
  Item it;
  it.verb = Verb::atrn;
  return queue_command(domains.empty() ? std::string("ATRN") : "ATRN " + std::string(domains),
                       std::move(it));
}

std::error_code ClientSession::turn() {
  Item it;
  it.verb = Verb::turn;
  return queue_command("TURN", std::move(it));
}

std::error_code ClientSession::send_from(std::string_view reverse_path) {
  Item it;
  it.verb = Verb::send;
  return queue_command("SEND FROM:" + bracket(reverse_path), std::move(it));
}

std::error_code ClientSession::soml_from(std::string_view reverse_path) {
  Item it;
  it.verb = Verb::soml;
  return queue_command("SOML FROM:" + bracket(reverse_path), std::move(it));
}

std::error_code ClientSession::saml_from(std::string_view reverse_path) {
  Item it;
  it.verb = Verb::saml;
  return queue_command("SAML FROM:" + bracket(reverse_path), std::move(it));
}

std::error_code ClientSession::command(const Command& c) {
  if (c.verb == Verb::data || c.verb == Verb::bdat || c.verb == Verb::auth ||
      c.verb == Verb::unknown) {
    return err(errc::invalid_argument);
  }
  Item it;
  it.verb = c.verb;
  return queue_command(std::string(strip_crlf(serialize(c))), std::move(it));
}

std::error_code ClientSession::auth(std::string_view mechanism, SaslCredentials credentials,
                                    AuthOptions options) {
  const SaslMechanism mech = sasl_mechanism_from_string(mechanism);
  if (mech == SaslMechanism::unknown && !options.manual) return err(errc::invalid_argument);
  const std::string name = upper(mechanism);
  std::string line = "AUTH " + name;
  std::string shown = line;
  bool ir_sent = false;
  if (mech != SaslMechanism::unknown && options.initial_response) {
    const auto ir = SaslClient(mech, credentials).initial_response();
    if (ir) {
      const std::string b = ir->empty() ? std::string("=") : base64_encode(*ir);
      if (line.size() + 1 + b.size() + 2 <= config_.limits.command_line) {
        line += ' ';
        line += b;
        shown += " <redacted>";
        ir_sent = true;
      }
    }
  }
  Item it;
  it.verb = Verb::auth;
  it.ends_group = ends_pipeline_group(Verb::auth, ir_sent && mech == SaslMechanism::plain);
  it.redacted = ir_sent;
  it.shown = shown + "\r\n";
  // The SASL state must exist before the AUTH line can be written.
  std::optional<SaslClient> previous = std::move(sasl_);
  if (mech != SaslMechanism::unknown) {
    sasl_.emplace(mech, std::move(credentials));
    if (ir_sent) sasl_->initial_response_sent();
  } else {
    sasl_.reset();
  }
  const std::string previous_name = auth_mechanism_;
  const bool previous_manual = auth_manual_;
  auth_mechanism_ = name;
  auth_manual_ = options.manual;
  if (auto ec = queue_command(std::move(line), std::move(it))) {
    sasl_ = std::move(previous);
    auth_mechanism_ = previous_name;
    auth_manual_ = previous_manual;
    return ec;
  }
  return {};
}

std::error_code ClientSession::auth_respond(std::string_view response) {
  if (closed_ || !auth_awaiting_response_) return err(errc::out_of_sequence);
  write_sasl(base64_encode(response), false);
  flush();
  return {};
}

std::error_code ClientSession::auth_cancel() {
  if (closed_ || !auth_awaiting_response_) return err(errc::out_of_sequence);
  write_sasl("*", true);
  flush();
  return {};
}

void ClientSession::send_raw(std::string_view bytes, std::size_t expected_replies) {
  if (closed_) return;
  Item it;
  it.to = ReplyTo::raw;
  it.raw = true;
  it.wire = std::string(bytes);
  it.replies = expected_replies;
  queue_.push_back(std::move(it));
  flush();
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

bool ClientSession::pipelining_active() const noexcept {
  switch (config_.pipelining) {
    case PipelineMode::always:
      return true;
    case PipelineMode::never:
      return false;
    case PipelineMode::rfc2920:
      return caps_ && caps_->pipelining();
  }
  return false;
}

bool ClientSession::may_write(const Item& next) const {
  if (next.raw || config_.pipelining == PipelineMode::always) return true;
  if (tls_wait_ || phase_ == Phase::auth || auth_awaiting_response_) return false;
  if (inflight_.empty()) return true;
  if (!pipelining_active()) return false;
  return std::none_of(inflight_.begin(), inflight_.end(),
                      [](const Item& it) { return it.ends_group; });
}

void ClientSession::flush() {
  while (!queue_.empty() && !closed_) {
    if (!may_write(queue_.front())) break;
    Item it = std::move(queue_.front());
    queue_.pop_front();
    write_item(it);
  }
}

void ClientSession::record(Direction d, std::string_view bytes, std::uint64_t offset,
                           std::uint64_t wire, bool raw, bool redacted) {
  if (transcript_bytes_ + bytes.size() > config_.max_transcript) {
    transcript_truncated_ = true;
    return;
  }
  transcript_bytes_ += bytes.size();
  if (d == Direction::received && !transcript_.empty()) {
    TranscriptEntry& last = transcript_.back();
    if (last.direction == Direction::received && !last.raw && !last.redacted &&
        last.offset + last.wire_size == offset) {
      last.bytes.append(bytes);
      last.wire_size += wire;
      return;
    }
  }
  TranscriptEntry e;
  e.direction = d;
  e.bytes = std::string(bytes);
  e.offset = offset;
  e.wire_size = wire;
  e.raw = raw;
  e.redacted = redacted;
  transcript_.push_back(std::move(e));
}

void ClientSession::write_payload(Item& it) {
  if (it.payload_sent) return;
  it.payload_sent = true;
  if (it.payload.empty()) return;
  out_ += it.payload;
  record(Direction::sent, it.payload, out_offset_, it.payload.size(), it.payload_raw, false);
  out_offset_ += it.payload.size();
  std::string().swap(it.payload);
}

void ClientSession::write_item(Item& it) {
  it.offset = out_offset_;
  out_ += it.wire;
  record(Direction::sent, it.shown.empty() ? std::string_view(it.wire) : std::string_view(it.shown),
         out_offset_, it.wire.size(), it.raw, it.redacted);
  out_offset_ += it.wire.size();
  if (!it.payload_after_354) write_payload(it);  // BDAT chunk follows its command line
  const bool was_idle = inflight_.empty();
  const bool data_now = it.to == ReplyTo::command && it.verb == Verb::data &&
                        config_.pipelining == PipelineMode::always;
  if (data_now) write_payload(it);
  const bool expect_end = data_now && it.expect_data_end;
  Item end;
  if (expect_end) {
    end.to = ReplyTo::data_end;
    end.verb = Verb::data;
    end.data_size = it.data_size;
    end.offset = out_offset_;
  }
  if (it.replies > 0) inflight_.push_back(std::move(it));
  if (expect_end) inflight_.push_back(std::move(end));
  if (was_idle && !inflight_.empty()) bump_wait();
}

void ClientSession::write_sasl(std::string_view response, bool cancel) {
  Item s;
  s.to = ReplyTo::sasl;
  s.verb = Verb::auth;
  s.sasl_cancel = cancel;
  s.wire = std::string(response);
  s.wire += "\r\n";
  s.redacted = !cancel && !response.empty();
  if (s.redacted) s.shown = "<redacted>\r\n";
  s.offset = out_offset_;
  out_ += s.wire;
  record(Direction::sent, s.redacted ? std::string_view(s.shown) : std::string_view(s.wire),
         out_offset_, s.wire.size(), false, s.redacted);
  out_offset_ += s.wire.size();
  inflight_.push_front(std::move(s));
  proj_valid_ = false;
  auth_awaiting_response_ = false;
  bump_wait();
}

std::string_view ClientSession::pending_output() const noexcept {
  return std::string_view(out_).substr(out_pos_);
}

void ClientSession::consume_output(std::size_t n) noexcept {
  n = std::min(n, out_.size() - out_pos_);
  out_pos_ += n;
  if (n != 0 && phase_ == Phase::data) bump_wait();  // §4.5.3.2.5: per send of data
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

std::optional<ClientEvent> ClientSession::next_event() {
  if (events_.empty()) return std::nullopt;
  ClientEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void ClientSession::violation(errc code, std::uint64_t offset, std::string_view rfc,
                              std::string text) {
  events_.emplace_back(Violation{code, offset, rfc, std::move(text)});
}

void ClientSession::close(bool clean, std::string reason) {
  if (closed_) return;
  closed_ = true;
  proj_valid_ = false;
  tls_wait_ = false;
  phase_ = Phase::closed;
  queue_.clear();
  inflight_.clear();
  auth_awaiting_response_ = false;
  events_.emplace_back(Closed{clean, std::move(reason)});
}

void ClientSession::fail_parser() {
  const Diagnostic& d = parser_.diagnostic();
  violation(d.code, d.offset, "RFC5321#4.2", "malformed reply: " + d.reason);
  close(false, "malformed reply from the server");
}

void ClientSession::receive(std::string_view bytes) {
  if (bytes.empty() || closed_) return;
  record(Direction::received, bytes, in_offset_, bytes.size(), false, false);
  in_offset_ += bytes.size();
  parser_.feed(bytes);
  for (;;) {
    if (tls_wait_) {
      const std::string_view rest = parser_.buffered();
      if (!rest.empty()) {
        violation(errc::out_of_sequence, parser_.offset(), "RFC3207#4.2",
                  std::to_string(rest.size()) +
                      " octets received after 220 to STARTTLS, before TLS: discarded "
                      "(response injection)");
        parser_.discard_buffered();
      }
      break;
    }
    if (closed_) break;
    auto r = parser_.next();
    if (!r) {
      if (parser_.failed()) fail_parser();
      break;
    }
    on_reply(*r);
  }
  flush();
}

void ClientSession::receive_eof() {
  if (closed_) return;
  if (!tls_wait_) {
    parser_.feed_eof();
    while (!closed_ && !tls_wait_) {
      auto r = parser_.next();
      if (!r) {
        if (parser_.failed()) fail_parser();
        break;
      }
      on_reply(*r);
    }
  }
  if (closed_) return;
  if (!inflight_.empty() || tls_wait_) {
    violation(errc::unexpected_eof, in_offset_, "RFC5321#3.8",
              "the server closed the connection with " + std::to_string(inflight_.size()) +
                  " replies outstanding");
  }
  close(false, "the server closed the connection");
}

void ClientSession::tls_established() {
  if (!tls_wait_ || closed_) return;
  tls_wait_ = false;
  proj_valid_ = false;
  phase_ = kPhaseAfterTls;
  flags_ = flags_after_tls();
  caps_.reset();
  bump_wait();
  flush();
}

void ClientSession::on_challenge(const Reply& r) {
  const std::string text = r.lines.empty() ? std::string() : r.lines.front();
  auto decoded = base64_decode(text);
  if (!decoded) {
    violation(errc::reply_not_allowed, r.offset, "RFC4954#4",
              "334 challenge is not base64 (RFC 4954 §4)");
  }
  events_.emplace_back(AuthChallenge{auth_mechanism_, text, decoded});
  if (auth_manual_) {
    auth_awaiting_response_ = true;
    return;
  }
  std::optional<std::string> resp;
  if (decoded && sasl_) resp = sasl_->respond(*decoded);
  if (!resp) {
    write_sasl("*", true);
    return;
  }
  write_sasl(base64_encode(*resp), false);
}

void ClientSession::on_reply(Reply& r) {
  proj_valid_ = false;
  const std::uint16_t code = r.code;
  if (inflight_.empty()) {
    violation(errc::unsolicited_reply, r.offset, "RFC5321#4.2",
              "reply " + std::to_string(code) + " with no command waiting for it");
    ReplyEvent ev;
    ev.to = ReplyTo::raw;
    ev.solicited = false;
    const Outcome o = outcome_of(code);
    ev.kind = o == Outcome::success        ? ReplyKind::success
              : o == Outcome::intermediate ? ReplyKind::intermediate
                                           : ReplyKind::error;
    ev.reply = std::move(r);
    events_.emplace_back(std::move(ev));
    if (o == Outcome::shutdown) close(false, "421 from the server");
    return;
  }

  Item it;
  Item& front = inflight_.front();
  if (front.to == ReplyTo::raw && front.replies > 1) {
    --front.replies;
    it.to = front.to;
    it.verb = front.verb;
    it.wire = front.wire;
    it.raw = true;
    it.offset = front.offset;
  } else {
    it = std::move(front);
    inflight_.pop_front();
  }
  bump_wait();

  const ReplyRow* row = nullptr;
  switch (it.to) {
    case ReplyTo::greeting:
      row = &greeting_row();
      break;
    case ReplyTo::command:
      row = &reply_row(it.verb);
      break;
    case ReplyTo::data_end:
      row = &data_end_row();
      break;
    case ReplyTo::bdat:
    case ReplyTo::bdat_last:
      row = &reply_row(Verb::bdat);
      break;
    case ReplyTo::sasl:
      row = &reply_row(Verb::auth);
      break;
    case ReplyTo::raw:
    case ReplyTo::count_:
      break;
  }
  const Outcome outcome = outcome_of(code);

  ReplyEvent ev;
  ev.to = it.to;
  ev.command = std::move(it.command);
  if (it.to != ReplyTo::greeting && it.to != ReplyTo::data_end) {
    ev.sent = std::string(
        strip_crlf(it.shown.empty() ? std::string_view(it.wire) : std::string_view(it.shown)));
  }
  ev.sent_offset = it.offset;
  ev.data_size = it.data_size;
  ev.sasl_cancelled = it.sasl_cancel;
  if (row != nullptr) {
    ev.kind = classify_reply(*row, code);
  } else {
    ev.kind = outcome == Outcome::success        ? ReplyKind::success
              : outcome == Outcome::intermediate ? ReplyKind::intermediate
                                                 : ReplyKind::error;
  }
  if (it.to != ReplyTo::raw) {
    phase_ = next_phase(phase_, flags_, it.to, it.verb, code);
    flags_ = next_flags(flags_, it.to, it.verb, code, it.declared_binarymime);
  } else if (outcome == Outcome::shutdown) {
    phase_ = Phase::closed;
  }
  const std::uint64_t reply_offset = r.offset;
  ev.reply = std::move(r);
  events_.emplace_back(std::move(ev));
  // std::deque::emplace_back keeps references to existing elements valid.
  const Reply& reply = std::get<ReplyEvent>(events_.back()).reply;
  const std::vector<Diagnostic>& findings = reply.findings;

  if (row != nullptr && classify_reply(*row, code) == ReplyKind::not_allowed) {
    std::string what =
        it.to == ReplyTo::command ? std::string(to_string(it.verb)) : std::string(to_string(it.to));
    violation(
        errc::reply_not_allowed, reply_offset, row->rfc,
        std::to_string(code) + " is not a reply " + std::string(row->rfc) + " allows to " + what);
  }
  for (const Diagnostic& d : findings) {
    const bool esc =
        d.code == errc::bad_enhanced_status || d.code == errc::enhanced_status_mismatch;
    violation(d.code, d.offset, esc ? "RFC3463#2" : "RFC5321#4.2", d.reason);
  }

  if (outcome == Outcome::shutdown) {
    close(false, "421 from the server");
    return;
  }
  switch (it.to) {
    case ReplyTo::command:
      switch (it.verb) {
        case Verb::ehlo:
          if (code == 250) {
            caps_ = parse_ehlo(reply);
            for (const Diagnostic& d : caps_->findings) {
              violation(d.code, reply_offset + d.offset, "RFC5321#4.1.1.1", d.reason);
            }
          }
          break;
        case Verb::helo:
          if (outcome == Outcome::success) caps_.reset();
          break;
        case Verb::data:
          if (outcome == Outcome::intermediate) {
            if (!it.payload_sent) {
              write_payload(it);
              if (it.expect_data_end) {
                Item end;
                end.to = ReplyTo::data_end;
                end.verb = Verb::data;
                end.data_size = it.data_size;
                end.offset = out_offset_;
                inflight_.push_front(std::move(end));
              }
            }
          } else if (it.payload_sent) {
            // PipelineMode::always sent the content already: no end-of-data reply will come.
            auto end = std::find_if(inflight_.begin(), inflight_.end(),
                                    [](const Item& x) { return x.to == ReplyTo::data_end; });
            if (end != inflight_.end()) inflight_.erase(end);
          }
          break;
        case Verb::starttls:
          if (outcome == Outcome::success) {
            tls_wait_ = true;
            events_.emplace_back(TlsRequested{});
          }
          break;
        case Verb::auth:
          if (outcome == Outcome::intermediate) {
            on_challenge(reply);
          } else {
            sasl_.reset();
          }
          break;
        case Verb::quit:
          if (outcome == Outcome::success) close(true, "221 to QUIT");
          break;
        case Verb::turn:
        case Verb::atrn:
          if (outcome == Outcome::success) close(false, "roles reversed (TURN/ATRN)");
          break;
        default:
          break;
      }
      break;
    case ReplyTo::sasl:
      if (outcome == Outcome::intermediate) {
        on_challenge(reply);
      } else {
        sasl_.reset();
      }
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Deadlines
// ---------------------------------------------------------------------------------------------

std::optional<TimeoutKind> ClientSession::waiting_for() const noexcept {
  if (closed_ || tls_wait_) return std::nullopt;
  if (wants_write() && phase_ == Phase::data) return TimeoutKind::data_block;
  if (inflight_.empty()) return std::nullopt;
  const Item& f = inflight_.front();
  return timeout_for(f.to, f.verb);
}

std::optional<std::uint64_t> ClientSession::deadline(std::uint64_t now) noexcept {
  const auto k = waiting_for();
  if (!k) {
    timer_gen_ = ~std::uint64_t{0};
    return std::nullopt;
  }
  if (timer_gen_ != wait_gen_ || timer_kind_ != *k) {
    timer_gen_ = wait_gen_;
    timer_kind_ = *k;
    timer_start_ = now;
  }
  return timer_start_ + config_.timeouts.get(*k);
}

}  // namespace smtp
