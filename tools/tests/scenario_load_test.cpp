// Scenario format: JSON positions, templates and escapes, the loader (schema + semantics, every
// error with file, line, column and pointer), profiles, byte rendering and pure evaluation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "smtp/sasl.h"
#include "scenario/evaluate.h"
#include "scenario/json_schema.h"
#include "scenario/json_source.h"
#include "scenario/load.h"
#include "scenario/model.h"
#include "scenario/profile.h"
#include "scenario/render.h"
#include "scenario/variables.h"

namespace fs = std::filesystem;
using namespace smtp;
using namespace smtp::scenario;
using report::StepStatus;
using report::Verdict;

namespace {

/// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("smtph-load-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
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
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  fs::path path_;
};

/// A valid scenario with the given steps (a JSON array body) and id.
std::string scenario_text(const std::string& steps, const std::string& id = "rfc5321/4.1.1.9/t") {
  return "{\n"
         "  \"format\": 1,\n"
         "  \"id\": \"" +
         id +
         "\",\n"
         "  \"title\": \"t\",\n"
         "  \"rfc\": \"RFC5321#4.1.1.9\",\n"
         "  \"requirement\": \"r\",\n"
         "  \"level\": \"MUST\",\n"
         "  \"steps\": [\n" +
         steps +
         "\n  ]\n"
         "}\n";
}

std::vector<LoadError> errors_of(const std::string& text, const std::string& file = "s.json") {
  auto r = load_scenario_text(text, file);
  if (r) return {};
  return r.error();
}

Scenario load_one(const std::string& text) {
  auto r = load_scenario_text(text, "s.json");
  if (!r) {
    std::string all;
    for (const auto& e : r.error()) all += e.to_string() + "\n";
    ADD_FAILURE() << all;
    return {};
  }
  EXPECT_EQ(r->size(), 1u);
  return r->front();
}

/// The Expect of a scenario whose only step is {"expect": <expect_json>}.
Expect expect_of(const std::string& expect_json) {
  const Scenario s = load_one(scenario_text("    {\"expect\": " + expect_json + "}"));
  if (s.steps.empty()) return {};
  return std::get<ExpectStep>(s.steps[0].action).expect;
}

Reply reply(std::uint16_t code, std::vector<std::string> lines,
            std::optional<EnhancedStatus> enhanced = std::nullopt) {
  Reply r;
  r.code = code;
  r.lines = std::move(lines);
  r.enhanced = enhanced;
  return r;
}

void expect_error(const std::vector<LoadError>& errors, const std::string& file, std::size_t line,
                  std::size_t column, const std::string& pointer, const std::string& fragment) {
  const bool found = std::any_of(errors.begin(), errors.end(), [&](const LoadError& e) {
    return e.file == file && e.line == line && e.column == column && e.pointer == pointer &&
           e.message.find(fragment) != std::string::npos;
  });
  std::string all;
  for (const auto& e : errors) all += "  " + e.to_string() + "\n";
  EXPECT_TRUE(found) << "wanted " << file << ":" << line << ":" << column << ": " << pointer
                     << ": ..." << fragment << "...\n got:\n"
                     << all;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// JSON positions

TEST(ScenarioJsonDocument, RecordsValueAndKeyPositions) {
  const JsonDocument doc = JsonDocument::parse(
      "{\n  \"a\": [1, 23, {\"b\": true}],\n  \"c~/d\": \"x\",\n\t\"n\": -1.5e3\n}");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc.value_location(""), (SourceLocation{1, 1}));
  EXPECT_EQ(doc.key_location("/a"), (SourceLocation{2, 3}));
  EXPECT_EQ(doc.value_location("/a"), (SourceLocation{2, 8}));
  EXPECT_EQ(doc.value_location("/a/0"), (SourceLocation{2, 9}));
  EXPECT_EQ(doc.value_location("/a/1"), (SourceLocation{2, 12}));
  EXPECT_EQ(doc.value_location("/a/2"), (SourceLocation{2, 16}));
  EXPECT_EQ(doc.key_location("/a/2/b"), (SourceLocation{2, 17}));
  EXPECT_EQ(doc.value_location("/a/2/b"), (SourceLocation{2, 22}));
  EXPECT_EQ(doc.key_location("/c~0~1d"), (SourceLocation{3, 3}));
  EXPECT_EQ(doc.value_location("/c~0~1d"), (SourceLocation{3, 11}));
  EXPECT_EQ(doc.value_location("/n"), (SourceLocation{4, 7}));
  // Unknown pointers fall back to the closest ancestor.
  EXPECT_EQ(doc.value_location("/a/2/zzz"), (SourceLocation{2, 16}));
}

TEST(ScenarioJsonDocument, ColumnsCountCharactersNotBytes) {
  const JsonDocument doc = JsonDocument::parse("{\"t\": \"\xC3\xA9\xE2\x82\xAC\", \"u\": 1}");
  ASSERT_TRUE(doc.ok());
  // {"t": "é€", "u": 1}  -> "u" key is the 13th character.
  EXPECT_EQ(doc.key_location("/u"), (SourceLocation{1, 13}));
}

TEST(ScenarioJsonDocument, StringLocationMapsDecodedBytesThroughEscapes) {
  //                                   col: 8 9 10  12  14      20 21
  const JsonDocument doc = JsonDocument::parse("{\"s\": \"a\\r\\n\\u00e9${x}\"}");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc.value().at("s").get<std::string>(), "a\r\n\xC3\xA9${x}");
  EXPECT_EQ(doc.string_location("/s", 0), (SourceLocation{1, 8}));   // a
  EXPECT_EQ(doc.string_location("/s", 1), (SourceLocation{1, 9}));   // \r
  EXPECT_EQ(doc.string_location("/s", 2), (SourceLocation{1, 11}));  // \n
  EXPECT_EQ(doc.string_location("/s", 3), (SourceLocation{1, 13}));  // \u00e9 (2 bytes)
  EXPECT_EQ(doc.string_location("/s", 5), (SourceLocation{1, 19}));  // $
}

TEST(ScenarioJsonDocument, SyntaxErrorsAndDuplicateKeysAreIssues) {
  const JsonDocument bad = JsonDocument::parse("{\n  \"a\": [1,,2]\n}");
  ASSERT_FALSE(bad.ok());
  ASSERT_EQ(bad.issues().size(), 1u);
  EXPECT_EQ(bad.locate(bad.issues()[0].offset), (SourceLocation{2, 11}));  // the 2nd comma
  EXPECT_NE(bad.issues()[0].message.find("syntax error"), std::string::npos);
  EXPECT_TRUE(bad.value().is_null());

  const JsonDocument dup = JsonDocument::parse("{\"a\": {\"x\": 1, \"x\": 2}}");
  ASSERT_FALSE(dup.ok());
  ASSERT_EQ(dup.issues().size(), 1u);
  EXPECT_EQ(dup.issues()[0].pointer, "/a/x");
  EXPECT_EQ(dup.locate(dup.issues()[0].offset), (SourceLocation{1, 16}));

  EXPECT_FALSE(JsonDocument::parse("").ok());
  EXPECT_FALSE(JsonDocument::parse("{} trailing").ok());
}

