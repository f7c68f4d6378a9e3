// `smtp-harness run`: the runner (run/runner.h) against the embedded reference server and
// against misbehaving servers, the StreamTracker, secrets in reports, Ctrl-C, and the CLI's
// exit codes. Loopback only; every wait is bounded.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "cli/cmd_run.h"
#include "report/junit.h"
#include "report/report.h"
#include "report/write.h"
#include "run/embedded.h"
#include "run/runner.h"
#include "run/stream_tracker.h"
#include "scenario/load.h"
#include "smtp/sasl.h"
#include "support/io_run.h"
#include "support/misbehaving_server.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using smtp::report::Report;
using smtp::report::Verdict;
using smtp::run::Pending;
using smtp::run::RunConfig;
using smtp::run::Runner;
using smtp::run::StreamTracker;
using smtp::scenario::Profile;
using smtp::scenario::Scenario;
using smtp::testing::Misbehaviour;
using smtp::testing::MisbehavingServer;
using smtp::testing::run_io;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("smtph-run-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<Scenario> load(const std::string& json, const Profile& profile = {}) {
  smtp::scenario::LoadOptions options;
  options.profile = profile;
  auto loaded = smtp::scenario::load_scenario_text(json, "test.json", options);
  if (!loaded) {
    std::string all;
    for (const auto& e : loaded.error()) all += e.to_string() + "\n";
    ADD_FAILURE() << all;
    return {};
  }
  return *loaded;
}

std::vector<Scenario> load_suite() {
  auto loaded = smtp::scenario::load_scenarios({fs::path(SMTPH_SOURCE_DIR) / "scenarios"});
  if (!loaded) {
    std::string all;
    for (const auto& e : loaded.error()) all += e.to_string() + "\n";
    ADD_FAILURE() << all;
    return {};
  }
  return *loaded;
}

/// A scenario document with the given id, level and steps (a JSON array's inside).
std::string scenario_json(const std::string& id, const std::string& steps,
                          const std::string& extra = {}) {
  return R"({"format": 1, "id": ")" + id +
         R"(", "title": "test", "rfc": "RFC5321#4.1.1", "requirement": "test", "level": "MUST", )" +
         extra + R"("steps": [)" + steps + "]}";
}

const std::string kGreetQuit =
    R"({"expect": {"code": 220}}, {"ehlo": {}}, {"send": "QUIT"},
       {"expect": {"code": 221, "then": "close"}})";

