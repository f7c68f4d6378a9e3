// Parser throughput over realistic recorded sessions, each beside a memchr line-scan baseline
// over the same buffer in the same run (issue 2, item 6).
//
// The buffers (~4 MiB each) are built in memory at start-up from core/bench/data/ (see its
// README.md): server replies and client commands from recorded swaks transcripts of six real
// servers plus pipelined transactions, and a realistic multipart message. Every benchmark feeds
// its buffer in 64 KiB chunks, as a socket reader would.
//
//   BM_ReplyParser      / BM_MemchrLines_ReplyParser       replies of the sessions
//   BM_CommandParser    / BM_MemchrLines_CommandParser     commands of the sessions
//   BM_DataDecoder      / BM_MemchrLines_DataDecoder       dot-stuffed DATA wire bytes
//   BM_DotStuffEncoder  / BM_MemchrLines_DotStuffEncoder   message bytes (before stuffing)
//
// The reply and command loops use next(Reply&) / next(Command&), the allocation-free form a
// client or server loop uses. scripts/bench.sh prints each parser's bytes/s as a ratio of its
// baseline.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/command.h"
#include "smtp/dot_stuffing.h"
#include "smtp/reply.h"

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kTarget = 4 * 1024 * 1024;

fs::path data_dir() {
  if (const char* env = std::getenv("SMTPH_BENCH_DATA")) return env;
  return fs::path(__FILE__).parent_path() / "data";
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "parser_bench: cannot read %s\n", p.string().c_str());
    std::exit(2);
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string lf_to_crlf(std::string_view s) {
  std::string o;
  o.reserve(s.size() + s.size() / 40);
  for (const char c : s) {
    if (c == '\n') o += '\r';
    o += c;
  }
  return o;
}

// Deterministic pseudo-random bytes (xorshift64), base64 with 76-column CRLF lines.
std::string synthetic_attachment(std::size_t bytes) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  std::string raw(bytes, '\0');
  for (auto& c : raw) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x & 0xff);
  }
  std::string out;
  std::size_t col = 0;
  for (std::size_t i = 0; i + 3 <= raw.size(); i += 3) {
    const auto b = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(raw[k])); };
    const std::uint32_t v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
    col += 4;
    if (col == 76) {
      out += "\r\n";
      col = 0;
    }
  }
  if (col != 0) out += "\r\n";
  return out;
}

struct Corpus {
  std::string replies;   // server bytes
  std::string commands;  // client command lines
  std::string message;   // messages back to back (CRLF, not stuffed)
  std::vector<std::size_t> message_sizes;
  std::string wire;      // each message dot-stuffed, back to back
  std::size_t reply_count = 0;
  std::size_t command_count = 0;
  std::size_t message_count = 0;
};

void replicate(std::string& buf, std::size_t& count) {
  const std::string unit = buf;
  const std::size_t unit_count = count;
  if (unit.empty()) return;
  while (buf.size() < kTarget) {
    buf += unit;
    count += unit_count;
  }
}

Corpus build_corpus() {
  Corpus c;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(data_dir() / "ehlo")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  files.push_back(data_dir() / "transactions.txt");

  std::string replies, commands;
  std::size_t reply_count = 0, command_count = 0;
  for (const auto& f : files) {
    std::istringstream in(read_file(f));
    std::string line;
    while (std::getline(in, line)) {
      if (line.size() < 4) continue;
      const std::string_view prefix(line.data(), 4);
      const std::string text = line.substr(4);
      if (prefix == "<-  " || prefix == "<~  ") {
        replies += text + "\r\n";
        // A reply ends with a line "NNN" or "NNN SP ...".
        if (text.size() == 3 || (text.size() > 3 && text[3] == ' ')) ++reply_count;
      } else if (prefix == " -> " || prefix == " ~> ") {
        commands += text + "\r\n";
        ++command_count;
      }
    }
  }
  c.replies = replies;
  c.reply_count = reply_count;
  replicate(c.replies, c.reply_count);
  c.commands = commands;
  c.command_count = command_count;
  replicate(c.commands, c.command_count);

  const std::string eml = lf_to_crlf(read_file(data_dir() / "message.eml"));
  const std::string marker = "@@ATTACHMENT@@\r\n";
  const auto at = eml.find(marker);
  if (at == std::string::npos) {
    std::fprintf(stderr, "parser_bench: message.eml has no @@ATTACHMENT@@ line\n");
    std::exit(2);
  }
  const std::string with =
      eml.substr(0, at) + synthetic_attachment(48 * 1024) + eml.substr(at + marker.size());
  const std::string without = eml.substr(0, at) + eml.substr(at + marker.size());
  while (c.message.size() < kTarget) {
    for (const std::string* m : {&with, &without}) {
      c.message += *m;
      c.message_sizes.push_back(m->size());
      c.wire += smtp::dot_stuff(*m);
    }
  }
  c.message_count = c.message_sizes.size();
  return c;
}

