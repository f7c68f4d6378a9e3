// Tests for sasl.h: RFC 4648 base64 vectors, RFC 1321 MD5 vectors, RFC 2104/2202 HMAC-MD5
// vectors, RFC 2195 CRAM-MD5 example, and the PLAIN/LOGIN/CRAM-MD5/XOAUTH2 message formats.
#include "smtp/sasl.h"

#include <gtest/gtest.h>

#include <string>

namespace smtp {
namespace {

std::string hex(const Md5Digest& d) { return to_hex(d); }

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> v[] = {{"", ""},
                                                   {"f", "Zg=="},
                                                   {"fo", "Zm8="},
                                                   {"foo", "Zm9v"},
                                                   {"foob", "Zm9vYg=="},
                                                   {"fooba", "Zm9vYmE="},
                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : v) {
    EXPECT_EQ(base64_encode(plain), enc);
    const auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, plain);
  }
}

TEST(Base64, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 7) {
    const std::string s = all.substr(0, n);
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  }
}

TEST(Base64, RejectsMalformed) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "====", "Zm9v\r\n", "Zm 9v",
                          "Zm9v!A==", "Zg==Zg==", "Zh==" /* non-zero pad bits */,
                          "Zm9=" /* non-zero pad bits */, "=Zm9", "Zm=v"}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
  }
}