// ---------------------------------------------------------------------------------------------
// Templates and escapes

TEST(ScenarioTemplate, VariablesFillsAndDollars) {
  auto t = parse_template("MAIL FROM:<${sender}> $$5 $x ${fill:3}", false);
  ASSERT_TRUE(t);
  Variables v;
  v.set("sender", "a@b");
  EXPECT_EQ(render(*t, v), "MAIL FROM:<a@b> $5 $x xxx");
  ASSERT_EQ(t->parts.size(), 4u);
  EXPECT_EQ(t->parts[1].kind, TemplatePart::Kind::variable);
  EXPECT_EQ(t->parts[1].index, 11u);
  EXPECT_EQ(t->parts[3].kind, TemplatePart::Kind::fill);
  EXPECT_FALSE(t->is_literal());
  EXPECT_TRUE(parse_template("plain", false)->is_literal());
}

TEST(ScenarioTemplate, Errors) {
  EXPECT_EQ(parse_template("a ${unterminated", false).error().index, 2u);
  EXPECT_EQ(parse_template("${Bad}", false).error().index, 0u);
  EXPECT_EQ(parse_template("${}", false).error().index, 0u);
  EXPECT_FALSE(parse_template("${fill:x}", false));
  EXPECT_FALSE(parse_template("${fill:99999999999}", false));
  // Backslashes are literal unless byte escapes are on.
  EXPECT_EQ(render(*parse_template("a\\qb", false), {}), "a\\qb");
  const auto bad = parse_template("ab\\q", true);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().index, 2u);
  EXPECT_FALSE(parse_template("\\x4", true));
  EXPECT_FALSE(parse_template("\\xg0", true));
  EXPECT_FALSE(parse_template("end\\", true));
}

TEST(ScenarioTemplate, ByteEscapesCoverEveryOctet) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  const std::string escaped = escape_bytes(all);
  for (const char c : escaped) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u < 0x7F) << "unescaped byte " << int(u);
  }
  const auto back = decode_escapes(escaped);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, all);
  EXPECT_EQ(*decode_escapes("\\r\\n\\t\\0\\\\\\x7f\\xFF"), std::string("\r\n\t\0\\\x7f\xff", 7));
  auto t = parse_template("A\\x00${v}\\n", true);
  ASSERT_TRUE(t);
  Variables v;
  v.set("v", "\\n");  // variable values are not escape-processed
  EXPECT_EQ(render(*t, v), std::string("A\0\\n\n", 5));
}

// ---------------------------------------------------------------------------------------------
// The repository's scenarios

TEST(ScenarioLoader, LoadsTheRepositoryScenarios) {
  const auto r = load_scenarios({fs::path(SMTPH_SOURCE_DIR) / "scenarios"});
  ASSERT_TRUE(r) << (r ? "" : r.error().front().to_string());
  ASSERT_GE(r->size(), 10u);
  std::vector<std::string> files;
  for (const Scenario& s : *r) {
    EXPECT_FALSE(s.steps.empty()) << s.id;
    EXPECT_GT(s.line, 0u) << s.id;
    files.push_back(s.file);
  }
  EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));
  // The same with the schema files of the source tree instead of the embedded copies.
  LoadOptions o;
  o.schema_dir = fs::path(SMTPH_SOURCE_DIR) / "reports" / "schema";
  const auto again = load_scenarios({fs::path(SMTPH_SOURCE_DIR) / "scenarios"}, o);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size(), r->size());
}

TEST(ScenarioLoader, SmugglingScenarioModel) {
  const auto r = load_scenarios(
      {fs::path(SMTPH_SOURCE_DIR) / "scenarios/rfc5321/4.1.1.4-lf-dot-lf-not-end-of-data.json"});
  ASSERT_TRUE(r);
  const Scenario& s = r->front();
  EXPECT_EQ(s.id, "rfc5321/4.1.1.4/lf-dot-lf-not-end-of-data");
  EXPECT_EQ(s.level, Level::must_not);
  EXPECT_EQ(s.rfc, "RFC5321#4.1.1.4");
  const Variables vars = variables_of(Profile{});
  const auto& data = std::get<DataStep>(s.steps[8].action);
  EXPECT_FALSE(data.structured);
  EXPECT_FALSE(data.dot_stuff);
  EXPECT_EQ(render_data(data, vars),
            "From: <sender@client.example>\r\nTo: <postmaster@example.test>\r\n"
            "Subject: smtp-harness smuggling probe\r\n\r\nfirst part\n.\n");
  const Expect& three_way = std::get<ExpectStep>(s.steps[9].action).expect;
  ASSERT_EQ(three_way.any_of.size(), 5u);
  EXPECT_EQ(three_way.any_of[0].verdict, OutcomeVerdict::fail);
  EXPECT_EQ(three_way.any_of[0].label, "accepted-as-end-of-data");
  EXPECT_TRUE(three_way.any_of[2].stop);
  EXPECT_EQ(three_way.any_of[4].when.nothing_within_ms, 1500u);

  // Three outcomes, three verdicts.
  EXPECT_EQ(evaluate_expect(three_way, Observation::of_reply(reply(250, {"OK"})), nullptr).status,
            StepStatus::failed);
  const StepOutcome rejected =
      evaluate_expect(three_way, Observation::of_reply(reply(550, {"no"})), nullptr);
  EXPECT_EQ(rejected.status, StepStatus::passed);
  EXPECT_EQ(rejected.label, "rejected");
  EXPECT_TRUE(rejected.stop);
  const StepOutcome kept = evaluate_expect(three_way, Observation::of_timeout(1500), nullptr);
  EXPECT_EQ(kept.status, StepStatus::passed);
  EXPECT_EQ(kept.label, "kept-as-content");
  EXPECT_FALSE(kept.stop);
  const ReadPlan plan = plan_expect(three_way, 30000);
  EXPECT_TRUE(plan.read_reply);
  EXPECT_TRUE(plan.silence_expected);
  EXPECT_EQ(plan.wait_ms, 1500u);

  const auto r2 = load_scenarios(
      {fs::path(SMTPH_SOURCE_DIR) / "scenarios/rfc5321/4.1.1.4-nul-dot-not-end-of-data.json"});
  ASSERT_TRUE(r2);
  const auto& nul = std::get<DataStep>(r2->front().steps[8].action);
  using namespace std::string_literals;
  EXPECT_EQ(render_data(nul, vars),
            "Subject: smtp-harness smuggling probe\r\n\r\nfirst part\r\n\0.\r\n"s);
}

