#include "scenario/load.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include <re2/re2.h>

#include "scenario/json_schema.h"
#include "scenario/json_source.h"

namespace smtp::scenario {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

/// Syntax + schema check of one document; errors appended with positions.
void check_document(const JsonDocument& doc, std::string_view file, std::string_view schema_name,
                    const fs::path& schema_dir, std::vector<LoadError>& errors) {
  const std::string f(file);
  if (!doc.ok()) {
    for (const JsonIssue& issue : doc.issues()) {
      const SourceLocation loc = doc.locate(issue.offset);
      errors.push_back({f, loc.line, loc.column, issue.pointer, issue.message});
    }
    return;
  }
  const auto schema = JsonSchema::named(schema_name, schema_dir);
  if (!schema) {
    errors.push_back({f, 0, 0, "", schema.error()});
    return;
  }
  for (const SchemaViolation& v : (*schema)->validate(doc.value())) {
    const SourceLocation loc =
        v.at_key ? doc.key_location(v.pointer) : doc.value_location(v.pointer);
    errors.push_back({f, loc.line, loc.column, v.pointer, v.message});
  }
}

/// Builds a Scenario from a schema-valid document, adding semantic errors.
class ScenarioBuilder {
 public:
  ScenarioBuilder(const JsonDocument& doc, std::string file, const std::set<std::string>& vars,
                  std::vector<LoadError>& errors)
      : doc_(doc), file_(std::move(file)), vars_(vars), errors_(errors) {}

  Scenario build() {
    const json& v = doc_.value();
    Scenario s;
    s.file = file_;
    s.id = v.at("id").get<std::string>();
    const SourceLocation id_loc = doc_.value_location("/id");
    s.line = id_loc.line;
    s.column = id_loc.column;
    s.title = v.at("title").get<std::string>();
    s.rfc = v.at("rfc").get<std::string>();
    s.requirement = v.at("requirement").get<std::string>();
    s.level = parse_level(v.at("level").get<std::string>()).value_or(Level::must);
    if (v.contains("tags")) s.tags = v["tags"].get<std::vector<std::string>>();
    if (v.contains("requires")) s.prerequisites = v["requires"].get<std::vector<std::string>>();
    if (v.contains("tls")) {
      for (const json& m : v["tls"]) {
        s.tls.push_back(parse_tls_mode(m.get<std::string>()).value_or(TlsMode::none));
      }
    }
    if (v.contains("timeout_ms")) s.timeout_ms = v["timeout_ms"].get<std::uint32_t>();
    if (v.contains("oracle")) {
      const std::string o = v["oracle"].get<std::string>();
      s.oracle = o == "check" ? OracleMode::check : o == "off" ? OracleMode::off : OracleMode::warn;
    }
    if (v.contains("notes")) s.notes = v["notes"].get<std::string>();
    const json& steps = v.at("steps");
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const std::string pointer = "/steps/" + std::to_string(i);
      const json& step = steps[i];
      const std::string key = step.begin().key();
      Step out;
      out.pointer = pointer;
      const SourceLocation loc = doc_.value_location(pointer);
      out.line = loc.line;
      out.column = loc.column;
      out.action = build_step(key, step.begin().value(), pointer + "/" + key);
      s.steps.push_back(std::move(out));
    }
    check_step_order(s);
    return s;
  }

 private:
  void error(const std::string& pointer, std::string message) {
    const SourceLocation loc = doc_.value_location(pointer);
    errors_.push_back({file_, loc.line, loc.column, pointer, std::move(message)});
  }
  void error_in_string(const std::string& pointer, std::size_t index, std::string message) {
    const SourceLocation loc = doc_.string_location(pointer, index);
    errors_.push_back({file_, loc.line, loc.column, pointer, std::move(message)});
  }

