// DeliveredMessage as JSON, and the JSON Lines / maildir stores of the reference server.
#include "server/message_store.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <system_error>
#include <utility>

#include <openssl/evp.h>

#include "smtp/sasl.h"

namespace smtp::server {

const char* to_string(ListenerKind kind) noexcept {
  switch (kind) {
    case ListenerKind::plain:
      return "plain";
    case ListenerKind::implicit_tls:
      return "implicit-tls";
  }
  return "plain";
}

std::string DeliveredMessage::mail_from() const {
  return envelope.reverse_path.null ? std::string{} : envelope.reverse_path.address();
}

std::vector<std::string> DeliveredMessage::rcpt_to() const {
  std::vector<std::string> out;
  out.reserve(envelope.recipients.size());
  for (const Path& p : envelope.recipients) out.push_back(p.address());
  return out;
}

std::string lossy_utf8(std::string_view bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  const auto cont = [&](std::size_t k) { return k < n && (byte(k) & 0xC0u) == 0x80u; };
  while (i < n) {
    const unsigned char c = byte(i);
    std::size_t len = 0;
    if (c < 0x80u) {
      len = 1;
    } else if (c >= 0xC2u && c <= 0xDFu) {
      if (cont(i + 1)) len = 2;
    } else if (c >= 0xE0u && c <= 0xEFu) {
      if (cont(i + 1) && cont(i + 2)) {
        const unsigned char c1 = byte(i + 1);
        const bool overlong = c == 0xE0u && c1 < 0xA0u;
        const bool surrogate = c == 0xEDu && c1 >= 0xA0u;
        if (!overlong && !surrogate) len = 3;
      }
    } else if (c >= 0xF0u && c <= 0xF4u) {
      if (cont(i + 1) && cont(i + 2) && cont(i + 3)) {
        const unsigned char c1 = byte(i + 1);
        const bool overlong = c == 0xF0u && c1 < 0x90u;
        const bool too_big = c == 0xF4u && c1 >= 0x90u;
        if (!overlong && !too_big) len = 4;
      }
    }
    if (len == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(bytes.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  return to_hex(std::span<const std::uint8_t>(digest.data(), size));
}

nlohmann::ordered_json to_json(const DeliveredMessage& m, bool with_data) {
  using json = nlohmann::ordered_json;
  const auto text_or_null = [](const std::string& s) { return s.empty() ? json() : json(s); };
  json params = json::array();
  for (const Param& p : m.envelope.mail_params) {
    params.push_back(json{{"keyword", lossy_utf8(p.keyword)},
                          {"value", p.value ? json(lossy_utf8(*p.value)) : json()}});
  }
  json rcpts = json::array();
  for (const std::string& r : m.rcpt_to()) rcpts.push_back(lossy_utf8(r));
  json j = json::object();
  j["id"] = m.id;
  j["session"] = m.session;
  j["received_at"] = m.received_at;
  j["client"] = m.client;
  j["listener"] = m.listener;
  j["listener_kind"] = to_string(m.listener_kind);
  j["helo"] = lossy_utf8(m.envelope.helo);
  j["esmtp"] = m.envelope.extended;
  j["tls"] = m.envelope.tls;
  j["tls_version"] = text_or_null(m.tls_version);
  j["tls_cipher"] = text_or_null(m.tls_cipher);
  j["auth_user"] = m.envelope.auth_user.empty() ? json() : json(lossy_utf8(m.envelope.auth_user));
  j["mail_from"] = lossy_utf8(m.mail_from());
  j["mail_params"] = std::move(params);
  j["rcpt_to"] = std::move(rcpts);
  j["transfer"] = m.bdat ? "bdat" : "data";
  j["ended_by"] = m.ended_by ? json(to_string(*m.ended_by)) : json();
  j["size"] = m.data.size();
  j["sha256"] = sha256_hex(m.data);
  if (with_data) {
    j["data_base64"] = base64_encode(m.data);
    j["data_text"] = lossy_utf8(m.data);
  }
  return j;
}

std::string to_json_line(const DeliveredMessage& message) {
  return to_json(message).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

scenario::StoreLocation store_location_from_path(const std::string& path) {
  scenario::StoreLocation loc;
  loc.path = path;
  constexpr std::string_view kSuffix = ".jsonl";
  const bool jsonl = path.size() >= kSuffix.size() &&
                     std::string_view(path).substr(path.size() - kSuffix.size()) == kSuffix;
  loc.format = jsonl ? scenario::StoreFormat::jsonl : scenario::StoreFormat::maildir;
  return loc;
}

namespace {

std::string errno_text(int e) { return std::system_category().message(e); }

/// A maildir file name: "<sec>.M<usec>P<pid>Q<seq>.<host>" (unique per process and message).
std::string maildir_name(std::uint64_t sequence, std::string_view hostname) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  std::string host;
  for (const char c : hostname) {
    host += (c == '/' || c == ':' || c == '\\' || static_cast<unsigned char>(c) < 0x21u ||
             static_cast<unsigned char>(c) > 0x7Eu)
                ? '_'
                : c;
  }
  if (host.empty()) host = "localhost";
  return std::to_string(usec / 1'000'000) + ".M" + std::to_string(usec % 1'000'000) + "P" +
         std::to_string(::getpid()) + "Q" + std::to_string(sequence) + "." + host;
}

bool write_whole_file(const std::filesystem::path& path, std::string_view bytes,
                      std::string& error) {
  std::FILE* f = std::fopen(path.c_str(), "wbx");
  if (f == nullptr) {
    error = "cannot create " + path.string() + ": " + errno_text(errno);
    return false;
  }
  const std::size_t n = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
  const int write_errno = errno;
  const bool ok = n == bytes.size() && std::fflush(f) == 0;
  if (std::fclose(f) != 0 || !ok) {
    error = "cannot write " + path.string() + ": " + errno_text(ok ? errno : write_errno);
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return false;
  }
  return true;
}

}  // namespace

tl::expected<std::unique_ptr<MessageStore>, std::string> MessageStore::open(
    const scenario::StoreLocation& location) {
  namespace fs = std::filesystem;
  std::unique_ptr<MessageStore> store(new MessageStore(location));
  std::error_code ec;
  const fs::path path(location.path);
  if (location.path.empty()) return tl::make_unexpected(std::string("empty store path"));
  if (location.format == scenario::StoreFormat::jsonl) {
    if (path.has_parent_path()) {
      fs::create_directories(path.parent_path(), ec);
      if (ec) {
        return tl::make_unexpected("cannot create directory " + path.parent_path().string() + ": " +
                                   ec.message());
      }
    }
    store->jsonl_ = std::fopen(path.c_str(), "ab");
    if (store->jsonl_ == nullptr) {
      return tl::make_unexpected("cannot open " + location.path +
                                 " for appending: " + errno_text(errno));
    }
    return store;
  }
  for (const char* sub : {"tmp", "new", "cur", "envelope"}) {
    fs::create_directories(path / sub, ec);
    if (ec) {
      return tl::make_unexpected("cannot create maildir " + (path / sub).string() + ": " +
                                 ec.message());
    }
  }
  return store;
}

MessageStore::~MessageStore() {
  if (jsonl_ != nullptr) std::fclose(jsonl_);
}

tl::expected<std::string, std::string> MessageStore::store(const DeliveredMessage& message) {
  ++sequence_;
  if (location_.format == scenario::StoreFormat::maildir) return store_maildir(message);
  std::string line = to_json_line(message);
  line += '\n';
  if (std::fwrite(line.data(), 1, line.size(), jsonl_) != line.size() || std::fflush(jsonl_) != 0) {
    return tl::make_unexpected("cannot append to " + location_.path + ": " + errno_text(errno));
  }
  return location_.path;
}

tl::expected<std::string, std::string> MessageStore::store_maildir(
    const DeliveredMessage& message) {
  namespace fs = std::filesystem;
  const fs::path root(location_.path);
  const std::string name = maildir_name(sequence_, "smtp-harness");
  std::string error;
  const fs::path tmp = root / "tmp" / name;
  if (!write_whole_file(tmp, message.data, error)) return tl::make_unexpected(std::move(error));
  const std::string envelope =
      to_json(message, false)
          .dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
      "\n";
  const fs::path env = root / "envelope" / (name + ".json");
  if (!write_whole_file(env, envelope, error)) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return tl::make_unexpected(std::move(error));
  }
  const fs::path dest = root / "new" / name;
  std::error_code ec;
  fs::rename(tmp, dest, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    fs::remove(env, ignored);
    return tl::make_unexpected("cannot rename " + tmp.string() + " to " + dest.string() + ": " +
                               ec.message());
  }
  return (fs::path("new") / name).string();
}

}  // namespace smtp::server
