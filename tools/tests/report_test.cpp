// Compliance report: JSON round trip and schema validity, summary and exit codes, diff,
// atomic writing, JUnit XML escaping, secret redaction, and `smtp-harness report`.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cmd_report.h"
#include "smtp/sasl.h"
#include "report/junit.h"
#include "report/redact.h"
#include "report/report.h"
#include "report/summary.h"
#include "report/write.h"
#include "scenario/load.h"

namespace fs = std::filesystem;
using namespace smtp::report;
using smtp::base64_decode;
using smtp::base64_encode;
using namespace std::string_literals;

namespace {

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("smtph-report-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TranscriptEntry entry(Direction dir, std::uint64_t offset, std::string bytes, bool raw = false) {
  TranscriptEntry e;
  e.dir = dir;
  e.offset = offset;
  e.bytes = std::move(bytes);
  e.raw = raw;
  return e;
}

StepRecord step(std::size_t index, std::string kind, std::string expectation, std::string observed,
                StepStatus status, std::string reason = {}, std::string label = {}) {
  StepRecord s;
  s.index = index;
  s.kind = std::move(kind);
  s.expectation = std::move(expectation);
  s.observed = std::move(observed);
  s.status = status;
  s.reason = std::move(reason);
  s.label = std::move(label);
  return s;
}

/// A report as a run against the reference server could produce it.
Report sample_report() {
  Report r = make_report();
  r.target = {"127.0.0.1", 2525, "starttls", true};
  r.tls = TlsFacts{"TLSv1.3", "TLS_AES_256_GCM_SHA384", "CN=localhost", false,
                   "self-signed certificate"};
  r.started_at = "2025-01-31T12:34:56.789Z";
  r.duration_ms = 1234;

  ScenarioResult quit;
  quit.id = "rfc5321/4.1.1.10/quit-221";
  quit.title = "QUIT is answered with 221 and the server closes the connection";
  quit.rfc = "RFC5321#4.1.1.10";
  quit.requirement =
      "This command specifies that the receiver MUST send a \"221 OK\" reply, and then close the "
      "transmission channel.";
  quit.level = "MUST";
  quit.tags = {"basic", "quit"};
  quit.file = "scenarios/rfc5321/4.1.1.10-quit-221.json";
  quit.verdict = Verdict::passed;
  quit.duration_ms = 12;
  quit.steps = {
      step(0, "expect", "code 220", "220 mx.example.test ESMTP", StepStatus::passed),
      step(1, "ehlo", "code 250", "250-mx.example.test (+4 lines)", StepStatus::passed),
      step(2, "send", "", "QUIT\\r\\n", StepStatus::passed),
      step(3, "expect", "code 221, then close", "221 2.0.0 Bye, then closed", StepStatus::passed)};
  quit.transcript = {entry(Direction::server, 0, "220 mx.example.test ESMTP\r\n"),
                     entry(Direction::client, 0, "EHLO client.example\r\n"),
                     entry(Direction::server, 27,
                           "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                           "250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"),
                     entry(Direction::client, 21, "QUIT\r\n"),
                     entry(Direction::server, 126, "221 2.0.0 Bye\r\n")};
  quit.transcript[2].t_ms = 3;

  ScenarioResult smuggle;
  smuggle.id = "rfc5321/4.1.1.4/lf-dot-lf-not-end-of-data";
  smuggle.title = "SMTP smuggling: <LF>.<LF> does not end the mail data";
  smuggle.rfc = "RFC5321#4.1.1.4";
  smuggle.level = "MUST NOT";
  smuggle.verdict = Verdict::failed;
  smuggle.reason = "step 10 (expect): outcome 'accepted-as-end-of-data': 250 2.0.0 Ok: queued";
  smuggle.duration_ms = 40;
  smuggle.steps = {step(9, "expect", "any of: class 2 -> fail (accepted-as-end-of-data)",
                        "250 2.0.0 Ok: queued", StepStatus::failed,
                        "outcome 'accepted-as-end-of-data': 250 2.0.0 Ok: queued",
                        "accepted-as-end-of-data")};
  smuggle.transcript = {entry(Direction::client, 100, "first part\n.\n", true),
                        entry(Direction::server, 200, "250 2.0.0 Ok: queued\r\n")};
  smuggle.findings = {{"oracle", "warning", "bare LF in mail data accepted as end of data",
                       "RFC5321#4.1.1.4", std::size_t{9}, std::uint64_t{112}}};

  ScenarioResult noop;
  noop.id = "rfc5321/4.1.1.9/noop-argument-ignored";
  noop.title = "NOOP with an argument is still answered with 250";
  noop.rfc = "RFC5321#4.1.1.9";
  noop.level = "SHOULD";
  noop.verdict = Verdict::non_strict;
  noop.reason = "step 4 (expect): expected 250, got 501 5.5.4 Syntax error";
  noop.duration_ms = 5;

  ScenarioResult chunking;
  chunking.id = "rfc3030/2/bdat-last";
  chunking.title = "BDAT LAST ends the message";
  chunking.rfc = "RFC3030#2";
  chunking.level = "MUST";
  chunking.verdict = Verdict::skipped;
  chunking.reason = "target does not advertise CHUNKING";

  ScenarioResult tls;
  tls.id = "rfc3207/4/starttls-220";
  tls.title = "STARTTLS is answered with 220";
  tls.rfc = "RFC3207#4";
  tls.level = "MAY";
  tls.verdict = Verdict::error;
  tls.reason = "step 3 (starttls): TLS handshake failed: wrong version number";
  tls.transcript = {entry(Direction::server, 0, "220 \xff\xfe binary \x01\r\n"s)};
  tls.transcript[0].tls = false;
  tls.transcript[0].conn = 1;

  r.scenarios = {quit, smuggle, noop, chunking, tls};
  return r;
}

std::string run_cli(smtp::cli::ReportOptions o, int& code, std::string* err_out = nullptr) {
  std::string out;
  std::string err;
  code = smtp::cli::run_report(o, out, err);
  if (err_out != nullptr) *err_out = err;
  return out;
}

}  // namespace

TEST(ReportJson, JsonRoundTrip) {
  const Report r = sample_report();
  const std::string text = to_json_text(r);
  const auto parsed = report_from_json(nlohmann::json::parse(text));
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(*parsed, r);
  // Binary bytes go to base64, text stays text.
  const auto j = nlohmann::json::parse(text);
  const auto& binary = j["scenarios"][4]["transcript"][0];
  EXPECT_FALSE(binary.contains("text"));
  EXPECT_EQ(*base64_decode(binary["base64"].get<std::string>()), "220 \xff\xfe binary \x01\r\n"s);
  EXPECT_EQ(j["scenarios"][0]["transcript"][0]["text"], "220 mx.example.test ESMTP\r\n");
  EXPECT_EQ(j["tool"]["version"], SMTPH_VERSION);
  EXPECT_EQ(text.back(), '\n');
}

TEST(ReportJson, GeneratedReportIsSchemaValid) {
  const std::string text = to_json_text(sample_report());
  const auto errors = smtp::scenario::validate_json_text(text, "r.json", "report");
  for (const auto& e : errors) ADD_FAILURE() << e.to_string();
  EXPECT_TRUE(smtp::scenario::validate_json_text(text, "r.json", "report",
                                                 fs::path(SMTPH_SOURCE_DIR) / "reports/schema")
                  .empty());
  // An empty run is valid too.
  Report empty = make_report();
  empty.started_at = iso8601_utc(std::chrono::system_clock::now());
  EXPECT_TRUE(smtp::scenario::validate_json_text(to_json_text(empty), "e.json", "report").empty());
}

TEST(ReportJson, LargeBinaryTranscriptsValidate) {
  Report r = sample_report();
  std::string blob(2u << 20, '\xff');
  for (std::size_t i = 0; i < blob.size(); i += 3) blob[i] = static_cast<char>(i & 0x7F);
  r.scenarios[0].transcript.push_back(entry(Direction::server, 1000, blob));
  r.scenarios[0].reason = std::string(100000, 'r');
  const std::string text = to_json_text(r);
  EXPECT_TRUE(smtp::scenario::validate_json_text(text, "big.json", "report").empty());
  const auto back = report_from_json(nlohmann::json::parse(text));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->scenarios[0].transcript.back().bytes, blob);
  // A multi-line reason (edited report) is caught without running a regex over 200 KB.
  auto j = to_json(r);
  j["scenarios"][0]["reason"] = std::string(200000, 'x') + "\n";
  const auto errors = smtp::scenario::validate_json_text(j.dump(), "r.json", "report");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].pointer, "/scenarios/0/reason");
}

