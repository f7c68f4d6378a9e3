// Complete in-memory SMTP transactions per second, ClientSession <-> ServerSession (issue 3,
// item 4): EHLO, MAIL, 10 RCPT, DATA of 10 KB, QUIT, each on a fresh pair of sessions, the
// bytes moved between them whole (no sockets, no fragmentation).
//
//   BM_Transaction/pipelined:1/oracle:0   server without Exchange events (as `serve` could run)
//   BM_Transaction/pipelined:1/oracle:1   every server reply judged by ServerModel
//   BM_Transaction/pipelined:0/...        server does not advertise PIPELINING: one command
//                                         per round trip (more pumping, same bytes)
//   BM_ParseOnly                          beside them: the parsers alone (ReplyParser over the
//                                         server's bytes, CommandParser + DataDecoder over the
//                                         client's) on the exact bytes of one transaction
//
// Counters: transactions/s, and bytes/s (client + server bytes of one transaction). The ratio
// BM_Transaction / BM_ParseOnly is the cost of the sessions (state, events, oracle, output)
// over bare parsing; parser_bench reports the parsers against a memchr baseline.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "smtp/client_session.h"
#include "smtp/command.h"
#include "smtp/dot_stuffing.h"
#include "smtp/reply.h"
#include "smtp/server_session.h"

namespace {

using namespace smtp;

std::string make_message() {
  std::string m =
      "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.test>\r\n"
      "Subject: benchmark message\r\nMessage-ID: <bench@example.org>\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  const std::string_view line =
      "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n";
  int i = 0;
  while (m.size() < 10 * 1024) {
    if (++i % 25 == 0) m += ".a line that starts with a dot\r\n";
    m += line;
  }
  return m;
}

const std::string& message() {
  static const std::string m = make_message();
  return m;
}

ServerProfile profile(bool pipelining) {
  ServerProfile p;
  p.users.clear();  // every local part exists
  p.extensions.pipelining = pipelining;
  return p;
}

struct Bytes {
  std::size_t c2s = 0, s2c = 0;
};

// One whole transaction; returns the bytes moved. `recorder`, when set, gets the bytes.
Bytes transaction(bool pipelining, bool oracle, std::string* c2s_out = nullptr,
                  std::string* s2c_out = nullptr, std::string* body_out = nullptr) {
  ServerOptions so;
  so.exchange_events = oracle;
  ServerSession server(profile(pipelining), so);
  ClientSession client;
  (void)client.ehlo("client.example");
  (void)client.mail_from("alice@example.org");
  for (int r = 0; r < 10; ++r) (void)client.rcpt_to("user" + std::to_string(r) + "@example.test");
  (void)client.data(message());
  (void)client.quit();
  Bytes b;
  std::size_t events = 0;
  for (int guard = 0; guard < 1000; ++guard) {
    bool moved = false;
    if (const auto out = server.pending_output(); !out.empty()) {
      b.s2c += out.size();
      if (s2c_out) s2c_out->append(out);
      client.receive(out);
      server.consume_output(out.size());
      moved = true;
    }
    if (const auto out = client.pending_output(); !out.empty()) {
      b.c2s += out.size();
      if (c2s_out) c2s_out->append(out);
      server.receive(out);
      client.consume_output(out.size());
      moved = true;
    }
    while (client.next_event()) ++events;
    while (server.next_event()) ++events;
    if (!moved) break;
  }
  if (body_out) {
    for (const auto& e : client.transcript()) {
      if (e.direction == Direction::sent && e.bytes.size() > 1000) *body_out = e.bytes;
    }
  }
  benchmark::DoNotOptimize(events);
  return b;
}

void BM_Transaction(benchmark::State& state) {
  const bool pipelining = state.range(0) != 0;
  const bool oracle = state.range(1) != 0;
  const Bytes probe = transaction(pipelining, oracle);
  if (probe.s2c == 0 || probe.c2s < message().size()) {
    state.SkipWithError("transaction did not complete");
    return;
  }
  for (auto _ : state) {
    const Bytes b = transaction(pipelining, oracle);
    benchmark::DoNotOptimize(b);
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["transactions/s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(probe.c2s + probe.s2c));
}
BENCHMARK(BM_Transaction)->ArgNames({"pipelined", "oracle"})->ArgsProduct({{1, 0}, {0, 1}});

void BM_ParseOnly(benchmark::State& state) {
  std::string c2s, s2c, body;
  const Bytes probe = transaction(true, false, &c2s, &s2c, &body);
  // Split the client's bytes: command lines, then the DATA body, then the rest (QUIT).
  const std::size_t at = c2s.find(body);
  if (body.empty() || at == std::string::npos) {
    state.SkipWithError("could not find the DATA body");
    return;
  }
  const std::string commands = c2s.substr(0, at) + c2s.substr(at + body.size());
  for (auto _ : state) {
    ReplyParser rp;
    rp.feed(s2c);
    Reply r;
    std::size_t replies = 0;
    while (rp.next(r)) ++replies;
    CommandParser cp;
    cp.feed(commands);
    std::size_t cmds = 0;
    while (cp.next()) ++cmds;
    DataDecoder dd;
    std::string out;
    out.reserve(body.size());
    dd.decode(body, out);
    benchmark::DoNotOptimize(replies);
    benchmark::DoNotOptimize(cmds);
    benchmark::DoNotOptimize(out.data());
  }
  const auto n = static_cast<double>(state.iterations());
  state.counters["transactions/s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(probe.c2s + probe.s2c));
}
BENCHMARK(BM_ParseOnly);

}  // namespace

BENCHMARK_MAIN();
