// Reply-code knowledge: RFC 5321 §4.2.2/§4.2.3 meanings and the §4.3.2 command-reply table.
#include "smtp/reply_codes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace smtp {
namespace {

using Codes = std::vector<std::uint16_t>;

std::vector<std::uint16_t> v(std::span<const std::uint16_t> s) { return {s.begin(), s.end()}; }

bool has(std::span<const std::uint16_t> s, std::uint16_t c) {
  return std::find(s.begin(), s.end(), c) != s.end();
}

std::vector<Verb> all_verbs() {
  std::vector<Verb> out;
  for (int i = 0; i < static_cast<int>(Verb::count_); ++i) out.push_back(static_cast<Verb>(i));
  return out;
}

TEST(ReplyCodeMeaning, Rfc5321NumericOrderText) {
  EXPECT_STREQ(reply_code_meaning(211), "System status, or system help reply");
  EXPECT_STREQ(reply_code_meaning(220), "<domain> Service ready");
  EXPECT_STREQ(reply_code_meaning(221), "<domain> Service closing transmission channel");
  EXPECT_STREQ(reply_code_meaning(250), "Requested mail action okay, completed");
  EXPECT_STREQ(reply_code_meaning(252),
               "Cannot VRFY user, but will accept message and attempt delivery (See Section "
               "3.5.3)");
  EXPECT_STREQ(reply_code_meaning(354), "Start mail input; end with <CRLF>.<CRLF>");
  EXPECT_STREQ(reply_code_meaning(451), "Requested action aborted: local error in processing");
  EXPECT_STREQ(reply_code_meaning(455), "Server unable to accommodate parameters");
  EXPECT_STREQ(reply_code_meaning(502), "Command not implemented (see Section 4.2.4)");
  EXPECT_STREQ(reply_code_meaning(503), "Bad sequence of commands");
  EXPECT_STREQ(reply_code_meaning(554),
               "Transaction failed (Or, in the case of a connection-opening response, \"No "
               "SMTP service here\")");
  EXPECT_STREQ(reply_code_meaning(555),
               "MAIL FROM/RCPT TO parameters not recognized or not implemented");
}

TEST(ReplyCodeMeaning, EveryCodeOfSection423) {
  for (std::uint16_t c : Codes{211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452,
                               455, 500, 501, 502, 503, 504, 550, 551, 552, 553, 554, 555}) {
    EXPECT_NE(reply_code_meaning(c), nullptr) << c;
  }
}

TEST(ReplyCodeMeaning, ExtensionCodes) {
  EXPECT_STREQ(reply_code_meaning(235), "Authentication Succeeded");
  EXPECT_STREQ(reply_code_meaning(432), "A password transition is needed");
  EXPECT_STREQ(reply_code_meaning(534), "Authentication mechanism is too weak");
  EXPECT_STREQ(reply_code_meaning(535), "Authentication credentials invalid");
  EXPECT_STREQ(reply_code_meaning(538),
               "Encryption required for requested authentication mechanism");
  EXPECT_STREQ(reply_code_meaning(521), "Host does not accept mail");
  EXPECT_STREQ(reply_code_meaning(556), "Domain does not accept mail");
  for (std::uint16_t c : Codes{334, 454, 530, 253, 458, 459, 453}) {
    EXPECT_NE(reply_code_meaning(c), nullptr) << c;
  }
}

TEST(ReplyCodeMeaning, UnknownCodes) {
  for (std::uint16_t c :
       Codes{0, 1, 100, 200, 299, 300, 355, 400, 499, 557, 599, 600, 999, 65535}) {
    EXPECT_EQ(reply_code_meaning(c), nullptr) << c;
  }
}

TEST(ReplyRow, Section432Verbatim) {
  // Each row starts with RFC 5321 §4.3.2's codes in the RFC's order.
  auto starts_with = [](std::span<const std::uint16_t> s, std::vector<std::uint16_t> want) {
    return s.size() >= want.size() && std::equal(want.begin(), want.end(), s.begin());
  };
  EXPECT_EQ(v(greeting_row().success), (std::vector<std::uint16_t>{220}));
  EXPECT_TRUE(starts_with(greeting_row().error, {554}));
  for (Verb verb : {Verb::ehlo, Verb::helo}) {
    EXPECT_EQ(v(reply_row(verb).success), (std::vector<std::uint16_t>{250}));
    EXPECT_TRUE(starts_with(reply_row(verb).error, {504, 550, 502}));
  }
  EXPECT_EQ(v(reply_row(Verb::mail).success), (std::vector<std::uint16_t>{250}));
  EXPECT_TRUE(starts_with(reply_row(Verb::mail).error, {552, 451, 452, 550, 553, 503, 455, 555}));
  EXPECT_EQ(v(reply_row(Verb::rcpt).success), (std::vector<std::uint16_t>{250, 251}));
  EXPECT_TRUE(
      starts_with(reply_row(Verb::rcpt).error, {550, 551, 552, 553, 450, 451, 452, 503, 455, 555}));
  EXPECT_TRUE(reply_row(Verb::data).success.empty());
  EXPECT_EQ(v(reply_row(Verb::data).intermediate), (std::vector<std::uint16_t>{354}));
  EXPECT_TRUE(starts_with(reply_row(Verb::data).error, {503, 554}));
  EXPECT_EQ(v(data_end_row().success), (std::vector<std::uint16_t>{250}));
  EXPECT_TRUE(starts_with(data_end_row().error, {552, 554, 451, 452, 450, 550}));
  EXPECT_EQ(v(reply_row(Verb::rset).success), (std::vector<std::uint16_t>{250}));
  EXPECT_EQ(v(reply_row(Verb::vrfy).success), (std::vector<std::uint16_t>{250, 251, 252}));
  EXPECT_TRUE(starts_with(reply_row(Verb::vrfy).error, {550, 551, 553, 502, 504}));
  EXPECT_EQ(v(reply_row(Verb::expn).success), (std::vector<std::uint16_t>{250, 252}));
  EXPECT_TRUE(starts_with(reply_row(Verb::expn).error, {550, 500, 502, 504}));
  EXPECT_EQ(v(reply_row(Verb::help).success), (std::vector<std::uint16_t>{211, 214}));
  EXPECT_TRUE(starts_with(reply_row(Verb::help).error, {502, 504}));
  EXPECT_EQ(v(reply_row(Verb::noop).success), (std::vector<std::uint16_t>{250}));
  EXPECT_EQ(v(reply_row(Verb::quit).success), (std::vector<std::uint16_t>{221}));
}

TEST(ReplyRow, AnyCommandMayGet500And501) {
  // §4.3.2: "any SMTP command can return any of the following codes ... 500 ... 501 ... 421"
  for (Verb verb : all_verbs()) {
    const ReplyRow& row = reply_row(verb);
    EXPECT_TRUE(has(row.error, 500)) << static_cast<int>(verb);
    EXPECT_TRUE(has(row.error, 501)) << static_cast<int>(verb);
    EXPECT_TRUE(has(row.error, 421)) << static_cast<int>(verb);
  }
}

TEST(ReplyRow, RowsAreConsistent) {
  std::vector<const ReplyRow*> rows = {&greeting_row(), &data_end_row()};
  for (Verb verb : all_verbs()) {
    EXPECT_EQ(reply_row(verb).verb, verb);
    rows.push_back(&reply_row(verb));
  }
  for (const ReplyRow* row : rows) {
    EXPECT_FALSE(row->rfc.empty());
    EXPECT_FALSE(row->sources.empty());
    std::set<std::uint16_t> seen;
    for (auto set : {row->success, row->intermediate, row->error}) {
      for (std::uint16_t c : set) {
        EXPECT_TRUE(seen.insert(c).second) << "duplicate " << c << " in " << row->sources;
        EXPECT_NE(reply_code_meaning(c), nullptr) << c;
        EXPECT_GE(c, 200);
        EXPECT_LE(c, 559);
      }
    }
    for (std::uint16_t c : row->success) EXPECT_EQ(c / 100, 2) << c;
    for (std::uint16_t c : row->intermediate) EXPECT_EQ(c / 100, 3) << c;
    for (std::uint16_t c : row->error) EXPECT_GE(c / 100, 4) << c;
  }
}

TEST(ReplyRow, ExtensionRows) {
  EXPECT_EQ(v(reply_row(Verb::starttls).success), (std::vector<std::uint16_t>{220}));
  EXPECT_TRUE(has(reply_row(Verb::starttls).error, 454));
  EXPECT_TRUE(has(reply_row(Verb::starttls).error, 501));
  EXPECT_EQ(v(reply_row(Verb::auth).success), (std::vector<std::uint16_t>{235}));
  EXPECT_EQ(v(reply_row(Verb::auth).intermediate), (std::vector<std::uint16_t>{334}));
  for (std::uint16_t c : Codes{432, 454, 500, 501, 503, 504, 534, 535, 538}) {
    EXPECT_TRUE(has(reply_row(Verb::auth).error, c)) << c;
  }
  EXPECT_EQ(v(reply_row(Verb::etrn).success), (std::vector<std::uint16_t>{250, 251, 252, 253}));
  EXPECT_TRUE(has(reply_row(Verb::etrn).error, 458));
  EXPECT_TRUE(has(reply_row(Verb::etrn).error, 459));
  EXPECT_TRUE(has(reply_row(Verb::atrn).error, 453));
  EXPECT_EQ(v(reply_row(Verb::bdat).success), (std::vector<std::uint16_t>{250}));
  EXPECT_TRUE(has(reply_row(Verb::bdat).error, 552));
  EXPECT_TRUE(has(reply_row(Verb::bdat).error, 503));
  for (Verb legacy : {Verb::send, Verb::soml, Verb::saml}) {
    EXPECT_EQ(v(reply_row(legacy).success), (std::vector<std::uint16_t>{250}));
    EXPECT_TRUE(has(reply_row(legacy).error, 552));
    EXPECT_TRUE(has(reply_row(legacy).error, 502));
    EXPECT_EQ(reply_row(legacy).rfc, "RFC821#4.3");
  }
  EXPECT_TRUE(has(reply_row(Verb::turn).error, 502));
  EXPECT_EQ(v(reply_row(Verb::unknown).error).front(), 500);
  EXPECT_TRUE(reply_row(Verb::unknown).success.empty());
}

TEST(ReplyRow, AuthRequired530) {
  // RFC 4954 §6: any command other than AUTH, EHLO, HELO, NOOP, RSET or QUIT; RFC 3207 §4:
  // every command other than NOOP, EHLO, STARTTLS or QUIT. EHLO, NOOP, QUIT: neither.
  for (Verb verb : {Verb::ehlo, Verb::noop, Verb::quit}) {
    EXPECT_FALSE(has(reply_row(verb).error, 530)) << static_cast<int>(verb);
  }
  for (Verb verb : {Verb::mail, Verb::rcpt, Verb::data, Verb::vrfy, Verb::expn, Verb::help,
                    Verb::helo, Verb::rset, Verb::auth, Verb::bdat, Verb::etrn, Verb::atrn}) {
    EXPECT_TRUE(has(reply_row(verb).error, 530)) << static_cast<int>(verb);
  }
}

TEST(ReplyRow, Rfc7504) {
  EXPECT_TRUE(has(greeting_row().error, 521));
  EXPECT_TRUE(has(reply_row(Verb::rcpt).error, 556));
  EXPECT_FALSE(has(reply_row(Verb::quit).error, 521));
}

TEST(ReplyRow, OutOfRangeVerbGivesUnknownRow) {
  EXPECT_EQ(&reply_row(static_cast<Verb>(200)), &reply_row(Verb::unknown));
  EXPECT_EQ(&reply_row(Verb::count_), &reply_row(Verb::unknown));
}

TEST(ClassifyReply, Kinds) {
  EXPECT_EQ(classify_reply(greeting_row(), 220), ReplyKind::success);
  EXPECT_EQ(classify_reply(greeting_row(), 554), ReplyKind::error);
  EXPECT_EQ(classify_reply(greeting_row(), 250), ReplyKind::not_allowed);
  EXPECT_EQ(classify_reply(reply_row(Verb::rcpt), 251), ReplyKind::success);
  EXPECT_EQ(classify_reply(reply_row(Verb::rcpt), 452), ReplyKind::error);
  EXPECT_EQ(classify_reply(reply_row(Verb::rcpt), 354), ReplyKind::not_allowed);
  EXPECT_EQ(classify_reply(reply_row(Verb::data), 354), ReplyKind::intermediate);
  EXPECT_EQ(classify_reply(reply_row(Verb::data), 250), ReplyKind::not_allowed);
  EXPECT_EQ(classify_reply(data_end_row(), 250), ReplyKind::success);
  EXPECT_EQ(classify_reply(data_end_row(), 550), ReplyKind::error);
  EXPECT_EQ(classify_reply(data_end_row(), 354), ReplyKind::not_allowed);
  EXPECT_EQ(classify_reply(reply_row(Verb::auth), 334), ReplyKind::intermediate);
  EXPECT_EQ(classify_reply(reply_row(Verb::auth), 235), ReplyKind::success);
  EXPECT_EQ(classify_reply(reply_row(Verb::quit), 221), ReplyKind::success);
  EXPECT_EQ(classify_reply(reply_row(Verb::quit), 250), ReplyKind::not_allowed);
  EXPECT_EQ(classify_reply(reply_row(Verb::noop), 550), ReplyKind::not_allowed);
  EXPECT_EQ(classify_reply(reply_row(Verb::ehlo), 530), ReplyKind::not_allowed);
  EXPECT_EQ(classify_reply(reply_row(Verb::unknown), 500), ReplyKind::error);
  EXPECT_EQ(classify_reply(reply_row(Verb::unknown), 250), ReplyKind::not_allowed);
}

TEST(ClassifyReply, ServiceShuttingDownIsAlwaysAllowed) {
  EXPECT_EQ(classify_reply(greeting_row(), 421), ReplyKind::error);
  EXPECT_EQ(classify_reply(data_end_row(), 421), ReplyKind::error);
  for (Verb verb : all_verbs()) {
    EXPECT_EQ(classify_reply(reply_row(verb), 421), ReplyKind::error);
  }
  // Even for a row that does not list it.
  const ReplyRow bare{Verb::noop, {}, {}, {}, "x", "y"};
  EXPECT_EQ(classify_reply(bare, 421), ReplyKind::error);
  EXPECT_EQ(classify_reply(bare, 250), ReplyKind::not_allowed);
}

}  // namespace
}  // namespace smtp
