// ClientSession <-> ServerSession over an in-memory link that fragments every write at random
// (deterministic seeds), h11's ConnectionPair idea. Delivery must be byte-exact by DATA and by
// BDAT; pipelined and unpipelined runs must end in the same state; STARTTLS resets state; AUTH
// works for every mechanism; every quirk of the reference server is visible on the wire.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "smtp/client_session.h"
#include "smtp/dot_stuffing.h"
#include "smtp/sasl.h"
#include "smtp/server_session.h"

namespace smtp {
namespace {

class Pair {
 public:
  Pair(ServerProfile profile, ClientConfig config, unsigned seed)
      : server(std::move(profile)), client(config), rng_(seed) {}

  /// Move bytes both ways in random fragments until nothing moves.
  void pump() {
    for (int guard = 0; guard < 10'000'000; ++guard) {
      take_output();
      const bool to_server = !c2s_.empty() && (s2c_.empty() || rng_() % 2 == 0);
      if (to_server) {
        const std::size_t n = fragment(c2s_.size());
        server.receive(std::string_view(c2s_).substr(0, n));
        c2s_.erase(0, n);
      } else if (!s2c_.empty()) {
        const std::size_t n = fragment(s2c_.size());
        client.receive(std::string_view(s2c_).substr(0, n));
        s2c_.erase(0, n);
      }
      drain();
      if (server.closed() && s2c_.empty() && server.pending_output().empty() && !client.closed()) {
        client.receive_eof();
        drain();
      }
      take_output();
      if (c2s_.empty() && s2c_.empty()) return;
    }
    ADD_FAILURE() << "pump did not settle";
  }

  template <class T>
  std::vector<T> client_events() const {
    std::vector<T> v;
    for (const auto& e : cev) {
      if (auto* x = std::get_if<T>(&e)) v.push_back(*x);
    }
    return v;
  }
  template <class T>
  std::vector<T> server_events() const {
    std::vector<T> v;
    for (const auto& e : sev) {
      if (auto* x = std::get_if<T>(&e)) v.push_back(*x);
    }
    return v;
  }
  std::vector<int> codes() const {
    std::vector<int> v;
    for (const auto& r : client_events<ReplyEvent>()) v.push_back(r.reply.code);
    return v;
  }
  /// Every byte the client received, in order.
  std::string received() const {
    std::string s;
    for (const auto& e : client.transcript()) {
      if (e.direction == Direction::received) s += e.bytes;
    }
    return s;
  }
  void expect_clean() const {
    for (const auto& v : client_events<Violation>())
      ADD_FAILURE() << "client violation: " << v.text;
    if (!server.profile().quirks.empty()) return;
    for (const auto& x : server_events<Exchange>()) {
      EXPECT_TRUE(x.verdict.ok()) << x.reply.serialize() << ": " << x.verdict.reason;
    }
  }

  ServerSession server;
  ClientSession client;
  std::vector<ClientEvent> cev;
  std::vector<ServerEvent> sev;

 private:
  std::size_t fragment(std::size_t available) {
    const std::size_t cap = rng_() % 3 == 0 ? 300 : 5;
    return 1 + static_cast<std::size_t>(rng_() % std::min(available, cap));
  }
  void take_output() {
    const auto co = client.pending_output();
    c2s_.append(co);
    client.consume_output(co.size());
    const auto so = server.pending_output();
    s2c_.append(so);
    server.consume_output(so.size());
  }
  void drain() {
    while (auto e = server.next_event()) sev.push_back(std::move(*e));
    while (auto e = client.next_event()) {
      const bool tls = std::holds_alternative<TlsRequested>(*e);
      cev.push_back(std::move(*e));
      if (tls) handshake();
    }
  }
  // Both sides agreed on TLS: whatever plaintext was in flight arrives before the handshake.
  void handshake() {
    take_output();
    if (!c2s_.empty()) server.receive(c2s_);
    c2s_.clear();
    if (!s2c_.empty()) client.receive(s2c_);
    s2c_.clear();
    while (auto e = server.next_event()) sev.push_back(std::move(*e));
    server.tls_established();
    client.tls_established();
  }

