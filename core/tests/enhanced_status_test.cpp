// RFC 3463 enhanced status codes: grammar, RFC 2034 prefix detection, registered names.
#include "smtp/enhanced_status.h"

#include <gtest/gtest.h>

#include <string>

namespace smtp {
namespace {

TEST(EnhancedStatus, ParsesClassSubjectDetail) {
  auto s = parse_enhanced_status("2.1.0");
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, (EnhancedStatus{2, 1, 0}));
  EXPECT_EQ(parse_enhanced_status("4.7.0"), (EnhancedStatus{4, 7, 0}));
  EXPECT_EQ(parse_enhanced_status("5.7.26"), (EnhancedStatus{5, 7, 26}));
  EXPECT_EQ(parse_enhanced_status("5.999.999"), (EnhancedStatus{5, 999, 999}));
  EXPECT_EQ(parse_enhanced_status("2.0.0"), (EnhancedStatus{2, 0, 0}));
  EXPECT_EQ(parse_enhanced_status("5.100.10"), (EnhancedStatus{5, 100, 10}));
}

TEST(EnhancedStatus, ClassIsTwoFourOrFive) {
  for (const char* bad : {"0.1.1", "1.1.1", "3.1.1", "6.1.1", "7.0.0", "9.9.9"}) {
    EXPECT_FALSE(parse_enhanced_status(bad)) << bad;
  }
}

TEST(EnhancedStatus, SubjectAndDetailAreOneToThreeDigits) {
  for (const char* bad : {"5..1", "5.1.", "5.1", "5", "5.1234.1", "5.1.1234", "5.a.1", "5.1.b",
                          "5.-1.1", "5.+1.1", "5.1.1.1", "5,1,1", "5 .1.1"}) {
    EXPECT_FALSE(parse_enhanced_status(bad)) << bad;
  }
}

TEST(EnhancedStatus, NoLeadingZeros) {
  // RFC 3463 §2: "Each numeric sub-code within the status-code MUST be expressed without
  // leading zero digits."
  for (const char* bad : {"5.01.1", "5.1.01", "5.00.0", "5.0.00", "5.001.1", "02.1.1"}) {
    EXPECT_FALSE(parse_enhanced_status(bad)) << bad;
  }
  EXPECT_TRUE(parse_enhanced_status("5.10.100"));
}

TEST(EnhancedStatus, WholeViewOnly) {
  for (const char* bad : {"", " 2.0.0", "2.0.0 ", "2.0.0x", "x2.0.0", "2.0.0\r\n", "2.0.0\t"}) {
    EXPECT_FALSE(parse_enhanced_status(bad)) << bad;
  }
}

TEST(EnhancedStatus, ToString) {
  EXPECT_EQ((EnhancedStatus{2, 1, 0}).to_string(), "2.1.0");
  EXPECT_EQ((EnhancedStatus{5, 7, 30}).to_string(), "5.7.30");
  EXPECT_EQ((EnhancedStatus{4, 123, 456}).to_string(), "4.123.456");
  for (const char* s : {"2.0.0", "4.4.7", "5.1.10", "5.999.0"}) {
    auto p = parse_enhanced_status(s);
    ASSERT_TRUE(p) << s;
    EXPECT_EQ(p->to_string(), s);
  }
}

TEST(EnhancedStatusPrefix, FollowedBySpaceOrEnd) {
  auto p = enhanced_status_prefix("5.1.1 User unknown");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, (EnhancedStatus{5, 1, 1}));
  EXPECT_EQ(p->length, 5u);
  p = enhanced_status_prefix("2.0.0");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->length, 5u);
  p = enhanced_status_prefix("4.7.12 A password transition is needed");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, (EnhancedStatus{4, 7, 12}));
  EXPECT_EQ(p->length, 6u);
  p = enhanced_status_prefix("2.0.0  two spaces");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->length, 5u);
}

TEST(EnhancedStatusPrefix, RejectsOtherText) {
  for (const char* bad :
       {"", "Ok", "250 2.0.0", " 2.0.0 Ok", "2.0.0Ok", "2.0.0-Ok", "2.0.0\tOk", "2.0.0.1 x",
        "10.0.0.1 ESMTP", "1.2.3.4", "2.0 Ok", "234 Text beginning with numbers", "3.0.0 go",
        "5.01.1 x", "5.1.1234 x", "6.1.1 x", "5.1.1:x"}) {
    EXPECT_FALSE(enhanced_status_prefix(bad)) << bad;
  }
}