// ---------------------------------------------------------------------------------------------
// Loader errors: file, line, column and pointer

TEST(ScenarioLoaderErrors, BadJson) {
  const auto errors = errors_of("{\n  \"format\": 1,\n  \"id\": tru\n}\n", "bad.json");
  ASSERT_EQ(errors.size(), 1u);
  expect_error(errors, "bad.json", 3, 12, "", "syntax error");
  const auto truncated = errors_of("{\n  \"format\": 1,\n", "t.json");
  ASSERT_EQ(truncated.size(), 1u);
  EXPECT_EQ(truncated[0].line, 3u);
  EXPECT_EQ(truncated[0].column, 1u);
}

TEST(ScenarioLoaderErrors, UnknownKeys) {
  const std::string text = scenario_text(
      "    {\"expect\": {\"cod\": 250}},\n"
      "    {\"sned\": \"NOOP\"}");
  const auto errors = errors_of(text);
  expect_error(errors, "s.json", 9, 17, "/steps/0/expect/cod", "unknown key 'cod'");
  expect_error(errors, "s.json", 10, 6, "/steps/1/sned", "unknown key 'sned'");
  // Top level too.
  const auto top = errors_of(
      "{\"format\": 1, \"id\": \"a/b\", \"title\": \"t\", \"rfc\": \"RFC5321\",\n"
      " \"requirement\": \"r\", \"level\": \"MAY\", \"steps\": [{\"close\": {}}],"
      " \"colour\": 1}");
  expect_error(top, "s.json", 2, 64, "/colour", "unknown key 'colour'");
}

TEST(ScenarioLoaderErrors, WrongTypesAndValues) {
  const std::string text = scenario_text(
      "    {\"send\": 5},\n"
      "    {\"sleep\": \"1s\"},\n"
      "    {\"expect\": {\"code\": 250, \"then\": \"open\"}},\n"
      "    {\"expect\": {\"code\": 250.0}}");
  const auto errors = errors_of(text);
  expect_error(errors, "s.json", 9, 14, "/steps/0/send", "expected string, found integer");
  expect_error(errors, "s.json", 10, 15, "/steps/1/sleep", "expected integer, found string");
  expect_error(errors, "s.json", 11, 38, "/steps/2/expect/then", "expected one of: close");
  expect_error(errors, "s.json", 12, 25, "/steps/3/expect/code", "expected integer, found number");
}

TEST(ScenarioLoaderErrors, MissingKeysAndStepShape) {
  const auto missing = errors_of("{\"format\": 1, \"id\": \"a/b\"}");
  expect_error(missing, "s.json", 1, 1, "", "missing required key 'title'");
  expect_error(missing, "s.json", 1, 1, "", "missing required key 'steps'");
  const auto two =
      errors_of(scenario_text("    {\"send\": \"NOOP\", \"expect\": {\"code\": 250}}"));
  expect_error(two, "s.json", 9, 5, "/steps/0", "needs exactly one key, found 2: expect, send");
  const auto version = errors_of("{\"format\": 2}");
  expect_error(version, "s.json", 1, 12, "/format", "expected one of: 1");
}

TEST(ScenarioLoaderErrors, BadRegex) {
  const auto errors = errors_of(scenario_text("    {\"expect\": {\"text\": \"ok(\"}}"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].pointer, "/steps/0/expect/text");
  EXPECT_EQ(errors[0].line, 9u);
  EXPECT_EQ(errors[0].column, 26u);  // RE2 blames the whole pattern "ok(": its first character
  EXPECT_NE(errors[0].message.find("bad RE2 pattern"), std::string::npos);
}

TEST(ScenarioLoaderErrors, UnknownVariableAndBadEscape) {
  const std::string text = scenario_text(
      "    {\"send\": \"RCPT TO:<${valid_mailbox}> ${nope}\"},\n"
      "    {\"raw\": \"ok\\\\r\\\\n\\\\xZZ\"},\n"
      "    {\"data\": {\"body\": \"hi ${mystery}\"}}");
  const auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 3u);
  expect_error(errors, "s.json", 9, 42, "/steps/0/send", "unknown variable ${nope}");
  expect_error(errors, "s.json", 10, 22, "/steps/1/raw", "\\x needs two hex digits");
  expect_error(errors, "s.json", 11, 27, "/steps/2/data/body", "unknown variable ${mystery}");
  // Profile vars become known variables.
  LoadOptions o;
  o.profile.vars["nope"] = "x";
  o.profile.vars["mystery"] = "y";
  auto r =
      load_scenario_text(scenario_text("    {\"send\": \"NOOP ${nope}${mystery}\"}"), "s.json", o);
  ASSERT_TRUE(r);
}

TEST(ScenarioLoaderErrors, CommandLinesHaveNoLineBreaks) {
  const auto errors =
      errors_of(scenario_text("    {\"send\": \"NOOP\\r\\n\"},\n"
                              "    {\"pipeline\": [\"NOOP\", \"RSET\\nQUIT\"]}"));
  expect_error(errors, "s.json", 9, 19, "/steps/0/send", "remove the trailing CRLF");
  expect_error(errors, "s.json", 10, 32, "/steps/1/pipeline/1", "cannot contain CR or LF");
}

TEST(ScenarioLoaderErrors, SemanticCombinations) {
  const auto errors = errors_of(scenario_text(
      "    {\"expect\": {\"code\": 250, \"codes\": [250]}},\n"
      "    {\"expect\": {\"class\": 5, \"enhanced\": \"4.7.0\"}},\n"
      "    {\"expect\": {\"closed\": true, \"code\": 221}},\n"
      "    {\"expect\": {\"code\": 250, \"any_of\": [{\"code\": 250, \"verdict\": \"pass\"}]}},\n"
      "    {\"expect\": {\"any_of\": [{\"verdict\": \"pass\"}]}},\n"
      "    {\"expect\": {\"on_fail\": \"warn\"}},\n"
      "    {\"expect\": {\"present\": false}},\n"
      "    {\"bdat\": {\"last\": true}},\n"
      "    {\"data\": {\"raw\": \"x\", \"body\": \"y\"}},\n"
      "    {\"close\": {}},\n"
      "    {\"send\": \"NOOP\"}"));
  expect_error(errors, "s.json", 9, 39, "/steps/0/expect/codes", "either code or codes");
  expect_error(errors, "s.json", 10, 41, "/steps/1/expect/enhanced", "contradicts class 5");
  expect_error(errors, "s.json", 11, 27, "/steps/2/expect/closed", "cannot be combined");
  expect_error(errors, "s.json", 12, 40, "/steps/3/expect/any_of", "put them in each outcome");
  expect_error(errors, "s.json", 13, 28, "/steps/4/expect/any_of/0", "at least one condition");
  expect_error(errors, "s.json", 14, 16, "/steps/5/expect", "at least one condition");
  expect_error(errors, "s.json", 15, 28, "/steps/6/expect/present", "present needs capability");
  expect_error(errors, "s.json", 16, 14, "/steps/7/bdat", "bytes, size, or both");
  expect_error(errors, "s.json", 17, 35, "/steps/8/data/body", "cannot be combined with raw");
  expect_error(errors, "s.json", 19, 5, "/steps/10", "after close needs a connect");
}

