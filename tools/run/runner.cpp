// The scenario runner: steps -> bytes through ClientSession and net::Connection, replies ->
// evaluate.h verdicts and ServerModel findings -> report::ScenarioResult.
#include "run/runner.h"

#include <algorithm>
#include <deque>
#include <exception>
#include <string_view>
#include <utility>
#include <variant>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "report/redact.h"
#include "run/stream_tracker.h"
#include "scenario/evaluate.h"
#include "scenario/render.h"
#include "scenario/variables.h"
#include "smtp/client_session.h"
#include "smtp/ehlo.h"
#include "smtp/server_model.h"

namespace smtp::run {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

/// Replies read but not yet consumed by an expect, per connection (a bound against a server
/// that answers far more than asked; the flood check usually stops it much earlier).
constexpr std::size_t kMaxQueuedReplies = 10'000;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

std::uint64_t ms_since(Clock::time_point start) {
  const auto d = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  return d > 0 ? static_cast<std::uint64_t>(d) : 0;
}

std::uint32_t to_ms32(milliseconds t) {
  const auto c = t.count();
  if (c <= 0) return 0;
  if (c > 0xffffffffLL) return 0xffffffffu;
  return static_cast<std::uint32_t>(c);
}

ClientConfig client_config(std::size_t max_transcript) {
  ClientConfig c;
  // A step's bytes leave when the step runs: scenarios break the rules on purpose.
  c.pipelining = PipelineMode::always;
  c.enforce_sequence = false;
  c.enforce_capabilities = false;
  c.max_transcript = max_transcript;
  return c;
}

std::string tls_text(const net::TlsInfo& info) {
  std::string out = info.version.empty() ? std::string("TLS") : info.version;
  if (!info.cipher.empty()) out += " " + info.cipher;
  if (!info.peer_subject.empty()) out += ", certificate " + info.peer_subject;
  out += info.verified ? " (verified)" : " (not verified)";
  return out;
}

/// One connection of a scenario.
struct Conn {
  Conn(std::uint32_t i, std::size_t max_transcript) : index(i), session(client_config(max_transcript)) {}

