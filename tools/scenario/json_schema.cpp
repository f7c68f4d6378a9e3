#include "scenario/json_schema.h"

// valijson reports problems by exceptions only when asked; otherwise it aborts.
#include <stdexcept>
#define VALIJSON_USE_EXCEPTIONS 1

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "scenario/embedded_schemas.h"
#include "scenario/json_source.h"

namespace smtp::scenario {
namespace {

using json = nlohmann::json;

/// Longest string checked against a schema "pattern" (see validate()).
constexpr std::size_t kMaxPatternInput = 4096;

/// "<root>", "[steps]", "[0]" -> "/steps/0".
std::string context_to_pointer(const std::vector<std::string>& context) {
  std::string pointer;
  for (const std::string& part : context) {
    if (part == "<root>") continue;
    std::string_view token = part;
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']') {
      token = token.substr(1, token.size() - 2);
    }
    pointer += '/';
    pointer += json_pointer_token(token);
  }
  return pointer;
}

std::vector<std::string> pointer_tokens(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  std::size_t i = 1;
  while (true) {
    const std::size_t slash = pointer.find('/', i);
    std::string raw(
        pointer.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i));
    std::string token;
    for (std::size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '~' && k + 1 < raw.size()) {
        token += raw[k + 1] == '1' ? '/' : '~';
        ++k;
      } else {
        token += raw[k];
      }
    }
    tokens.push_back(std::move(token));
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  return tokens;
}

const json* resolve_ref(const json& root, const json* node) {
  for (int hops = 0; node != nullptr && hops < 16; ++hops) {
    if (!node->is_object()) return node;
    const auto ref = node->find("$ref");
    if (ref == node->end() || !ref->is_string()) return node;
    const std::string& target = ref->get_ref<const std::string&>();
    if (target.rfind("#", 0) != 0) return nullptr;
    try {
      node = &root.at(json::json_pointer(target.substr(1)));
    } catch (const json::exception&) {
      return nullptr;
    }
  }
  return node;
}

/// Best effort: the subschema that applies to the instance value at `pointer` (follows
/// properties, additionalProperties, items and local $refs; nullptr when unsure).
const json* subschema_at(const json& root, std::string_view pointer) {
  const json* node = resolve_ref(root, &root);
  for (const std::string& token : pointer_tokens(pointer)) {
    if (node == nullptr || !node->is_object()) return nullptr;
    const json* next = nullptr;
    if (const auto props = node->find("properties");
        props != node->end() && props->is_object() && props->contains(token)) {
      next = &(*props)[token];
    } else if (const auto items = node->find("items"); items != node->end() && items->is_object()) {
      next = &*items;
    } else if (const auto extra = node->find("additionalProperties");
               extra != node->end() && extra->is_object()) {
      next = &*extra;
    }
    node = resolve_ref(root, next);
  }
  return node;
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "value";
  }
}

std::string join_values(const json& array) {
  std::string out;
  for (const json& v : array) {
    if (!out.empty()) out += ", ";
    out += v.is_string() ? v.get_ref<const std::string&>() : v.dump();
  }
  return out;
}

std::string join_keys(const json& object) {
  std::string out;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (!out.empty()) out += ", ";
    out += it.key();
  }
  return out;
}