  Template parse_text(const json& value, const std::string& pointer, bool escapes) {
    const std::string& s = value.get_ref<const std::string&>();
    auto t = parse_template(s, escapes);
    if (!t) {
      error_in_string(pointer, t.error().index, t.error().message);
      return {};
    }
    for (const TemplatePart& part : t->parts) {
      if (part.kind == TemplatePart::Kind::variable && vars_.count(part.text) == 0) {
        error_in_string(pointer, part.index,
                        "unknown variable ${" + part.text + "} (known: " +
                            join(std::vector<std::string>(vars_.begin(), vars_.end()), ", ") + ")");
      }
    }
    return std::move(*t);
  }

  /// A command line: no CR or LF (CRLF is appended when sent).
  Template parse_line(const json& value, const std::string& pointer) {
    const std::string& s = value.get_ref<const std::string&>();
    const std::size_t bad = s.find_first_of("\r\n");
    if (bad != std::string::npos) {
      const bool trailing = s.size() >= 2 && bad == s.size() - 2 && s.substr(bad) == "\r\n";
      error_in_string(pointer, bad,
                      trailing ? "remove the trailing CRLF: command lines get CRLF appended"
                               : "a command line cannot contain CR or LF (use a raw step)");
      return {};
    }
    return parse_text(value, pointer, false);
  }

  static OnFail parse_on_fail(const json& obj) {
    if (!obj.contains("on_fail")) return OnFail::fail;
    const std::string s = obj["on_fail"].get<std::string>();
    if (s == "non_strict") return OnFail::non_strict;
    if (s == "warn") return OnFail::warn;
    if (s == "skip") return OnFail::skip;
    return OnFail::fail;
  }

  StepAction build_step(const std::string& key, const json& v, const std::string& p) {
    if (key == "connect") {
      ConnectStep c;
      if (v.contains("tls")) c.tls = parse_tls_mode(v["tls"].get<std::string>());
      return c;
    }
    if (key == "send") return SendStep{parse_line(v, p)};
    if (key == "raw") return RawStep{parse_text(v, p, true)};
    if (key == "pipeline") {
      PipelineStep ps;
      for (std::size_t i = 0; i < v.size(); ++i) {
        ps.lines.push_back(parse_line(v[i], p + "/" + std::to_string(i)));
      }
      return ps;
    }
    if (key == "data") return build_data(v, p);
    if (key == "bdat") {
      BdatStep b;
      if (v.contains("bytes")) b.bytes = parse_text(v["bytes"], p + "/bytes", true);
      if (v.contains("size")) b.size = v["size"].get<std::uint64_t>();
      b.last = v.value("last", false);
      if (!b.bytes && !b.size) error(p, "bdat needs bytes, size, or both");
      return b;
    }
    if (key == "starttls") {
      StartTlsStep st;
      st.handshake_only = v.value("handshake_only", false);
      st.expect.when.codes = {220};
      st.expect.on_fail = parse_on_fail(v);
      if (st.handshake_only && v.contains("on_fail")) {
        error(p + "/on_fail", "on_fail has no effect with handshake_only (no reply is read)");
      }
      return st;
    }
    if (key == "auth") {
      AuthStep a;
      a.mechanism = v.at("mechanism").get<std::string>();
      a.credentials = v.value("credentials", std::string("valid")) == "invalid"
                          ? Credentials::invalid
                          : Credentials::valid;
      a.initial_response = v.value("initial_response", true);
      return a;
    }
    if (key == "ehlo") {
      EhloStep e;
      if (v.contains("domain")) {
        e.domain = parse_line(v["domain"], p + "/domain");
      } else {
        e.domain.parts.push_back({TemplatePart::Kind::variable, "helo", 0, 0});
      }
      e.expect.when.codes = {250};
      e.expect.on_fail = parse_on_fail(v);
      return e;
    }
    if (key == "sleep") return SleepStep{v.get<std::uint32_t>()};
    if (key == "expect") return ExpectStep{build_expect(v, p)};
    return CloseStep{};  // "close" (the schema allows nothing else)
  }

