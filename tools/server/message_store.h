/// @file message_store.h
/// @brief What the reference server keeps of every delivered message (DeliveredMessage: the
///        envelope and the exact bytes) and where it writes it: JSON Lines or a maildir.
///
/// JSON Lines (a path ending in ".jsonl"): one object per message, appended and flushed as the
/// message is accepted (format below). Maildir (any other path, a directory): the exact message
/// bytes written to tmp/NAME and renamed into new/NAME (the maildir delivery protocol, so a
/// reader never sees a partial message); the envelope, the same JSON object without the
/// data_base64/data_text fields, goes to envelope/NAME.json *before* the rename, so it exists
/// whenever the message does. (Maildir readers look only at tmp/, new/ and cur/.) No fsync: the
/// store serves tests, not durable mail.
///
/// JSON object (one line per message in the .jsonl file), every field always present:
/// ```
/// {"id":1, "session":3, "received_at":"2024-05-01T12:00:00.123Z",
///  "client":"127.0.0.1:51234", "listener":"127.0.0.1:2525", "listener_kind":"plain",
///  "helo":"client.example", "esmtp":true, "tls":true, "tls_version":"TLSv1.3",
///  "tls_cipher":"TLS_AES_256_GCM_SHA384", "auth_user":"bench" | null,
///  "mail_from":"a@b.example" ("" = null reverse-path), "mail_params":[{"keyword":"SIZE",
///  "value":"120"}, {"keyword":"SMTPUTF8","value":null}], "rcpt_to":["x@example.test"],
///  "transfer":"data" | "bdat", "ended_by":null | "lflf" (a quirk accepted a non-canonical
///  end of data; dot_stuffing.h names), "size":120, "sha256":"<64 hex>",
///  "data_base64":"<exact bytes>", "data_text":"<the bytes as UTF-8, invalid octets as U+FFFD>"}
/// ```
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "scenario/profile.h"
#include "smtp/dot_stuffing.h"
#include "smtp/server_session.h"

namespace smtp::server {

/// Which kind of listener accepted a connection.
enum class ListenerKind : std::uint8_t {
  plain = 0,     ///< plain TCP, STARTTLS offered (RFC 3207)
  implicit_tls,  ///< TLS from the first byte (RFC 8314 §3.3, "submissions" style)
};
/// "plain" / "implicit-tls". Never null.
[[nodiscard]] const char* to_string(ListenerKind kind) noexcept;

/// One message the reference server accepted (answered 250 to its end of data / BDAT LAST).
struct DeliveredMessage {
  std::uint64_t id = 0;       ///< 1-based, in acceptance order (per server)
  std::uint64_t session = 0;  ///< 1-based session number, in accept order
  std::string received_at;    ///< RFC 3339 UTC, milliseconds ("2024-05-01T12:00:00.123Z")
  std::string client;         ///< the client's address, "127.0.0.1:51234"
  std::string listener;       ///< the local endpoint that accepted it, "127.0.0.1:2525"
  ListenerKind listener_kind = ListenerKind::plain;
  Envelope envelope;        ///< HELO, MAIL FROM + params, accepted RCPTs, AUTH user, TLS
  std::string tls_version;  ///< "" without TLS
  std::string tls_cipher;   ///< "" without TLS
  bool bdat = false;        ///< sent with BDAT (RFC 3030), else DATA
  std::optional<EodCandidate> ended_by;  ///< a quirk took this non-canonical ending as "."
  std::string data;                      ///< exact message bytes (dot-unstuffed for DATA)

  /// reverse-path address, "" for the null reverse-path.
  [[nodiscard]] std::string mail_from() const;
  /// Accepted recipients' addresses, in order.
  [[nodiscard]] std::vector<std::string> rcpt_to() const;
};

/// `bytes` as valid UTF-8: valid sequences copied, every other octet replaced by U+FFFD.
[[nodiscard]] std::string lossy_utf8(std::string_view bytes);

/// The JSON object described in the file comment. `with_data`: include data_base64/data_text.
[[nodiscard]] nlohmann::ordered_json to_json(const DeliveredMessage& message,
                                             bool with_data = true);

/// The object as one line of JSON (no newline), invalid UTF-8 impossible by construction.
[[nodiscard]] std::string to_json_line(const DeliveredMessage& message);

/// Lower-case hex SHA-256 of `bytes` (OpenSSL).
[[nodiscard]] std::string sha256_hex(std::string_view bytes);

/// A store location from a path: ".jsonl" suffix = JSON Lines, anything else = maildir.
[[nodiscard]] scenario::StoreLocation store_location_from_path(const std::string& path);

/// Writes delivered messages to a JSON Lines file or a maildir. Not thread-safe: one writer
/// (the server's executor).
class MessageStore {
 public:
  /// Create the maildir (tmp/, new/, cur/, envelope/) or open the .jsonl file for appending
  /// (created if missing; parent directories are created). Error: one line naming the path.
  [[nodiscard]] static tl::expected<std::unique_ptr<MessageStore>, std::string> open(
      const scenario::StoreLocation& location);

  MessageStore(const MessageStore&) = delete;
  MessageStore& operator=(const MessageStore&) = delete;
  ~MessageStore();

  /// Write one message. Returns where it went (the .jsonl path, or new/NAME); error: one line.
  [[nodiscard]] tl::expected<std::string, std::string> store(const DeliveredMessage& message);

  [[nodiscard]] const scenario::StoreLocation& location() const noexcept { return location_; }

 private:
  explicit MessageStore(scenario::StoreLocation location) : location_(std::move(location)) {}
  tl::expected<std::string, std::string> store_maildir(const DeliveredMessage& message);

  scenario::StoreLocation location_;
  std::FILE* jsonl_ = nullptr;
  std::uint64_t sequence_ = 0;
};

}  // namespace smtp::server
