// `smtp-harness run` against real Postfix: the project's private instance
// (tools/tests/postfix/start.sh; STARTTLS + AUTH on 127.0.0.1:2525, implicit TLS on :2465).
// CTest gives every test of a suite named Postfix* the "postfix" fixture; run by hand, the
// tests skip when nothing listens. Verdicts may differ from the reference server's: the tests
// check that the run completes, the report is written and valid, and TLS is recorded.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/this_coro.hpp>

#include "net/transport.h"
#include "report/report.h"
#include "scenario/load.h"
#include "support/io_run.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}
std::string postfix_target() { return "127.0.0.1:" + env_or("SMTPH_POSTFIX_PORT", "2525"); }
std::string postfix_tls_target() {
  return "127.0.0.1:" + env_or("SMTPH_POSTFIX_TLS_PORT", "2465");
}
std::string postfix_ca_file() {
  return env_or("SMTPH_POSTFIX_RUN", "/tmp/smtph-postfix") + "/tls/cert.pem";
}

bool listening(const std::string& target) {
  asio::io_context io;
  return smtp::testing::run_io(io, [](std::string t) -> asio::awaitable<bool> {
    smtp::net::ConnectionOptions o;
    o.timeouts.connect = 1000ms;
    smtp::net::Connection conn(co_await asio::this_coro::executor, o);
    const bool ok = static_cast<bool>(co_await conn.connect(t));
    conn.close();
    co_return ok;
  }(target));
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Run the CLI (bounded); its exit code, or -1.
int run_cli(std::vector<std::string> args, const fs::path& err) {
  args.insert(args.begin(), SMTPH_HARNESS_BIN);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  const auto until = std::chrono::steady_clock::now() + 300s;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(50ms);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class PostfixRun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!listening(postfix_target())) {
      if (env_or("SMTPH_REQUIRE_POSTFIX", "") == "1") {
        FAIL() << "Postfix is not listening on " << postfix_target();
      }
      GTEST_SKIP() << "Postfix is not listening on " << postfix_target()
                   << " (run tools/tests/postfix/start.sh, or run the tests through ctest)";
    }
    dir_ = fs::temp_directory_path() / ("smtph-run-postfix-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  /// Run the example suite with `extra` flags; check the report; return it.
  smtp::report::Report run_suite(const std::vector<std::string>& extra) {
    const fs::path report = dir_ / "report.json";
    const fs::path err = dir_ / "stderr.txt";
    std::vector<std::string> args = {"run", std::string(SMTPH_SOURCE_DIR) + "/scenarios",
                                     "--report", report.string(), "--junit",
                                     (dir_ / "report.xml").string(), "--timeout", "10"};
    args.insert(args.end(), extra.begin(), extra.end());
    const int code = run_cli(args, err);
    const std::string stderr_text = read_file(err);
    // 0 or 1: the run completed (verdicts are Postfix's own); never usage errors or unreachable.
    EXPECT_TRUE(code == 0 || code == 1) << "exit " << code << "\n" << stderr_text;
    for (const auto& e : smtp::scenario::validate_json_file(report, "report")) {
      ADD_FAILURE() << e.to_string();
    }
    auto rep = smtp::report::read_report(report);
    if (!rep) {
      ADD_FAILURE() << "report not readable\n" << stderr_text;
      return {};
    }
    EXPECT_FALSE(rep->target.embedded);
    EXPECT_FALSE(rep->interrupted);
    EXPECT_FALSE(rep->scenarios.empty());
    std::size_t passed = 0;
    for (const auto& s : rep->scenarios) {
      if (s.verdict == smtp::report::Verdict::passed) ++passed;
      if (s.verdict != smtp::report::Verdict::skipped) {
        EXPECT_FALSE(s.transcript.empty()) << s.id;
      }
      EXPECT_NE(s.verdict, smtp::report::Verdict::error) << s.id << ": " << s.reason;
      std::cerr << "  " << smtp::report::to_string(s.verdict) << " " << s.id
                << (s.reason.empty() ? "" : ": " + s.reason) << "\n";
    }
    EXPECT_GT(passed, 0u) << stderr_text;
    return *rep;
  }

  fs::path dir_;
};

TEST_F(PostfixRun, ExampleSuitePlain) {
  if (!fs::exists(postfix_ca_file())) GTEST_SKIP() << "no " << postfix_ca_file();
  const auto rep = run_suite({"--target", postfix_target(), "--ca", postfix_ca_file()});
  EXPECT_EQ(rep.target.port, std::stoi(env_or("SMTPH_POSTFIX_PORT", "2525")));
}

TEST_F(PostfixRun, ExampleSuiteImplicitTlsVerified) {
  if (!listening(postfix_tls_target())) GTEST_SKIP() << "no implicit-TLS listener";
  if (!fs::exists(postfix_ca_file())) GTEST_SKIP() << "no " << postfix_ca_file();
  const auto rep =
      run_suite({"--target", postfix_tls_target(), "--tls", "implicit", "--ca", postfix_ca_file()});
  ASSERT_TRUE(rep.tls.has_value());
  EXPECT_TRUE(rep.tls->verified) << rep.tls->verify_error;
  EXPECT_FALSE(rep.tls->version.empty());
}

}  // namespace