  DataStep build_data(const json& v, const std::string& p) {
    DataStep d;
    if (v.contains("raw")) {
      d.structured = false;
      d.raw = parse_text(v["raw"], p + "/raw", true);
      for (const char* other : {"headers", "body"}) {
        if (v.contains(other)) {
          error(p + "/" + other, std::string(other) + " cannot be combined with raw");
        }
      }
      d.dot_stuff = v.value("dot_stuff", false);
    } else {
      d.structured = true;
      if (v.contains("headers")) {
        const json& h = v["headers"];
        for (std::size_t i = 0; i < h.size(); ++i) {
          d.headers.push_back(parse_text(h[i], p + "/headers/" + std::to_string(i), false));
        }
        if (v.contains("body")) d.body = parse_text(v["body"], p + "/body", false);
      } else {
        for (const char* h : {"From: <${sender}>", "To: <${valid_mailbox}>",
                              "Subject: smtp-harness test message"}) {
          d.headers.push_back(*parse_template(h, false));
        }
        if (v.contains("body")) {
          d.body = parse_text(v["body"], p + "/body", false);
        } else {
          d.body = *parse_template("This is a test message from smtp-harness.\n", false);
        }
      }
      d.dot_stuff = v.value("dot_stuff", true);
    }
    if (v.contains("end")) d.end = parse_text(v["end"], p + "/end", true);
    return d;
  }

  std::optional<EnhancedPattern> parse_enhanced(const std::string& s) {
    // The schema guarantees ^[245]\.(\d{1,3}|\*)\.(\d{1,3}|\*)$.
    EnhancedPattern e;
    e.klass = static_cast<std::uint8_t>(s[0] - '0');
    const std::size_t dot2 = s.find('.', 2);
    const std::string subject = s.substr(2, dot2 - 2);
    const std::string detail = s.substr(dot2 + 1);
    if (subject != "*") e.subject = static_cast<std::uint16_t>(std::stoul(subject));
    if (detail != "*") e.detail = static_cast<std::uint16_t>(std::stoul(detail));
    return e;
  }