  std::mt19937 rng_;
  std::string c2s_, s2c_;
};

ServerProfile open_profile() {
  ServerProfile p;
  p.auth_requires_tls = false;
  p.max_message_size = 1 << 20;
  return p;
}

std::string random_message(std::mt19937& rng, std::size_t max) {
  static constexpr char kAlphabet[] = {'.',  '.', '\r', '\n', '\r', '\n',
                                       '\0', 'a', 'b',  ' ',  'x',  '-'};
  std::string m;
  const std::size_t n = rng() % max;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned r = rng() % 16;
    if (r < 12) {
      m += kAlphabet[r];
    } else if (r < 14) {
      m += "\r\n.";
    } else {
      m += static_cast<char>(rng() % 256);
    }
  }
  return m;
}

TEST(SessionPair, AnyMessageArrivesByteExactByData) {
  for (unsigned seed = 1; seed <= 120; ++seed) {
    std::mt19937 rng(seed);
    std::string m = random_message(rng, 2000);
    if (seed % 3 == 0) m += "\r\n";
    if (seed == 1) m.clear();
    if (seed == 2) m = ".\r\n";
    if (seed == 4) m = "\r\n.\r\n";
    Pair p(open_profile(), {}, seed);
    ASSERT_FALSE(p.client.ehlo("client.example"));
    ASSERT_FALSE(p.client.mail_from("sender@remote.example"));
    ASSERT_FALSE(p.client.rcpt_to("alice@example.test"));
    ASSERT_FALSE(p.client.data(m));
    ASSERT_FALSE(p.client.quit());
    p.pump();
    const auto msgs = p.server_events<MessageReceived>();
    ASSERT_EQ(msgs.size(), 1u) << "seed " << seed;
    const bool ends_crlf = m.size() >= 2 && m.substr(m.size() - 2) == "\r\n";
    EXPECT_EQ(msgs[0].data, m.empty() || ends_crlf ? m : m + "\r\n") << "seed " << seed;
    EXPECT_FALSE(msgs[0].ended_by.has_value());
    EXPECT_TRUE(p.client.closed());
    EXPECT_TRUE(p.server.closed());
    EXPECT_EQ(p.codes(), (std::vector<int>{220, 250, 250, 250, 354, 250, 221})) << "seed " << seed;
    p.expect_clean();
  }
}

TEST(SessionPair, AnyMessageArrivesByteExactByBdat) {
  for (unsigned seed = 1; seed <= 120; ++seed) {
    std::mt19937 rng(seed + 1000);
    const std::string m = random_message(rng, 3000);
    Pair p(open_profile(), {}, seed);
    ASSERT_FALSE(p.client.ehlo("client.example"));
    ASSERT_FALSE(p.client.mail_from("sender@remote.example", {{"BODY", "BINARYMIME"}}));
    ASSERT_FALSE(p.client.rcpt_to("alice@example.test"));
    std::size_t pos = 0;
    while (pos < m.size()) {
      const std::size_t n = std::min<std::size_t>(m.size() - pos, 1 + rng() % 700);
      ASSERT_FALSE(p.client.bdat(std::string_view(m).substr(pos, n), false));
      pos += n;
    }
    ASSERT_FALSE(p.client.bdat("", true));
    ASSERT_FALSE(p.client.quit());
    p.pump();
    const auto msgs = p.server_events<MessageReceived>();
    ASSERT_EQ(msgs.size(), 1u) << "seed " << seed;
    EXPECT_EQ(msgs[0].data, m) << "seed " << seed;
    EXPECT_TRUE(msgs[0].bdat);
    EXPECT_TRUE(p.client.closed());
    p.expect_clean();
  }
}

struct Outcome {
  std::vector<int> codes;
  std::vector<std::string> messages;
  std::vector<std::size_t> recipients;
  Phase client_phase;
  SessionFlags client_flags;
  Phase server_phase;
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

Outcome run_conversation(bool server_pipelining, PipelineMode mode, unsigned seed) {
  ServerProfile prof = open_profile();
  prof.extensions.pipelining = server_pipelining;
  ClientConfig cfg;
  cfg.pipelining = mode;
  Pair p(prof, cfg, seed);
  EXPECT_FALSE(p.client.ehlo("client.example"));
  for (int tx = 0; tx < 3; ++tx) {
    EXPECT_FALSE(p.client.mail_from(tx == 1 ? "" : "s@remote.example"));
    EXPECT_FALSE(p.client.rcpt_to("alice@example.test"));
    EXPECT_FALSE(p.client.rcpt_to("nobody@example.test"));  // 550
    EXPECT_FALSE(p.client.rcpt_to("bob@example.test"));
    EXPECT_FALSE(p.client.rcpt_to("x@remote.example"));  // relay denied
    if (tx == 2) {
      EXPECT_FALSE(p.client.bdat("chunk one\r\n", false));
      EXPECT_FALSE(p.client.bdat(".two\r\n", true));
    } else {
      EXPECT_FALSE(p.client.data("Subject: " + std::to_string(tx) + "\r\n\r\n.body\r\n"));
    }
    EXPECT_FALSE(p.client.noop());
  }
  EXPECT_FALSE(p.client.vrfy("alice"));
  EXPECT_FALSE(p.client.rset());
  EXPECT_FALSE(p.client.help());
  p.pump();
  Outcome o;
  o.codes = p.codes();
  for (const auto& m : p.server_events<MessageReceived>()) {
    o.messages.push_back(m.data);
    o.recipients.push_back(m.envelope.recipients.size());
  }
  o.client_phase = p.client.phase();
  o.client_flags = p.client.flags();
  o.server_phase = p.server.phase();
  p.expect_clean();
  return o;
}

TEST(SessionPair, PipelinedAndUnpipelinedEndInTheSameState) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    const Outcome piped = run_conversation(true, PipelineMode::rfc2920, seed);
    const Outcome unpiped = run_conversation(false, PipelineMode::rfc2920, seed);
    const Outcome never = run_conversation(true, PipelineMode::never, seed);
    EXPECT_EQ(piped, unpiped) << "seed " << seed;
    EXPECT_EQ(piped, never) << "seed " << seed;
    ASSERT_EQ(piped.messages.size(), 3u);
    EXPECT_EQ(piped.messages[0], "Subject: 0\r\n\r\n.body\r\n");
    EXPECT_EQ(piped.messages[2], "chunk one\r\n.two\r\n");
    EXPECT_EQ(piped.recipients, (std::vector<std::size_t>{2, 2, 2}));
    EXPECT_EQ(piped.client_phase, Phase::ready);
    EXPECT_EQ(piped.server_phase, Phase::ready);
  }
}

