// `smtp-harness parse`: runs the built binary on input files in a temporary directory and checks
// the JSON shapes of issue 2 (item 4), the --log format, chunk independence and exit codes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cmd_parse.h"
#include "smtp/dot_stuffing.h"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "smtph-parse-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct Result {
  int status = -1;  // exit code
  std::string out;
  std::string err;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

class ParseCli : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, std::string_view bytes) {
    const fs::path p = dir_.path() / name;
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

  // Run `smtp-harness <args>`; `stdin_file` (if any) is redirected to standard input.
  Result run(const std::string& args, const fs::path& stdin_file = {}) {
    const fs::path err = dir_.path() / "stderr.txt";
    std::string cmd = shell_quote(SMTPH_HARNESS_BIN) + " " + args + " 2>" + shell_quote(err.string());
    cmd += stdin_file.empty() ? " </dev/null" : " <" + shell_quote(stdin_file.string());
    Result r;
    std::FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.err = read_file(err);
    return r;
  }

  // Parse JSON Lines output.
  static std::vector<Json> lines(const std::string& out) {
    std::vector<Json> v;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) v.push_back(Json::parse(line));
    return v;
  }

  // `parse KIND --jsonl` over the given units (each encoded as a JSON string).
  std::vector<Json> jsonl(const std::string& kind, const std::vector<std::string>& units) {
    std::string in;
    for (const auto& u : units) in += Json(u).dump() + "\n";
    const Result r = run("parse " + kind + " --jsonl " + shell_quote(write(kind + ".jsonl", in).string()));
    EXPECT_EQ(r.status, 0) << r.err;
    auto v = lines(r.out);
    EXPECT_EQ(v.size(), units.size()) << r.out;
    return v;
  }

  static bool has_error(const Json& j, const std::string& code) {
    for (const auto& e : j.at("errors")) {
      if (e.at("code") == code) return true;
    }
    return false;
  }

  static std::uint64_t error_offset(const Json& j, const std::string& code) {
    for (const auto& e : j.at("errors")) {
      if (e.at("code") == code) return e.at("offset").get<std::uint64_t>();
    }
    ADD_FAILURE() << "no error " << code << " in " << j.dump();
    return 0;
  }

  TempDir dir_;
};

// ---- command ---------------------------------------------------------------------------------

TEST_F(ParseCli, CommandNullPathHasEmptyMailbox) {
  const auto v = jsonl("command", {"MAIL FROM:<>\r\n", "MAIL FROM:<>"});
  for (const auto& j : v) {
    EXPECT_EQ(j.at("ok"), true) << j.dump();
    EXPECT_EQ(j.at("verb"), "MAIL");
    EXPECT_EQ(j.at("mailbox"), "");
    EXPECT_TRUE(j.at("params").is_object());
    EXPECT_TRUE(j.at("params").empty());
    EXPECT_TRUE(j.at("errors").is_array());
    EXPECT_TRUE(j.at("errors").empty());
  }
}

TEST_F(ParseCli, CommandMailboxAndParams) {
  const auto v = jsonl("command", {"mail from:<alice@example.test> size=1000 BODY=8BITMIME XFLAG",
                                   "RCPT TO:<Postmaster>", "EHLO client.example.test"});
  EXPECT_EQ(v[0].at("ok"), true) << v[0].dump();
  EXPECT_EQ(v[0].at("verb"), "MAIL");
  EXPECT_EQ(v[0].at("mailbox"), "alice@example.test");
  EXPECT_EQ(v[0].at("params").at("SIZE"), "1000");
  EXPECT_EQ(v[0].at("params").at("BODY"), "8BITMIME");
  EXPECT_TRUE(v[0].at("params").at("XFLAG").is_null());
  EXPECT_EQ(v[1].at("verb"), "RCPT");
  EXPECT_EQ(v[1].at("mailbox"), "Postmaster");
  EXPECT_EQ(v[2].at("verb"), "EHLO");
  EXPECT_TRUE(v[2].at("mailbox").is_null());
  EXPECT_EQ(v[2].at("argument"), "client.example.test");
}

TEST_F(ParseCli, CommandUnknownVerbIsNull) {
  const auto v = jsonl("command", {"XYZZY plugh"});
  EXPECT_EQ(v[0].at("ok"), false);
  EXPECT_TRUE(v[0].at("verb").is_null()) << v[0].dump();
  EXPECT_TRUE(has_error(v[0], "unknown_command")) << v[0].dump();
}