  Conditions build_conditions(const json& v, const std::string& p) {
    Conditions c;
    if (v.contains("code") && v.contains("codes")) {
      error(p + "/codes", "use either code or codes, not both");
    }
    if (v.contains("code")) c.codes = {v["code"].get<std::uint16_t>()};
    if (v.contains("codes")) c.codes = v["codes"].get<std::vector<std::uint16_t>>();
    if (v.contains("class")) c.klass = v["class"].get<std::uint8_t>();
    if (v.contains("enhanced")) c.enhanced = parse_enhanced(v["enhanced"].get<std::string>());
    if (v.contains("text")) {
      c.text = v["text"].get<std::string>();
      RE2::Options options;
      options.set_log_errors(false);
      std::shared_ptr<const RE2> re = std::make_shared<RE2>(c.text, options);
      if (!re->ok()) {
        const std::size_t at =
            re->error_arg().empty() ? std::string::npos : c.text.find(re->error_arg());
        error_in_string(p + "/text", at == std::string::npos ? 0 : at,
                        "bad RE2 pattern: " + re->error());
      } else {
        c.text_re = std::move(re);
      }
    }
    if (v.contains("capability")) {
      std::string cap = v["capability"].get<std::string>();
      std::transform(cap.begin(), cap.end(), cap.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
      c.capability = std::move(cap);
    }
    if (v.contains("present")) {
      c.present = v["present"].get<bool>();
      if (!c.capability) error(p + "/present", "present needs capability");
    }
    c.closed = v.contains("closed");
    if (v.contains("nothing_within_ms")) {
      c.nothing_within_ms = v["nothing_within_ms"].get<std::uint32_t>();
    }
    c.then_close = v.contains("then");

    // Combinations that cannot be meant.
    const bool reply_conditions =
        !c.codes.empty() || c.klass || c.enhanced || !c.text.empty() || c.then_close;
    if (c.capability && (reply_conditions || c.closed || c.nothing_within_ms)) {
      error(p + "/capability",
            "capability checks the recorded EHLO capabilities; it cannot be combined with "
            "reply or connection conditions");
    }
    if (c.closed && (reply_conditions || c.nothing_within_ms)) {
      error(p + "/closed",
            "closed means the connection ends without a reply; it cannot be combined with "
            "reply conditions or nothing_within_ms (use then: close after a reply)");
    }
    if (c.nothing_within_ms && reply_conditions) {
      error(p + "/nothing_within_ms",
            "nothing_within_ms means no reply at all; it cannot be combined with reply "
            "conditions");
    }
    if (c.klass) {
      for (std::size_t i = 0; i < c.codes.size(); ++i) {
        if (c.codes[i] / 100 != *c.klass) {
          error(p + (v.contains("code") ? "/code" : "/codes/" + std::to_string(i)),
                "code " + std::to_string(c.codes[i]) + " contradicts class " +
                    std::to_string(*c.klass));
        }
      }
    }
    if (c.enhanced) {
      const std::uint8_t k = c.enhanced->klass;
      if (c.klass && *c.klass != k) {
        error(p + "/enhanced", "enhanced class " + std::to_string(k) + " contradicts class " +
                                   std::to_string(*c.klass));
      }
      for (const std::uint16_t code : c.codes) {
        if (code / 100 != k) {
          error(p + "/enhanced", "enhanced class " + std::to_string(k) + " contradicts code " +
                                     std::to_string(code) + " (RFC 3463 §2)");
          break;
        }
      }
    }
    return c;
  }

  static bool has_condition(const Conditions& c) {
    return !c.codes.empty() || c.klass || c.enhanced || !c.text.empty() || c.capability ||
           c.closed || c.nothing_within_ms || c.then_close;
  }

  Expect build_expect(const json& v, const std::string& p) {
    Expect e;
    const std::size_t errors_before = errors_.size();
    e.when = build_conditions(v, p);
    e.on_fail = parse_on_fail(v);
    if (v.contains("timeout_ms")) e.timeout_ms = v["timeout_ms"].get<std::uint32_t>();
    if (v.contains("note")) e.note = v["note"].get<std::string>();
    if (v.contains("any_of")) {
      if (has_condition(e.when)) {
        error(p + "/any_of",
              "any_of cannot be combined with conditions at the same level; put them in "
              "each outcome");
      }
      const json& outcomes = v["any_of"];
      for (std::size_t i = 0; i < outcomes.size(); ++i) {
        const std::string op = p + "/any_of/" + std::to_string(i);
        const json& o = outcomes[i];
        Outcome out;
        out.when = build_conditions(o, op);
        if (!has_condition(out.when)) error(op, "an outcome needs at least one condition");
        const std::string verdict = o.at("verdict").get<std::string>();
        out.verdict = verdict == "fail"         ? OutcomeVerdict::fail
                      : verdict == "non_strict" ? OutcomeVerdict::non_strict
                                                : OutcomeVerdict::pass;
        out.label = o.value("label", std::string());
        out.stop = o.value("stop", false);
        e.any_of.push_back(std::move(out));
      }
      // A reply-less outcome (closed, silence) and reply outcomes may mix: the runner reads
      // with the longest wait among them (see evaluate.h plan_expect()).
    } else if (!has_condition(e.when) && errors_.size() == errors_before) {
      error(p,
            "expect needs at least one condition (code, codes, class, enhanced, text, "
            "capability, closed, nothing_within_ms, then) or any_of");
    }
    return e;
  }

  void check_step_order(const Scenario& s) {
    bool closed = false;
    for (std::size_t i = 0; i < s.steps.size(); ++i) {
      const StepAction& a = s.steps[i].action;
      if (std::holds_alternative<ConnectStep>(a)) {
        closed = false;
      } else if (closed && !std::holds_alternative<SleepStep>(a)) {
        error(s.steps[i].pointer,
              std::string("a ") + kind_name(a) + " step after close needs a connect step first");
        return;
      }
      if (std::holds_alternative<CloseStep>(a)) closed = true;
    }
  }

  const JsonDocument& doc_;
  std::string file_;
  const std::set<std::string>& vars_;
  std::vector<LoadError>& errors_;
};

std::set<std::string> known_variables(const Profile& profile) {
  std::set<std::string> names(builtin_variable_names().begin(), builtin_variable_names().end());
  for (const auto& [name, value] : profile.vars) names.insert(name);
  return names;
}

/// Load one file's text; scenarios appended to `out`, errors to `errors`.
void load_one(std::string_view text, std::string_view file, const LoadOptions& options,
              const std::set<std::string>& vars, std::vector<Scenario>& out,
              std::vector<LoadError>& errors) {
  const JsonDocument doc = JsonDocument::parse(std::string(text));
  const std::size_t before = errors.size();
  check_document(doc, file, "scenario", options.schema_dir, errors);
  if (errors.size() != before) return;
  ScenarioBuilder builder(doc, std::string(file), vars, errors);
  Scenario s = builder.build();
  if (errors.size() == before) out.push_back(std::move(s));
}

void check_duplicate_ids(const std::vector<Scenario>& scenarios, std::vector<LoadError>& errors) {
  std::map<std::string, const Scenario*> first;
  for (const Scenario& s : scenarios) {
    const auto [it, inserted] = first.emplace(s.id, &s);
    if (!inserted) {
      const Scenario& f = *it->second;
      errors.push_back({s.file, s.line, s.column, "/id",
                        "duplicate id '" + s.id + "' (first defined at " + f.file + ":" +
                            std::to_string(f.line) + ":" + std::to_string(f.column) + ")"});
    }
  }
}

}  // namespace

