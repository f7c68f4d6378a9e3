/// @file grind.h
/// @brief Run an incremental parser on the same input whole, byte by byte and split at every
///        offset, and check the results agree (Beast's parsegrind, llparse's chunk scan).
///
/// Inputs are copied into exactly-sized heap buffers so ASan catches reads past the end (ada).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace smtp::test {

/// A heap copy of `s` with no slack after the last byte.
class ExactBuffer {
 public:
  explicit ExactBuffer(std::string_view s) : size_(s.size()), data_(new char[s.size() ? s.size() : 1]) {
    if (!s.empty()) std::memcpy(data_.get(), s.data(), s.size());
  }
  [[nodiscard]] std::string_view view() const noexcept { return {data_.get(), size_}; }

 private:
  std::size_t size_;
  std::unique_ptr<char[]> data_;
};

/// Printable form of bytes for event logs: CR as \\r, LF as \\n, other control and 8-bit
/// octets as \\xNN. Shared by the parser tests so their logs read alike.
inline std::string escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string o;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r') {
      o += "\\r";
    } else if (c == '\n') {
      o += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      o += "\\x";
      o += kHex[c >> 4];
      o += kHex[c & 15];
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

/// How an input is split into feeds.
struct Split {
  std::string name;                 ///< "whole", "bytewise", "split@N", "split@N,M"
  std::vector<std::string_view> parts;
};

/// All the splits of `input`: whole, byte by byte, and at every single offset 1..n-1.
inline std::vector<Split> all_splits(std::string_view input) {
  std::vector<Split> out;
  out.push_back({"whole", {input}});
  Split bytes{"bytewise", {}};
  for (std::size_t i = 0; i < input.size(); ++i) bytes.parts.push_back(input.substr(i, 1));
  out.push_back(std::move(bytes));
  for (std::size_t i = 1; i < input.size(); ++i) {
    out.push_back({"split@" + std::to_string(i), {input.substr(0, i), input.substr(i)}});
  }
  return out;
}

/// grind(input, run): `run(parts)` feeds the parts into a fresh parser and returns a
/// comparable summary (e.g. a string log of events). Every split must give the same summary as
/// the whole-input run, and, when given, equal `expected`.
template <class Run>
void grind(std::string_view input, Run run, const std::string* expected = nullptr) {
  ExactBuffer buf(input);
  const auto splits = all_splits(buf.view());
  const auto reference = run(splits.front().parts);
  if (expected != nullptr) {
    EXPECT_EQ(reference, *expected) << "input: " << ::testing::PrintToString(std::string(input));
  }
  for (const auto& s : splits) {
    // Each part in its own exact buffer, so a parser reading past a part's end is caught.
    std::vector<std::unique_ptr<ExactBuffer>> owned;
    std::vector<std::string_view> parts;
    for (auto p : s.parts) {
      owned.push_back(std::make_unique<ExactBuffer>(p));
      parts.push_back(owned.back()->view());
    }
    const auto got = run(parts);
    EXPECT_EQ(got, reference) << "split " << s.name
                              << " of input: " << ::testing::PrintToString(std::string(input));
    if (got != reference) return;  // one failure report per input is enough
  }
}

}  // namespace smtp::test