TEST(ScenarioLoaderErrors, DuplicateIdsAcrossFilesAndDirectoryRules) {
  TempDir dir;
  dir.write("b/2.json", scenario_text("    {\"send\": \"NOOP\"}", "x/1/dup"));
  dir.write("a/1.json", scenario_text("    {\"send\": \"NOOP\"}", "x/1/dup"));
  dir.write("a/notes.txt", "not a scenario");
  const auto r = load_scenarios({dir.path()});
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 1u);
  // Sorted order: a/1.json is first, b/2.json is the duplicate.
  const std::string first = (dir.path() / "a/1.json").string();
  const std::string second = (dir.path() / "b/2.json").string();
  expect_error(r.error(), second, 3, 9, "/id", "duplicate id 'x/1/dup'");
  EXPECT_NE(r.error()[0].message.find(first + ":3:9"), std::string::npos);

  TempDir empty;
  const auto e = load_scenarios({empty.path(), empty.path() / "missing.json"});
  ASSERT_FALSE(e);
  ASSERT_EQ(e.error().size(), 2u);
  EXPECT_NE(e.error()[0].message.find("no *.json"), std::string::npos);
  EXPECT_EQ(e.error()[1].line, 0u);
  EXPECT_NE(e.error()[1].message.find("no such file"), std::string::npos);
  EXPECT_EQ(e.error()[1].to_string(),
            (empty.path() / "missing.json").string() + ": (root): no such file or directory");
}

TEST(ScenarioLoaderErrors, EveryFileReportedNothingLoaded) {
  TempDir dir;
  dir.write("1.json", scenario_text("    {\"send\": \"NOOP\"}", "x/1/a"));
  dir.write("2.json", "{");
  dir.write("3.json", scenario_text("    {\"send\": 1}", "x/1/c"));
  const auto r = load_scenarios({dir.path()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().size(), 2u);
}

TEST(ScenarioLoaderErrors, ErrorStringFormat) {
  const auto errors = errors_of(scenario_text("    {\"send\": 5}"), "dir/s.json");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            "dir/s.json:9:14: /steps/0/send: wrong type: expected string, found integer");
}

// ---------------------------------------------------------------------------------------------
// Steps: model and bytes

TEST(ScenarioSteps, EveryKindLoadsAndRenders) {
  const Scenario s = load_one(scenario_text(
      "    {\"connect\": {\"tls\": \"implicit\"}},\n"
      "    {\"expect\": {\"code\": 220, \"timeout_ms\": 900, \"note\": \"greeting\"}},\n"
      "    {\"ehlo\": {\"domain\": \"[127.0.0.1]\", \"on_fail\": \"skip\"}},\n"
      "    {\"starttls\": {}},\n"
      "    {\"ehlo\": {}},\n"
      "    {\"auth\": {\"mechanism\": \"LOGIN\", \"credentials\": \"invalid\", "
      "\"initial_response\": false}},\n"
      "    {\"pipeline\": [\"MAIL FROM:<${sender}>\", \"RCPT TO:<${valid_mailbox}>\", \"DATA\"]},\n"
      "    {\"data\": {}},\n"
      "    {\"bdat\": {\"bytes\": \"ab\\\\r\\\\n\", \"last\": true}},\n"
      "    {\"bdat\": {\"size\": 200}},\n"
      "    {\"bdat\": {\"bytes\": \"abc\", \"size\": 10}},\n"
      "    {\"sleep\": 10},\n"
      "    {\"raw\": \"QUIT\\r\\n\"},\n"
      "    {\"expect\": {\"capability\": \"pipelining\", \"present\": false}},\n"
      "    {\"close\": {}},\n"
      "    {\"connect\": {}}"));
  ASSERT_EQ(s.steps.size(), 16u);
  std::vector<std::string> kinds;
  for (const Step& st : s.steps) kinds.emplace_back(kind_name(st.action));
  EXPECT_EQ(kinds, (std::vector<std::string>{"connect", "expect", "ehlo", "starttls", "ehlo",
                                             "auth", "pipeline", "data", "bdat", "bdat", "bdat",
                                             "sleep", "raw", "expect", "close", "connect"}));
  EXPECT_EQ(s.steps[3].pointer, "/steps/3");
  EXPECT_EQ(s.steps[3].line, 12u);
  EXPECT_EQ(s.steps[3].column, 5u);
  EXPECT_EQ(std::get<ConnectStep>(s.steps[0].action).tls, TlsMode::implicit);
  EXPECT_FALSE(std::get<ConnectStep>(s.steps[15].action).tls);
  EXPECT_EQ(std::get<ExpectStep>(s.steps[1].action).expect.timeout_ms, 900u);

  const Variables vars = variables_of(Profile{});
  const auto& ehlo = std::get<EhloStep>(s.steps[2].action);
  EXPECT_EQ(render_ehlo(ehlo, vars), "EHLO [127.0.0.1]\r\n");
  EXPECT_EQ(ehlo.expect.on_fail, OnFail::skip);
  EXPECT_EQ(ehlo.expect.when.codes, std::vector<std::uint16_t>{250});
  EXPECT_EQ(render_ehlo(std::get<EhloStep>(s.steps[4].action), vars), "EHLO client.example\r\n");
  EXPECT_EQ(std::get<StartTlsStep>(s.steps[3].action).expect.when.codes,
            std::vector<std::uint16_t>{220});
  EXPECT_EQ(render_pipeline(std::get<PipelineStep>(s.steps[6].action), vars),
            "MAIL FROM:<sender@client.example>\r\nRCPT TO:<postmaster@example.test>\r\nDATA\r\n");
  EXPECT_EQ(render_data(std::get<DataStep>(s.steps[7].action), vars),
            "From: <sender@client.example>\r\nTo: <postmaster@example.test>\r\n"
            "Subject: smtp-harness test message\r\n\r\n"
            "This is a test message from smtp-harness.\r\n.\r\n");
  EXPECT_EQ(render_bdat(std::get<BdatStep>(s.steps[8].action), vars), "BDAT 4 LAST\r\nab\r\n");
  const std::string filler = render_bdat(std::get<BdatStep>(s.steps[9].action), vars);
  EXPECT_EQ(filler.substr(0, 10), "BDAT 200\r\n");
  EXPECT_EQ(filler.size(), 210u);
  EXPECT_EQ(filler.substr(10 + 78, 2), "\r\n");
  EXPECT_EQ(render_bdat(std::get<BdatStep>(s.steps[10].action), vars), "BDAT 10\r\nabc");
  EXPECT_EQ(std::get<SleepStep>(s.steps[11].action).ms, 10u);
  EXPECT_EQ(render_raw(std::get<RawStep>(s.steps[12].action), vars), "QUIT\r\n");
  const Expect& cap = std::get<ExpectStep>(s.steps[13].action).expect;
  EXPECT_EQ(cap.when.capability, "PIPELINING");
  EXPECT_FALSE(cap.when.present);
  EXPECT_FALSE(plan_expect(cap, 5000).read_reply);

  const AuthExchange login = render_auth(std::get<AuthStep>(s.steps[5].action), Profile{});
  EXPECT_EQ(login.command, "AUTH LOGIN\r\n");
  ASSERT_EQ(login.responses.size(), 2u);
  EXPECT_EQ(login.responses[0], smtp::base64_encode("bench") + "\r\n");
  EXPECT_EQ(login.responses[1], smtp::base64_encode(kInvalidPassword) + "\r\n");
}