TEST(EnhancedStatusName, Rfc3463Codes) {
  EXPECT_STREQ(enhanced_status_name(0, 0), "Other undefined Status");
  EXPECT_STREQ(enhanced_status_name(1, 0), "Other address status");
  EXPECT_STREQ(enhanced_status_name(1, 1), "Bad destination mailbox address");
  EXPECT_STREQ(enhanced_status_name(1, 6), "Destination mailbox has moved, No forwarding address");
  EXPECT_STREQ(enhanced_status_name(1, 8), "Bad sender's system address");
  EXPECT_STREQ(enhanced_status_name(2, 2), "Mailbox full");
  EXPECT_STREQ(enhanced_status_name(2, 4), "Mailing list expansion problem");
  EXPECT_STREQ(enhanced_status_name(3, 4), "Message too big for system");
  EXPECT_STREQ(enhanced_status_name(3, 5), "System incorrectly configured");
  EXPECT_STREQ(enhanced_status_name(4, 4), "Unable to route");
  EXPECT_STREQ(enhanced_status_name(4, 7), "Delivery time expired");
  EXPECT_STREQ(enhanced_status_name(5, 1), "Invalid command");
  EXPECT_STREQ(enhanced_status_name(5, 5), "Wrong protocol version");
  EXPECT_STREQ(enhanced_status_name(6, 0), "Other or undefined media error");
  EXPECT_STREQ(enhanced_status_name(6, 5), "Conversion Failed");
  EXPECT_STREQ(enhanced_status_name(7, 0), "Other or undefined security status");
  EXPECT_STREQ(enhanced_status_name(7, 1), "Delivery not authorized, message refused");
  EXPECT_STREQ(enhanced_status_name(7, 7), "Message integrity failure");
}

TEST(EnhancedStatusName, LaterRegistrations) {
  EXPECT_STREQ(enhanced_status_name(1, 9), "Message relayed to non-compliant mailer");   // 3886
  EXPECT_STREQ(enhanced_status_name(1, 10), "Recipient address has null MX");            // RFC 7505
  EXPECT_STREQ(enhanced_status_name(3, 6), "Requested priority was changed");            // RFC 6710
  EXPECT_STREQ(enhanced_status_name(5, 6), "Authentication Exchange line is too long");  // 4954
  EXPECT_STREQ(enhanced_status_name(6, 6), "Message content not available");             // RFC 4468
  EXPECT_STREQ(enhanced_status_name(6, 7),
               "Non-ASCII addresses not permitted for that sender/recipient");     // RFC 6531
  EXPECT_STREQ(enhanced_status_name(6, 10), enhanced_status_name(6, 8));           // deprecated dup
  EXPECT_STREQ(enhanced_status_name(7, 8), "Authentication credentials invalid");  // 4954
  EXPECT_STREQ(enhanced_status_name(7, 9), "Authentication mechanism is too weak");
  EXPECT_STREQ(enhanced_status_name(7, 10), "Encryption Needed");  // RFC 5248
  EXPECT_STREQ(enhanced_status_name(7, 11),
               "Encryption required for requested authentication mechanism");
  EXPECT_STREQ(enhanced_status_name(7, 12), "A password transition is needed");
  EXPECT_STREQ(enhanced_status_name(7, 13), "User Account Disabled");
  EXPECT_STREQ(enhanced_status_name(7, 14), "Trust relationship required");
  EXPECT_STREQ(enhanced_status_name(7, 17), "Mailbox owner has changed");  // RFC 7293
  EXPECT_STREQ(enhanced_status_name(7, 23), "SPF validation failed");      // RFC 7372
  EXPECT_STREQ(enhanced_status_name(7, 26), "Multiple authentication checks failed");
  EXPECT_STREQ(enhanced_status_name(7, 27), "Sender address has null MX");   // RFC 7505
  EXPECT_STREQ(enhanced_status_name(7, 29), "ARC validation failure");       // RFC 8617
  EXPECT_STREQ(enhanced_status_name(7, 30), "REQUIRETLS support required");  // RFC 8689
}

TEST(EnhancedStatusName, EveryRegisteredRangeIsDense) {
  // Last registered detail per subject; everything up to it is named, nothing after it.
  const int last[] = {0, 10, 4, 6, 7, 6, 10, 30};
  for (int subject = 0; subject <= 7; ++subject) {
    for (int detail = 0; detail <= last[subject]; ++detail) {
      const char* n = enhanced_status_name(static_cast<std::uint16_t>(subject),
                                           static_cast<std::uint16_t>(detail));
      ASSERT_NE(n, nullptr) << "X." << subject << "." << detail;
      EXPECT_GT(std::string(n).size(), 5u);
    }
    EXPECT_EQ(enhanced_status_name(static_cast<std::uint16_t>(subject),
                                   static_cast<std::uint16_t>(last[subject] + 1)),
              nullptr)
        << "X." << subject;
  }
}

TEST(EnhancedStatusName, UnregisteredCodes) {
  EXPECT_EQ(enhanced_status_name(0, 1), nullptr);
  EXPECT_EQ(enhanced_status_name(8, 0), nullptr);
  EXPECT_EQ(enhanced_status_name(9, 9), nullptr);
  EXPECT_EQ(enhanced_status_name(999, 999), nullptr);
  EXPECT_EQ(enhanced_status_name(7, 999), nullptr);
  EXPECT_EQ(enhanced_status_name(65535, 65535), nullptr);
}

}  // namespace
}  // namespace smtp
