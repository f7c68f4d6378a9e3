// Golden transcripts (llhttp style): core/tests/golden/*.md, each "## case" with a ```smtp
// input block and a ```log block of "off=N ..." events. Every case runs whole, byte by byte,
// split at every offset (grind.h) and at every chunk size 1..len, and each run must print
// exactly the expected log. The log format lives in tools/cli/parse_log.h and is the same one
// `smtp-harness parse --log` prints.
//
// File format:
//  - The file name picks the parser: reply*.md, ehlo*.md, command*.md, address*.md, data*.md.
//  - "## name" starts a case. An optional "<!-- meta: ... -->" line inside the case sets
//    options: allow=bare_lf,bare_cr,nul,long_line  smtputf8  noscan (whole and bytewise only)
//    reply_line=N reply_lines=N command_line=N text_line=N (limits).
//  - ```smtp block: every newline becomes CR LF, except after a line ending in a lone "\" (the
//    line continues without CR LF; on the last line it gives input that ends without CR LF).
//    Escapes: \r \n \t \\ \" \xNN.
//  - ```log block: the expected events, one per line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../../tools/cli/parse_log.h"
#include "grind.h"

namespace smtp {
namespace {

namespace fs = std::filesystem;

struct GoldenCase {
  std::string file;   // stem, e.g. "reply"
  std::string kind;   // parser: reply, ehlo, command, address, data
  std::string name;   // the "## " heading
  int line = 0;       // heading's line number in the file
  std::string input;  // unescaped bytes
  std::string expected;
  cli::log::LogOptions options;
  bool scan = true;
  std::string problem;  // a malformed case: reported as a failure
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One line of an ```smtp block -> bytes. Returns false on a bad escape. `cont` is set when the
// line ends with a lone backslash (no CR LF after it).
bool unescape_line(std::string_view s, std::string& out, bool& cont, std::string& problem) {
  cont = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (i + 1 == s.size()) {
      cont = true;
      return true;
    }
    const char e = s[++i];
    switch (e) {
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case 'x': {
        const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
        const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
          problem = "bad \\x escape";
          return false;
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        break;
      }
      default:
        problem = std::string("unknown escape \\") + e;
        return false;
    }
  }
  return true;
}

void apply_meta(std::string_view meta, GoldenCase& c) {
  std::istringstream in{std::string(meta)};
  std::string tok;
  while (in >> tok) {
    const auto eq = tok.find('=');
    const std::string key = tok.substr(0, eq);
    const std::string val = eq == std::string::npos ? "" : tok.substr(eq + 1);
    auto number = [&](std::size_t& field) {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(val.c_str(), &end, 10);
      if (val.empty() || *end != '\0') {
        c.problem = "bad number in meta: " + tok;
      } else {
        field = static_cast<std::size_t>(v);
      }
    };
    if (key == "allow") {
      std::vector<std::string> names;
      std::size_t pos = 0;
      while (pos <= val.size()) {
        const auto comma = std::min(val.find(',', pos), val.size());
        names.push_back(val.substr(pos, comma - pos));
        pos = comma + 1;
      }
      bool ok = true;
      c.options.lenient = cli::log::leniency_from_names(names, &ok);
      if (!ok) c.problem = "unknown tolerance in meta: " + val;
    } else if (key == "smtputf8") {
      c.options.smtputf8 = true;
    } else if (key == "noscan") {
      c.scan = false;
    } else if (key == "reply_line") {
      number(c.options.limits.reply_line);
    } else if (key == "reply_lines") {
      number(c.options.limits.reply_lines);
    } else if (key == "command_line") {
      number(c.options.limits.command_line);
    } else if (key == "text_line") {
      number(c.options.limits.text_line);
    } else {
      c.problem = "unknown meta key: " + key;
    }
  }
}

std::string kind_of(const std::string& stem) {
  const std::string head = stem.substr(0, stem.find_first_of("-_"));
  for (const char* k : {"reply", "ehlo", "command", "address", "data"}) {
    if (head == k) return k;
  }
  return {};
}

std::vector<GoldenCase> load_file(const fs::path& path) {
  std::vector<GoldenCase> cases;
  std::ifstream in(path, std::ios::binary);
  const std::string stem = path.stem().string();
  const std::string kind = kind_of(stem);
  std::string line;
  int lineno = 0;
  enum class Block { none, input, log, other } block = Block::none;
  bool cont = false;
  GoldenCase* cur = nullptr;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // the .md file's own newlines
    if (block != Block::none) {
      if (line.rfind("```", 0) == 0) {
        block = Block::none;
        continue;
      }
      if (cur == nullptr) continue;
      if (block == Block::input) {
        std::string bytes;
        if (!unescape_line(line, bytes, cont, cur->problem)) continue;
        cur->input += bytes;
        if (!cont) cur->input += "\r\n";
      } else if (block == Block::log) {
        cur->expected += line + "\n";
      }
      continue;
    }
    if (line.rfind("## ", 0) == 0) {
      cases.push_back({});
      cur = &cases.back();
      cur->file = stem;
      cur->kind = kind;
      cur->name = line.substr(3);
      cur->line = lineno;
      if (kind.empty()) cur->problem = "file name does not name a parser: " + stem;
    } else if (line.rfind("<!-- meta:", 0) == 0 && cur != nullptr) {
      const auto end = line.find("-->");
      apply_meta(std::string_view(line).substr(10, end == std::string::npos ? std::string::npos
                                                                             : end - 10),
                 *cur);
    } else if (line.rfind("```", 0) == 0) {
      const std::string lang = line.substr(3);
      block = lang == "smtp" ? Block::input : lang == "log" ? Block::log : Block::other;
      cont = false;
      if (cur != nullptr && block == Block::input && !cur->input.empty()) {
        cur->problem = "two ```smtp blocks in one case";
      }
    }
  }
  for (auto& c : cases) {
    if (c.problem.empty() && c.expected.empty()) c.problem = "no ```log block";
  }
  return cases;
}