TEST(ScenarioSteps, DataStructuredRules) {
  const Scenario s = load_one(scenario_text(
      "    {\"data\": {\"headers\": [\"Subject: x\"], \"body\": \".a\\nb\\r\\n.\\n\"}},\n"
      "    {\"data\": {\"headers\": [], \"body\": \"no newline\"}},\n"
      "    {\"data\": {\"headers\": [\"A: b\"], \"body\": \".x\", \"dot_stuff\": false, "
      "\"end\": \"\\\\n.\\\\n\"}},\n"
      "    {\"data\": {\"raw\": \"x\\r\\n.y\", \"dot_stuff\": true}},\n"
      "    {\"data\": {\"raw\": \"\"}}"));
  const Variables vars = variables_of(Profile{});
  EXPECT_EQ(render_data(std::get<DataStep>(s.steps[0].action), vars),
            "Subject: x\r\n\r\n..a\r\nb\r\n..\r\n.\r\n");
  EXPECT_EQ(render_data(std::get<DataStep>(s.steps[1].action), vars), "no newline\r\n.\r\n");
  EXPECT_EQ(render_data(std::get<DataStep>(s.steps[2].action), vars), "A: b\r\n\r\n.x\r\n\n.\n");
  EXPECT_EQ(render_data(std::get<DataStep>(s.steps[3].action), vars), "x\r\n..y\r\n.\r\n");
  EXPECT_EQ(render_data(std::get<DataStep>(s.steps[4].action), vars), ".\r\n");
  EXPECT_EQ(dot_stuff_bytes(".a\r\n.b\n.c"), "..a\r\n..b\n.c");
}

TEST(ScenarioSteps, AuthPlain) {
  AuthStep a;
  a.mechanism = "PLAIN";
  Profile p;
  const AuthExchange ex = render_auth(a, p);
  EXPECT_EQ(ex.command,
            "AUTH PLAIN " + smtp::base64_encode(std::string("\0bench\0benchpass", 16)) + "\r\n");
  EXPECT_TRUE(ex.responses.empty());
  a.initial_response = false;
  a.credentials = Credentials::invalid;
  const AuthExchange ex2 = render_auth(a, p);
  EXPECT_EQ(ex2.command, "AUTH PLAIN\r\n");
  ASSERT_EQ(ex2.responses.size(), 1u);
  EXPECT_EQ(ex2.responses[0].find(smtp::base64_encode("benchpass")), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Profiles

TEST(ScenarioProfile, DefaultsFitTheReferenceServer) {
  const Variables v = variables_of(Profile{});
  EXPECT_EQ(v.get("helo"), "client.example");
  EXPECT_EQ(v.get("local_domain"), "example.test");
  EXPECT_EQ(v.get("valid_mailbox"), "postmaster@example.test");
  EXPECT_EQ(v.get("relay_mailbox"), "nobody@relay.example");
  EXPECT_EQ(v.get("username"), "bench");
  EXPECT_EQ(v.get("password"), "benchpass");
  EXPECT_EQ(v.get("max_recipients"), "100");
  EXPECT_EQ(v.names().size(), builtin_variable_names().size());
}

TEST(ScenarioProfile, LoadsOverridesAndReportsErrors) {
  const auto p = load_profile_text(
      R"({"format": 1, "helo": "mx.test", "password": "s3cret", "auth_requires_tls": true,
          "max_recipients": 50, "store": {"path": "/tmp/mail.jsonl", "format": "jsonl"},
          "target": {"host": "127.0.0.1", "port": 2525, "tls": "starttls"},
          "vars": {"list_address": "list@example.test"}})",
      "p.json");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->helo, "mx.test");
  EXPECT_EQ(p->password, "s3cret");
  EXPECT_EQ(p->local_domain, "example.test");  // default kept
  EXPECT_TRUE(p->auth_requires_tls);
  EXPECT_EQ(p->max_recipients, 50u);
  ASSERT_TRUE(p->store);
  EXPECT_EQ(p->store->format, StoreFormat::jsonl);
  EXPECT_EQ(p->target.port, 2525);
  EXPECT_EQ(p->target.tls, TlsMode::starttls);
  EXPECT_EQ(variables_of(*p).get("list_address"), "list@example.test");

  const auto bad = load_profile_text(
      "{\"format\": 1,\n \"helo\": 7,\n \"pasword\": \"x\",\n \"vars\": {\"helo\": \"x\", \"Bad\": "
      "\"y\"}}",
      "p.json");
  ASSERT_FALSE(bad);
  expect_error(bad.error(), "p.json", 2, 10, "/helo", "expected string, found integer");
  expect_error(bad.error(), "p.json", 3, 2, "/pasword", "unknown key 'pasword'");
  expect_error(bad.error(), "p.json", 4, 24, "/vars/Bad", "unknown key 'Bad'");
  const auto shadow = load_profile_text("{\"format\": 1, \"vars\": {\"helo\": \"x\"}}", "p.json");
  ASSERT_FALSE(shadow);
  expect_error(shadow.error(), "p.json", 1, 24, "/vars/helo", "built-in variable");
}

