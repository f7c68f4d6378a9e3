// Fuzz target: the dot-stuffing encoder (dot_stuff, DotStuffer) and its round trip through
// DataDecoder (RFC 5321 §4.5.2), exactly as dot_stuffing.h states the law:
//   for every m that is empty or ends in CR LF, decode(dot_stuff(m)) == m; for any other m,
//   decode(dot_stuff(m)) == m + "\r\n".
//
// Input: message bytes m. Invariants:
//  - dot_stuff(m) equals an independent encoder: "." added before every line that starts with
//    "." (line start = start of data or after CR LF), CR LF appended when m is non-empty and
//    does not end in CR LF, then ".\r\n";
//  - DotStuffer gives the same bytes for any split of m (and is reusable after finish());
//  - the stuffed bytes contain the canonical end "\r\n.\r\n" only at their very end (or are
//    exactly ".\r\n" for the empty message): no line of the encoded message ends the data;
//  - DataDecoder, whole and chunked, stops exactly after the encoded bytes even when more
//    (a pipelined command) follows, ended by the canonical terminator, and gives back the
//    message of the law above.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "smtp/dot_stuffing.h"

namespace {

using smtp::fuzz::check_equal;

SMTPH_FUZZ_HARNESS std::string reference_stuff(std::string_view m) {
  std::string out;
  out.reserve(m.size() + m.size() / 8 + 5);
  bool line_start = true;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (line_start && m[i] == '.') out += '.';
    out += m[i];
    line_start = m[i] == '\n' && i > 0 && m[i - 1] == '\r';
  }
  const bool ends_crlf = m.size() >= 2 && m.substr(m.size() - 2) == "\r\n";
  if (!m.empty() && !ends_crlf) out += "\r\n";
  out += ".\r\n";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view m = smtp::fuzz::as_view(data, size);
  const smtp::fuzz::Chunker ch(m);

  const std::string wire = smtp::dot_stuff(m);
  check_equal("dot_stuff vs reference encoder", reference_stuff(m), wire);

  // Incremental encoder, twice on the same object (finish() resets it).
  smtp::DotStuffer stuffer;
  for (int round = 0; round < 2; ++round) {
    std::string chunked;
    ch.split(
        m, [&](std::string_view part) { stuffer.encode(part, chunked); }, [] {});
    stuffer.finish(chunked);
    check_equal("DotStuffer (chunked) vs dot_stuff", wire, chunked);
  }

  // Only the terminator ends the data.
  const std::size_t eod = wire.find("\r\n.\r\n");
  if (wire == ".\r\n") {
    SMTPH_FUZZ_CHECK(m.empty());
  } else {
    SMTPH_FUZZ_CHECK(eod == wire.size() - 5 && wire.compare(0, 3, ".\r\n") != 0);
  }

  const bool ends_crlf = m.size() >= 2 && m.substr(m.size() - 2) == "\r\n";
  std::string expected(m);
  if (!m.empty() && !ends_crlf) expected += "\r\n";

  // Decode the stuffed bytes followed by a pipelined command, whole and chunked.
  const std::string stream = wire + "QUIT\r\n";
  for (const bool chunked : {false, true}) {
    smtp::DataDecoder dec;
    std::string out;
    std::size_t consumed = 0;
    if (chunked) {
      ch.split(
          stream, [&](std::string_view part) { consumed += dec.decode(part, out); }, [] {});
    } else {
      consumed = dec.decode(stream, out);
    }
    SMTPH_FUZZ_CHECK(dec.done() && !dec.ended_by());
    SMTPH_FUZZ_CHECK(consumed == wire.size() && dec.consumed() == wire.size());
    SMTPH_FUZZ_CHECK(dec.end_offset() == (wire.size() == 3 ? 0 : wire.size() - 5));
    check_equal(chunked ? "decode(dot_stuff(m)) (chunked) vs m" : "decode(dot_stuff(m)) vs m",
                expected, out);
  }
  return 0;
}