TEST(ReportJson, SchemaRejectsBrokenReports) {
  auto j = to_json(sample_report());
  j["scenarios"][1]["verdict"] = "meh";
  j["scenarios"][0]["transcript"][0]["base64"] = "AAAA";  // text and base64 together
  j["started_at"] = "yesterday";
  j.erase("summary");
  const auto errors = smtp::scenario::validate_json_text(j.dump(1), "r.json", "report");
  auto has = [&](const std::string& pointer, const std::string& fragment) {
    return std::any_of(errors.begin(), errors.end(), [&](const auto& e) {
      return e.pointer == pointer && e.message.find(fragment) != std::string::npos && e.line > 0;
    });
  };
  EXPECT_TRUE(has("/scenarios/1/verdict", "expected one of: passed, failed"));
  EXPECT_TRUE(has("/started_at", "does not match the pattern"));
  EXPECT_TRUE(has("", "missing required key 'summary'"));
  EXPECT_TRUE(has("/scenarios/0/transcript/0", "exactly one child schema"));
  // A report whose summary disagrees with its scenarios is refused when read.
  auto k = to_json(sample_report());
  k["summary"]["total"] = 99;
  EXPECT_FALSE(report_from_json(nlohmann::json::parse(k.dump())));
}

TEST(ReportJson, SummaryAndExitCodes) {
  Report r = sample_report();
  const Summary s = summarize(r);
  EXPECT_EQ(s.total, 5u);
  EXPECT_EQ(s.by_verdict, (Counts{1, 1, 1, 1, 1}));
  EXPECT_EQ(s.by_level.at("MUST").passed, 1u);
  EXPECT_EQ(s.by_level.at("MUST").skipped, 1u);
  EXPECT_EQ(s.by_level.at("MUST NOT").failed, 1u);
  EXPECT_EQ(s.by_rfc.at("RFC5321#4.1.1.4").failed, 1u);
  const auto j = to_json(r);
  EXPECT_EQ(j["summary"]["by_verdict"]["non-strict"], 1);
  EXPECT_EQ(j["summary"]["by_level"]["SHOULD"]["non-strict"], 1);

  EXPECT_EQ(exit_code(r, false), 1);           // a MUST NOT failure
  r.scenarios.erase(r.scenarios.begin() + 1);  // drop it
  EXPECT_EQ(exit_code(r, false), 3);           // an error remains
  EXPECT_EQ(exit_code(r, true), 1);            // SHOULD non-strict counts with --strict
  r.scenarios.pop_back();                      // drop the error
  EXPECT_EQ(exit_code(r, false), 0);
  EXPECT_EQ(exit_code(r, true), 1);
  r.scenarios[1].level = "MAY";  // MAY never counts
  EXPECT_EQ(exit_code(r, true), 0);

  const std::string text = summary_text(sample_report(), false);
  EXPECT_NE(text.find("5 scenarios: 1 passed, 1 failed, 1 non-strict, 1 skipped, 1 error"),
            std::string::npos);
  EXPECT_NE(text.find("FAILED     rfc5321/4.1.1.4/lf-dot-lf-not-end-of-data [MUST NOT]: step 10"),
            std::string::npos);
  EXPECT_NE(text.find("result: FAILED"), std::string::npos);
  EXPECT_EQ(text.find("quit-221"), std::string::npos);  // passed scenarios are not listed
}

