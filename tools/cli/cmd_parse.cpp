// `smtp-harness parse`: offline decoding of SMTP bytes (see cmd_parse.h for the formats).
#include "cli/cmd_parse.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/parse_log.h"

namespace smtp::cli {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kKinds[] = {"command", "reply", "ehlo", "address", "data"};

std::string dump(const Json& j) {
  // Invalid UTF-8 in parsed text (8-bit bytes on the wire) becomes U+FFFD instead of throwing.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json errors_json(const std::vector<Diagnostic>& errors, std::uint64_t base = 0) {
  Json a = Json::array();
  for (const auto& e : errors) a.push_back(diagnostic_json(e, base));
  return a;
}

Json bad_input(std::uint64_t offset, std::string reason) {
  Json e;
  e["code"] = "bad_input";
  e["offset"] = offset;
  e["reason"] = std::move(reason);
  Json j;
  j["ok"] = false;
  j["errors"] = Json::array({std::move(e)});
  return j;
}

void add_bad_input(Json& j, std::uint64_t offset, std::string reason) {
  Json e;
  e["code"] = "bad_input";
  e["offset"] = offset;
  e["reason"] = std::move(reason);
  j["errors"].push_back(std::move(e));
  j["ok"] = false;
}

bool ends_with_crlf(std::string_view s) {
  return s.size() >= 2 && s[s.size() - 2] == '\r' && s.back() == '\n';
}

void emit(std::string& out, const Json& j) {
  out += dump(j);
  out += '\n';
}

// ---- one unit (--jsonl) ----------------------------------------------------------------------

Json unit_command(std::string_view unit, const log::LogOptions& o) {
  std::string bytes(unit);
  if (!ends_with_crlf(bytes)) bytes += "\r\n";
  CommandParser p(CommandOptions{o.limits, o.lenient, o.smtputf8});
  p.feed(bytes);
  p.feed_eof();
  auto first = p.next();
  if (!first) return bad_input(0, "no command line in the input");
  Json j = command_json(*first);
  if (auto second = p.next()) {
    add_bad_input(j, second->offset, "more than one command line in one --jsonl unit");
  }
  return j;
}

Json unit_reply(std::string_view unit, const log::LogOptions& o, bool ehlo) {
  std::string bytes(unit);
  if (!ends_with_crlf(bytes)) bytes += "\r\n";
  const ReplyParseResult r = parse_reply(bytes, o.limits, o.lenient);
  Json j = ehlo ? ehlo_json(r.reply ? &*r.reply : nullptr, r.errors)
                : reply_json(r.reply ? &*r.reply : nullptr, r.errors);
  if (r.reply && r.consumed < bytes.size()) {
    add_bad_input(j, r.consumed, "bytes after the end of the reply in one --jsonl unit");
  }
  return j;
}

Json unit_address(std::string_view unit, const log::LogOptions& o) {
  return address_json(parse_mailbox(unit, CommandOptions{o.limits, o.lenient, o.smtputf8}),
                      unit.size());
}

Json unit_data(std::string_view unit, const log::LogOptions& o) {
  log::DataLog d(o);
  std::string ignored;
  d.feed(unit, ignored);
  return data_json(d.decoder(), d.message(), d.trailing());
}

Json parse_unit(std::string_view kind, std::string_view unit, const log::LogOptions& o) {
  if (kind == "command") return unit_command(unit, o);
  if (kind == "reply") return unit_reply(unit, o, false);
  if (kind == "ehlo") return unit_reply(unit, o, true);
  if (kind == "address") return unit_address(unit, o);
  return unit_data(unit, o);
}

void run_jsonl(std::string_view kind, std::string_view input, const log::LogOptions& o,
               std::string& out) {
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) nl = input.size();
    const std::string_view line = input.substr(pos, nl - pos);
    const std::uint64_t line_off = pos;
    pos = nl + 1;
    Json value;
    try {
      value = Json::parse(line);
    } catch (const Json::parse_error& e) {
      emit(out, bad_input(line_off + (e.byte > 0 ? e.byte - 1 : 0),
                          std::string("not a JSON value: ") + e.what()));
      continue;
    }
    if (!value.is_string()) {
      emit(out, bad_input(line_off, "expected a JSON string holding the unit's bytes"));
      continue;
    }
    emit(out, parse_unit(kind, value.get_ref<const std::string&>(), o));
  }
}