const Corpus& corpus() {
  static const Corpus c = build_corpus();
  return c;
}

// ---- baseline --------------------------------------------------------------------------------

// Count LF-terminated lines with memchr, 64 KiB at a time: the floor any line parser pays.
std::size_t memchr_lines(std::string_view buf) {
  std::size_t lines = 0;
  for (std::size_t off = 0; off < buf.size(); off += kChunk) {
    const std::size_t n = std::min(kChunk, buf.size() - off);
    const char* p = buf.data() + off;
    const char* const end = p + n;
    while (p < end) {
      const void* hit = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
      if (hit == nullptr) break;
      ++lines;
      p = static_cast<const char*>(hit) + 1;
    }
  }
  return lines;
}

void run_memchr(benchmark::State& state, const std::string& buf) {
  std::size_t lines = 0;
  for (auto _ : state) {
    const std::size_t n = memchr_lines(buf);
    benchmark::DoNotOptimize(n);
    lines += n;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(buf.size()));
  state.counters["lines/s"] =
      benchmark::Counter(static_cast<double>(lines), benchmark::Counter::kIsRate);
  state.counters["MB"] = static_cast<double>(buf.size()) / 1e6;
}

void set_rate(benchmark::State& state, std::size_t bytes, const char* unit, std::size_t units) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(bytes));
  state.counters[unit] = benchmark::Counter(static_cast<double>(units), benchmark::Counter::kIsRate);
  state.counters["MB"] = static_cast<double>(bytes) / 1e6;
}

// ---- parsers ---------------------------------------------------------------------------------

struct ReplyRun {
  std::size_t replies = 0;
  bool failed = false;
};

ReplyRun reply_pass(std::string_view buf) {
  ReplyRun r;
  smtp::ReplyParser p;
  smtp::Reply reply;  // reused: next(Reply&) keeps the capacity of its strings
  for (std::size_t off = 0; off < buf.size(); off += kChunk) {
    p.feed(buf.substr(off, kChunk));
    while (p.next(reply)) {
      benchmark::DoNotOptimize(reply.code);
      ++r.replies;
    }
  }
  p.feed_eof();
  while (p.next(reply)) ++r.replies;
  r.failed = p.failed();
  return r;
}

void BM_ReplyParser(benchmark::State& state) {
  const Corpus& c = corpus();
  const ReplyRun check = reply_pass(c.replies);
  if (check.failed || check.replies != c.reply_count) {
    state.SkipWithError("ReplyParser rejected the recorded replies or miscounted them");
    return;
  }
  std::size_t units = 0;
  for (auto _ : state) units += reply_pass(c.replies).replies;
  set_rate(state, c.replies.size(), "replies/s", units);
}

void BM_MemchrLines_ReplyParser(benchmark::State& state) { run_memchr(state, corpus().replies); }

struct CommandRun {
  std::size_t commands = 0;
  std::size_t invalid = 0;
};

CommandRun command_pass(std::string_view buf) {
  CommandRun r;
  smtp::CommandParser p;
  smtp::Command cmd;  // reused: next(Command&) keeps the storage of its strings and vectors
  for (std::size_t off = 0; off < buf.size(); off += kChunk) {
    p.feed(buf.substr(off, kChunk));
    while (p.next(cmd)) {
      benchmark::DoNotOptimize(cmd.verb);
      ++r.commands;
      r.invalid += cmd.ok() ? 0u : 1u;
    }
  }
  p.feed_eof();
  while (p.next(cmd)) ++r.commands;
  return r;
}