// ---------------------------------------------------------------------------------------------
// Evaluation

TEST(ScenarioEvaluate, Codes) {
  const Expect e = expect_of("{\"code\": 250}");
  EXPECT_EQ(evaluate_expect(e, Observation::of_reply(reply(250, {"OK"})), nullptr).status,
            StepStatus::passed);
  const StepOutcome bad =
      evaluate_expect(e, Observation::of_reply(reply(503, {"5.5.1 Bad sequence"})), nullptr);
  EXPECT_EQ(bad.status, StepStatus::failed);
  EXPECT_TRUE(bad.stop);
  EXPECT_EQ(bad.reason, "expected 250, got 503 5.5.1 Bad sequence");
  const Expect set = expect_of("{\"codes\": [250, 251]}");
  EXPECT_EQ(evaluate_expect(set, Observation::of_reply(reply(251, {"ok"})), nullptr).status,
            StepStatus::passed);
  EXPECT_EQ(evaluate_expect(set, Observation::of_reply(reply(252, {"ok"})), nullptr).reason,
            "expected 250|251, got 252 ok");
  const Expect klass = expect_of("{\"class\": 5}");
  EXPECT_EQ(evaluate_expect(klass, Observation::of_reply(reply(554, {})), nullptr).status,
            StepStatus::passed);
  EXPECT_EQ(evaluate_expect(klass, Observation::of_reply(reply(452, {""})), nullptr).reason,
            "expected a 5xx reply, got 452");
}

TEST(ScenarioEvaluate, NoReply) {
  const Expect e = expect_of("{\"code\": 250}");
  EXPECT_EQ(evaluate_expect(e, Observation::of_timeout(5000), nullptr).reason,
            "expected code 250, no reply within 5000 ms");
  EXPECT_EQ(evaluate_expect(e, Observation::of_close(), nullptr).reason,
            "expected code 250, connection closed");
  EXPECT_EQ(evaluate_expect(e, Observation::of_error("reset by peer"), nullptr).reason,
            "expected code 250, connection error: reset by peer");
}

TEST(ScenarioEvaluate, EnhancedStatusPatterns) {
  const Observation obs =
      Observation::of_reply(reply(550, {"5.1.1 No such user"}, EnhancedStatus{5, 1, 1}));
  EXPECT_EQ(evaluate_expect(expect_of("{\"enhanced\": \"5.1.1\"}"), obs, nullptr).status,
            StepStatus::passed);
  EXPECT_EQ(evaluate_expect(expect_of("{\"enhanced\": \"5.1.*\"}"), obs, nullptr).status,
            StepStatus::passed);
  EXPECT_EQ(evaluate_expect(expect_of("{\"enhanced\": \"5.*.*\"}"), obs, nullptr).status,
            StepStatus::passed);
  EXPECT_EQ(evaluate_expect(expect_of("{\"enhanced\": \"5.7.*\"}"), obs, nullptr).reason,
            "expected enhanced status 5.7.*, got 5.1.1");
  EXPECT_EQ(evaluate_expect(expect_of("{\"enhanced\": \"5.1.1\"}"),
                            Observation::of_reply(reply(550, {"No such user"})), nullptr)
                .reason,
            "expected enhanced status 5.1.1, got none in 550 No such user");
}

TEST(ScenarioEvaluate, TextPattern) {
  const Expect e = expect_of("{\"code\": 250, \"text\": \"(?i)^pipelining$\"}");
  const Observation ehlo =
      Observation::of_reply(reply(250, {"mx.example.test", "SIZE 10240000", "PIPELINING"}));
  EXPECT_EQ(evaluate_expect(e, ehlo, nullptr).status, StepStatus::passed);
  const StepOutcome miss =
      evaluate_expect(e, Observation::of_reply(reply(250, {"mx", "SIZE"})), nullptr);
  EXPECT_EQ(miss.status, StepStatus::failed);
  EXPECT_EQ(miss.reason, "reply text does not match /(?i)^pipelining$/: 250-mx (+1 lines)");
}

TEST(ScenarioEvaluate, ThenCloseAndClosed) {
  const Expect quit = expect_of("{\"code\": 221, \"then\": \"close\"}");
  const ReadPlan plan = plan_expect(quit, 4000);
  EXPECT_TRUE(plan.wait_for_close);
  EXPECT_EQ(plan.wait_ms, 4000u);
  EXPECT_EQ(evaluate_expect(quit, Observation::of_reply(reply(221, {"bye"}), true), nullptr).status,
            StepStatus::passed);
  EXPECT_EQ(
      evaluate_expect(quit, Observation::of_reply(reply(221, {"bye"}), false), nullptr).reason,
      "connection still open after 221 bye (expected the server to close)");
  EXPECT_EQ(evaluate_expect(quit, Observation::of_reply(reply(221, {"bye"})), nullptr).status,
            StepStatus::failed);
  const Expect closed = expect_of("{\"closed\": true}");
  EXPECT_EQ(evaluate_expect(closed, Observation::of_close(), nullptr).status, StepStatus::passed);
  EXPECT_EQ(evaluate_expect(closed, Observation::of_error("reset"), nullptr).status,
            StepStatus::passed);
  EXPECT_EQ(evaluate_expect(closed, Observation::of_reply(reply(250, {"OK"})), nullptr).reason,
            "expected the connection to close, got 250 OK");
}

TEST(ScenarioEvaluate, NothingWithin) {
  const Expect e = expect_of("{\"nothing_within_ms\": 300, \"timeout_ms\": 9000}");
  const ReadPlan plan = plan_expect(e, 5000);
  EXPECT_TRUE(plan.silence_expected);
  EXPECT_EQ(plan.wait_ms, 300u);
  EXPECT_EQ(evaluate_expect(e, Observation::of_timeout(300), nullptr).status, StepStatus::passed);
  EXPECT_EQ(evaluate_expect(e, Observation::of_reply(reply(250, {"OK"})), nullptr).reason,
            "expected no reply within 300 ms, got 250 OK");
  EXPECT_EQ(evaluate_expect(e, Observation::of_close(), nullptr).status, StepStatus::failed);
  EXPECT_EQ(plan_expect(expect_of("{\"code\": 250, \"timeout_ms\": 9000}"), 5000).wait_ms, 9000u);
}