TEST_F(ParseCli, CommandBareLfReportedWithOffset) {
  // "MAIL FROM:<a@example.test>" is 26 octets: the LF is at offset 26.
  const auto v = jsonl("command", {"MAIL FROM:<a@example.test>\n", "NOOP\r\n"});
  EXPECT_EQ(v[0].at("ok"), false);
  EXPECT_EQ(error_offset(v[0], "bare_lf"), 26u) << v[0].dump();
  EXPECT_EQ(v[1].at("ok"), true);
}

TEST_F(ParseCli, CommandAuthAndBdat) {
  const auto v = jsonl("command", {"AUTH PLAIN AGJvYgBwYXNz", "AUTH LOGIN", "BDAT 1000 LAST",
                                   "BDAT 512"});
  EXPECT_EQ(v[0].at("verb"), "AUTH");
  EXPECT_EQ(v[0].at("mechanism"), "PLAIN");
  EXPECT_EQ(v[0].at("initial_response"), "AGJvYgBwYXNz");
  EXPECT_TRUE(v[1].at("initial_response").is_null());
  EXPECT_EQ(v[2].at("size"), 1000);
  EXPECT_EQ(v[2].at("last"), true);
  EXPECT_EQ(v[3].at("size"), 512);
  EXPECT_EQ(v[3].at("last"), false);
  EXPECT_FALSE(v[0].contains("size"));
  EXPECT_FALSE(v[2].contains("mechanism"));
}

TEST_F(ParseCli, CommandNulFromJsonEscape) {
  const auto v = jsonl("command", {std::string("NOOP a\0b", 8)});
  EXPECT_EQ(v[0].at("ok"), false);
  EXPECT_EQ(error_offset(v[0], "nul_byte"), 6u) << v[0].dump();
}

TEST_F(ParseCli, TwoCommandsInOneUnitIsBadInput) {
  const auto v = jsonl("command", {"NOOP\r\nQUIT\r\n"});
  EXPECT_EQ(v[0].at("ok"), false);
  EXPECT_EQ(v[0].at("verb"), "NOOP");
  EXPECT_EQ(error_offset(v[0], "bad_input"), 6u);
}

TEST_F(ParseCli, InvalidJsonLineReportedAndParsingGoesOn) {
  const fs::path in = write("mixed.jsonl", "\"NOOP\"\nnot json\n42\n\"QUIT\"\n");
  const Result r = run("parse command --jsonl " + shell_quote(in.string()));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto v = lines(r.out);
  ASSERT_EQ(v.size(), 4u) << r.out;
  EXPECT_EQ(v[0].at("verb"), "NOOP");
  EXPECT_EQ(v[1].at("ok"), false);
  EXPECT_EQ(v[1].at("errors").at(0).at("code"), "bad_input");
  EXPECT_EQ(v[2].at("errors").at(0).at("code"), "bad_input");
  EXPECT_EQ(v[3].at("verb"), "QUIT");
}

TEST_F(ParseCli, CommandRawStreamOneObjectPerLine) {
  const std::string in = "EHLO client.example.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n";
  const Result r = run("parse command " + shell_quote(write("cmds.txt", in).string()));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto v = lines(r.out);
  ASSERT_EQ(v.size(), 4u) << r.out;
  EXPECT_EQ(v[0].at("verb"), "EHLO");
  EXPECT_EQ(v[1].at("offset"), 26);
  EXPECT_EQ(v[1].at("mailbox"), "a@example.test");
  EXPECT_EQ(v[2].at("mailbox"), "b@example.test");
  EXPECT_EQ(v[3].at("verb"), "DATA");
  for (const auto& j : v) EXPECT_EQ(j.at("ok"), true) << j.dump();
}

// ---- reply / ehlo ----------------------------------------------------------------------------

TEST_F(ParseCli, ReplyMultilineWithEnhancedCode) {
  const auto v = jsonl("reply", {"250-2.1.0 Sender ok\r\n250 2.1.0 Really ok\r\n", "220 ready"});
  EXPECT_EQ(v[0].at("ok"), true) << v[0].dump();
  EXPECT_EQ(v[0].at("code"), 250);
  ASSERT_EQ(v[0].at("lines").size(), 2u);
  EXPECT_EQ(v[0].at("lines").at(1), "2.1.0 Really ok");
  EXPECT_EQ(v[0].at("enhanced"), "2.1.0");
  EXPECT_EQ(v[1].at("code"), 220);
  EXPECT_TRUE(v[1].at("enhanced").is_null());
}