TEST(SessionPair, PipeliningReallyPipelines) {
  // With PIPELINING, the server sees several commands per client write; without, one.
  ServerProfile prof = open_profile();
  Pair p(prof, {}, 7);
  ASSERT_FALSE(p.client.ehlo("c.example"));
  p.pump();
  ASSERT_FALSE(p.client.mail_from("a@b.example"));
  ASSERT_FALSE(p.client.rcpt_to("alice@example.test"));
  ASSERT_FALSE(p.client.rcpt_to("bob@example.test"));
  EXPECT_EQ(p.client.in_flight(), 3u);
  prof.extensions.pipelining = false;
  Pair q(prof, {}, 7);
  ASSERT_FALSE(q.client.ehlo("c.example"));
  q.pump();
  ASSERT_FALSE(q.client.mail_from("a@b.example"));
  ASSERT_FALSE(q.client.rcpt_to("alice@example.test"));
  EXPECT_EQ(q.client.in_flight(), 1u);
}

TEST(SessionPair, StartTlsResetsStateOnBothSides) {
  for (unsigned seed = 1; seed <= 10; ++seed) {
    Pair p({}, {}, seed);  // default profile: AUTH only after TLS
    ASSERT_FALSE(p.client.ehlo("client.example"));
    p.pump();
    EXPECT_FALSE(p.client.capabilities()->auth("PLAIN"));
    EXPECT_EQ(p.client.auth("PLAIN", {"", "alice", "wonderland", ""}),
              make_error_code(errc::out_of_sequence));  // not advertised
    ASSERT_FALSE(p.client.starttls());
    ASSERT_FALSE(p.client.ehlo("client.example"));
    p.pump();
    EXPECT_EQ(p.client_events<TlsRequested>().size(), 1u);
    EXPECT_EQ(p.server_events<TlsWanted>().size(), 1u);
    EXPECT_TRUE(p.client.flags().tls);
    EXPECT_TRUE(p.server.flags().tls);
    EXPECT_EQ(p.client.phase(), Phase::ready);
    EXPECT_EQ(p.server.phase(), Phase::ready);
    ASSERT_TRUE(p.client.capabilities().has_value());
    EXPECT_FALSE(p.client.capabilities()->starttls());
    EXPECT_TRUE(p.client.capabilities()->auth("CRAM-MD5"));
    ASSERT_FALSE(p.client.auth("PLAIN", {"", "alice", "wonderland", ""}));
    ASSERT_FALSE(p.client.mail_from("alice@example.test"));
    ASSERT_FALSE(p.client.rcpt_to("friend@remote.example"));  // relay after AUTH
    ASSERT_FALSE(p.client.data("hi\r\n"));
    ASSERT_FALSE(p.client.quit());
    p.pump();
    const auto msgs = p.server_events<MessageReceived>();
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_TRUE(msgs[0].envelope.tls);
    EXPECT_EQ(msgs[0].envelope.auth_user, "alice");
    p.expect_clean();
  }
}