std::string short_dump(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_within(std::string_view pointer, std::string_view ancestor) {
  return pointer == ancestor ||
         (starts_with(pointer, ancestor) && pointer.size() > ancestor.size() &&
          pointer[ancestor.size()] == '/');
}

/// Rewrite one valijson error into a pointer + readable sentence.
SchemaViolation humanise(const json& schema, const json& instance, std::string pointer,
                         const std::string& description) {
  const json* value = nullptr;
  try {
    value = &instance.at(json::json_pointer(pointer));
  } catch (const json::exception&) {
    value = nullptr;
  }
  const json* sub = subschema_at(schema, pointer);

  static constexpr std::string_view kUnknown =
      "Object contains a property that could not be validated using 'properties' or "
      "'additionalProperties' constraints: '";
  if (starts_with(description, kUnknown)) {
    std::string key = description.substr(kUnknown.size());
    if (key.size() >= 2) key.resize(key.size() - 2);  // "'."
    std::string message = "unknown key '" + key + "'";
    if (sub != nullptr && sub->contains("properties") && (*sub)["properties"].is_object() &&
        !(*sub)["properties"].empty()) {
      message += " (allowed: " + join_keys((*sub)["properties"]) + ")";
    }
    return {pointer + "/" + json_pointer_token(key), message, true};
  }
  static constexpr std::string_view kMissing = "Missing required property '";
  if (starts_with(description, kMissing)) {
    std::string key = description.substr(kMissing.size());
    if (key.size() >= 2) key.resize(key.size() - 2);
    return {pointer, "missing required key '" + key + "'", false};
  }
  if (starts_with(description, "Value type not permitted by 'type' constraint")) {
    std::string message = "wrong type";
    if (sub != nullptr && sub->contains("type")) {
      const json& t = (*sub)["type"];
      message += ": expected " + (t.is_array() ? join_values(t) : t.get<std::string>());
      if (value != nullptr) message += ", found " + std::string(type_name(*value));
    } else if (value != nullptr) {
      message += " (found " + std::string(type_name(*value)) + ")";
    }
    return {pointer, message, false};
  }
  if (starts_with(description, "Failed to match against any enum values") ||
      starts_with(description, "Failed to match expected value set by 'const'")) {
    std::string message = "invalid value";
    if (value != nullptr) message += " " + short_dump(*value);
    if (sub != nullptr && sub->contains("enum") && (*sub)["enum"].is_array()) {
      message += "; expected one of: " + join_values((*sub)["enum"]);
    } else if (sub != nullptr && sub->contains("const")) {
      message += "; expected " + short_dump((*sub)["const"]);
    }
    return {pointer, message, false};
  }
  if (starts_with(description, "Failed to match regex specified by 'pattern'")) {
    std::string message = "invalid value";
    if (value != nullptr) message += " " + short_dump(*value);
    if (sub != nullptr && sub->contains("pattern")) {
      message += ": does not match the pattern " + (*sub)["pattern"].get<std::string>();
    }
    return {pointer, message, false};
  }
  if (starts_with(description, "Object should have no more than") && sub != nullptr &&
      sub->value("maxProperties", 0) == 1 && value != nullptr && value->is_object()) {
    return {
        pointer,
        "needs exactly one key, found " + std::to_string(value->size()) + ": " + join_keys(*value),
        false};
  }
  if (starts_with(description, "Object should have no fewer than") && sub != nullptr &&
      sub->value("maxProperties", 0) == 1) {
    std::string message = "needs exactly one key";
    if (sub->contains("properties") && (*sub)["properties"].is_object()) {
      message += " (one of: " + join_keys((*sub)["properties"]) + ")";
    }
    return {pointer, message, false};
  }
  std::string message = description;
  if (!message.empty() && message.back() == '.') message.pop_back();
  if (!message.empty()) {
    message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  }
  return {pointer, message, false};
}

std::string read_file(const std::filesystem::path& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path.string();
    return {};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

struct JsonSchema::Impl {
  json document;
  valijson::Schema schema;
};

tl::expected<JsonSchema, std::string> JsonSchema::from_text(std::string_view text) {
  auto impl = std::make_shared<Impl>();
  try {
    impl->document = json::parse(text);
  } catch (const json::exception& e) {
    return tl::unexpected(std::string("schema is not valid JSON: ") + e.what());
  }
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    const valijson::adapters::NlohmannJsonAdapter adapter(impl->document);
    parser.populateSchema(adapter, impl->schema);
  } catch (const std::exception& e) {
    return tl::unexpected(std::string("unusable schema: ") + e.what());
  }
  JsonSchema s;
  s.impl_ = std::move(impl);
  return s;
}

tl::expected<const JsonSchema*, std::string> JsonSchema::named(std::string_view name,
                                                               const std::filesystem::path& dir) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<JsonSchema>> cache;
  const std::string key = std::string(name) + "\n" + dir.string();
  const std::lock_guard<std::mutex> lock(mutex);
  if (const auto it = cache.find(key); it != cache.end()) return it->second.get();

  std::string text;
  std::string where;
  if (dir.empty()) {
    text = std::string(schema::embedded(name));
    where = "embedded " + std::string(name) + " schema";
    if (text.empty()) return tl::unexpected("no embedded schema named '" + std::string(name) + "'");
  } else {
    const auto path = dir / (std::string(name) + ".schema.json");
    std::string error;
    text = read_file(path, error);
    if (!error.empty()) return tl::unexpected(error);
    where = path.string();
  }
  auto compiled = from_text(text);
  if (!compiled) return tl::unexpected(where + ": " + compiled.error());
  auto owned = std::make_unique<JsonSchema>(std::move(*compiled));
  const JsonSchema* result = owned.get();
  cache.emplace(key, std::move(owned));
  return result;
}