TEST_F(ParseCli, ReplyErrorsHaveCodeOffsetReason) {
  const auto v = jsonl("reply", {"250-first\r\n251 second\r\n", "250 OK\n", "25x nope"});
  for (const auto& j : v) {
    EXPECT_EQ(j.at("ok"), false) << j.dump();
    ASSERT_FALSE(j.at("errors").empty()) << j.dump();
    const auto& e = j.at("errors").at(0);
    EXPECT_TRUE(e.at("code").is_string());
    EXPECT_TRUE(e.at("offset").is_number_unsigned());
    EXPECT_TRUE(e.at("reason").is_string());
  }
  EXPECT_TRUE(has_error(v[0], "multiline_code_mismatch")) << v[0].dump();
  EXPECT_EQ(error_offset(v[1], "bare_lf"), 6u) << v[1].dump();
}

TEST_F(ParseCli, ReplyRawStreamStopsAtFatalError) {
  const std::string in = "220 mx.example.test ESMTP\r\n250-mx.example.test\r\n250 SIZE 1000\r\n2x0 bad\r\n";
  const Result r = run("parse reply -", write("replies.txt", in));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto v = lines(r.out);
  ASSERT_EQ(v.size(), 3u) << r.out;
  EXPECT_EQ(v[0].at("code"), 220);
  EXPECT_EQ(v[0].at("offset"), 0);
  EXPECT_EQ(v[1].at("lines").size(), 2u);
  EXPECT_EQ(v[1].at("offset"), 27);
  EXPECT_EQ(v[2].at("ok"), false);
  EXPECT_TRUE(v[2].at("code").is_null());
  EXPECT_TRUE(has_error(v[2], "bad_reply_code")) << v[2].dump();
}

TEST_F(ParseCli, EhloCapabilities) {
  const std::string postfix =
      "250-postfix.bench.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n"
      "250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n";
  const auto v = jsonl("ehlo", {postfix, "220 not an ehlo reply"});
  const Json& j = v[0];
  EXPECT_EQ(j.at("ok"), true) << j.dump();
  EXPECT_EQ(j.at("domain"), "postfix.bench.test");
  EXPECT_EQ(j.at("size"), 10240000);
  EXPECT_EQ(j.at("auth"), Json::array({"PLAIN", "LOGIN"}));
  ASSERT_EQ(j.at("capabilities").size(), 5u);
  EXPECT_EQ(j.at("capabilities").at(0).at("keyword"), "PIPELINING");
  EXPECT_EQ(j.at("capabilities").at(1).at("params"), Json::array({"10240000"}));
  EXPECT_EQ(v[1].at("ok"), false);
  EXPECT_TRUE(v[1].at("auth").is_null());
}

// ---- address ---------------------------------------------------------------------------------

TEST_F(ParseCli, Address) {
  const auto v = jsonl("address", {"user@example.test", "\"john doe\"@[192.0.2.1]", "no-at-sign",
                                   "a@b@c"});
  EXPECT_EQ(v[0].at("ok"), true) << v[0].dump();
  EXPECT_EQ(v[0].at("local_part"), "user");
  EXPECT_EQ(v[0].at("domain"), "example.test");
  EXPECT_EQ(v[0].at("address"), "user@example.test");
  EXPECT_EQ(v[1].at("ok"), true) << v[1].dump();
  EXPECT_EQ(v[1].at("domain"), "[192.0.2.1]");
  EXPECT_EQ(v[2].at("ok"), false);
  EXPECT_FALSE(v[2].at("errors").empty());
  EXPECT_EQ(v[3].at("ok"), false) << v[3].dump();
}

// ---- data ------------------------------------------------------------------------------------

TEST_F(ParseCli, DataUnstuffsAndEnds) {
  const std::string wire = "Subject: hi\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n";
  const Result r = run("parse data " + shell_quote(write("data.txt", wire).string()));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto v = lines(r.out);
  ASSERT_EQ(v.size(), 1u);
  const Json& j = v[0];
  EXPECT_EQ(j.at("ok"), true) << j.dump();
  EXPECT_EQ(j.at("complete"), true);
  EXPECT_EQ(j.at("ended_by"), "canonical");
  EXPECT_EQ(j.at("message"), "Subject: hi\r\n\r\n.leading dot\r\n");
  EXPECT_EQ(j.at("message_b64"), smtp::cli::base64_encode("Subject: hi\r\n\r\n.leading dot\r\n"));
  EXPECT_EQ(j.at("trailing"), 6);
  EXPECT_TRUE(j.at("findings").empty());
}

