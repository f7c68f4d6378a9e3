#include "scenario/json_source.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <set>
#include <utility>

namespace smtp::scenario {
namespace {

using json = nlohmann::json;

/// Input iterator over the text that publishes how far nlohmann's lexer has read. The lexer
/// reads one character at a time (and at most one past a number), so at each SAX event the
/// published position is at or just after the end of the token the event is about.
class TrackingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackingIterator() = default;
  TrackingIterator(const char* p, const char** published) : p_(p), published_(published) {}

  reference operator*() const { return *p_; }
  TrackingIterator& operator++() {
    ++p_;
    if (published_ != nullptr) *published_ = p_;
    return *this;
  }
  TrackingIterator operator++(int) {
    TrackingIterator old = *this;
    ++*this;
    return old;
  }
  friend bool operator!=(const TrackingIterator& a, const TrackingIterator& b) {
    return a.p_ != b.p_;
  }

 private:
  const char* p_ = nullptr;
  const char** published_ = nullptr;
};

struct Frame {
  bool is_array = false;
  std::string pointer;
  std::size_t next_index = 0;
  std::string key;
  std::set<std::string> keys;
};

class PositionRecorder {
 public:
  PositionRecorder(std::string_view text, const char** published,
                   std::unordered_map<std::string, std::size_t>& values,
                   std::unordered_map<std::string, std::size_t>& keys,
                   std::vector<JsonIssue>& issues)
      : text_(text), published_(published), values_(values), keys_(keys), issues_(issues) {}

  bool null() { return scalar(); }
  bool boolean(bool /*unused*/) { return scalar(); }
  bool number_integer(json::number_integer_t /*unused*/) { return scalar(); }
  bool number_unsigned(json::number_unsigned_t /*unused*/) { return scalar(); }
  bool number_float(json::number_float_t /*unused*/, const json::string_t& /*unused*/) {
    return scalar();
  }
  bool string(json::string_t& /*unused*/) { return scalar(); }
  bool binary(json::binary_t& /*unused*/) { return scalar(); }

  bool start_object(std::size_t /*unused*/) { return open(false); }
  bool start_array(std::size_t /*unused*/) { return open(true); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(json::string_t& k) {
    const std::size_t start = token_start();
    Frame& top = stack_.back();
    const std::string pointer = top.pointer + "/" + json_pointer_token(k);
    if (!top.keys.insert(k).second) {
      issues_.push_back({start, pointer, "duplicate key '" + k + "'"});
    }
    keys_.emplace(pointer, start);
    top.key = k;
    cursor_ = published();
    return true;
  }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const json::exception& ex) {
    // `position` counts characters read, the offending one included.
    const std::size_t offset = position == 0 ? 0 : std::min(position - 1, text_.size());
    std::string message = ex.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 9: syntax error ..."
    if (const auto p = message.find("syntax error"); p != std::string::npos) {
      message.erase(0, p);
    } else if (const auto q = message.find("] "); q != std::string::npos) {
      message.erase(0, q + 2);
    }
    issues_.push_back({offset, current_pointer_for_error(), message});
    return false;
  }

 private:
  std::size_t published() const { return static_cast<std::size_t>(*published_ - text_.data()); }

  /// First byte of the token the current event is about.
  std::size_t token_start() const {
    std::size_t i = cursor_;
    if (i == 0 && text_.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
    while (i < text_.size()) {
      const char c = text_[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':') {
        ++i;
      } else {
        break;
      }
    }
    return i;
  }

  std::string next_value_pointer() {
    if (stack_.empty()) return {};
    Frame& top = stack_.back();
    if (top.is_array) return top.pointer + "/" + std::to_string(top.next_index++);
    return top.pointer + "/" + json_pointer_token(top.key);
  }

  std::string current_pointer_for_error() const {
    if (stack_.empty()) return {};
    return stack_.back().pointer;
  }

  bool scalar() {
    const std::size_t start = token_start();
    values_.emplace(next_value_pointer(), start);
    cursor_ = std::max(cursor_, published());
    return true;
  }

  bool open(bool is_array) {
    const std::size_t start = token_start();
    if (stack_.size() >= kMaxJsonDepth) {
      issues_.push_back({start, current_pointer_for_error(),
                         "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels"});
      return false;  // stops the parser
    }
    std::string pointer = next_value_pointer();
    values_.emplace(pointer, start);
    Frame frame;
    frame.is_array = is_array;
    frame.pointer = std::move(pointer);
    stack_.push_back(std::move(frame));
    cursor_ = start + 1;
    return true;
  }

  bool close() {
    if (!stack_.empty()) stack_.pop_back();
    cursor_ = std::max(cursor_, published());
    return true;
  }

  std::string_view text_;
  const char** published_;
  std::unordered_map<std::string, std::size_t>& values_;
  std::unordered_map<std::string, std::size_t>& keys_;
  std::vector<JsonIssue>& issues_;
  std::vector<Frame> stack_;
  std::size_t cursor_ = 0;
};

/// Parent pointer ("" for "" and "/a").
std::string_view parent_pointer(std::string_view pointer) {
  const auto slash = pointer.rfind('/');
  if (slash == std::string_view::npos) return {};
  return pointer.substr(0, slash);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::uint32_t read_hex4(std::string_view s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t k = 0; k < 4 && at + k < s.size(); ++k) {
    const int h = hex_value(s[at + k]);
    if (h < 0) return 0;
    v = v * 16 + static_cast<std::uint32_t>(h);
  }
  return v;
}

std::size_t utf8_length(std::uint32_t cp) {
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp < 0x10000) return 3;
  return 4;
}

}  // namespace