  std::uint32_t index = 0;
  std::unique_ptr<net::Connection> net;
  ClientSession session;
  ServerModel model;
  StreamTracker tracker;
  std::deque<Pending> pending;      // what replies to raw bytes answer (oracle)
  std::deque<ReplyEvent> replies;   // read, not yet consumed by an expect
  std::optional<Capabilities> caps;  // of the last 250 to EHLO on this connection
  bool eof = false;                  // the server closed its side
  std::optional<std::string> error;  // the connection is unusable (why)
  std::string write_failed;          // a write failed; reading may still work
  std::string malformed;             // the ClientSession's "malformed reply" finding
  bool auth_active = false;          // an auth step waits for its final reply
  bool tls = false;
  std::size_t unsolicited = 0;
  std::uint64_t received = 0;   // octets handed to the session
  std::uint64_t reply_end = 0;  // stream offset after the last complete reply
  std::size_t stamped = 0;      // transcript entries with a time stamp
  std::vector<std::uint64_t> t_ms;
  std::vector<bool> in_tls;
  std::vector<std::size_t> raw_entries;  // transcript entries written by raw steps
  std::string target;
};

/// Milliseconds a scenario spends waiting on purpose (sleeps, "nothing within" windows): the
/// runner starts the longest first, so that a few slow scenarios do not end the run alone.
std::uint64_t planned_wait_ms(const scenario::Scenario& s) {
  std::uint64_t total = 0;
  for (const scenario::Step& step : s.steps) {
    if (const auto* sl = std::get_if<scenario::SleepStep>(&step.action)) total += sl->ms;
    if (const auto* x = std::get_if<scenario::ExpectStep>(&step.action)) {
      std::uint32_t silence = x->expect.when.nothing_within_ms.value_or(0);
      for (const scenario::Outcome& o : x->expect.any_of) {
        silence = std::max(silence, o.when.nothing_within_ms.value_or(0));
      }
      total += silence;
    }
  }
  return total;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ScenarioRun: one scenario, start to verdict
// ---------------------------------------------------------------------------------------------

class ScenarioRun {
 public:
  ScenarioRun(Runner& runner, const scenario::Scenario& s)
      : r_(runner),
        cfg_(runner.config()),
        s_(s),
        vars_(scenario::variables_of(runner.config().profile)) {}

  asio::awaitable<report::ScenarioResult> execute();

 private:
  // Steps.
  asio::awaitable<scenario::StepOutcome> run_step(const scenario::Step& step,
                                                  report::StepRecord& rec);
  asio::awaitable<scenario::StepOutcome> connect_step(const scenario::ConnectStep& step,
                                                      report::StepRecord& rec);
  asio::awaitable<scenario::StepOutcome> send_step(std::string bytes, bool data, bool raw,
                                                   report::StepRecord& rec);
  asio::awaitable<scenario::StepOutcome> expect_step(const scenario::Expect& e,
                                                     report::StepRecord& rec,
                                                     scenario::Observation* seen = nullptr);
  asio::awaitable<scenario::StepOutcome> ehlo_step(const scenario::EhloStep& step,
                                                   report::StepRecord& rec);
  asio::awaitable<scenario::StepOutcome> starttls_step(const scenario::StartTlsStep& step,
                                                       report::StepRecord& rec);
  asio::awaitable<scenario::StepOutcome> auth_step(const scenario::AuthStep& step,
                                                   report::StepRecord& rec);
  asio::awaitable<scenario::StepOutcome> sleep_step(const scenario::SleepStep& step,
                                                    report::StepRecord& rec);

  // Connections.
  asio::awaitable<std::optional<std::string>> open(bool implicit_tls);
  asio::awaitable<void> close_connection(bool graceful);
  asio::awaitable<void> flush(Conn& c);
  template <class Pred>
  asio::awaitable<void> pump(Conn& c, Clock::time_point until, Pred done);
  asio::awaitable<scenario::Observation> observe(const scenario::ReadPlan& plan);
  void drain(Conn& c);
  void on_reply(Conn& c, ReplyEvent ev);
  void judge(Conn& c, const ReplyEvent& ev);
  void stamp(Conn& c);
  void collect_transcript(Conn& c);
  [[nodiscard]] std::optional<std::string> unusable() const;

  void add_finding(std::string source, std::string severity, std::string message,
                   std::string rfc = {}, std::optional<std::uint64_t> offset = {});
  [[nodiscard]] std::uint32_t default_wait_ms() const {
    return s_.timeout_ms.value_or(to_ms32(cfg_.timeout));
  }

  Runner& r_;
  const RunConfig& cfg_;
  const scenario::Scenario& s_;
  scenario::Variables vars_;
  report::ScenarioResult result_;
  std::unique_ptr<Conn> conn_;
  std::uint32_t connections_ = 0;
  Clock::time_point start_;
  std::size_t step_ = 0;
  std::string skipped_;
  std::string error_;
  bool interrupted_ = false;
  bool caps_checked_ = false;
  std::vector<std::string> oracle_failures_;
  std::vector<std::string> endpoints_;
  std::size_t findings_dropped_ = 0;
};

asio::awaitable<report::ScenarioResult> ScenarioRun::execute() {
  start_ = Clock::now();
  result_ = scenario::make_result(s_);

  scenario::TargetFacts facts;
  facts.tls = cfg_.tls;
  facts.credentials = !cfg_.profile.username.empty() && !cfg_.profile.password.empty();
  facts.store = cfg_.profile.store.has_value();
  facts.auth_requires_tls = cfg_.profile.auth_requires_tls;

  if (auto why = scenario::unmet_facts(s_, facts)) {
    skipped_ = *why;
  } else if (r_.stopping()) {
    interrupted_ = true;
  } else {
    bool ok = true;
    if (s_.steps.empty() || !std::holds_alternative<scenario::ConnectStep>(s_.steps[0].action)) {
      const bool implicit = cfg_.tls == scenario::TlsMode::implicit;
      if (auto err = co_await open(implicit)) {
        error_ = "connect: " + *err;
        ok = false;
      }
    }
    for (step_ = 0; ok && step_ < s_.steps.size(); ++step_) {
      if (r_.stopping()) {
        interrupted_ = true;
        break;
      }
      const scenario::Step& step = s_.steps[step_];
      report::StepRecord rec;
      rec.index = step_;
      rec.kind = scenario::kind_name(step.action);
      const scenario::StepOutcome out = co_await run_step(step, rec);
      if (r_.stopping() && out.status != report::StepStatus::passed) interrupted_ = true;
      rec.status = out.status;
      rec.reason = out.reason;
      rec.label = out.label;
      result_.steps.push_back(std::move(rec));
      if (!skipped_.empty() || out.stop || interrupted_) break;
    }
  }
  co_await close_connection(!r_.stopping());

  scenario::AggregateExtras extras;
  extras.skipped = skipped_;
  extras.error = error_;
  extras.oracle_findings = oracle_failures_;
  scenario::ScenarioVerdict v = scenario::aggregate(s_, result_.steps, extras);
  if (interrupted_) {
    v.verdict = report::Verdict::error;
    v.reason = result_.steps.empty() && step_ == 0
                   ? std::string("interrupted before it ran")
                   : "interrupted at step " + std::to_string(step_ + 1);
  }
  result_.verdict = v.verdict;
  result_.reason = v.reason;

  if (cfg_.delivered && !endpoints_.empty()) {
    for (std::string& note : cfg_.delivered(endpoints_)) {
      add_finding("runner", "info", std::move(note));
    }
  }
  if (findings_dropped_ > 0) {
    report::Finding f;
    f.source = "runner";
    f.severity = "info";
    f.message = std::to_string(findings_dropped_) + " more findings not kept";
    result_.findings.push_back(std::move(f));
  }
  result_.duration_ms = ms_since(start_);
  // ClientSession already keeps AUTH responses out of the transcript; this also catches a
  // password that a scenario put into raw bytes, and any echo of it by the server.
  report::Redactor::for_credentials(cfg_.profile.username, cfg_.profile.password)
      .apply(result_);
  co_return std::move(result_);
}

asio::awaitable<scenario::StepOutcome> ScenarioRun::run_step(const scenario::Step& step,
                                                             report::StepRecord& rec) {
  using namespace scenario;
  const StepAction& a = step.action;
  if (const auto* c = std::get_if<ConnectStep>(&a)) co_return co_await connect_step(*c, rec);
  if (const auto* st = std::get_if<SendStep>(&a)) {
    co_return co_await send_step(render_command(st->line, vars_), false, false, rec);
  }
  if (const auto* raw = std::get_if<RawStep>(&a)) {
    co_return co_await send_step(render_raw(*raw, vars_), false, true, rec);
  }
  if (const auto* p = std::get_if<PipelineStep>(&a)) {
    co_return co_await send_step(render_pipeline(*p, vars_), false, false, rec);
  }
  if (const auto* d = std::get_if<DataStep>(&a)) {
    co_return co_await send_step(render_data(*d, vars_), true, !d->structured, rec);
  }
  if (const auto* b = std::get_if<BdatStep>(&a)) {
    co_return co_await send_step(render_bdat(*b, vars_), false, false, rec);
  }
  if (const auto* t = std::get_if<StartTlsStep>(&a)) co_return co_await starttls_step(*t, rec);
  if (const auto* au = std::get_if<AuthStep>(&a)) co_return co_await auth_step(*au, rec);
  if (const auto* e = std::get_if<EhloStep>(&a)) co_return co_await ehlo_step(*e, rec);
  if (const auto* sl = std::get_if<SleepStep>(&a)) co_return co_await sleep_step(*sl, rec);
  if (const auto* x = std::get_if<ExpectStep>(&a)) co_return co_await expect_step(x->expect, rec);
  // close
  rec.observed = conn_ ? "closed by the client" : "no connection to close";
  co_await close_connection(true);
  co_return StepOutcome{};
}

asio::awaitable<scenario::StepOutcome> ScenarioRun::connect_step(
    const scenario::ConnectStep& step, report::StepRecord& rec) {
  using scenario::TlsMode;
  const TlsMode mode =
      step.tls.value_or(cfg_.tls == TlsMode::implicit ? TlsMode::implicit : TlsMode::none);
  const bool implicit = mode == TlsMode::implicit;
  rec.expectation = implicit ? "connect with implicit TLS" : "connect";
  co_await close_connection(true);
  const bool run_implicit = cfg_.tls == TlsMode::implicit;
  const std::string& target = implicit == run_implicit ? cfg_.target
                              : implicit               ? cfg_.implicit_target
                                                       : cfg_.plain_target;
  if (target.empty()) {
    scenario::StepOutcome out;
    out.status = report::StepStatus::skipped;
    out.stop = true;
    out.reason = implicit ? "no implicit-TLS target (run with --tls implicit or --implicit-target)"
                          : "no plain target (the run uses --tls implicit)";
    skipped_ = out.reason;
    co_return out;
  }
  if (auto err = co_await open(implicit)) co_return scenario::evaluate_action(err);
  rec.observed = "connected to " + conn_->target;
  if (conn_->tls) rec.observed += ", " + tls_text(conn_->net->tls_info());
  co_return scenario::StepOutcome{};
}

asio::awaitable<scenario::StepOutcome> ScenarioRun::send_step(std::string bytes, bool data,
                                                              bool raw, report::StepRecord& rec) {
  rec.observed = report::one_line(bytes, 200);
  if (auto why = unusable()) co_return scenario::evaluate_action(why);
  Conn& c = *conn_;
  std::vector<Pending> pending = data ? c.tracker.feed_data(bytes) : c.tracker.feed(bytes);
  const std::size_t entries = c.session.transcript().size();
  c.session.send_raw(bytes, pending.size());
  // ClientSession marks every send_raw() entry raw; the report marks only raw steps' bytes.
  if (raw && c.session.transcript().size() > entries) c.raw_entries.push_back(entries);
  for (Pending& p : pending) c.pending.push_back(std::move(p));
  co_await flush(c);
  if (!c.error && !c.write_failed.empty()) {
    scenario::StepOutcome out;
    out.status = report::StepStatus::warned;
    out.reason = report::one_line("not all bytes were sent: " + c.write_failed);
    co_return out;
  }
  co_return scenario::evaluate_action(c.error);
}

asio::awaitable<scenario::StepOutcome> ScenarioRun::expect_step(const scenario::Expect& e,
                                                                report::StepRecord& rec,
                                                                scenario::Observation* seen) {
  using scenario::Observation;
  rec.expectation = scenario::describe(e);
  const scenario::ReadPlan plan = scenario::plan_expect(e, default_wait_ms());
  Observation obs;
  const Capabilities* caps = conn_ && conn_->caps ? &*conn_->caps : nullptr;
  if (plan.read_reply) {
    obs = co_await observe(plan);
    rec.observed = scenario::describe(obs);
    caps = conn_ && conn_->caps ? &*conn_->caps : nullptr;
  } else {
    rec.observed = caps != nullptr ? "capabilities of the last EHLO reply"
                                   : "no EHLO capabilities recorded";
  }
  scenario::StepOutcome out = scenario::evaluate_expect(e, obs, caps);
  const bool unjudgeable =
      plan.read_reply && (obs.kind == Observation::Kind::io_error ||
                          (obs.kind == Observation::Kind::timeout && !plan.silence_expected));
  if (out.status != report::StepStatus::passed && unjudgeable) {
    // No answer to judge: the server is too slow, silent, or broke the connection.
    out.status = report::StepStatus::error;
    out.stop = true;
    if (obs.kind == Observation::Kind::timeout) {
      std::string reason = "no reply within " + std::to_string(plan.wait_ms) + " ms";
      if (conn_ && conn_->received > conn_->reply_end) {
        reason += " (" + std::to_string(conn_->received - conn_->reply_end) +
                  " octets of an incomplete reply received)";
      }
      out.reason = reason;
    } else {
      out.reason = report::one_line("connection error: " + obs.detail);
    }
  }
  if (seen != nullptr) *seen = std::move(obs);
  co_return out;
}

asio::awaitable<scenario::StepOutcome> ScenarioRun::ehlo_step(const scenario::EhloStep& step,
                                                              report::StepRecord& rec) {
  const std::string bytes = scenario::render_ehlo(step, vars_);
  report::StepRecord send_rec;
  scenario::StepOutcome sent = co_await send_step(bytes, false, false, send_rec);
  if (sent.status != report::StepStatus::passed) {
    rec.expectation = scenario::describe(step.expect);
    rec.observed = send_rec.observed;
    co_return sent;
  }
  scenario::Observation obs;
  scenario::StepOutcome out = co_await expect_step(step.expect, rec, &obs);
  if (obs.kind == scenario::Observation::Kind::reply && obs.reply && obs.reply->code == 250 &&
      conn_) {
    conn_->caps = parse_ehlo(*obs.reply);
    for (const Diagnostic& d : conn_->caps->findings) {
      add_finding("runner", "warning", "EHLO reply: " + std::string(d.reason), "RFC5321#4.1.1.1",
                  obs.reply->offset + d.offset);
    }
    if (!caps_checked_ && scenario::needs_capabilities(s_)) {
      caps_checked_ = true;
      if (auto why = scenario::unmet_capabilities(s_, *conn_->caps)) skipped_ = *why;
    }
  }
  co_return out;
}

asio::awaitable<scenario::StepOutcome> ScenarioRun::starttls_step(
    const scenario::StartTlsStep& step, report::StepRecord& rec) {
  rec.expectation = scenario::describe(step.expect);
  if (auto why = unusable()) co_return scenario::evaluate_action(why);
  std::string observed;
  scenario::StepOutcome out;
  if (!step.handshake_only) {
    Conn& c = *conn_;
    if (c.session.starttls()) {
      co_return scenario::evaluate_action(std::string("STARTTLS could not be queued"));
    }
    co_await flush(c);
    scenario::Observation obs;
    out = co_await expect_step(step.expect, rec, &obs);
    observed = rec.observed;
    const bool go = obs.kind == scenario::Observation::Kind::reply && obs.reply &&
                    obs.reply->code == 220 && conn_ && !conn_->error;
    if (out.stop || !go) co_return out;
  }
  Conn& c = *conn_;
  auto& tls = r_.client_tls();
  if (!tls) {
    c.error = tls.error().message;
    co_return scenario::evaluate_action("TLS set-up failed: " + tls.error().message);
  }
  auto hs = co_await c.net->start_tls_client(*tls);
  r_.note_tls(c.net->tls_info());
  if (!hs) {
    c.error = hs.error().message;
    rec.observed = report::one_line(observed.empty() ? hs.error().message
                                                     : observed + "; " + hs.error().message);
    co_return scenario::evaluate_action(hs.error().message);
  }
  stamp(c);
  c.tls = true;
  c.session.tls_established();
  c.model.tls_established();
  c.caps.reset();
  c.tracker.reset();
  c.pending.clear();
  rec.observed = report::one_line((observed.empty() ? std::string() : observed + "; ") +
                                  tls_text(c.net->tls_info()));
  co_return out;
}

asio::awaitable<scenario::StepOutcome> ScenarioRun::auth_step(const scenario::AuthStep& step,
                                                              report::StepRecord& rec) {
  const bool valid = step.credentials == scenario::Credentials::valid;
  rec.observed = "AUTH " + step.mechanism +
                 (step.initial_response ? " (initial response)" : "") + ", " +
                 (valid ? "valid" : "invalid") + " credentials";
  if (auto why = unusable()) co_return scenario::evaluate_action(why);
  Conn& c = *conn_;
  SaslCredentials credentials;
  credentials.username = cfg_.profile.username;
  credentials.password = valid ? cfg_.profile.password : std::string(scenario::kInvalidPassword);
  AuthOptions options;
  options.initial_response = step.initial_response;
  if (const std::error_code ec = c.session.auth(step.mechanism, std::move(credentials), options)) {
    co_return scenario::evaluate_action("AUTH " + step.mechanism + " refused: " + ec.message());
  }
  c.auth_active = true;
  // The runner answers 334 challenges; the final reply stays queued for the next expect.
  co_await pump(c, Clock::now() + milliseconds(default_wait_ms()),
                [&c] { return !c.auth_active; });
  if (c.auth_active && !c.error && !c.eof && !r_.stopping()) {
    c.auth_active = false;
    co_return scenario::evaluate_action("no final reply to AUTH within " +
                                        std::to_string(default_wait_ms()) + " ms");
  }
  c.auth_active = false;
  co_return scenario::evaluate_action(c.error);
}

asio::awaitable<scenario::StepOutcome> ScenarioRun::sleep_step(const scenario::SleepStep& step,
                                                               report::StepRecord& rec) {
  rec.observed = "slept " + std::to_string(step.ms) + " ms";
  asio::steady_timer timer(co_await asio::this_coro::executor, milliseconds(step.ms));
  r_.timers_.insert(&timer);
  (void)co_await timer.async_wait(use_tuple);
  r_.timers_.erase(&timer);
  if (r_.stopping()) co_return scenario::evaluate_action(std::string("interrupted"));
  co_return scenario::StepOutcome{};
}

// --- connections --------------------------------------------------------------------------

std::optional<std::string> ScenarioRun::unusable() const {
  if (!conn_) return "not connected";
  if (conn_->error) return *conn_->error;
  if (!conn_->write_failed.empty()) return "an earlier write failed: " + conn_->write_failed;
  if (conn_->session.closed()) {
    return conn_->eof ? "the server closed the connection"
                      : "the session is over (the server ended it)";
  }
  if (!conn_->net->is_open()) return "the connection is closed";
  return std::nullopt;
}

asio::awaitable<std::optional<std::string>> ScenarioRun::open(bool implicit_tls) {
  co_await close_connection(true);
  const bool run_implicit = cfg_.tls == scenario::TlsMode::implicit;
  const std::string& target = implicit_tls == run_implicit ? cfg_.target
                              : implicit_tls               ? cfg_.implicit_target
                                                           : cfg_.plain_target;
  auto c = std::make_unique<Conn>(connections_++, cfg_.max_transcript);
  net::ConnectionOptions o;
  o.timeouts.connect = cfg_.timeout;
  o.timeouts.tls_handshake = cfg_.timeout;
  o.timeouts.write = cfg_.timeout;
  o.timeouts.read = cfg_.timeout;
  o.timeouts.shutdown = std::min(cfg_.timeout, milliseconds(1000));
  o.allow_non_loopback = cfg_.allow_non_loopback;
  c->net = std::make_unique<net::Connection>(co_await asio::this_coro::executor, o);
  c->target = target;
  r_.connections_.insert(c->net.get());
  conn_ = std::move(c);
  Conn& conn = *conn_;
  if (r_.stopping()) co_return std::string("interrupted");
  auto connected = co_await conn.net->connect(target);
  if (!connected) co_return connected.error().message;
  std::error_code ec;
  const auto local = conn.net->socket().local_endpoint(ec);
  if (!ec) endpoints_.push_back(net::to_string(local));
  if (implicit_tls) {
    ModelState st;
    st.flags.tls = true;
    conn.model = ServerModel(st);
    auto& tls = r_.client_tls();
    if (!tls) co_return "TLS set-up failed: " + tls.error().message;
    auto hs = co_await conn.net->start_tls_client(*tls);
    r_.note_tls(conn.net->tls_info());
    if (!hs) co_return hs.error().message;
    conn.tls = true;
  }
  co_return std::nullopt;
}

asio::awaitable<void> ScenarioRun::close_connection(bool graceful) {
  if (!conn_) co_return;
  std::unique_ptr<Conn> c = std::move(conn_);
  if (graceful && c->net->is_open() && !r_.stopping()) {
    co_await c->net->shutdown();
  } else {
    c->net->close();
  }
  drain(*c);
  stamp(*c);
  collect_transcript(*c);
  r_.connections_.erase(c->net.get());
}

asio::awaitable<void> ScenarioRun::flush(Conn& c) {
  while (!c.error && !c.session.pending_output().empty()) {
    const std::string_view out = c.session.pending_output();
    auto written = co_await c.net->write(out);
    if (!written) {
      if (r_.stopping() || written.error().timed_out() || !c.net->is_open()) {
        c.error = r_.stopping() ? std::string("interrupted") : written.error().message;
      } else {
        // The server stopped reading (it closed or reset the connection, e.g. after refusing
        // an oversized message): what it said before that can still be read.
        c.write_failed = written.error().message;
        c.session.consume_output(out.size());
      }
      break;
    }
    c.session.consume_output(out.size());
  }
  stamp(c);
}

template <class Pred>
asio::awaitable<void> ScenarioRun::pump(Conn& c, Clock::time_point until, Pred done) {
  for (;;) {
    co_await flush(c);
    drain(c);
    if (done() || c.error || c.eof || r_.stopping()) co_return;
    if (!c.net->is_open()) {
      c.error = "the connection is closed";
      co_return;
    }
    const auto now = Clock::now();
    if (now >= until) co_return;
    const auto left = std::max(milliseconds(1), std::chrono::ceil<milliseconds>(until - now));
    auto got = co_await c.net->read_some(left);
    if (got) {
      if (!got->empty()) {
        c.received += got->size();
        c.session.receive(*got);
      }
    } else if (got.error().timed_out()) {
      // Loop: the deadline check above ends the wait.
    } else if (got.error().is(net::errc::closed)) {
      c.eof = true;
      c.session.receive_eof();
    } else {
      c.error = r_.stopping() ? std::string("interrupted") : got.error().message;
    }
    stamp(c);
  }
}

asio::awaitable<scenario::Observation> ScenarioRun::observe(const scenario::ReadPlan& plan) {
  using scenario::Observation;
  if (!conn_) co_return Observation::of_close("no connection");
  Conn& c = *conn_;
  co_await pump(c, Clock::now() + milliseconds(plan.wait_ms),
                [&c] { return !c.replies.empty(); });
  if (!c.replies.empty()) {
    ReplyEvent ev = std::move(c.replies.front());
    c.replies.pop_front();
    std::optional<bool> closed_after;
    if (plan.wait_for_close) {
      co_await pump(c, Clock::now() + milliseconds(plan.wait_ms),
                    [&c] { return !c.replies.empty(); });
      closed_after = c.eof || (c.error.has_value() && !r_.stopping());
    }
    co_return Observation::of_reply(std::move(ev.reply), closed_after);
  }
  if (r_.stopping()) co_return Observation::of_error("interrupted");
  if (c.error) co_return Observation::of_error(*c.error);
  if (c.eof) co_return Observation::of_close();
  co_return Observation::of_timeout(plan.wait_ms);
}

void ScenarioRun::drain(Conn& c) {
  while (auto ev = c.session.next_event()) {
    std::visit(Overloaded{
                   [&](ReplyEvent& e) { on_reply(c, std::move(e)); },
                   [&](TlsRequested&) {},
                   [&](AuthChallenge&) {},
                   [&](Violation& v) {
                     // Replies outside the §4.3.2 row: the oracle reports those itself.
                     if (v.code == errc::reply_not_allowed) return;
                     if (v.text.rfind("malformed reply", 0) == 0) c.malformed = v.text;
                     add_finding("runner", "warning", v.text, std::string(v.rfc), v.offset);
                   },
                   [&](Closed&) {
                     if (!c.malformed.empty() && !c.error) c.error = c.malformed;
                   },
               },
               *ev);
  }
}

void ScenarioRun::on_reply(Conn& c, ReplyEvent ev) {
  c.reply_end = std::max(c.reply_end, ev.reply.offset + ev.reply.wire_size);
  judge(c, ev);
  if (!ev.solicited && ++c.unsolicited > kMaxUnsolicited && !c.error) {
    c.error = "more than " + std::to_string(kMaxUnsolicited) +
              " unsolicited replies (a flood): connection abandoned";
    c.net->close();
  }
  const bool auth_reply =
      ev.to == ReplyTo::sasl ||
      (ev.to == ReplyTo::command && ev.command && ev.command->verb == Verb::auth);
  if (c.auth_active && auth_reply) {
    if (ev.reply.code == 334) return;  // a challenge the session answers by itself
    c.auth_active = false;
  }
  if (c.replies.size() >= kMaxQueuedReplies) {
    if (!c.error) c.error = "too many replies queued: connection abandoned";
    return;
  }
  c.replies.push_back(std::move(ev));
}

void ScenarioRun::judge(Conn& c, const ReplyEvent& ev) {
  if (!ev.solicited) return;  // a Violation says so
  ReplyTo to = ev.to;
  const Command* cmd = ev.command ? &*ev.command : nullptr;
  std::uint64_t size = ev.data_size;
  Pending p;
  if (to == ReplyTo::raw) {
    if (c.pending.empty()) return;
    p = std::move(c.pending.front());
    c.pending.pop_front();
    if (p.to == ReplyTo::raw) return;
    if (p.to == ReplyTo::command && p.command && p.command->verb == Verb::data) {
      c.tracker.data_reply(ev.reply.code == 354);
    }
    to = p.to;
    cmd = p.command ? &*p.command : nullptr;
    size = p.data_size;
  }
  if (s_.oracle != scenario::OracleMode::off) {
    const Expectation e = c.model.expect(to, cmd, size, ev.sasl_cancelled);
    const smtp::Verdict v = ServerModel::judge(e, ev.reply);
    if (!v.ok()) {
      const bool counts =
          s_.oracle == scenario::OracleMode::check && v.kind == VerdictKind::failed;
      std::string what = to == ReplyTo::command && cmd != nullptr
                             ? std::string(to_string(cmd->verb))
                             : std::string(to_string(to));
      if (what.empty()) what = "command";
      std::string message = std::string(to_string(v.kind)) + " (" +
                            std::string(to_string(v.level)) + "): reply " +
                            std::to_string(ev.reply.code) + " to " + what + ": " + v.reason;
      if (counts) oracle_failures_.push_back(message);
      add_finding("oracle", counts ? "error" : "warning", std::move(message), std::string(v.rfc),
                  ev.reply.offset);
    }
  }
  c.model.advance(to, cmd, ev.reply);
}

void ScenarioRun::stamp(Conn& c) {
  const auto& t = c.session.transcript();
  const std::uint64_t now = ms_since(start_);
  while (c.stamped < t.size()) {
    c.t_ms.push_back(now);
    c.in_tls.push_back(c.tls);
    ++c.stamped;
  }
}

void ScenarioRun::collect_transcript(Conn& c) {
  const auto& t = c.session.transcript();
  for (std::size_t i = 0; i < t.size(); ++i) {
    report::TranscriptEntry e;
    e.dir = t[i].direction == Direction::sent ? report::Direction::client
                                              : report::Direction::server;
    e.conn = c.index;
    e.offset = t[i].offset;
    if (i < c.t_ms.size()) e.t_ms = c.t_ms[i];
    e.bytes = t[i].bytes;
    e.raw = e.dir == report::Direction::client
                ? std::find(c.raw_entries.begin(), c.raw_entries.end(), i) != c.raw_entries.end()
                : t[i].raw;
    e.redacted = t[i].redacted;
    e.tls = i < c.in_tls.size() && c.in_tls[i];
    result_.transcript.push_back(std::move(e));
  }
  if (c.session.transcript_truncated()) {
    add_finding("runner", "info",
                "transcript of connection " + std::to_string(c.index) + " cut at " +
                    std::to_string(cfg_.max_transcript) + " octets");
  }
}

void ScenarioRun::add_finding(std::string source, std::string severity, std::string message,
                              std::string rfc, std::optional<std::uint64_t> offset) {
  if (result_.findings.size() >= kMaxFindings) {
    ++findings_dropped_;
    return;
  }
  report::Finding f;
  f.source = std::move(source);
  f.severity = std::move(severity);
  f.message = report::one_line(message);
  f.rfc = std::move(rfc);
  f.step = step_ < s_.steps.size() ? std::optional<std::size_t>(step_) : std::nullopt;
  f.offset = offset;
  result_.findings.push_back(std::move(f));
}

// ---------------------------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------------------------

Runner::Runner(asio::any_io_executor executor, RunConfig config,
               const std::vector<scenario::Scenario>& scenarios)
    : executor_(std::move(executor)), config_(std::move(config)), scenarios_(scenarios) {
  if (config_.jobs == 0) config_.jobs = 1;
}

Runner::~Runner() = default;

net::Result<net::ClientTls>& Runner::client_tls() {
  if (!client_tls_) client_tls_.emplace(net::make_client_tls(config_.tls_options));
  return *client_tls_;
}

void Runner::note_tls(const net::TlsInfo& info) {
  if (tls_facts_ || info.version.empty()) return;
  report::TlsFacts f;
  f.version = info.version;
  f.cipher = info.cipher;
  f.certificate_subject = info.peer_subject;
  f.verified = info.verified;
  f.verify_error = info.verify_error;
  tls_facts_ = std::move(f);
}

void Runner::request_stop() {
  if (stopping_) return;
  stopping_ = true;
  for (net::Connection* c : connections_) c->close();
  for (asio::steady_timer* t : timers_) t->cancel();
}

void Runner::finished(std::size_t index, report::ScenarioResult result) {
  counts_.add(result.verdict);
  ++done_;
  Progress p;
  p.done = done_;
  p.total = scenarios_.size();
  p.running = running_;
  p.counts = counts_;
  p.last_id = result.id;
  p.last_verdict = result.verdict;
  results_[index] = std::move(result);
  if (config_.on_progress) config_.on_progress(p);
}

asio::awaitable<void> Runner::worker() {
  while (!stopping_ && next_ < order_.size()) {
    const std::size_t index = order_[next_++];
    ++running_;
    report::ScenarioResult result;
    std::string internal;
    try {
      ScenarioRun run(*this, scenarios_[index]);
      result = co_await run.execute();
    } catch (const std::exception& e) {
      internal = e.what();
    }
    if (!internal.empty()) {
      result = scenario::make_result(scenarios_[index]);
      result.verdict = report::Verdict::error;
      result.reason = report::one_line("internal error: " + internal);
    }
    --running_;
    finished(index, std::move(result));
  }
}

asio::awaitable<report::Report> Runner::run() {
  const auto start = Clock::now();
  report::Report rep = report::make_report();
  rep.started_at = report::iso8601_utc(std::chrono::system_clock::now());
  rep.strict = config_.strict;
  if (auto t = net::parse_target(config_.target)) {
    rep.target.host = t->host;
    rep.target.port = t->port;
  } else {
    rep.target.host = config_.target;
  }
  rep.target.tls = scenario::to_string(config_.tls);
  rep.target.embedded = config_.embedded;

  results_.assign(scenarios_.size(), std::nullopt);
  order_.resize(scenarios_.size());
  std::vector<std::uint64_t> waits(scenarios_.size());
  for (std::size_t i = 0; i < scenarios_.size(); ++i) {
    order_[i] = i;
    waits[i] = planned_wait_ms(scenarios_[i]);
  }
  std::stable_sort(order_.begin(), order_.end(),
                   [&waits](std::size_t a, std::size_t b) { return waits[a] > waits[b]; });
  all_done_ = std::make_unique<asio::steady_timer>(executor_, std::chrono::hours(24 * 365));
  workers_ = std::min(config_.jobs, scenarios_.size());
  const std::size_t spawned = workers_;
  for (std::size_t i = 0; i < spawned; ++i) {
    asio::co_spawn(executor_, worker(), [this](const std::exception_ptr&) {
      if (--workers_ == 0) all_done_->cancel();
    });
  }
  // A worker whose scenarios need no I/O (all skipped) may finish before this line.
  if (workers_ > 0) (void)co_await all_done_->async_wait(use_tuple);

  for (std::size_t i = 0; i < scenarios_.size(); ++i) {
    if (results_[i]) {
      rep.scenarios.push_back(std::move(*results_[i]));
      continue;
    }
    report::ScenarioResult r = scenario::make_result(scenarios_[i]);
    r.verdict = report::Verdict::error;
    r.reason = "interrupted before it ran";
    rep.scenarios.push_back(std::move(r));
  }
  rep.interrupted = stopping_;
  rep.tls = tls_facts_;
  rep.duration_ms = ms_since(start);
  co_return rep;
}

asio::awaitable<net::Result<void>> Runner::probe() {
  net::ConnectionOptions o;
  o.timeouts.connect = config_.timeout;
  o.timeouts.tls_handshake = config_.timeout;
  o.timeouts.shutdown = std::min(config_.timeout, milliseconds(1000));
  o.allow_non_loopback = config_.allow_non_loopback;
  net::Connection c(executor_, o);
  connections_.insert(&c);
  auto result = co_await c.connect(config_.target);
  if (result && config_.tls == scenario::TlsMode::implicit) {
    auto& tls = client_tls();
    if (!tls) {
      result = tl::make_unexpected(tls.error());
    } else {
      result = co_await c.start_tls_client(*tls);
      note_tls(c.tls_info());
    }
  }
  if (result) co_await c.shutdown();
  connections_.erase(&c);
  co_return result;
}

}  // namespace smtp::run