TEST(ReportJson, Iso8601) {
  using namespace std::chrono;
  const system_clock::time_point t{milliseconds{1738326896789}};
  EXPECT_EQ(iso8601_utc(t), "2025-01-31T12:34:56.789Z");
  EXPECT_EQ(iso8601_utc(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
}

TEST(ReportJson, OneLineAndUtf8) {
  EXPECT_EQ(one_line("a\r\nb\tc\x7f\xff\xc3\xa9"), "a\\r\\nb\\tc\\x7f\\xff\xc3\xa9");
  EXPECT_EQ(one_line(std::string(10, 'x'), 4), "xxxx...");
  EXPECT_TRUE(is_valid_utf8("h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
}

TEST(ReportJson, Diff) {
  const Report before = sample_report();
  Report after = sample_report();
  after.scenarios[0].verdict = Verdict::failed;  // quit: passed -> failed (regression)
  after.scenarios[0].reason = "expected 221, got 250";
  after.scenarios[1].verdict = Verdict::passed;  // smuggling fixed
  after.scenarios[1].reason.clear();
  after.scenarios[3].verdict = Verdict::passed;  // skipped -> passed: not a regression
  after.scenarios.pop_back();                    // removed
  ScenarioResult added;
  added.id = "rfc5321/9.9/new";
  added.verdict = Verdict::passed;
  after.scenarios.push_back(added);
  const ReportDiff d = diff_reports(before, after);
  EXPECT_EQ(d.regressions, 1u);
  ASSERT_EQ(d.changes.size(), 5u);
  const std::string text = diff_text(d);
  EXPECT_NE(text.find("REGRESSION rfc5321/4.1.1.10/quit-221: passed -> failed (expected 221, "
                      "got 250)"),
            std::string::npos);
  EXPECT_NE(text.find("changed rfc5321/4.1.1.4/lf-dot-lf-not-end-of-data: failed -> passed\n"),
            std::string::npos);
  EXPECT_NE(text.find("removed rfc3207/4/starttls-220: error -> -"), std::string::npos);
  EXPECT_NE(text.find("added rfc5321/9.9/new: - -> passed"), std::string::npos);
  EXPECT_NE(text.find("5 changed, 1 regression\n"), std::string::npos);
  EXPECT_EQ(diff_reports(before, before).changes.size(), 0u);
}

TEST(ReportAtomicWrite, ReplacesWholeFileAndLeavesNoTemporary) {
  TempDir dir;
  const fs::path target = dir.path() / "report.json";
  std::ofstream(target) << "old content";
  const std::string big(3 * 1024 * 1024 + 7, 'r');
  ASSERT_FALSE(write_file_atomic(target, big));
  EXPECT_EQ(read_file(target), big);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"report.json"});
  EXPECT_EQ(fs::status(target).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
  ASSERT_FALSE(write_report(sample_report(), target));
  EXPECT_EQ(read_file(target), to_json_text(sample_report()));
  EXPECT_EQ(dir.names(), std::vector<std::string>{"report.json"});
}

TEST(ReportAtomicWrite, FailuresKeepTheOldFileAndRemoveTheTemporary) {
  TempDir dir;
  // The target is a directory: rename fails after the temporary was written.
  fs::create_directories(dir.path() / "taken" / "inner");
  const std::error_code ec = write_file_atomic(dir.path() / "taken", "data");
  EXPECT_TRUE(ec);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"taken"});
  // The directory does not exist.
  EXPECT_TRUE(write_file_atomic(dir.path() / "missing" / "r.json", "data"));
  EXPECT_EQ(dir.names(), std::vector<std::string>{"taken"});
}

TEST(ReportAtomicWrite, ConcurrentReaderNeverSeesPartialFile) {
  TempDir dir;
  const fs::path target = dir.path() / "r.json";
  const std::string a(512 * 1024, 'a');
  const std::string b(256 * 1024, 'b');
  ASSERT_FALSE(write_file_atomic(target, a));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (int i = 0; i < 40; ++i) {
      if (write_file_atomic(target, i % 2 == 0 ? b : a)) ::_exit(1);
    }
    ::_exit(0);
  }
  int bad = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string seen = read_file(target);
    if (seen != a && seen != b) ++bad;
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"r.json"});
}