TEST(ScenarioEvaluate, Capabilities) {
  Capabilities caps;
  caps.list = {{"PIPELINING", {}}, {"AUTH", {"PLAIN", "LOGIN"}}, {"SIZE", {"1000"}}};
  const Expect has = expect_of("{\"capability\": \"Pipelining\"}");
  EXPECT_EQ(evaluate_expect(has, Observation::of_timeout(0), &caps).status, StepStatus::passed);
  const Expect absent = expect_of("{\"capability\": \"CHUNKING\", \"present\": false}");
  EXPECT_EQ(evaluate_expect(absent, Observation::of_timeout(0), &caps).status, StepStatus::passed);
  const Expect missing = expect_of("{\"capability\": \"CHUNKING\"}");
  EXPECT_EQ(evaluate_expect(missing, Observation::of_timeout(0), &caps).reason,
            "target does not advertise CHUNKING");
  EXPECT_EQ(evaluate_expect(missing, Observation::of_timeout(0), nullptr).reason,
            "no EHLO capabilities recorded (an ehlo step must come first)");
}

TEST(ScenarioEvaluate, OnFailLevels) {
  const Observation got = Observation::of_reply(reply(500, {"what"}));
  StepOutcome o =
      evaluate_expect(expect_of("{\"code\": 250, \"on_fail\": \"warn\"}"), got, nullptr);
  EXPECT_EQ(o.status, StepStatus::warned);
  EXPECT_FALSE(o.stop);
  o = evaluate_expect(expect_of("{\"code\": 250, \"on_fail\": \"non_strict\"}"), got, nullptr);
  EXPECT_EQ(o.status, StepStatus::non_strict);
  EXPECT_FALSE(o.stop);
  o = evaluate_expect(expect_of("{\"code\": 250, \"on_fail\": \"skip\"}"), got, nullptr);
  EXPECT_EQ(o.status, StepStatus::skipped);
  EXPECT_TRUE(o.stop);
}

TEST(ScenarioEvaluate, AnyOfOrderVerdictsAndNoMatch) {
  const Expect e = expect_of(
      "{\"any_of\": [{\"code\": 250, \"verdict\": \"pass\"},"
      " {\"class\": 2, \"verdict\": \"non_strict\", \"label\": \"odd success\"},"
      " {\"class\": 5, \"verdict\": \"fail\", \"label\": \"refused\", \"stop\": true}]}");
  StepOutcome o = evaluate_expect(e, Observation::of_reply(reply(250, {"OK"})), nullptr);
  EXPECT_EQ(o.status, StepStatus::passed);
  EXPECT_EQ(o.label, "code 250");  // first match wins; unlabelled outcomes are described
  o = evaluate_expect(e, Observation::of_reply(reply(252, {"hmm"})), nullptr);
  EXPECT_EQ(o.status, StepStatus::non_strict);
  EXPECT_EQ(o.reason, "outcome 'odd success': 252 hmm");
  o = evaluate_expect(e, Observation::of_reply(reply(550, {"no"})), nullptr);
  EXPECT_EQ(o.status, StepStatus::failed);
  EXPECT_TRUE(o.stop);
  EXPECT_EQ(o.label, "refused");
  o = evaluate_expect(e, Observation::of_timeout(100), nullptr);
  EXPECT_EQ(o.status, StepStatus::failed);
  EXPECT_EQ(o.reason, "no expected outcome matched: no reply within 100 ms");
  EXPECT_EQ(describe(e),
            "any of: code 250 -> pass; class 2 -> non_strict (odd success); class 5 -> fail "
            "(refused) [stop]");
}

TEST(ScenarioEvaluate, DescribeAndOneLine) {
  EXPECT_EQ(describe(expect_of("{\"code\": 221, \"then\": \"close\"}")), "code 221, then close");
  EXPECT_EQ(describe(expect_of("{\"then\": \"close\"}")), "any reply, then close");
  EXPECT_EQ(describe(reply(250, {"a\r\nb\x01\xff"})), "250 a\\r\\nb\\x01\\xff");
  EXPECT_EQ(describe(reply(220, {})), "220");
  EXPECT_EQ(describe(Observation::of_reply(reply(221, {"bye"}), true)), "221 bye, then closed");
  const std::string longer(500, 'x');
  EXPECT_EQ(describe(reply(250, {longer})).size(), 203u);  // cut at 200 + "..."
}

TEST(ScenarioEvaluate, EvaluateAction) {
  EXPECT_EQ(evaluate_action(std::nullopt).status, StepStatus::passed);
  const StepOutcome o = evaluate_action(std::string("connect: connection refused"));
  EXPECT_EQ(o.status, StepStatus::error);
  EXPECT_TRUE(o.stop);
}

TEST(ScenarioEvaluate, Requirements) {
  Scenario s = load_one(scenario_text("    {\"ehlo\": {}}"));
  s.prerequisites = {"PIPELINING", "AUTH=PLAIN", "credentials"};
  s.tls = {TlsMode::starttls, TlsMode::implicit};
  TargetFacts facts;
  EXPECT_EQ(unmet_facts(s, facts), "needs --tls starttls|implicit, the run uses none");
  facts.tls = TlsMode::starttls;
  EXPECT_FALSE(unmet_facts(s, facts));
  facts.credentials = false;
  EXPECT_EQ(unmet_facts(s, facts), "needs AUTH credentials in the profile");
  EXPECT_TRUE(needs_capabilities(s));
  Capabilities caps;
  caps.list = {{"PIPELINING", {}}, {"AUTH", {"LOGIN"}}};
  EXPECT_EQ(unmet_capabilities(s, caps), "AUTH does not offer PLAIN");
  caps.list[1].params.push_back("plain");
  EXPECT_FALSE(unmet_capabilities(s, caps));
  caps.list.erase(caps.list.begin());
  EXPECT_EQ(unmet_capabilities(s, caps), "target does not advertise PIPELINING");
  s.prerequisites = {"store", "auth_without_tls"};
  s.tls.clear();
  facts = {};
  EXPECT_EQ(unmet_facts(s, facts), "needs a delivered-mail store in the profile");
  facts.store = true;
  EXPECT_FALSE(unmet_facts(s, facts));
  facts.auth_requires_tls = true;
  EXPECT_TRUE(unmet_facts(s, facts));
  EXPECT_FALSE(needs_capabilities(s));
}