std::vector<GoldenCase> load_all() {
  std::vector<GoldenCase> all;
  const fs::path dir = fs::path(SMTPH_SOURCE_DIR) / "core" / "tests" / "golden";
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".md") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto cases = load_file(f);
    all.insert(all.end(), cases.begin(), cases.end());
  }
  return all;
}

const std::vector<GoldenCase>& golden_cases() {
  static const std::vector<GoldenCase> cases = load_all();
  return cases;
}

std::string run_case(const GoldenCase& c, const std::vector<std::string_view>& parts) {
  std::string out;
  cli::log::run_log(c.kind, parts, c.options, out);
  return out;
}

void check_case(const GoldenCase& c) {
  SCOPED_TRACE(c.file + ".md:" + std::to_string(c.line) + " ## " + c.name);
  ASSERT_TRUE(c.problem.empty()) << c.problem;
  auto run = [&](const std::vector<std::string_view>& parts) { return run_case(c, parts); };
  if (!c.scan) {
    test::ExactBuffer buf(c.input);
    EXPECT_EQ(run({buf.view()}), c.expected);
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < buf.view().size(); ++i) bytes.push_back(buf.view().substr(i, 1));
    EXPECT_EQ(run(bytes), c.expected) << "bytewise";
    return;
  }
  // Whole, byte by byte, and split in two at every offset.
  test::grind(c.input, run, &c.expected);
  // Every chunk size 2..len-1 (1 and len are covered above).
  test::ExactBuffer buf(c.input);
  const std::string_view in = buf.view();
  for (std::size_t size = 2; size < in.size(); ++size) {
    std::vector<std::unique_ptr<test::ExactBuffer>> owned;
    std::vector<std::string_view> parts;
    for (std::size_t i = 0; i < in.size(); i += size) {
      owned.push_back(std::make_unique<test::ExactBuffer>(in.substr(i, size)));
      parts.push_back(owned.back()->view());
    }
    const std::string got = run(parts);
    EXPECT_EQ(got, c.expected) << "chunk size " << size;
    if (got != c.expected) break;
  }
}

class Golden : public ::testing::TestWithParam<std::size_t> {};

// One test per case (names come from the .md files when the binary is built).
TEST_P(Golden, EveryChunkSize) { check_case(golden_cases()[GetParam()]); }

std::string case_name(const ::testing::TestParamInfo<std::size_t>& info) {
  const GoldenCase& c = golden_cases()[info.param];
  std::string n = c.file + "_" + c.name;
  for (char& ch : n) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))) {
      ch = '_';
    }
  }
  return n + "_L" + std::to_string(c.line);
}

std::vector<std::size_t> case_indices() {
  std::vector<std::size_t> v(golden_cases().size());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

INSTANTIATE_TEST_SUITE_P(Transcripts, Golden, ::testing::ValuesIn(case_indices()), case_name);

// The corpus itself: present, and every kind the issue asks for is covered.
TEST(GoldenFiles, CoverRepliesCommandsAndData) {
  std::size_t reply = 0, command = 0, data = 0;
  for (const auto& c : golden_cases()) {
    reply += c.kind == "reply" ? 1u : 0u;
    command += c.kind == "command" ? 1u : 0u;
    data += c.kind == "data" ? 1u : 0u;
  }
  EXPECT_GE(reply, 10u);
  EXPECT_GE(command, 10u);
  EXPECT_GE(data, 10u);
}

// CTest learns the per-case test names when golden_test is built; a case added to a .md file
// afterwards still runs here, because the files are read at run time.
TEST(GoldenFiles, EveryCaseAtRunTime) {
  for (const auto& c : golden_cases()) check_case(c);
}

// The markdown escapes decode as documented.
TEST(GoldenFiles, Unescape) {
  std::string out, problem;
  bool cont = false;
  ASSERT_TRUE(unescape_line("a\\r\\n\\x00\\x7F\\\\\\\"b", out, cont, problem));
  EXPECT_EQ(out, std::string("a\r\n\0\x7f\\\"b", 8));
  EXPECT_FALSE(cont);
  out.clear();
  ASSERT_TRUE(unescape_line("end\\", out, cont, problem));
  EXPECT_EQ(out, "end");
  EXPECT_TRUE(cont);
  EXPECT_FALSE(unescape_line("\\q", out, cont, problem));
  EXPECT_FALSE(unescape_line("\\x4", out, cont, problem));
}

// escape_bytes (the log's string form) is the inverse of the input escapes.
TEST(GoldenFiles, EscapeRoundTrip) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::string esc = cli::log::escape_bytes(all);
  std::string back, problem;
  bool cont = false;
  ASSERT_TRUE(unescape_line(esc, back, cont, problem)) << problem;
  EXPECT_EQ(back, all);
  for (const char ch : esc) {
    EXPECT_TRUE(ch >= 0x20 && ch < 0x7f);
  }
}

}  // namespace
}  // namespace smtp