TEST(ReportJunit, StructureAndCounts) {
  const std::string xml = to_junit_xml(sample_report());
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites ", 0), 0u);
  EXPECT_NE(xml.find("<testsuites name=\"smtp-harness\" tests=\"5\" failures=\"1\" errors=\"1\" "
                     "skipped=\"1\" time=\"1.234\">"),
            std::string::npos);
  EXPECT_NE(xml.find("<testsuite name=\"rfc5321\" tests=\"3\" failures=\"1\" errors=\"0\" "
                     "skipped=\"0\" time=\"0.057\""),
            std::string::npos);
  EXPECT_NE(xml.find("<testcase name=\"rfc5321/4.1.1.10/quit-221\" classname=\"rfc5321\" "
                     "time=\"0.012\">"),
            std::string::npos);
  EXPECT_NE(xml.find("<failure message=\"step 10 (expect): outcome &apos;accepted-as-end-of-data"
                     "&apos;: 250 2.0.0 Ok: queued\" type=\"failed\">"),
            std::string::npos);
  EXPECT_NE(xml.find("<skipped message=\"target does not advertise CHUNKING\"/>"),
            std::string::npos);
  EXPECT_NE(xml.find("<error message=\"step 3 (starttls): TLS handshake failed"),
            std::string::npos);
  EXPECT_NE(xml.find("<system-out>S: 220 mx.example.test ESMTP\\r\\n\nC: EHLO client.example"),
            std::string::npos);
  EXPECT_NE(xml.find("C: first part\\n  [raw]\nC: .\\n  [raw]\n"), std::string::npos);
  EXPECT_NE(xml.find("<system-err>NON-STRICT (SHOULD)"), std::string::npos);
  // --strict: the SHOULD scenario becomes a failure.
  JunitOptions strict;
  strict.strict = true;
  EXPECT_NE(to_junit_xml(sample_report(), strict).find("failures=\"2\""), std::string::npos);
  JunitOptions quiet;
  quiet.transcripts = false;
  EXPECT_EQ(to_junit_xml(sample_report(), quiet).find("<system-out>"), std::string::npos);
}