std::string json_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (const char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

JsonDocument JsonDocument::parse(std::string text) {
  JsonDocument doc;
  doc.text_ = std::move(text);
  const std::string& t = doc.text_;
  doc.line_starts_.push_back(0);
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\n') doc.line_starts_.push_back(i + 1);
  }

  const char* published = t.data();
  PositionRecorder recorder(t, &published, doc.values_, doc.keys_, doc.issues_);
  const TrackingIterator first(t.data(), &published);
  const TrackingIterator last(t.data() + t.size(), nullptr);
  try {
    (void)json::sax_parse(first, last, &recorder, json::input_format_t::json, true, false);
  } catch (const json::exception& e) {
    doc.issues_.push_back({t.size(), {}, e.what()});
  }
  if (!doc.issues_.empty()) return doc;
  try {
    doc.value_ = json::parse(t);
  } catch (const json::exception& e) {  // cannot happen after a clean SAX pass; be safe
    doc.issues_.push_back({0, {}, e.what()});
    doc.value_ = nullptr;
  }
  return doc;
}

std::optional<std::size_t> JsonDocument::value_offset(std::string_view pointer) const {
  const auto it = values_.find(std::string(pointer));
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::size_t> JsonDocument::key_offset(std::string_view pointer) const {
  const auto it = keys_.find(std::string(pointer));
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

SourceLocation JsonDocument::value_location(std::string_view pointer) const {
  std::string_view p = pointer;
  while (true) {
    if (const auto off = value_offset(p)) return locate(*off);
    if (p.empty()) return {};
    p = parent_pointer(p);
  }
}

SourceLocation JsonDocument::key_location(std::string_view pointer) const {
  if (const auto off = key_offset(pointer)) return locate(*off);
  return value_location(pointer);
}

SourceLocation JsonDocument::string_location(std::string_view pointer, std::size_t index) const {
  const auto start = value_offset(pointer);
  if (!start || *start >= text_.size() || text_[*start] != '"') return value_location(pointer);
  std::size_t i = *start + 1;
  std::size_t decoded = 0;
  while (i < text_.size() && text_[i] != '"') {
    if (decoded >= index) return locate(i);
    if (text_[i] == '\\' && i + 1 < text_.size()) {
      if (text_[i + 1] == 'u') {
        std::uint32_t cp = read_hex4(text_, i + 2);
        std::size_t width = 6;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 11 < text_.size() && text_[i + 6] == '\\' &&
            text_[i + 7] == 'u') {
          const std::uint32_t lo = read_hex4(text_, i + 8);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          width = 12;
        }
        decoded += utf8_length(cp);
        i += width;
      } else {
        decoded += 1;
        i += 2;
      }
    } else {
      decoded += 1;
      i += 1;
    }
  }
  return locate(i);
}

SourceLocation JsonDocument::locate(std::size_t offset) const {
  offset = std::min(offset, text_.size());
  const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const auto line = static_cast<std::size_t>(it - line_starts_.begin());
  const std::size_t start = line_starts_[line - 1];
  std::size_t column = 1;
  for (std::size_t i = start; i < offset; ++i) {
    const auto c = static_cast<unsigned char>(text_[i]);
    if ((c & 0xC0) != 0x80) ++column;
  }
  return {line, column};
}

}  // namespace smtp::scenario