// ---- byte streams (raw mode) -----------------------------------------------------------------

std::vector<std::string_view> split(std::string_view input, std::size_t chunk) {
  std::vector<std::string_view> parts;
  if (chunk == 0 || chunk >= input.size()) {
    parts.push_back(input);
    return parts;
  }
  for (std::size_t i = 0; i < input.size(); i += chunk) parts.push_back(input.substr(i, chunk));
  return parts;
}

void stream_replies(const std::vector<std::string_view>& parts, const log::LogOptions& o,
                    bool ehlo, std::string& out) {
  ReplyParser p(o.limits, o.lenient);
  bool reported = false;
  auto drain = [&] {
    while (auto r = p.next()) {
      Json j = ehlo ? ehlo_json(&*r, r->findings) : reply_json(&*r, r->findings);
      j["offset"] = r->offset;
      j["length"] = r->wire_size;
      emit(out, j);
    }
    if (p.failed() && !reported) {
      reported = true;
      Json j = ehlo ? ehlo_json(nullptr, {p.diagnostic()}) : reply_json(nullptr, {p.diagnostic()});
      j["offset"] = p.diagnostic().offset;
      j["length"] = nullptr;
      emit(out, j);
    }
  };
  for (const auto part : parts) {
    p.feed(part);
    drain();
  }
  p.feed_eof();
  drain();
}

void stream_commands(const std::vector<std::string_view>& parts, const log::LogOptions& o,
                     std::string& out) {
  CommandParser p(CommandOptions{o.limits, o.lenient, o.smtputf8});
  auto drain = [&] {
    while (auto c = p.next()) {
      Json j = command_json(*c);
      j["offset"] = c->offset;
      j["length"] = c->wire_size;
      emit(out, j);
    }
  };
  for (const auto part : parts) {
    p.feed(part);
    drain();
  }
  p.feed_eof();
  drain();
}

void stream_addresses(std::string_view input, const log::LogOptions& o, std::string& out) {
  const CommandOptions copt{o.limits, o.lenient, o.smtputf8};
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t nl = input.find('\n', pos);
    const bool has_nl = nl != std::string_view::npos;
    if (!has_nl) nl = input.size();
    const std::string_view raw = input.substr(pos, nl - pos);
    const std::string_view s = log::AddressLog::strip_cr(raw);
    const PathResult r = parse_mailbox(s, copt);
    Json j = address_json(r, s.size());
    for (auto& e : j["errors"]) e["offset"] = e["offset"].get<std::uint64_t>() + pos;
    j["offset"] = pos;
    j["length"] = raw.size() + (has_nl ? 1 : 0);
    emit(out, j);
    pos = nl + 1;
  }
}

void stream_data(const std::vector<std::string_view>& parts, const log::LogOptions& o,
                 std::string& out) {
  log::DataLog d(o);
  std::string ignored;
  for (const auto part : parts) d.feed(part, ignored);
  emit(out, data_json(d.decoder(), d.message(), d.trailing()));
}

bool read_all(const std::string& path, std::string& data) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "smtp-harness parse: cannot open %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return false;
  }
  char buf[64 * 1024];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  const bool ok = std::ferror(f) == 0;
  if (!ok) std::fprintf(stderr, "smtp-harness parse: cannot read %s\n", path.c_str());
  if (f != stdin) std::fclose(f);
  return ok;
}

}  // namespace

// ---- JSON builders ---------------------------------------------------------------------------

Json diagnostic_json(const Diagnostic& d, std::uint64_t base) {
  Json j;
  j["code"] = to_string(d.code);
  j["offset"] = base + d.offset;
  j["reason"] = d.reason;
  return j;
}