std::vector<SchemaViolation> JsonSchema::validate(const nlohmann::json& instance) const {
  // valijson checks "pattern" with std::regex, whose libstdc++ matcher recurses per character
  // and overflows the stack on inputs of ~100 KB. Long strings under a pattern are reported
  // here and blanked in a copy before valijson sees them.
  std::vector<SchemaViolation> early;
  std::optional<json> blanked;
  {
    std::vector<std::pair<const json*, std::string>> todo{{&instance, std::string()}};
    while (!todo.empty()) {
      auto [node, pointer] = std::move(todo.back());
      todo.pop_back();
      if (node->is_string()) {
        const std::size_t n = node->get_ref<const std::string&>().size();
        if (n <= kMaxPatternInput) continue;
        const json* sub = subschema_at(impl_->document, pointer);
        if (sub == nullptr || !sub->is_object() || !sub->contains("pattern")) continue;
        early.push_back({pointer,
                         "string of " + std::to_string(n) + " bytes is too long for this field",
                         false});
        if (!blanked) blanked = instance;
        blanked->at(json::json_pointer(pointer)) = std::string();
      } else if (node->is_array()) {
        for (std::size_t i = 0; i < node->size(); ++i) {
          todo.emplace_back(&(*node)[i], pointer + "/" + std::to_string(i));
        }
      } else if (node->is_object()) {
        for (auto it = node->begin(); it != node->end(); ++it) {
          todo.emplace_back(&it.value(), pointer + "/" + json_pointer_token(it.key()));
        }
      }
    }
  }
  const json& checked = blanked ? *blanked : instance;

  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  const valijson::adapters::NlohmannJsonAdapter adapter(checked);
  try {
    if (validator.validate(impl_->schema, adapter, &results)) return early;
  } catch (const std::exception& e) {
    return {{"", std::string("schema validation failed: ") + e.what(), false}};
  }

  struct Raw {
    std::string pointer;
    std::string description;
  };
  std::vector<Raw> raw;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    raw.push_back({context_to_pointer(error.context), error.description});
  }

  std::vector<SchemaViolation> out = early;
  for (const Raw& r : raw) {
    const bool blanked_here =
        std::any_of(early.begin(), early.end(),
                    [&](const SchemaViolation& e) { return e.pointer == r.pointer; });
    if (blanked_here) continue;
    // Parents repeat "Failed to validate ..." for every specific child error: keep those
    // summaries only when nothing more specific was said at or below their pointer.
    if (starts_with(r.description, "Failed to validate")) {
      const bool covered = std::any_of(raw.begin(), raw.end(), [&](const Raw& other) {
        return &other != &r && !starts_with(other.description, "Failed to validate") &&
               is_within(other.pointer, r.pointer);
      });
      if (covered) continue;
    }
    SchemaViolation v = humanise(impl_->document, checked, r.pointer, r.description);
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(std::move(v));
  }
  return out;
}

}  // namespace smtp::scenario