TEST(ReportJunit, EscapesEverythingXmlCannotCarry) {
  EXPECT_EQ(xml_escape("<a href=\"x\">&'</a>", true),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
  EXPECT_EQ(xml_escape("<a href=\"x\">&'</a>", false), "&lt;a href=\"x\"&gt;&amp;'&lt;/a&gt;");
  EXPECT_EQ(xml_escape("a\tb\nc\rd", true), "a&#9;b&#10;c&#13;d");
  EXPECT_EQ(xml_escape("a\tb\nc\rd", false), "a\tb\nc&#13;d");
  EXPECT_EQ(xml_escape("nul\0 bell\x07 esc\x1b"s, false), "nul\\x00 bell\\x07 esc\\x1b");
  EXPECT_EQ(xml_escape("bad \xff\xc3 utf8", false), "bad \\xff\\xc3 utf8");
  EXPECT_EQ(xml_escape("\xef\xbf\xbe\xef\xbf\xbf", false), "\\xef\\xbf\\xbe\\xef\\xbf\\xbf");
  EXPECT_EQ(xml_escape("caf\xc3\xa9 \xf0\x9f\x93\xa7", false), "caf\xc3\xa9 \xf0\x9f\x93\xa7");

  // No byte that XML 1.0 forbids survives anywhere in the document.
  Report r = sample_report();
  std::string nasty;
  for (int c = 0; c < 256; ++c) nasty += static_cast<char>(c);
  r.scenarios[1].reason = nasty;
  r.scenarios[1].id = "rfc5321/<&\">";
  r.scenarios[0].transcript.push_back(entry(Direction::server, 500, nasty));
  const std::string xml = to_junit_xml(r);
  for (std::size_t i = 0; i < xml.size(); ++i) {
    const auto c = static_cast<unsigned char>(xml[i]);
    ASSERT_FALSE(c < 0x20 && c != '\n' && c != '\t') << "control byte at " << i;
  }
  EXPECT_TRUE(is_valid_utf8(xml));
  EXPECT_NE(xml.find("name=\"rfc5321/&lt;&amp;&quot;&gt;\""), std::string::npos);
}

TEST(ReportRedact, PasswordAndBase64FormsDisappear) {
  const std::string user = "bench";
  const std::string pass = "benchpass";
  const Redactor red = Redactor::for_credentials(user, pass);
  const std::string plain = base64_encode("\0"s + user + "\0"s + pass);
  const std::string plain_authz = base64_encode(user + "\0"s + user + "\0"s + pass);

  Report r = sample_report();
  ScenarioResult& s = r.scenarios[0];
  s.transcript.push_back(entry(Direction::client, 40, "AUTH PLAIN " + plain + "\r\n"));
  s.transcript.push_back(entry(Direction::client, 80, "AUTH PLAIN " + plain_authz + "\r\n"));
  s.transcript.push_back(entry(Direction::client, 120, "AUTH LOGIN\r\n"));
  s.transcript.push_back(entry(Direction::client, 132, base64_encode(user) + "\r\n"));
  s.transcript.push_back(entry(Direction::client, 142, base64_encode(pass) + "\r\n"));
  s.transcript.push_back(entry(Direction::client, 160, "PASS " + pass + "\r\n"));
  for (int k = 0; k < 3; ++k) {  // the password at every base64 alignment
    s.transcript.push_back(
        entry(Direction::client, 200u + static_cast<unsigned>(k),
              "X " + base64_encode(std::string(static_cast<std::size_t>(k), 'z') + pass + "tail") +
                  "\r\n"));
  }
  s.steps.push_back(step(9, "auth", "", "AUTH PLAIN " + plain, StepStatus::passed));
  s.reason = "server echoed " + pass;
  red.apply(r);

  const std::string text = to_json_text(r) + to_junit_xml(r) + summary_text(r, false);
  for (const std::string& secret :
       {pass, base64_encode(pass), plain, plain_authz, base64_encode(user)}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
  EXPECT_EQ(s.transcript[5].bytes, "AUTH PLAIN <redacted>\r\n");
  EXPECT_EQ(s.transcript[8].bytes, "<redacted>\r\n");
  EXPECT_TRUE(s.transcript[8].redacted);
  EXPECT_EQ(s.transcript[10].bytes, "PASS <redacted>\r\n");
  EXPECT_FALSE(s.transcript[0].redacted);                       // untouched entries stay exact
  EXPECT_EQ(s.transcript[1].bytes, "EHLO client.example\r\n");  // "bench" is not hidden literally
  // Still schema-valid after redaction.
  EXPECT_TRUE(smtp::scenario::validate_json_text(to_json_text(r), "r.json", "report").empty());
}

TEST(ReportCli, ValidateSummaryDiffJunit) {
  TempDir dir;
  const fs::path good = dir.path() / "good.json";
  ASSERT_FALSE(write_report(sample_report(), good));
  Report fixed = sample_report();
  fixed.scenarios[1].verdict = Verdict::passed;
  fixed.scenarios[1].reason.clear();
  const fs::path better = dir.path() / "better.json";
  ASSERT_FALSE(write_report(fixed, better));
  const fs::path broken = dir.path() / "broken.json";
  std::ofstream(broken) << "{\n  \"format\": 1,\n  \"tool\": 3\n}\n";

  int code = -1;
  smtp::cli::ReportOptions o;
  o.action = "validate";
  o.files = {good.string()};
  EXPECT_NE(run_cli(o, code).find("good.json: ok (5 scenarios)"), std::string::npos);
  EXPECT_EQ(code, 0);
  std::string err;
  o.files = {good.string(), broken.string()};
  run_cli(o, code, &err);
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find(broken.string() + ":3:11: /tool: wrong type: expected object, found integer"),
            std::string::npos)
      << err;
  o.kind = "scenario";
  o.files = {(fs::path(SMTPH_SOURCE_DIR) / "scenarios").string()};
  EXPECT_NE(run_cli(o, code).find("scenarios"), std::string::npos);
  EXPECT_EQ(code, 0);

  smtp::cli::ReportOptions s;
  s.action = "summary";
  s.files = {good.string()};
  EXPECT_NE(run_cli(s, code).find("5 scenarios"), std::string::npos);
  EXPECT_EQ(code, 0);
  s.exit_status = true;
  run_cli(s, code);
  EXPECT_EQ(code, 1);

  smtp::cli::ReportOptions d;
  d.action = "diff";
  d.files = {good.string(), better.string()};
  run_cli(d, code);
  EXPECT_EQ(code, 0);  // an improvement
  d.files = {better.string(), good.string()};
  EXPECT_NE(run_cli(d, code).find("REGRESSION rfc5321/4.1.1.4/lf-dot-lf-not-end-of-data"),
            std::string::npos);
  EXPECT_EQ(code, 1);
  d.files = {good.string(), broken.string()};
  run_cli(d, code);
  EXPECT_EQ(code, 2);

  smtp::cli::ReportOptions j;
  j.action = "junit";
  j.files = {good.string()};
  j.output = (dir.path() / "junit.xml").string();
  run_cli(j, code);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(read_file(j.output), to_junit_xml(sample_report()));
}

TEST(ReportCli, BinaryExitCodes) {
  TempDir dir;
  const fs::path good = dir.path() / "good.json";
  ASSERT_FALSE(write_report(sample_report(), good));
  const fs::path bad = dir.path() / "bad.json";
  std::ofstream(bad) << "{";
  auto run = [](const std::string& args) {
    const std::string cmd = std::string(SMTPH_HARNESS_BIN) + " " + args + " >/dev/null 2>&1";
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(run("report validate " + good.string()), 0);
  EXPECT_EQ(run("report validate " + bad.string()), 2);
  EXPECT_EQ(run("report validate --kind scenario " + std::string(SMTPH_SOURCE_DIR) + "/scenarios"),
            0);
  EXPECT_EQ(run("report summary --exit-status " + good.string()), 1);
  EXPECT_EQ(run("report diff " + good.string() + " " + good.string()), 0);
  EXPECT_EQ(run("report junit " + good.string() + " -o " + (dir.path() / "j.xml").string()), 0);
  EXPECT_TRUE(fs::exists(dir.path() / "j.xml"));
  EXPECT_EQ(run("report nonsense"), 2);
}

// Writes the sample report where SMTPH_EXAMPLE_REPORT_OUT says (used by the CTest that runs
// python3 jsonschema over generated reports); a no-op otherwise.
TEST(ReportExample, Write) {
  const char* out = std::getenv("SMTPH_EXAMPLE_REPORT_OUT");
  if (out == nullptr) GTEST_SKIP() << "SMTPH_EXAMPLE_REPORT_OUT not set";
  Report r = sample_report();
  Redactor::for_credentials("bench", "benchpass").apply(r);
  ASSERT_FALSE(write_report(r, out));
}