TEST_F(ParseCli, DataSmugglingCandidateReported) {
  // "\n.\n" at offset 5 is not the end of data (only CRLF.CRLF is); it is reported by name.
  const auto v = jsonl("data", {"hello\n.\nMAIL FROM:<x@example.test>\r\n.\r\n"});
  const Json& j = v[0];
  EXPECT_EQ(j.at("complete"), true);
  EXPECT_EQ(j.at("ended_by"), "canonical");
  EXPECT_EQ(j.at("ok"), false);
  bool found = false;
  for (const auto& f : j.at("findings")) {
    if (f.at("code") == "non_canonical_end_of_data" &&
        f.at("candidate") == smtp::to_string(smtp::EodCandidate::lf_dot_lf) &&
        f.at("offset") == 5) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << j.dump();
}

TEST_F(ParseCli, DataBinaryIsLosslessInBase64) {
  std::string msg;
  for (int b = 0; b < 256; ++b) {
    if (b != '\r' && b != '\n' && b != 0) msg += static_cast<char>(b);
  }
  msg += "\r\n";
  const std::string wire = smtp::dot_stuff(msg);
  const Result r = run("parse data -", write("bin.txt", wire));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto v = lines(r.out);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].at("complete"), true) << r.out;
  EXPECT_EQ(v[0].at("message_b64"), smtp::cli::base64_encode(msg));
}

TEST(Base64, Rfc4648Vectors) {
  using smtp::cli::base64_encode;
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

// ---- log format and chunking -----------------------------------------------------------------

TEST_F(ParseCli, LogFormat) {
  const Result r = run("parse reply --log " + shell_quote(write("r.txt", "250 OK\r\n").string()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "off=0 len=8 reply code=250 lines=1 enhanced=none\n"
            "off=0 line[0]=\"OK\"\n"
            "off=8 eof\n");
}

TEST_F(ParseCli, ChunkSizeDoesNotChangeOutput) {
  const std::string session =
      "220 mx.example.test ESMTP\r\n250-mx.example.test\r\n250-SIZE 1000\r\n250 2.0.0 OK\r\n"
      "MAIL FROM:<a@example.test> SIZE=10\r\nbare\nlf\r\nhi\r\n\n.\r\n.\r\n";
  const fs::path in = write("session.txt", session);
  for (const std::string kind : {"reply", "ehlo", "command", "address", "data"}) {
    for (const std::string mode : {"", " --log"}) {
      const Result whole = run("parse " + kind + mode + " " + shell_quote(in.string()));
      ASSERT_EQ(whole.status, 0) << whole.err;
      for (const int chunk : {1, 2, 7}) {
        const Result part = run("parse " + kind + mode + " --chunk " + std::to_string(chunk) +
                                " " + shell_quote(in.string()));
        EXPECT_EQ(part.out, whole.out) << kind << mode << " --chunk " << chunk;
      }
    }
  }
}

// ---- usage errors ----------------------------------------------------------------------------

TEST_F(ParseCli, BadFlagExits2WithMessage) {
  const Result r = run("parse command --bogus");
  EXPECT_EQ(r.status, 2);
  EXPECT_FALSE(r.err.empty());
  EXPECT_TRUE(r.out.empty());
}

TEST_F(ParseCli, UsageErrorsExit2) {
  EXPECT_EQ(run("parse nonsense -").status, 2);
  EXPECT_EQ(run("parse").status, 2);
  EXPECT_EQ(run("parse reply --jsonl --log -").status, 2);
  EXPECT_EQ(run("parse reply --chunk 0 -").status, 2);
  EXPECT_EQ(run("parse reply --allow everything -").status, 2);
  const Result missing = run("parse reply " + shell_quote((dir_.path() / "missing").string()));
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos) << missing.err;
}

TEST_F(ParseCli, AllowFlagsAccepted) {
  const fs::path in = write("lf.txt", "250 OK\n");
  const Result r = run("parse reply --allow bare_lf --log -", in);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("tolerance name=bare_lf"), std::string::npos) << r.out;
  // One value per --allow: the FILE after it stays the positional input.
  const Result file = run("parse reply --allow bare_lf,nul --allow bare_cr " + shell_quote(in.string()));
  ASSERT_EQ(file.status, 0) << file.err;
  const auto v = lines(file.out);
  ASSERT_EQ(v.size(), 1u) << file.out;
  EXPECT_EQ(v[0].at("code"), 250);
  EXPECT_EQ(v[0].at("lines"), Json::array({"OK"}));
}

TEST_F(ParseCli, EmptyInputGivesNoObjects) {
  for (const std::string kind : {"reply", "command", "address"}) {
    const Result r = run("parse " + kind + " -", write("empty.txt", ""));
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, "") << kind;
  }
}

}  // namespace