Json command_json(const Command& c) {
  Json j;
  j["ok"] = c.ok();
  if (c.verb == Verb::unknown) {
    j["verb"] = nullptr;
  } else {
    j["verb"] = std::string(to_string(c.verb));
  }
  j["verb_text"] = c.verb_text;
  if (c.path) {
    j["mailbox"] = c.path->address();
  } else {
    j["mailbox"] = nullptr;
  }
  Json params = Json::object();
  for (const auto& p : c.params) {
    if (params.contains(p.keyword)) continue;  // duplicate: reported in errors; keep the first
    if (p.value) {
      params[p.keyword] = *p.value;
    } else {
      params[p.keyword] = nullptr;
    }
  }
  j["params"] = std::move(params);
  j["argument"] = c.argument;
  if (c.verb == Verb::auth) {
    j["mechanism"] = c.mechanism;
    if (c.initial_response) {
      j["initial_response"] = *c.initial_response;
    } else {
      j["initial_response"] = nullptr;
    }
  }
  if (c.verb == Verb::bdat) {
    j["size"] = c.chunk_size;
    j["last"] = c.last;
  }
  j["errors"] = errors_json(c.errors);
  return j;
}

Json reply_json(const Reply* r, const std::vector<Diagnostic>& errors) {
  Json j;
  j["ok"] = r != nullptr && errors.empty();
  if (r != nullptr) {
    j["code"] = r->code;
    j["lines"] = r->lines;
    if (r->enhanced) {
      j["enhanced"] = r->enhanced->to_string();
    } else {
      j["enhanced"] = nullptr;
    }
  } else {
    j["code"] = nullptr;
    j["lines"] = Json::array();
    j["enhanced"] = nullptr;
  }
  j["errors"] = errors_json(errors);
  return j;
}

Json ehlo_json(const Reply* r, const std::vector<Diagnostic>& errors) {
  Json j;
  if (r == nullptr) {
    j["ok"] = false;
    j["code"] = nullptr;
    j["domain"] = nullptr;
    j["greeting"] = nullptr;
    j["capabilities"] = Json::array();
    j["size"] = nullptr;
    j["auth"] = nullptr;
    j["errors"] = errors_json(errors);
    return j;
  }
  const Capabilities caps = parse_ehlo(*r);
  Json all = errors_json(errors);
  // Capabilities findings are relative to the reply's first byte: make them stream offsets.
  for (const auto& f : caps.findings) all.push_back(diagnostic_json(f, r->offset));
  j["ok"] = all.empty() && r->code == 250;
  j["code"] = r->code;
  j["domain"] = caps.domain;
  j["greeting"] = caps.greeting;
  Json list = Json::array();
  for (const auto& c : caps.list) {
    Json cj;
    cj["keyword"] = c.keyword;
    cj["params"] = c.params;
    list.push_back(std::move(cj));
  }
  j["capabilities"] = std::move(list);
  if (const auto size = caps.size()) {
    j["size"] = *size;
  } else {
    j["size"] = nullptr;
  }
  if (caps.has("AUTH")) {
    j["auth"] = caps.auth_mechanisms();
  } else {
    j["auth"] = nullptr;
  }
  j["errors"] = std::move(all);
  return j;
}

Json address_json(const PathResult& r, std::size_t input_size) {
  Json j;
  Json errors = errors_json(r.errors);
  const bool whole = r.consumed >= input_size;
  j["ok"] = r.path.has_value() && r.errors.empty() && whole;
  if (r.path) {
    j["local_part"] = r.path->local_part;
    j["domain"] = r.path->domain;
    j["address"] = r.path->address();
  } else {
    j["local_part"] = nullptr;
    j["domain"] = nullptr;
    j["address"] = nullptr;
  }
  j["errors"] = std::move(errors);
  if (r.path && r.errors.empty() && !whole) {
    add_bad_input(j, r.consumed, "bytes after the mailbox");
  }
  return j;
}