TEST(Md5, Rfc1321TestSuite) {
  EXPECT_EQ(hex(md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(hex(md5("a")), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(hex(md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(hex(md5("message digest")), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(hex(md5("abcdefghijklmnopqrstuvwxyz")), "c3fcd3d76192e4007dfb496cca67e13b");
  EXPECT_EQ(hex(md5("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")),
            "d174ab98d277d9f5a5611c2c9f419d9f");
  EXPECT_EQ(hex(md5("1234567890123456789012345678901234567890123456789012345678901234567890123456"
                    "7890")),
            "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Md5, IncrementalEqualsWholeAtEverySplit) {
  std::string msg;
  for (int i = 0; i < 200; ++i) msg += static_cast<char>('a' + i % 26);
  const Md5Digest whole = md5(msg);
  for (std::size_t split = 0; split <= msg.size(); ++split) {
    Md5 h;
    h.update(std::string_view(msg).substr(0, split));
    h.update(std::string_view(msg).substr(split));
    EXPECT_EQ(h.finish(), whole) << split;
  }
  Md5 bytewise;
  for (const char c : msg) bytewise.update(std::string_view(&c, 1));
  EXPECT_EQ(bytewise.finish(), whole);
}

TEST(HmacMd5, Rfc2104AndRfc2202Vectors) {
  EXPECT_EQ(hex(hmac_md5(std::string(16, '\x0b'), "Hi There")), "9294727a3638bb1c13f48ef8158bfc9d");
  EXPECT_EQ(hex(hmac_md5("Jefe", "what do ya want for nothing?")),
            "750c783e6ab0b503eaa86e310a5db738");
  EXPECT_EQ(hex(hmac_md5(std::string(16, '\xaa'), std::string(50, '\xdd'))),
            "56be34521d144c88dbb8c733f0e8b3f6");
  // RFC 2202 §2 test case 6: key longer than the block size is hashed first.
  EXPECT_EQ(hex(hmac_md5(std::string(80, '\xaa'),
                         "Test Using Larger Than Block-Size Key - Hash Key First")),
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
  // RFC 2202 test case 7.
  EXPECT_EQ(hex(hmac_md5(std::string(80, '\xaa'),
                         "Test Using Larger Than Block-Size Key and Larger Than One Block-Size "
                         "Data")),
            "6f630fad67cda0ee1fb1f562db3aa53e");
}

TEST(CramMd5, Rfc2195Example) {
  const std::string challenge = "<1896.697170952@postoffice.reston.mci.net>";
  EXPECT_EQ(base64_encode(challenge), "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+");
  const std::string resp = sasl_cram_md5("tim", "tanstaaftanstaaf", challenge);
  EXPECT_EQ(resp, "tim b913a602c7eda7a495b4e6e7334d3890");
  EXPECT_EQ(base64_encode(resp), "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");

  const auto parsed = parse_sasl_cram_md5(resp);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->username, "tim");
  EXPECT_TRUE(verify_cram_md5("tanstaaftanstaaf", challenge, parsed->digest));
  EXPECT_TRUE(verify_cram_md5("tanstaaftanstaaf", challenge, "B913A602C7EDA7A495B4E6E7334D3890"));
  EXPECT_FALSE(verify_cram_md5("wrong", challenge, parsed->digest));
  EXPECT_FALSE(verify_cram_md5("tanstaaftanstaaf", challenge, "b913"));
  EXPECT_FALSE(parse_sasl_cram_md5("tim").has_value());
  EXPECT_FALSE(parse_sasl_cram_md5("tim xyz").has_value());
  EXPECT_FALSE(parse_sasl_cram_md5(" b913a602c7eda7a495b4e6e7334d3890").has_value());
}

TEST(Plain, Rfc4954Example) {
  // RFC 4954 §4 example: "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=" is authzid "test", authcid
  // "test", password "1234".
  const std::string msg = sasl_plain("test", "test", "1234");
  EXPECT_EQ(base64_encode(msg), "dGVzdAB0ZXN0ADEyMzQ=");
  const auto p = parse_sasl_plain(msg);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->authzid, "test");
  EXPECT_EQ(p->username, "test");
  EXPECT_EQ(p->password, "1234");
  EXPECT_FALSE(parse_sasl_plain(std::string_view("a\0b", 3)).has_value());
  EXPECT_FALSE(parse_sasl_plain(std::string_view("a\0b\0c\0d", 7)).has_value());
  EXPECT_FALSE(parse_sasl_plain(std::string_view("a\0\0c", 4)).has_value());
  const auto empty_authz = parse_sasl_plain(std::string_view("\0u\0p", 4));
  ASSERT_TRUE(empty_authz.has_value());
  EXPECT_EQ(empty_authz->authzid, "");
}

TEST(Xoauth2, FormatAndParse) {
  const std::string msg =
      sasl_xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
  EXPECT_EQ(msg,
            "user=someuser@example.com\x01"
            "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01");
  // Google's documented example encoding.
  EXPECT_EQ(base64_encode(msg),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQm"
            "hkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
  const auto p = parse_sasl_xoauth2(msg);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->username, "someuser@example.com");
  EXPECT_EQ(p->token, "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
  EXPECT_FALSE(parse_sasl_xoauth2("user=a\x01"
                                  "auth=Basic x\x01\x01")
                   .has_value());
  EXPECT_FALSE(parse_sasl_xoauth2("user=a\x01"
                                  "auth=Bearer x\x01")
                   .has_value());
  EXPECT_FALSE(parse_sasl_xoauth2("").has_value());
}

TEST(Mechanism, Names) {
  EXPECT_EQ(sasl_mechanism_from_string("plain"), SaslMechanism::plain);
  EXPECT_EQ(sasl_mechanism_from_string("Cram-Md5"), SaslMechanism::cram_md5);
  EXPECT_EQ(sasl_mechanism_from_string("XOAUTH2"), SaslMechanism::xoauth2);
  EXPECT_EQ(sasl_mechanism_from_string("LOGIN"), SaslMechanism::login);
  EXPECT_EQ(sasl_mechanism_from_string("SCRAM-SHA-1"), SaslMechanism::unknown);
  EXPECT_EQ(to_string(SaslMechanism::cram_md5), "CRAM-MD5");
}

TEST(SaslClient, Plain) {
  SaslClient c(SaslMechanism::plain, {"", "alice", "pw", ""});
  ASSERT_TRUE(c.initial_response().has_value());
  EXPECT_EQ(*c.initial_response(), std::string_view("\0alice\0pw", 9));
  EXPECT_TRUE(c.one_round_trip());
  // Without the initial response: the first (empty) challenge gets the message.
  EXPECT_EQ(c.respond(""), std::string_view("\0alice\0pw", 9));
  EXPECT_FALSE(c.respond("").has_value());
}

TEST(SaslClient, LoginAnswersByPosition) {
  SaslClient c(SaslMechanism::login, {"", "alice", "pw", ""});
  EXPECT_FALSE(c.initial_response().has_value());
  EXPECT_EQ(c.respond("Username:"), "alice");
  EXPECT_EQ(c.respond("Password:"), "pw");
  EXPECT_FALSE(c.respond("More?").has_value());
}

TEST(SaslClient, CramMd5) {
  SaslClient c(SaslMechanism::cram_md5, {"", "tim", "tanstaaftanstaaf", ""});
  EXPECT_FALSE(c.initial_response().has_value());
  EXPECT_FALSE(c.one_round_trip());
  EXPECT_EQ(c.respond("<1896.697170952@postoffice.reston.mci.net>"),
            "tim b913a602c7eda7a495b4e6e7334d3890");
  EXPECT_FALSE(c.respond("again").has_value());
}

TEST(SaslClient, Xoauth2ErrorChallengeGetsEmptyResponse) {
  SaslClient c(SaslMechanism::xoauth2, {"", "u@example.com", "", "tok"});
  ASSERT_TRUE(c.initial_response().has_value());
  c.initial_response_sent();
  EXPECT_EQ(c.respond(R"({"status":"401","schemes":"bearer","scope":"x"})"), "");
}

}  // namespace
}  // namespace smtp
