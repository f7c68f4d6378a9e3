// smtp-harness run: scenarios -> runner (run/runner.h) -> compliance report (report/).
#include "cli/cmd_run.h"

#include <fnmatch.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "net/address.h"
#include "net/tls.h"
#include "report/junit.h"
#include "report/report.h"
#include "report/summary.h"
#include "report/write.h"
#include "run/embedded.h"
#include "run/runner.h"
#include "scenario/evaluate.h"
#include "scenario/load.h"

namespace smtp::cli {

namespace {

void say(const std::string& message) {
  std::fprintf(stderr, "smtp-harness run: %s\n", message.c_str());
}

/// Drive the runner: probe the target first (exit 3 when it is not there), then run.
asio::awaitable<void> drive(run::Runner& runner, std::optional<report::Report>& out,
                            std::optional<net::Error>& unreachable) {
  auto probe = co_await runner.probe();
  if (!probe && !runner.stopping()) {
    unreachable = std::move(probe.error());
    co_return;
  }
  out = co_await runner.run();
}

/// A report for a run that never started: every scenario is an error with `reason`.
report::Report not_run_report(const run::RunConfig& cfg,
                              const std::vector<scenario::Scenario>& scenarios,
                              const std::string& reason) {
  report::Report rep = report::make_report();
  rep.started_at = report::iso8601_utc(std::chrono::system_clock::now());
  rep.strict = cfg.strict;
  if (auto t = net::parse_target(cfg.target)) {
    rep.target.host = t->host;
    rep.target.port = t->port;
  }
  rep.target.tls = scenario::to_string(cfg.tls);
  rep.target.embedded = cfg.embedded;
  for (const scenario::Scenario& s : scenarios) {
    report::ScenarioResult r = scenario::make_result(s);
    r.verdict = report::Verdict::error;
    r.reason = report::one_line(reason);
    rep.scenarios.push_back(std::move(r));
  }
  return rep;
}

/// Write the JSON report and the JUnit XML when asked. False when a write failed.
bool write_outputs(const RunOptions& o, const report::Report& rep) {
  bool ok = true;
  if (!o.report.empty()) {
    if (const std::error_code ec = report::write_report(rep, o.report)) {
      say("cannot write the report " + o.report + ": " + ec.message());
      ok = false;
    }
  }
  if (!o.junit.empty()) {
    report::JunitOptions j;
    j.strict = o.strict;
    if (const std::error_code ec = report::write_junit(rep, o.junit, j)) {
      say("cannot write the JUnit report " + o.junit + ": " + ec.message());
      ok = false;
    }
  }
  return ok;
}

/// Check a HOST:PORT the user gave: syntax and the loopback policy. Error: the message.
std::optional<std::string> check_target(const std::string& text, bool allow_non_loopback,
                                        const char* flag) {
  auto endpoints = net::resolve(text, net::ResolveOptions{allow_non_loopback});
  if (endpoints) return std::nullopt;
  std::string message = std::string(flag) + " " + text + ": " + endpoints.error().message;
  if (endpoints.error().is(net::errc::not_loopback)) message += " (use --allow-non-loopback)";
  return message;
}

std::string progress_line(const run::Progress& p) {
  std::string id = p.last_id;
  if (id.size() > 40) id = "..." + id.substr(id.size() - 37);
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "[%zu/%zu] %zu passed, %zu failed, %zu non-strict, %zu skipped, %zu errors; "
                "%zu running",
                p.done, p.total, p.counts.passed, p.counts.failed, p.counts.non_strict,
                p.counts.skipped, p.counts.error, p.running);
  return std::string(buf) + "; " + report::to_string(p.last_verdict) + " " + id;
}

}  // namespace

std::string default_scenario_dir() {
  const std::filesystem::path source = std::filesystem::path(SMTPH_SOURCE_DIR) / "scenarios";
  std::error_code ec;
  if (std::filesystem::is_directory(source, ec)) return source.string();
  return "scenarios";
}

bool matches_filter(const scenario::Scenario& s, const std::vector<std::string>& filters) {
  if (filters.empty()) return true;
  for (const std::string& f : filters) {
    if (::fnmatch(f.c_str(), s.id.c_str(), 0) == 0) return true;
    for (const std::string& tag : s.tags) {
      if (tag == f) return true;
    }
  }
  return false;
}