Json data_json(const DataDecoder& d, std::string_view message, std::uint64_t trailing) {
  Json j;
  j["ok"] = d.done() && !d.ended_by() && d.findings_total() == 0;
  j["message"] = std::string(message);
  j["message_b64"] = base64_encode(message);
  j["complete"] = d.done();
  if (!d.done()) {
    j["ended_by"] = nullptr;
    j["end_offset"] = nullptr;
  } else {
    j["ended_by"] = d.ended_by() ? to_string(*d.ended_by()) : "canonical";
    j["end_offset"] = d.end_offset();
  }
  Json findings = Json::array();
  for (const auto& f : d.findings()) {
    Json fj;
    fj["code"] = to_string(f.code);
    fj["offset"] = f.offset;
    if (f.candidate) {
      fj["candidate"] = to_string(*f.candidate);
    } else {
      fj["candidate"] = nullptr;
    }
    findings.push_back(std::move(fj));
  }
  j["findings"] = std::move(findings);
  j["findings_total"] = d.findings_total();
  j["trailing"] = trailing;
  return j;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = at(i) << 16;
    if (rest == 2) v |= at(i + 1) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// ---- entry points ----------------------------------------------------------------------------

int parse_bytes(const ParseOptions& opt, std::string_view input, std::string& out) {
  if (std::find(std::begin(kKinds), std::end(kKinds), opt.kind) == std::end(kKinds)) {
    return kExitUsage;
  }
  bool names_ok = true;
  log::LogOptions o;
  o.lenient = log::leniency_from_names(opt.allow, &names_ok);
  o.smtputf8 = opt.smtputf8;
  if (!names_ok) return kExitUsage;

  if (opt.jsonl) {
    run_jsonl(opt.kind, input, o, out);
    return kExitOk;
  }
  const auto parts = split(input, opt.chunk);
  if (opt.log) {
    log::run_log(opt.kind, parts, o, out);
    return kExitOk;
  }
  if (opt.kind == "command") {
    stream_commands(parts, o, out);
  } else if (opt.kind == "reply" || opt.kind == "ehlo") {
    stream_replies(parts, o, opt.kind == "ehlo", out);
  } else if (opt.kind == "address") {
    stream_addresses(input, o, out);
  } else {
    stream_data(parts, o, out);
  }
  return kExitOk;
}

int run_parse(const ParseOptions& opt) {
  std::string input;
  if (!read_all(opt.input, input)) return kExitUsage;
  std::string out;
  const int rc = parse_bytes(opt, input, out);
  if (rc != kExitOk) {
    std::fprintf(stderr, "smtp-harness parse: bad kind or tolerance name\n");
    return rc;
  }
  if (!out.empty() && std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) {
    std::fprintf(stderr, "smtp-harness parse: cannot write output\n");
    return kExitUsage;
  }
  std::fflush(stdout);
  return kExitOk;
}

void register_parse(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ParseOptions>();
  CLI::App* sub = app.add_subcommand(
      "parse",
      "Decode SMTP bytes offline with the core parsers: commands, replies, EHLO capabilities,\n"
      "addresses or DATA content, as JSON Lines (one object per unit) or the golden event log.");
  sub->add_option("kind", opt->kind, "what the input holds: command|reply|ehlo|address|data")
      ->required()
      ->check(CLI::IsMember({"command", "reply", "ehlo", "address", "data"}));
  sub->add_option("input", opt->input, "input file, or - for stdin (default)");
  CLI::Option* jsonl = sub->add_flag(
      "--jsonl", opt->jsonl,
      "input is JSON Lines: each line a JSON string with the exact bytes of one unit\n"
      "(command/reply/ehlo units get CRLF appended when they lack it)");
  sub->add_flag("--log", opt->log,
                "print the golden event log (off=N ...) instead of JSON")
      ->excludes(jsonl);
  sub->add_option("--chunk", opt->chunk,
                  "feed the parser N bytes at a time (raw mode; the output must not change)")
      ->check(CLI::PositiveNumber)
      ->excludes(jsonl);
  sub->add_flag("--smtputf8", opt->smtputf8, "accept RFC 6531 UTF-8 addresses (command, address)");
  std::vector<std::string> tolerances;
  for (unsigned i = 0; i < static_cast<unsigned>(Tolerance::count_); ++i) {
    tolerances.emplace_back(to_string(static_cast<Tolerance>(i)));
  }
  std::string names;
  for (const auto& t : tolerances) names += (names.empty() ? "" : ", ") + t;
  sub->add_option("--allow", opt->allow,
                  "accept a tolerance (RISK: see core/include/smtp/leniency.h), repeat or\n"
                  "separate with commas: " + names)
      ->delimiter(',')
      ->allow_extra_args(false)  // one value per --allow, so a FILE after it stays positional
      ->check(CLI::IsMember(tolerances));
  sub->callback([opt, &exit_code] { exit_code = run_parse(*opt); });
}

}  // namespace smtp::cli