/// Errors of the report schema check (empty = valid).
std::string schema_errors(const Report& rep) {
  const auto errors =
      smtp::scenario::validate_json_text(smtp::report::to_json_text(rep), "report.json", "report");
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

std::string verdicts(const Report& rep) {
  std::string out;
  for (const auto& s : rep.scenarios) {
    out += s.id + ": " + smtp::report::to_string(s.verdict) + " " + s.reason + "\n";
  }
  return out;
}

/// Run `scenarios` against the embedded reference server in this process.
Report run_embedded(const std::vector<Scenario>& scenarios, RunConfig cfg = {},
                    smtp::run::EmbeddedServer** keep = nullptr) {
  auto started = smtp::run::EmbeddedServer::start(cfg.profile);
  if (!started) {
    ADD_FAILURE() << started.error().message;
    return {};
  }
  std::unique_ptr<smtp::run::EmbeddedServer> server = std::move(*started);
  cfg.embedded = true;
  cfg.plain_target = server->plain_target();
  cfg.implicit_target = server->implicit_target();
  if (cfg.target.empty()) {
    cfg.target = cfg.tls == smtp::scenario::TlsMode::implicit ? cfg.implicit_target
                                                              : cfg.plain_target;
  }
  cfg.tls_options.ca_pem = server->certificate_pem();
  cfg.delivered = [s = server.get()](const std::vector<std::string>& c) {
    return s->delivered(c);
  };
  if (cfg.timeout == 10'000ms) cfg.timeout = 5000ms;
  asio::io_context io;
  Runner runner(io.get_executor(), cfg, scenarios);
  Report rep = run_io(io, runner.run(), {}, 120s);
  if (keep != nullptr) *keep = server.release();
  return rep;
}

// --- child processes (the CLI) -----------------------------------------------------------------

struct Child {
  pid_t pid = -1;
};

Child spawn(const std::vector<std::string>& args, const fs::path& out, const fs::path& err) {
  std::vector<std::string> argv_s;
  argv_s.push_back(SMTPH_HARNESS_BIN);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Child c;
  const int rc = posix_spawn(&c.pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) c.pid = -1;
  return c;
}

/// Wait at most `limit` for the child; its exit code, 128+signal, or -1 (killed: too slow).
int wait_child(Child c, std::chrono::milliseconds limit = 120s) {
  if (c.pid <= 0) return -1;
  const auto until = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
    if (r == c.pid) break;
    if (std::chrono::steady_clock::now() > until) {
      ::kill(c.pid, SIGKILL);
      ::waitpid(c.pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(20ms);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

CliResult cli(const std::vector<std::string>& args, const TempDir& dir) {
  const fs::path out = dir.path() / "stdout.txt";
  const fs::path err = dir.path() / "stderr.txt";
  CliResult r;
  r.code = wait_child(spawn(args, out, err));
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

// ---------------------------------------------------------------------------------------------
// StreamTracker (pure)
// ---------------------------------------------------------------------------------------------

std::string describe(const std::vector<Pending>& ps) {
  std::string out;
  for (const Pending& p : ps) {
    out += std::string(smtp::to_string(p.to));
    if (p.command) out += ":" + std::string(smtp::to_string(p.command->verb));
    if (p.to == smtp::ReplyTo::data_end) out += ":" + std::to_string(p.data_size);
    out += " ";
  }
  return out;
}

/// Feed `bytes` whole, byte by byte and split at every offset: the same Pendings each time.
std::string grind_feed(const std::string& bytes, bool data = false) {
  auto feed = [&](StreamTracker& t, std::string_view b) {
    return data ? t.feed_data(b) : t.feed(b);
  };
  StreamTracker whole;
  const std::string expected = describe(feed(whole, bytes));
  {
    StreamTracker t;
    std::vector<Pending> all;
    for (char c : bytes) {
      for (auto& p : feed(t, std::string_view(&c, 1))) all.push_back(std::move(p));
    }
    EXPECT_EQ(describe(all), expected) << "byte by byte";
  }
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    StreamTracker t;
    std::vector<Pending> all = feed(t, std::string_view(bytes).substr(0, cut));
    for (auto& p : feed(t, std::string_view(bytes).substr(cut))) all.push_back(std::move(p));
    EXPECT_EQ(describe(all), expected) << "split at " << cut;
  }
  return expected;
}

TEST(StreamTracker, CommandLinesAskForOneReplyEach) {
  EXPECT_EQ(grind_feed("EHLO a.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"),
            "command:EHLO command:MAIL command:RCPT ");
  EXPECT_EQ(grind_feed("NOOP\r\nno line end yet"), "command:NOOP ");
  EXPECT_EQ(grind_feed("bare\nLF\r\n"), "command: ");  // one line: CRLF ends lines
}

TEST(StreamTracker, DataRunsUntilCrLfDotCrLf) {
  EXPECT_EQ(grind_feed("DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n"),
            "command:DATA data_end:18 command:QUIT ");
  // The CRLF of the DATA line counts: ".\r\n" right away ends empty data.
  EXPECT_EQ(grind_feed("DATA\r\n.\r\n"), "command:DATA data_end:0 ");
  // Smuggling candidates are content: <LF>.<LF>, <CR>.<CR>, <CRLF>.<LF>.
  EXPECT_EQ(grind_feed("x\n.\nMAIL FROM:<a@b>\r\n\r.\rY\r\n.\nZ\r\n.\r\n", true), "data_end:32 ");
  // A dot-stuffed line is not the end.
  EXPECT_EQ(grind_feed("..\r\nx\r\n.\r\n", true), "data_end:7 ");
}

TEST(StreamTracker, DataRefusedLeavesDataMode) {
  StreamTracker t;
  EXPECT_EQ(describe(t.feed("DATA\r\n")), "command:DATA ");
  EXPECT_TRUE(t.in_data());
  t.data_reply(false);  // 503
  EXPECT_FALSE(t.in_data());
  EXPECT_EQ(describe(t.feed("QUIT\r\n")), "command:QUIT ");
  // Accepted: stays in data mode; a later data step ends it.
  EXPECT_EQ(describe(t.feed("DATA\r\n")), "command:DATA ");
  t.data_reply(true);
  EXPECT_EQ(describe(t.feed_data("hello\r\n.\r\n")), "data_end:7 ");
  // Data sent before the reply (pipelined) stays data even if DATA is then refused.
  EXPECT_EQ(describe(t.feed("DATA\r\nabc")), "command:DATA ");
  t.data_reply(false);
  EXPECT_TRUE(t.in_data());
}

TEST(StreamTracker, BdatChunkIsNotReadAsCommands) {
  EXPECT_EQ(grind_feed("BDAT 12\r\nQUIT\r\nQUIT\r\nBDAT 6 LAST\r\nRSET\r\nNOOP\r\n"),
            "bdat:BDAT bdat_last:BDAT command:NOOP ");
}

TEST(StreamTracker, Smtputf8TransactionsAllowUtf8Addresses) {
  StreamTracker t;
  auto p = t.feed("MAIL FROM:<j\xc3\xb6s\xc3\xa9@client.example> SMTPUTF8\r\n"
                  "RCPT TO:<m\xc3\xbcller@example.test>\r\n");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_TRUE(p[0].command->errors.empty());
  EXPECT_TRUE(p[1].command->errors.empty());
  // Without SMTPUTF8 the same addresses are syntax errors (what the oracle expects refused).
  p = t.feed("MAIL FROM:<j\xc3\xb6s\xc3\xa9@client.example>\r\n"
             "RCPT TO:<m\xc3\xbcller@example.test>\r\n");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_FALSE(p[0].command->errors.empty());
  EXPECT_FALSE(p[1].command->errors.empty());
}

TEST(StreamTracker, ResetForgetsPartialState) {
  StreamTracker t;
  (void)t.feed("DATA\r\nabc");
  t.reset();
  EXPECT_FALSE(t.in_data());
  EXPECT_EQ(describe(t.feed("NOOP\r\n")), "command:NOOP ");
}

// ---------------------------------------------------------------------------------------------
// Against the embedded reference server
// ---------------------------------------------------------------------------------------------

/// The default suite against the embedded server, once for the tests below.
const Report& suite_report() {
  static const Report rep = run_embedded(load_suite());
  return rep;
}

TEST(RunEmbedded, ExampleSuiteRunsCleanlyAndReportValidates) {
  const std::vector<Scenario> suite = load_suite();
  ASSERT_FALSE(suite.empty());
  const Report& rep = suite_report();
  ASSERT_EQ(rep.scenarios.size(), suite.size());
  EXPECT_TRUE(rep.target.embedded);
  EXPECT_FALSE(rep.interrupted);
  EXPECT_TRUE(rep.tls.has_value());  // the suite has STARTTLS scenarios
  EXPECT_EQ(schema_errors(rep), "");
  for (const auto& s : rep.scenarios) {
    // The runner itself has nothing to complain about: every reply came, parsed, and was
    // asked for (oracle findings are the model's view of the server, see below).
    EXPECT_NE(s.verdict, Verdict::error) << s.id << ": " << s.reason;
    for (const auto& f : s.findings) {
      if (f.source == "runner") {
        EXPECT_EQ(f.severity, "info") << s.id << ": " << f.message;
      }
    }
    if (s.verdict != Verdict::skipped) {
      EXPECT_FALSE(s.transcript.empty()) << s.id;
    }
    EXPECT_EQ(s.steps.empty(), s.verdict == Verdict::skipped && s.transcript.empty()) << s.id;
  }
}

// The reference server is the suite's yardstick: every scenario that applies passes (MUST) or
// at worst is non-strict (SHOULD). Where the oracle disagrees with the reference server (the
// server's tolerances vs the strict model) it is shown, not asserted: findings are warnings.
TEST(RunEmbedded, ExampleSuiteAllPass) {
  const Report& rep = suite_report();
  for (const auto& s : rep.scenarios) {
    EXPECT_NE(s.verdict, Verdict::failed) << s.id << ": " << s.reason;
    for (const auto& f : s.findings) {
      if (f.source == "oracle") std::cerr << "[oracle] " << s.id << ": " << f.message << "\n";
    }
  }
  EXPECT_EQ(smtp::report::exit_code(rep, false), 0) << verdicts(rep);
}

TEST(RunEmbedded, StartTlsAuthPipelineBdatAndImplicitTls) {
  const std::string steps =
      R"({"expect": {"code": 220}}, {"ehlo": {}}, {"expect": {"capability": "STARTTLS"}},
         {"starttls": {}}, {"ehlo": {}}, {"auth": {"mechanism": "PLAIN"}},
         {"expect": {"code": 235}},
         {"pipeline": ["MAIL FROM:<${sender}>", "RCPT TO:<${valid_mailbox}>"]},
         {"expect": {"code": 250}}, {"expect": {"codes": [250, 251]}},
         {"bdat": {"bytes": "Subject: chunk\r\n\r\nhello\r\n", "last": true}},
         {"expect": {"code": 250}},
         {"send": "MAIL FROM:<${sender}>"}, {"expect": {"code": 250}},
         {"send": "RCPT TO:<${valid_mailbox}>"}, {"expect": {"code": 250}},
         {"send": "DATA"}, {"expect": {"code": 354}},
         {"data": {"body": ".leading dot\nsecond line\n"}}, {"expect": {"code": 250}},
         {"send": "QUIT"}, {"expect": {"code": 221, "then": "close"}},
         {"connect": {"tls": "implicit"}}, {"expect": {"code": 220}}, {"ehlo": {}},
         {"sleep": 10}, {"send": "QUIT"}, {"expect": {"code": 221}}, {"close": {}})";
  const auto scenarios = load(scenario_json("test/tls-auth", steps, R"("requires": ["STARTTLS"], )"));
  ASSERT_EQ(scenarios.size(), 1u);
  smtp::run::EmbeddedServer* server = nullptr;
  const Report rep = run_embedded(scenarios, {}, &server);
  std::unique_ptr<smtp::run::EmbeddedServer> owned(server);
  ASSERT_EQ(rep.scenarios.size(), 1u);
  const auto& s = rep.scenarios[0];
  EXPECT_EQ(s.verdict, Verdict::passed) << s.reason;
  for (const auto& f : s.findings) {
    EXPECT_NE(f.severity, "warning") << f.source << ": " << f.message;
  }
  ASSERT_TRUE(rep.tls.has_value());
  EXPECT_TRUE(rep.tls->verified) << rep.tls->verify_error;
  EXPECT_FALSE(rep.tls->version.empty());
  EXPECT_NE(rep.tls->certificate_subject.find("localhost"), std::string::npos);
  // Two connections; TLS entries are marked, and the second connection is TLS throughout.
  bool conn1 = false, tls0 = false;
  for (const auto& e : s.transcript) {
    if (e.conn == 1) {
      conn1 = true;
      EXPECT_TRUE(e.tls);
    }
    if (e.conn == 0 && e.tls) tls0 = true;
  }
  EXPECT_TRUE(conn1);
  EXPECT_TRUE(tls0);
  // The embedded server delivered both messages, and the report says so.
  ASSERT_NE(owned, nullptr);
  const auto messages = owned->server().messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(messages[0].bdat);
  EXPECT_EQ(messages[1].data.find("..leading"), std::string::npos);  // unstuffed by the server
  EXPECT_NE(messages[1].data.find(".leading dot\r\nsecond line\r\n"), std::string::npos);
  std::size_t delivered_notes = 0;
  for (const auto& f : s.findings) {
    if (f.message.find("delivered message") != std::string::npos) ++delivered_notes;
  }
  EXPECT_EQ(delivered_notes, 2u);
  EXPECT_EQ(schema_errors(rep), "");
}

TEST(RunEmbedded, RequiresAndFiltersSkipWithReasons) {
  const auto scenarios = load(
      scenario_json("test/needs-tls", kGreetQuit, R"("requires": ["tls"], )") + "\n");
  const auto more = load(scenario_json("test/needs-xyz", R"({"expect": {"code": 220}}, {"ehlo": {}},
      {"send": "QUIT"}, {"expect": {"code": 221}})", R"("requires": ["XYZZY"], )"));
  // Only scenarios that are skipped before connecting: the run still ends.
  const Report skipped_only = run_embedded(scenarios);
  ASSERT_EQ(skipped_only.scenarios.size(), 1u);
  EXPECT_EQ(skipped_only.scenarios[0].verdict, Verdict::skipped);
  std::vector<Scenario> all = scenarios;
  all.insert(all.end(), more.begin(), more.end());
  const Report rep = run_embedded(all);
  ASSERT_EQ(rep.scenarios.size(), 2u);
  EXPECT_EQ(rep.scenarios[0].verdict, Verdict::skipped);
  EXPECT_NE(rep.scenarios[0].reason.find("TLS"), std::string::npos) << rep.scenarios[0].reason;
  EXPECT_EQ(rep.scenarios[0].transcript.size(), 0u);  // never connected
  EXPECT_EQ(rep.scenarios[1].verdict, Verdict::skipped);
  EXPECT_NE(rep.scenarios[1].reason.find("XYZZY"), std::string::npos) << rep.scenarios[1].reason;

  Scenario tagged = all[0];
  tagged.id = "rfc5321/4.1.1.9/x";
  tagged.tags = {"noop"};
  EXPECT_TRUE(smtp::cli::matches_filter(tagged, {}));
  EXPECT_TRUE(smtp::cli::matches_filter(tagged, {"noop"}));
  EXPECT_TRUE(smtp::cli::matches_filter(tagged, {"rfc5321/4.*"}));
  EXPECT_TRUE(smtp::cli::matches_filter(tagged, {"quit", "rfc5321/*/x"}));
  EXPECT_FALSE(smtp::cli::matches_filter(tagged, {"quit", "rfc3207/*"}));
}

TEST(RunEmbedded, OracleChecksReplyToRawBytes) {
  // Against the reference server the oracle stays quiet even for out-of-order commands sent as
  // raw bytes in one write, and a refused DATA is not taken for the start of mail data.
  const std::string steps =
      R"({"expect": {"code": 220}}, {"ehlo": {}},
         {"raw": "RCPT TO:<${valid_mailbox}>\r\nDATA\r\n"},
         {"expect": {"code": 503}}, {"expect": {"class": 5}},
         {"send": "NOOP"}, {"expect": {"code": 250}},
         {"send": "QUIT"}, {"expect": {"code": 221}})";
  const auto scenarios = load(scenario_json("test/raw-oracle", steps, R"("oracle": "check", )"));
  const Report rep = run_embedded(scenarios);
  ASSERT_EQ(rep.scenarios.size(), 1u);
  EXPECT_EQ(rep.scenarios[0].verdict, Verdict::passed) << rep.scenarios[0].reason;
  for (const auto& f : rep.scenarios[0].findings) ADD_FAILURE() << f.source << ": " << f.message;
  bool raw_marked = false;
  for (const auto& e : rep.scenarios[0].transcript) {
    if (e.dir == smtp::report::Direction::client && e.bytes.rfind("RCPT", 0) == 0) {
      raw_marked = e.raw;
    }
    if (e.dir == smtp::report::Direction::client && e.bytes.rfind("EHLO", 0) == 0) {
      EXPECT_FALSE(e.raw);
    }
  }
  EXPECT_TRUE(raw_marked);
}

TEST(RunEmbedded, SecretsNeverReachTheReport) {
  Profile profile;
  profile.username = "bench";
  profile.password = "Very-Secret-Pa55word!";
  const std::string steps =
      R"({"expect": {"code": 220}}, {"ehlo": {}},
         {"auth": {"mechanism": "PLAIN"}}, {"expect": {"code": 235}},
         {"connect": {}}, {"expect": {"code": 220}}, {"ehlo": {}},
         {"auth": {"mechanism": "PLAIN", "initial_response": false}}, {"expect": {"code": 235}},
         {"connect": {}}, {"expect": {"code": 220}}, {"ehlo": {}},
         {"auth": {"mechanism": "LOGIN"}}, {"expect": {"code": 235}},
         {"connect": {}}, {"expect": {"code": 220}}, {"ehlo": {}},
         {"auth": {"mechanism": "PLAIN", "credentials": "invalid"}}, {"expect": {"class": 5}},
         {"raw": "NOOP ${password}\r\n"}, {"expect": {"codes": [250, 501]}},
         {"send": "QUIT"}, {"expect": {"code": 221}})";
  const auto scenarios = load(scenario_json("test/secrets", steps), profile);
  RunConfig cfg;
  cfg.profile = profile;
  const Report rep = run_embedded(scenarios, cfg);
  ASSERT_EQ(rep.scenarios.size(), 1u);
  EXPECT_EQ(rep.scenarios[0].verdict, Verdict::passed) << rep.scenarios[0].reason;
  EXPECT_EQ(schema_errors(rep), "");

  TempDir dir;
  ASSERT_FALSE(smtp::report::write_report(rep, dir.path() / "r.json"));
  ASSERT_FALSE(smtp::report::write_junit(rep, dir.path() / "r.xml"));
  const std::string text = read_file(dir.path() / "r.json") + read_file(dir.path() / "r.xml");
  const std::string& pw = profile.password;
  std::vector<std::string> forbidden = {
      pw,
      smtp::base64_encode(pw),
      smtp::base64_encode(std::string("\0bench\0", 7) + pw),
      smtp::base64_encode("bench"),  // the AUTH LOGIN user line
  };
  // The password inside base64 at every alignment: its fixed core shows up whatever precedes.
  for (const std::string prefix : {"", "x", "xy"}) {
    const std::string b = smtp::base64_encode(prefix + pw);
    forbidden.push_back(b.substr(prefix.empty() ? 0 : 4, 12));
  }
  for (const std::string& f : forbidden) {
    EXPECT_EQ(text.find(f), std::string::npos) << "found secret form '" << f << "'";
  }
  // The AUTH lines are there, redacted.
  EXPECT_NE(text.find("AUTH PLAIN <redacted>"), std::string::npos);
  EXPECT_NE(text.find("<redacted>"), std::string::npos);
}

TEST(RunEmbedded, CliMainCommandWritesReports) {
  TempDir dir;
  const fs::path json = dir.path() / "out" / "report.json";
  const fs::path xml = dir.path() / "out" / "report.xml";
  fs::create_directories(json.parent_path());
  const CliResult r = cli({"run", "--report", json.string(), "--junit", xml.string()}, dir);
  // 0 or 1 by the suite's verdicts (ExampleSuiteAllPass checks those); never 2 or 3.
  EXPECT_TRUE(r.code == 0 || r.code == 1) << r.code << "\n" << r.err;
  EXPECT_NE(r.err.find("scenarios:"), std::string::npos) << r.err;
  const auto errors = smtp::scenario::validate_json_file(json, "report");
  for (const auto& e : errors) ADD_FAILURE() << e.to_string();
  auto rep = smtp::report::read_report(json);
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->target.embedded);
  EXPECT_EQ(rep->scenarios.size(), load_suite().size());
  EXPECT_EQ(smtp::report::exit_code(*rep, false), r.code);
  EXPECT_NE(read_file(xml).find("<testsuite"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Misbehaving servers: each ends in verdict error, within the timeout, with a report
// ---------------------------------------------------------------------------------------------

struct Misbehaving {
  Misbehaviour behaviour;
  smtp::scenario::TlsMode tls;
  const char* name;
  /// Every misbehaviour leaves nothing to judge: verdict error, with the reason.
  Verdict verdict = Verdict::error;
};

// Test names and listings show the behaviour's name, not the struct's bytes.
void PrintTo(const Misbehaving& m, std::ostream* os) { *os << m.name; }

class RunMisbehaving : public ::testing::TestWithParam<Misbehaving> {};

TEST_P(RunMisbehaving, EndsInErrorWithReport) {
  const Misbehaving m = GetParam();
  std::string steps = kGreetQuit;
  if (m.behaviour == Misbehaviour::starttls_garbage) {
    steps = R"({"expect": {"code": 220}}, {"ehlo": {}}, {"starttls": {}}, {"ehlo": {}},
               {"send": "QUIT"}, {"expect": {"code": 221}})";
  }
  const auto scenarios = load(scenario_json("test/misbehaving", steps));
  ASSERT_EQ(scenarios.size(), 1u);
  asio::io_context io;
  smtp::testing::MisbehaviourOptions mo;
  mo.drip_interval = 100ms;
  MisbehavingServer server(io, m.behaviour, mo);
  RunConfig cfg;
  cfg.target = server.target();
  cfg.tls = m.tls;
  cfg.timeout = 1000ms;
  cfg.tls_options.verify = false;
  Runner runner(io.get_executor(), cfg, scenarios);
  const Report rep = run_io(io, runner.run(), [&] { server.stop(); }, 60s);
  ASSERT_EQ(rep.scenarios.size(), 1u);
  const auto& s = rep.scenarios[0];
  EXPECT_EQ(s.verdict, m.verdict) << m.name << ": " << smtp::report::to_string(s.verdict)
                                   << " " << s.reason;
  if (m.verdict == Verdict::failed) {
    EXPECT_NE(s.reason.find("malformed reply"), std::string::npos) << s.reason;
  }
  EXPECT_FALSE(s.reason.empty());
  std::cerr << "[" << m.name << "] " << s.reason << "\n";
  // Bounded: the transcript never holds more than the cap per connection.
  std::size_t kept = 0;
  for (const auto& e : s.transcript) kept += e.bytes.size();
  EXPECT_LE(kept, cfg.max_transcript + 1024);
  TempDir dir;
  ASSERT_FALSE(smtp::report::write_report(rep, dir.path() / "r.json"));
  EXPECT_TRUE(smtp::scenario::validate_json_file(dir.path() / "r.json", "report").empty());
  EXPECT_EQ(smtp::report::exit_code(rep, false), m.verdict == Verdict::failed ? 1 : 3);
}

INSTANTIATE_TEST_SUITE_P(
    Servers, RunMisbehaving,
    ::testing::Values(
        Misbehaving{Misbehaviour::never_greet, smtp::scenario::TlsMode::none, "never_greet"},
        Misbehaving{Misbehaviour::drip, smtp::scenario::TlsMode::none, "drip"},
        Misbehaving{Misbehaviour::endless_multiline, smtp::scenario::TlsMode::none,
                    "endless_multiline"},
        Misbehaving{Misbehaviour::long_line, smtp::scenario::TlsMode::none, "long_line"},
        Misbehaving{Misbehaviour::binary_garbage, smtp::scenario::TlsMode::none,
                    "binary_garbage"},
        Misbehaving{Misbehaviour::close_mid_reply, smtp::scenario::TlsMode::none,
                    "close_mid_reply"},
        Misbehaving{Misbehaviour::tls_garbage, smtp::scenario::TlsMode::implicit,
                    "tls_garbage"},
        Misbehaving{Misbehaviour::starttls_garbage, smtp::scenario::TlsMode::none,
                    "starttls_garbage"},
        Misbehaving{Misbehaviour::unsolicited_flood, smtp::scenario::TlsMode::none,
                    "unsolicited_flood"}),
    [](const ::testing::TestParamInfo<Misbehaving>& p) { return std::string(p.param.name); });

TEST(RunMisbehavingStop, RequestStopEndsRunningAndPendingScenarios) {
  std::vector<Scenario> scenarios;
  for (int i = 0; i < 6; ++i) {
    auto one = load(scenario_json("test/stop-" + std::to_string(i), kGreetQuit));
    scenarios.insert(scenarios.end(), one.begin(), one.end());
  }
  asio::io_context io;
  MisbehavingServer server(io, Misbehaviour::never_greet);
  RunConfig cfg;
  cfg.target = server.target();
  cfg.timeout = 30'000ms;  // far longer than the test waits: only the stop can end it
  cfg.jobs = 2;
  Runner runner(io.get_executor(), cfg, scenarios);
  asio::steady_timer stop(io, 300ms);
  stop.async_wait([&](std::error_code) { runner.request_stop(); });
  const Report rep = run_io(io, runner.run(), [&] { server.stop(); }, 20s);
  EXPECT_TRUE(rep.interrupted);
  ASSERT_EQ(rep.scenarios.size(), 6u);
  for (const auto& s : rep.scenarios) {
    EXPECT_EQ(s.verdict, Verdict::error) << s.id;
    EXPECT_NE(s.reason.find("interrupted"), std::string::npos) << s.id << ": " << s.reason;
  }
  EXPECT_EQ(schema_errors(rep), "");
}

// ---------------------------------------------------------------------------------------------
// The CLI: Ctrl-C, exit codes
// ---------------------------------------------------------------------------------------------

TEST(RunCli, SigintStillWritesAValidReport) {
  TempDir dir;
  asio::io_context io;
  MisbehavingServer server(io, Misbehaviour::never_greet);
  // The server runs on its own thread; the child process connects to it.
  std::thread thread([&] { io.run_for(60s); });
  const fs::path report = dir.path() / "report.json";
  const Child child =
      spawn({"run", "--target", server.target(), "--timeout", "30", "--report", report.string(),
             "-j", "2", std::string(SMTPH_SOURCE_DIR) + "/scenarios"},
            dir.path() / "out.txt", dir.path() / "err.txt");
  ASSERT_GT(child.pid, 0);
  // Wait (bounded) until the child's scenarios are connected: probe + at least one more.
  for (int i = 0; i < 500; ++i) {
    std::promise<std::size_t> n;
    asio::post(io, [&] { n.set_value(server.connections()); });
    if (n.get_future().get() >= 2) break;
    std::this_thread::sleep_for(20ms);
  }
  ::kill(child.pid, SIGINT);
  const int code = wait_child(child, 30s);
  asio::post(io, [&] { server.stop(); });
  thread.join();
  EXPECT_EQ(code, smtp::cli::kExitInterrupted) << read_file(dir.path() / "err.txt");
  const auto errors = smtp::scenario::validate_json_file(report, "report");
  for (const auto& e : errors) ADD_FAILURE() << e.to_string();
  auto rep = smtp::report::read_report(report);
  ASSERT_TRUE(rep) << read_file(dir.path() / "err.txt");
  EXPECT_TRUE(rep->interrupted);
  EXPECT_FALSE(rep->scenarios.empty());
  for (const auto& s : rep->scenarios) EXPECT_EQ(s.verdict, Verdict::error) << s.id;
}

TEST(RunCli, BadScenarioFileExits2WithPositions) {
  TempDir dir;
  const fs::path bad = dir.write(
      "bad.json", scenario_json("test/bad", R"({"expect": {"cod": 220}})"));
  const CliResult r = cli({"run", bad.string()}, dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("bad.json:1:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cod"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was run"), std::string::npos) << r.err;
}

TEST(RunCli, BadFlagsExit2) {
  TempDir dir;
  EXPECT_EQ(cli({"run", "--no-such-flag"}, dir).code, 2);
  EXPECT_EQ(cli({"run", "--tls", "sometimes"}, dir).code, 2);
  EXPECT_EQ(cli({"run", "-j", "0"}, dir).code, 2);
  EXPECT_EQ(cli({"run", "--insecure", "--ca", SMTPH_HARNESS_BIN}, dir).code, 2);
  const CliResult remote = cli({"run", "--target", "192.0.2.1:25"}, dir);
  EXPECT_EQ(remote.code, 2);
  EXPECT_NE(remote.err.find("--allow-non-loopback"), std::string::npos) << remote.err;
  EXPECT_EQ(cli({"run", "--target", "mail.example.com:25"}, dir).code, 2);
  EXPECT_EQ(cli({"run", "--filter", "no/such/*"}, dir).code, 2);
}

TEST(RunCli, NothingListeningExits3AndStillReports) {
  TempDir dir;
  const fs::path report = dir.path() / "r.json";
  const CliResult r = cli({"run", "--target", "127.0.0.1:1", "--report", report.string()}, dir);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("unreachable"), std::string::npos) << r.err;
  auto rep = smtp::report::read_report(report);
  ASSERT_TRUE(rep);
  for (const auto& s : rep->scenarios) EXPECT_EQ(s.verdict, Verdict::error);
}

TEST(RunCli, DryRunListsWithoutConnecting) {
  TempDir dir;
  const CliResult r = cli({"run", "--dry-run", "--target", "127.0.0.1:1", "--filter", "basic"}, dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("rfc5321/4.1.1.10/quit-221"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("smuggling"), std::string::npos) << r.out;
  // One value per --filter: a path after it is a path.
  const fs::path one = dir.write("one/x.json", scenario_json("test/only-one", kGreetQuit,
                                                            R"("tags": ["basic"], )"));
  const CliResult p = cli({"run", "--dry-run", "--filter", "basic", one.parent_path().string()}, dir);
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.out, "test/only-one\tMUST\ttest\n");
}

}  // namespace