TEST(SessionPair, AuthEveryMechanism) {
  for (const char* mech : {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"}) {
    for (const bool good : {true, false}) {
      for (const bool ir : {true, false}) {
        Pair p(open_profile(), {}, 3);
        ASSERT_FALSE(p.client.ehlo("c.example"));
        AuthOptions o;
        o.initial_response = ir;
        const std::string secret = good ? "wonderland" : "not-the-password";
        ASSERT_FALSE(p.client.auth(mech, {"", "alice", secret, secret}, o)) << mech;
        p.pump();
        EXPECT_EQ(p.client.flags().authenticated, good) << mech;
        EXPECT_EQ(p.server.flags().authenticated, good) << mech;
        EXPECT_EQ(p.client.phase(), Phase::ready) << mech;
        EXPECT_EQ(p.codes().back(), good ? 235 : 535) << mech;
        const auto results = p.server_events<AuthResult>();
        ASSERT_EQ(results.size(), 1u) << mech;
        EXPECT_EQ(results[0].success, good);
        EXPECT_EQ(results[0].mechanism, mech);
        // The secret never reaches the transcript.
        for (const auto& e : p.client.transcript()) {
          EXPECT_EQ(e.bytes.find(secret), std::string::npos) << mech;
          EXPECT_EQ(e.bytes.find(base64_encode(secret)), std::string::npos) << mech;
          EXPECT_EQ(e.bytes.find(base64_encode(sasl_plain("", "alice", secret))),
                    std::string::npos);
        }
        p.expect_clean();
      }
    }
  }
}

TEST(SessionPair, AuthLongCredentials) {
  // The initial response would make a line over 512 octets: the client sends it after the
  // empty challenge instead, and the server accepts responses up to 12288 octets.
  ServerProfile prof = open_profile();
  const std::string pw(2000, 'k');
  prof.auth_users.push_back({"carol", pw});
  Pair p(prof, {}, 4);
  ASSERT_FALSE(p.client.ehlo("c.example"));
  ASSERT_FALSE(p.client.auth("PLAIN", {"", "carol", pw, ""}));
  p.pump();
  EXPECT_EQ(p.codes(), (std::vector<int>{220, 250, 334, 235}));
  EXPECT_TRUE(p.server.flags().authenticated);
  p.expect_clean();
}

TEST(SessionPair, AuthCancelGets501) {
  Pair p(open_profile(), {}, 5);
  ASSERT_FALSE(p.client.ehlo("c.example"));
  AuthOptions o;
  o.manual = true;
  ASSERT_FALSE(p.client.auth("LOGIN", {}, o));
  p.pump();
  ASSERT_EQ(p.client_events<AuthChallenge>().size(), 1u);
  EXPECT_EQ(p.client_events<AuthChallenge>()[0].decoded, "Username:");
  ASSERT_FALSE(p.client.auth_cancel());
  p.pump();
  EXPECT_EQ(p.codes().back(), 501);
  EXPECT_TRUE(p.client_events<ReplyEvent>().back().sasl_cancelled);
  EXPECT_EQ(p.server.phase(), Phase::ready);
  EXPECT_FALSE(p.server.flags().authenticated);
  p.expect_clean();
  // A later AUTH succeeds.
  ASSERT_FALSE(p.client.auth("LOGIN", {"", "alice", "wonderland", ""}));
  p.pump();
  EXPECT_EQ(p.codes().back(), 235);
}

TEST(SessionPair, EveryCommandInScope) {
  ServerProfile prof = open_profile();
  prof.extensions.etrn = true;
  ClientConfig cfg;
  cfg.enforce_sequence = false;
  cfg.enforce_capabilities = false;
  Pair p(prof, cfg, 11);
  ASSERT_FALSE(p.client.helo("c.example"));
  ASSERT_FALSE(p.client.ehlo("c.example"));
  ASSERT_FALSE(p.client.mail_from("a@b.example"));
  ASSERT_FALSE(p.client.rcpt_to("alice@example.test"));
  ASSERT_FALSE(p.client.data("m\r\n"));
  ASSERT_FALSE(p.client.mail_from("a@b.example"));
  ASSERT_FALSE(p.client.rcpt_to("alice@example.test"));
  ASSERT_FALSE(p.client.bdat("b", true));
  ASSERT_FALSE(p.client.rset());
  ASSERT_FALSE(p.client.vrfy("alice"));
  ASSERT_FALSE(p.client.expn("staff"));
  ASSERT_FALSE(p.client.help("MAIL"));
  ASSERT_FALSE(p.client.noop("x"));
  ASSERT_FALSE(p.client.etrn("example.test"));
  ASSERT_FALSE(p.client.atrn());
  ASSERT_FALSE(p.client.turn());
  ASSERT_FALSE(p.client.send_from("a@b.example"));
  ASSERT_FALSE(p.client.soml_from("a@b.example"));
  ASSERT_FALSE(p.client.saml_from("a@b.example"));
  ASSERT_FALSE(p.client.auth("PLAIN", {"", "alice", "wonderland", ""}));
  ASSERT_FALSE(p.client.starttls());
  ASSERT_FALSE(p.client.ehlo("c.example"));
  ASSERT_FALSE(p.client.quit());
  p.pump();
  EXPECT_EQ(p.codes(),
            (std::vector<int>{220, 250, 250, 250, 250, 354, 250, 250, 250, 250, 250, 252, 502,
                              214, 250, 250, 502, 502, 502, 502, 502, 235, 220, 250, 221}));
  EXPECT_EQ(p.server_events<MessageReceived>().size(), 2u);
  EXPECT_TRUE(p.client.closed());
  p.expect_clean();
}

// ---- each quirk is visible on the wire ------------------------------------------------------

using Script = void (*)(Pair&);

void eod_script(Pair& p, EodCandidate c) {
  (void)p.client.ehlo("c.example");
  (void)p.client.mail_from("a@b.example");
  (void)p.client.rcpt_to("alice@example.test");
  (void)p.client.data_raw("a" + std::string(eod_bytes(c)) + "NOOP\r\n.\r\n");
  p.pump();
}

TEST(SessionPair, EveryQuirkIsObservable) {
  struct Case {
    Quirk quirk;
    std::function<void(Pair&)> script;
  };
  std::vector<Case> cases;
  for (std::size_t i = 0; i < kEodCandidateCount; ++i) {
    const auto c = static_cast<EodCandidate>(i);
    // "\r\r\n.\r\n" contains CRLF.CRLF: it ends data on a strict server too, so accepting it
    // is not observable.
    if (c == EodCandidate::cr_crlf_dot_crlf) continue;
    cases.push_back({static_cast<Quirk>(i), [c](Pair& p) { eod_script(p, c); }});
  }
  cases.push_back({Quirk::accept_any_eod, [](Pair& p) { eod_script(p, EodCandidate::lf_dot_lf); }});
  cases.push_back({Quirk::skip_sequence_checks, [](Pair& p) {
                     (void)p.client.ehlo("c.example");
                     (void)p.client.rcpt_to("alice@example.test");
                     p.pump();
                   }});
  cases.push_back({Quirk::reply_502_everything, [](Pair& p) {
                     (void)p.client.noop();
                     p.pump();
                   }});
  cases.push_back({Quirk::keep_transaction_across_starttls, [](Pair& p) {
                     (void)p.client.ehlo("c.example");
                     (void)p.client.mail_from("a@b.example");
                     (void)p.client.starttls();
                     (void)p.client.rcpt_to("alice@example.test");
                     p.pump();
                   }});
  cases.push_back({Quirk::starttls_plaintext_injection, [](Pair& p) {
                     (void)p.client.ehlo("c.example");
                     p.pump();
                     (void)p.client.starttls();
                     p.client.send_raw("NOOP\r\n", 1);  // pipelined plaintext after STARTTLS
                     p.pump();
                   }});
  cases.push_back({Quirk::accept_bare_lf, [](Pair& p) {
                     p.client.send_raw("NOOP\nNOOP\r\n", 1);
                     p.pump();
                   }});
  cases.push_back({Quirk::no_421_on_shutdown, [](Pair& p) {
                     (void)p.client.ehlo("c.example");
                     p.pump();
                     p.server.shutdown();
                     p.pump();
                   }});
  cases.push_back({Quirk::wrong_multiline_code, [](Pair& p) {
                     (void)p.client.ehlo("c.example");
                     p.pump();
                   }});
  cases.push_back({Quirk::advertise_auth_before_tls, [](Pair& p) {
                     (void)p.client.ehlo("c.example");
                     p.pump();
                   }});
  cases.push_back({Quirk::open_relay, [](Pair& p) {
                     (void)p.client.ehlo("c.example");
                     (void)p.client.mail_from("a@b.example");
                     (void)p.client.rcpt_to("victim@remote.example");
                     p.pump();
                   }});
  cases.push_back({Quirk::vrfy_leaks_users, [](Pair& p) {
                     (void)p.client.vrfy("mallory");
                     p.pump();
                   }});
  ClientConfig cfg;
  cfg.enforce_sequence = false;
  cfg.enforce_capabilities = false;
  std::vector<bool> covered(static_cast<std::size_t>(Quirk::count_), false);
  for (const Case& c : cases) {
    ServerProfile quirky;
    quirky.quirks.set(c.quirk);
    Pair strict_pair({}, cfg, 1);
    Pair quirk_pair(quirky, cfg, 1);
    c.script(strict_pair);
    c.script(quirk_pair);
    EXPECT_NE(strict_pair.received(), quirk_pair.received()) << to_string(c.quirk);
    covered[static_cast<std::size_t>(c.quirk)] = true;
  }
  for (std::size_t i = 0; i < covered.size(); ++i) {
    if (static_cast<Quirk>(i) == Quirk::accept_cr_crlf_dot_crlf) continue;
    EXPECT_TRUE(covered[i]) << to_string(static_cast<Quirk>(i)) << " has no observability case";
  }
}

TEST(SessionPair, ClientSeesSmugglingServerAcceptEarly) {
  // The client's view of accept-lf-dot-lf: the end-of-data reply arrives right after the
  // smuggled sequence, and the smuggled command's reply is unsolicited.
  ServerProfile prof;
  prof.quirks.set(Quirk::accept_lf_dot_lf);
  Pair p(prof, {}, 9);
  ASSERT_FALSE(p.client.ehlo("c.example"));
  ASSERT_FALSE(p.client.mail_from("a@b.example"));
  ASSERT_FALSE(p.client.rcpt_to("alice@example.test"));
  ASSERT_FALSE(p.client.data_raw("x\n.\nNOOP\r\n"));
  p.pump();
  const auto msgs = p.server_events<MessageReceived>();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].ended_by, EodCandidate::lf_dot_lf);
  EXPECT_EQ(p.client_events<ReplyEvent>().back().reply.code, 250);
  bool unsolicited = false;
  for (const auto& v : p.client_events<Violation>())
    unsolicited |= v.code == errc::unsolicited_reply;
  EXPECT_TRUE(unsolicited);
}

}  // namespace
}  // namespace smtp