void BM_CommandParser(benchmark::State& state) {
  const Corpus& c = corpus();
  const CommandRun check = command_pass(c.commands);
  if (check.invalid != 0 || check.commands != c.command_count) {
    state.SkipWithError("CommandParser rejected recorded commands or miscounted them");
    return;
  }
  std::size_t units = 0;
  for (auto _ : state) units += command_pass(c.commands).commands;
  set_rate(state, c.commands.size(), "commands/s", units);
}

void BM_MemchrLines_CommandParser(benchmark::State& state) {
  run_memchr(state, corpus().commands);
}

struct DataRun {
  std::size_t messages = 0;
  std::size_t out_bytes = 0;
  std::uint64_t findings = 0;
};

// The decoder over the wire bytes, 64 KiB at a time; after each end of data the rest of the
// chunk starts the next message (as after a pipelined MAIL ... DATA).
DataRun data_pass(std::string_view buf, std::string& out) {
  DataRun r;
  smtp::DataDecoder d;
  for (std::size_t off = 0; off < buf.size(); off += kChunk) {
    std::string_view chunk = buf.substr(off, kChunk);
    while (!chunk.empty()) {
      const std::size_t n = d.decode(chunk, out);
      chunk.remove_prefix(n);
      if (d.done()) {
        ++r.messages;
        r.findings += d.findings_total();
        r.out_bytes += out.size();
        out.clear();
        d.reset();
      } else if (n == 0) {
        break;  // defensive: a decoder that takes nothing and is not done
      }
    }
  }
  r.out_bytes += out.size();
  out.clear();
  return r;
}

void BM_DataDecoder(benchmark::State& state) {
  const Corpus& c = corpus();
  std::string out;
  out.reserve(256 * 1024);
  const DataRun check = data_pass(c.wire, out);
  if (check.messages != c.message_count || check.out_bytes != c.message.size() ||
      check.findings != 0) {
    state.SkipWithError("DataDecoder did not reproduce the recorded messages");
    return;
  }
  std::size_t units = 0;
  for (auto _ : state) units += data_pass(c.wire, out).messages;
  set_rate(state, c.wire.size(), "messages/s", units);
}

void BM_MemchrLines_DataDecoder(benchmark::State& state) { run_memchr(state, corpus().wire); }

std::size_t encode_pass(const Corpus& c, std::string& out) {
  out.clear();
  std::size_t off = 0;
  for (const std::size_t size : c.message_sizes) {
    smtp::DotStuffer s;
    for (std::size_t i = 0; i < size; i += kChunk) {
      s.encode(std::string_view(c.message).substr(off + i, std::min(kChunk, size - i)), out);
    }
    s.finish(out);
    off += size;
  }
  return c.message_sizes.size();
}

void BM_DotStuffEncoder(benchmark::State& state) {
  const Corpus& c = corpus();
  std::string out;
  out.reserve(c.wire.size() + 1024);
  encode_pass(c, out);
  if (out != c.wire) {
    state.SkipWithError("DotStuffer disagrees with dot_stuff() on the recorded messages");
    return;
  }
  std::size_t units = 0;
  for (auto _ : state) {
    units += encode_pass(c, out);
    benchmark::DoNotOptimize(out.data());
  }
  set_rate(state, c.message.size(), "messages/s", units);
}

void BM_MemchrLines_DotStuffEncoder(benchmark::State& state) {
  run_memchr(state, corpus().message);
}

BENCHMARK(BM_ReplyParser);
BENCHMARK(BM_MemchrLines_ReplyParser);
BENCHMARK(BM_CommandParser);
BENCHMARK(BM_MemchrLines_CommandParser);
BENCHMARK(BM_DataDecoder);
BENCHMARK(BM_MemchrLines_DataDecoder);
BENCHMARK(BM_DotStuffEncoder);
BENCHMARK(BM_MemchrLines_DotStuffEncoder);

}  // namespace

BENCHMARK_MAIN();