std::string LoadError::to_string() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line) + ':' + std::to_string(column);
  }
  out += ": ";
  out += pointer.empty() ? "(root)" : pointer;
  out += ": ";
  out += message;
  return out;
}

tl::expected<std::string, std::string> read_text_file(const fs::path& path, std::size_t max_bytes) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return tl::unexpected(std::string("is a directory"));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return tl::unexpected(
        std::string(fs::exists(path, ec) ? "cannot open file" : "no such file or directory"));
  }
  std::string text;
  char buffer[65536];
  while (in) {
    in.read(buffer, sizeof buffer);
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      return tl::unexpected("file larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  if (in.bad()) return tl::unexpected(std::string("read error"));
  return text;
}

LoadResult load_scenario_text(std::string_view text, std::string_view file,
                              const LoadOptions& options) {
  std::vector<Scenario> out;
  std::vector<LoadError> errors;
  load_one(text, file, options, known_variables(options.profile), out, errors);
  if (!errors.empty()) return tl::unexpected(std::move(errors));
  return out;
}

LoadResult load_scenarios(const std::vector<fs::path>& paths, const LoadOptions& options) {
  std::vector<LoadError> errors;
  std::vector<fs::path> files;
  for (const fs::path& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> found;
      for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().extension() == ".json") {
          found.push_back(it->path());
        }
      }
      if (ec) {
        errors.push_back({path.string(), 0, 0, "", "cannot list directory: " + ec.message()});
        continue;
      }
      if (found.empty()) {
        errors.push_back({path.string(), 0, 0, "", "no *.json scenario files in this directory"});
        continue;
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(path);
    }
  }

  const std::set<std::string> vars = known_variables(options.profile);
  std::vector<Scenario> scenarios;
  std::set<fs::path> seen;
  for (const fs::path& file : files) {
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(file, ec);
    if (!seen.insert(ec ? file : canonical).second) continue;  // named twice: load once
    auto text = read_text_file(file);
    if (!text) {
      errors.push_back({file.string(), 0, 0, "", text.error()});
      continue;
    }
    load_one(*text, file.string(), options, vars, scenarios, errors);
  }
  check_duplicate_ids(scenarios, errors);
  if (!errors.empty()) return tl::unexpected(std::move(errors));
  return scenarios;
}