int run_run(const RunOptions& o) {
  // --- options -------------------------------------------------------------------------------
  if (!(o.timeout > 0 && o.timeout <= 86400)) {
    say("--timeout must be between 0 and 86400 seconds");
    return kExitUsage;
  }
  if (o.insecure && !o.ca.empty()) {
    say("--ca and --insecure exclude each other");
    return kExitUsage;
  }
  if (o.jobs == 0) {
    say("-j must be at least 1");
    return kExitUsage;
  }
  scenario::Profile profile;
  if (!o.profile.empty()) {
    auto loaded = scenario::load_profile(o.profile);
    if (!loaded) {
      for (const scenario::LoadError& e : loaded.error()) {
        std::fprintf(stderr, "%s\n", e.to_string().c_str());
      }
      say("invalid profile " + o.profile);
      return kExitUsage;
    }
    profile = std::move(*loaded);
  }
  scenario::TlsMode mode = profile.target.tls.value_or(scenario::TlsMode::none);
  if (!o.tls.empty()) {
    auto parsed = scenario::parse_tls_mode(o.tls);
    if (!parsed) {
      say("--tls must be none, starttls or implicit, not '" + o.tls + "'");
      return kExitUsage;
    }
    mode = *parsed;
  }

  // --- target --------------------------------------------------------------------------------
  std::string target = o.target;
  if (target.empty() && !profile.target.host.empty()) {
    const std::uint16_t default_port = mode == scenario::TlsMode::implicit ? 465 : 25;
    target = net::Target{profile.target.host, profile.target.port.value_or(default_port)}
                 .to_string();
  }
  if (!target.empty()) {
    if (auto bad = check_target(target, o.allow_non_loopback, "--target")) {
      say(*bad);
      return kExitUsage;
    }
  }
  if (!o.implicit_target.empty()) {
    if (auto bad = check_target(o.implicit_target, o.allow_non_loopback, "--implicit-target")) {
      say(*bad);
      return kExitUsage;
    }
  }

  // --- scenarios -----------------------------------------------------------------------------
  std::vector<std::filesystem::path> paths;
  for (const std::string& p : o.paths) paths.emplace_back(p);
  if (paths.empty()) paths.emplace_back(default_scenario_dir());
  scenario::LoadOptions load;
  load.profile = profile;
  auto loaded = scenario::load_scenarios(paths, load);
  if (!loaded) {
    for (const scenario::LoadError& e : loaded.error()) {
      std::fprintf(stderr, "%s\n", e.to_string().c_str());
    }
    say(std::to_string(loaded.error().size()) + " error(s) in the scenarios; nothing was run");
    return kExitUsage;
  }
  std::vector<scenario::Scenario> selected;
  for (scenario::Scenario& s : *loaded) {
    if (matches_filter(s, o.filters)) selected.push_back(std::move(s));
  }
  if (selected.empty()) {
    say(o.filters.empty() ? "no scenarios found" : "no scenario matches --filter");
    return kExitUsage;
  }
  if (o.dry_run) {
    for (const scenario::Scenario& s : selected) {
      std::printf("%s\t%s\t%s\n", s.id.c_str(), scenario::to_string(s.level), s.title.c_str());
    }
    std::fprintf(stderr, "%zu scenario(s) selected (dry run: nothing was sent)\n",
                 selected.size());
    return kExitOk;
  }

  run::RunConfig cfg;
  cfg.tls = mode;
  cfg.profile = profile;
  cfg.jobs = o.jobs;
  cfg.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout * 1000.0 + 0.5));
  if (cfg.timeout.count() < 1) cfg.timeout = std::chrono::milliseconds(1);
  cfg.tls_options.ca_file = o.ca;
  cfg.tls_options.verify = !o.insecure;
  cfg.tls_options.server_name = o.sni.empty() ? profile.target.sni : o.sni;
  cfg.allow_non_loopback = o.allow_non_loopback;
  cfg.strict = o.strict;
  if (!o.ca.empty()) {
    // A CA file that does not load is a TLS set-up failure, before anything is sent.
    if (auto tls = net::make_client_tls(cfg.tls_options); !tls) {
      say("TLS set-up failed: " + tls.error().message);
      return kExitUnreachable;
    }
  }

  std::unique_ptr<run::EmbeddedServer> embedded;
  if (target.empty()) {
    auto started = run::EmbeddedServer::start(profile);
    if (!started) {
      say("cannot start the embedded reference server: " + started.error().message);
      return kExitUnreachable;
    }
    embedded = std::move(*started);
    cfg.embedded = true;
    cfg.plain_target = embedded->plain_target();
    cfg.implicit_target = embedded->implicit_target();
    cfg.target = mode == scenario::TlsMode::implicit ? cfg.implicit_target : cfg.plain_target;
    if (o.ca.empty() && !o.insecure) cfg.tls_options.ca_pem = embedded->certificate_pem();
    run::EmbeddedServer* server = embedded.get();
    cfg.delivered = [server](const std::vector<std::string>& clients) {
      return server->delivered(clients);
    };
  } else {
    cfg.target = target;
    if (mode != scenario::TlsMode::implicit) cfg.implicit_target = o.implicit_target;
  }

  const bool progress = o.progress < 0 ? ::isatty(STDERR_FILENO) == 1 : o.progress > 0;
  if (progress) {
    cfg.on_progress = [](const run::Progress& p) {
      std::fprintf(stderr, "\r\033[K%s", progress_line(p).c_str());
      std::fflush(stderr);
    };
  }

  // --- run -----------------------------------------------------------------------------------
  asio::io_context io(1);
  run::Runner runner(io.get_executor(), cfg, selected);
  std::optional<asio::signal_set> signals;
  int signal_number = 0;
  std::function<void()> arm;
  if (o.handle_signals) {
    signals.emplace(io, SIGINT, SIGTERM);
    arm = [&] {
      signals->async_wait([&](const std::error_code& ec, int sig) {
        if (ec) return;
        if (signal_number == 0) {
          if (progress) std::fprintf(stderr, "\r\033[K");
          say(std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") +
              ": stopping; the report will show what ran");
        }
        signal_number = sig;
        runner.request_stop();
        arm();
      });
    };
    arm();
  }
  std::optional<report::Report> rep;
  std::optional<net::Error> unreachable;
  std::exception_ptr failure;
  asio::co_spawn(io, drive(runner, rep, unreachable), [&](const std::exception_ptr& e) {
    failure = e;
    if (signals) {
      std::error_code ignored;
      signals->cancel(ignored);
    }
  });
  io.run();
  if (progress) std::fprintf(stderr, "\r\033[K");
  if (embedded) embedded->stop();
  if (failure) std::rethrow_exception(failure);

  if (unreachable || !rep) {
    const std::string why = unreachable ? unreachable->message : std::string("run did not finish");
    say("target " + cfg.target + " unreachable: " + why);
    const report::Report failed = not_run_report(cfg, selected, "not run: target unreachable: " + why);
    (void)write_outputs(o, failed);
    return kExitUnreachable;
  }

  const bool written = write_outputs(o, *rep);
  std::fputs(report::summary_text(*rep, o.strict).c_str(), stderr);
  if (written && !o.report.empty() && o.report != "-") {
    std::fprintf(stderr, "report: %s\n", o.report.c_str());
  }
  if (written && !o.junit.empty() && o.junit != "-") {
    std::fprintf(stderr, "junit: %s\n", o.junit.c_str());
  }
  if (signal_number != 0 || rep->interrupted) return kExitInterrupted;
  if (!written) return kExitUsage;
  return report::exit_code(*rep, o.strict);
}