TEST(ScenarioAggregate, Verdicts) {
  Scenario must = load_one(scenario_text("    {\"send\": \"NOOP\"}"));
  Scenario should = must;
  should.level = Level::should;
  auto step = [](std::size_t i, StepStatus st, std::string reason = {}) {
    report::StepRecord r;
    r.index = i;
    r.kind = "expect";
    r.status = st;
    r.reason = std::move(reason);
    return r;
  };
  const std::vector<report::StepRecord> ok = {step(0, StepStatus::passed),
                                              step(1, StepStatus::warned, "w")};
  EXPECT_EQ(aggregate(must, ok).verdict, Verdict::passed);
  EXPECT_EQ(aggregate(must, ok).reason, "");

  const std::vector<report::StepRecord> failed = {step(0, StepStatus::passed),
                                                  step(1, StepStatus::failed, "expected 250")};
  EXPECT_EQ(aggregate(must, failed).verdict, Verdict::failed);
  EXPECT_EQ(aggregate(must, failed).reason, "step 2 (expect): expected 250");
  EXPECT_EQ(aggregate(should, failed).verdict, Verdict::non_strict);

  const std::vector<report::StepRecord> soft = {step(0, StepStatus::non_strict, "soft"),
                                                step(1, StepStatus::passed)};
  EXPECT_EQ(aggregate(must, soft).verdict, Verdict::non_strict);
  const std::vector<report::StepRecord> soft_then_fail = {step(0, StepStatus::non_strict, "soft"),
                                                          step(1, StepStatus::failed, "hard")};
  EXPECT_EQ(aggregate(must, soft_then_fail).reason, "step 2 (expect): hard");

  const std::vector<report::StepRecord> error = {step(0, StepStatus::error, "TLS handshake")};
  EXPECT_EQ(aggregate(must, error).verdict, Verdict::error);
  const std::vector<report::StepRecord> skipped = {step(0, StepStatus::skipped, "no AUTH")};
  EXPECT_EQ(aggregate(must, skipped).verdict, Verdict::skipped);

  AggregateExtras extras;
  extras.skipped = "target does not advertise CHUNKING";
  EXPECT_EQ(aggregate(must, {}, extras).verdict, Verdict::skipped);
  EXPECT_EQ(aggregate(must, {}, extras).reason, "target does not advertise CHUNKING");
  extras = {};
  extras.error = "connect: refused";
  EXPECT_EQ(aggregate(must, ok, extras).verdict, Verdict::error);
  EXPECT_EQ(aggregate(must, failed, extras).verdict, Verdict::failed);  // failure came first
  extras = {};
  extras.oracle_findings = {"reply 252 not allowed for NOOP"};
  EXPECT_EQ(aggregate(must, ok, extras).verdict, Verdict::passed);  // oracle: warn by default
  must.oracle = OracleMode::check;
  EXPECT_EQ(aggregate(must, ok, extras).verdict, Verdict::failed);
  EXPECT_EQ(aggregate(must, ok, extras).reason, "oracle: reply 252 not allowed for NOOP");
}

TEST(ScenarioAggregate, MakeStepRecord) {
  const Scenario s =
      load_one(scenario_text("    {\"send\": \"NOOP\"},\n"
                             "    {\"expect\": {\"code\": 250}},\n"
                             "    {\"starttls\": {}}"));
  const Observation obs = Observation::of_reply(reply(500, {"5.5.2 what?"}));
  const StepOutcome out =
      evaluate_expect(std::get<ExpectStep>(s.steps[1].action).expect, obs, nullptr);
  const report::StepRecord r = make_step_record(1, s.steps[1], out, describe(obs));
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(r.kind, "expect");
  EXPECT_EQ(r.expectation, "code 250");
  EXPECT_EQ(r.observed, "500 5.5.2 what?");
  EXPECT_EQ(r.status, StepStatus::failed);
  EXPECT_EQ(r.reason, "expected 250, got 500 5.5.2 what?");
  const report::StepRecord sent =
      make_step_record(0, s.steps[0], evaluate_action(std::nullopt), escape_bytes("NOOP\r\n"));
  EXPECT_EQ(sent.expectation, "");
  EXPECT_EQ(sent.observed, "NOOP\\r\\n");
  EXPECT_EQ(make_step_record(2, s.steps[2], {}).expectation, "code 220, TLS handshake");
}

TEST(ScenarioAggregate, MakeResultCopiesMetadata) {
  const auto r = load_scenarios(
      {fs::path(SMTPH_SOURCE_DIR) / "scenarios/rfc5321/4.1.1.9-noop-argument-ignored.json"});
  ASSERT_TRUE(r);
  const report::ScenarioResult res = make_result(r->front());
  EXPECT_EQ(res.id, "rfc5321/4.1.1.9/noop-argument-ignored");
  EXPECT_EQ(res.level, "SHOULD");
  EXPECT_EQ(res.rfc, "RFC5321#4.1.1.9");
  EXPECT_EQ(res.requirement, "If a parameter string is specified, servers SHOULD ignore it.");
  EXPECT_EQ(res.tags, std::vector<std::string>{"noop"});
}

TEST(ScenarioJsonSchema, EmbeddedSchemasCompile) {
  for (const char* name : {"scenario", "profile", "report"}) {
    const auto s = JsonSchema::named(name);
    ASSERT_TRUE(s) << name << ": " << (s ? "" : s.error());
  }
  EXPECT_FALSE(JsonSchema::named("nope"));
  EXPECT_FALSE(JsonSchema::named("scenario", "/nonexistent-dir"));
  EXPECT_FALSE(JsonSchema::from_text("{"));
}

TEST(ScenarioLoaderErrors, HostileInputsFailCleanly) {
  // Deep nesting stops at the parser.
  const std::string deep =
      "{\"format\": 1, \"steps\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  const auto nested = errors_of(deep);
  ASSERT_EQ(nested.size(), 1u);
  EXPECT_NE(nested[0].message.find("nesting deeper than 64"), std::string::npos);
  EXPECT_EQ(nested[0].line, 1u);
  // Megabyte strings under a schema pattern are refused before any regex sees them.
  const std::string long_id(300000, 'a');
  const auto id = errors_of(scenario_text("    {\"send\": \"NOOP\"}", "x/" + long_id));
  ASSERT_EQ(id.size(), 1u);
  expect_error(id, "s.json", 3, 9, "/id", "string of 300002 bytes is too long for this field");
  // Long strings elsewhere are fine.
  const Scenario big = load_one(scenario_text("    {\"raw\": \"" + std::string(1 << 20, 'x') +
                                              "\\r\\n\"},\n"
                                              "    {\"expect\": {\"text\": \"" +
                                              std::string(5000, 'y') + "\"}}"));
  EXPECT_EQ(big.steps.size(), 2u);
  // Binary garbage and truncations never throw.
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 131) & 0xFF);
  EXPECT_FALSE(errors_of(garbage).empty());
  const std::string valid = scenario_text("    {\"send\": \"NOOP\"}");
  for (std::size_t cut = 0; cut < valid.size(); cut += 7) {
    EXPECT_FALSE(errors_of(valid.substr(0, cut)).empty()) << cut;
  }
}