std::vector<LoadError> validate_json_text(std::string_view text, std::string_view file,
                                          std::string_view schema_name,
                                          const fs::path& schema_dir) {
  std::vector<LoadError> errors;
  const JsonDocument doc = JsonDocument::parse(std::string(text));
  check_document(doc, file, schema_name, schema_dir, errors);
  return errors;
}

std::vector<LoadError> validate_json_file(const fs::path& path, std::string_view schema_name,
                                          const fs::path& schema_dir) {
  auto text = read_text_file(path);
  if (!text) return {{path.string(), 0, 0, "", text.error()}};
  return validate_json_text(*text, path.string(), schema_name, schema_dir);
}

tl::expected<Profile, std::vector<LoadError>> load_profile_text(std::string_view text,
                                                                std::string_view file,
                                                                const fs::path& schema_dir) {
  std::vector<LoadError> errors;
  const JsonDocument doc = JsonDocument::parse(std::string(text));
  check_document(doc, file, "profile", schema_dir, errors);
  if (!errors.empty()) return tl::unexpected(std::move(errors));

  const json& v = doc.value();
  Profile p;
  auto str = [&](const char* key, std::string& field) {
    if (v.contains(key)) field = v[key].get<std::string>();
  };
  str("helo", p.helo);
  str("local_domain", p.local_domain);
  str("sender", p.sender);
  str("valid_mailbox", p.valid_mailbox);
  str("invalid_mailbox", p.invalid_mailbox);
  str("relay_domain", p.relay_domain);
  str("username", p.username);
  str("password", p.password);
  if (v.contains("auth_requires_tls")) p.auth_requires_tls = v["auth_requires_tls"].get<bool>();
  if (v.contains("max_recipients")) p.max_recipients = v["max_recipients"].get<std::uint32_t>();
  if (v.contains("store")) {
    const json& s = v["store"];
    p.store = StoreLocation{
        s.at("path").get<std::string>(),
        s.at("format").get<std::string>() == "maildir" ? StoreFormat::maildir : StoreFormat::jsonl};
  }
  if (v.contains("target")) {
    const json& t = v["target"];
    if (t.contains("host")) p.target.host = t["host"].get<std::string>();
    if (t.contains("port")) p.target.port = t["port"].get<std::uint16_t>();
    if (t.contains("tls")) p.target.tls = parse_tls_mode(t["tls"].get<std::string>());
    if (t.contains("sni")) p.target.sni = t["sni"].get<std::string>();
  }
  if (v.contains("vars")) {
    const auto& builtin = builtin_variable_names();
    for (auto it = v["vars"].begin(); it != v["vars"].end(); ++it) {
      if (std::find(builtin.begin(), builtin.end(), it.key()) != builtin.end()) {
        const std::string pointer = "/vars/" + json_pointer_token(it.key());
        const SourceLocation loc = doc.key_location(pointer);
        errors.push_back({std::string(file), loc.line, loc.column, pointer,
                          "'" + it.key() + "' is a built-in variable; set the field '" + it.key() +
                              "' instead"});
        continue;
      }
      p.vars[it.key()] = it.value().get<std::string>();
    }
  }
  if (!errors.empty()) return tl::unexpected(std::move(errors));
  return p;
}

tl::expected<Profile, std::vector<LoadError>> load_profile(const fs::path& path,
                                                           const fs::path& schema_dir) {
  auto text = read_text_file(path);
  if (!text) return tl::unexpected(std::vector<LoadError>{{path.string(), 0, 0, "", text.error()}});
  return load_profile_text(*text, path.string(), schema_dir);
}

}  // namespace smtp::scenario