void register_run(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand(
      "run", "Run scenarios against an SMTP server (default: the embedded reference server) and "
             "write a compliance report");
  sub->add_option("paths", opt->paths,
                  "scenario files or directories (default: the scenarios/ directory)");
  sub->add_option("--target", opt->target,
                  "server under test HOST:PORT (default: the embedded reference server on "
                  "127.0.0.1; loopback only unless --allow-non-loopback)");
  sub->add_option("--tls", opt->tls, "transport: none, starttls or implicit (default none)")
      ->check(CLI::IsMember({"none", "starttls", "implicit"}));
  sub->add_option("--profile", opt->profile,
                  "target profile JSON (reports/schema/profile.schema.json)")
      ->check(CLI::ExistingFile);
  sub->add_option("-j,--jobs", opt->jobs, "scenarios run at once (default 4)")
      ->check(CLI::Range(1, 1024));
  sub->add_option("--filter", opt->filters,
                  "keep scenarios whose id matches the glob or that have the tag (repeatable)")
      ->allow_extra_args(false);  // one value per --filter: later words are PATHS
  sub->add_option("--report", opt->report, "write the JSON report to FILE (\"-\" = stdout)");
  sub->add_option("--junit", opt->junit, "write JUnit XML to FILE");
  sub->add_option("--timeout", opt->timeout,
                  "seconds per connect, write, TLS handshake and reply wait (default 10)")
      ->check(CLI::Range(0.001, 86400.0));
  auto* ca = sub->add_option("--ca", opt->ca, "verify TLS certificates against this PEM file")
                 ->check(CLI::ExistingFile);
  auto* insecure =
      sub->add_flag("--insecure", opt->insecure, "do not verify TLS certificates (still recorded)");
  ca->excludes(insecure);
  sub->add_option("--sni", opt->sni, "TLS server name (default: the target host)");
  sub->add_option("--implicit-target", opt->implicit_target,
                  "HOST:PORT for connect steps that ask for implicit TLS in a plain run");
  sub->add_flag("--strict", opt->strict, "SHOULD-level failures fail the run");
  sub->add_flag("--allow-non-loopback", opt->allow_non_loopback,
                "allow targets outside 127.0.0.0/8 and ::1");
  sub->add_flag("--dry-run", opt->dry_run, "load and list the selected scenarios, send nothing");
  sub->callback([opt, &exit_code] { exit_code = run_run(*opt); });
}

}  // namespace smtp::cli
