#include "scenario/model.h"

#include <type_traits>

namespace smtp::scenario {

const char* to_string(Level level) noexcept {
  switch (level) {
    case Level::must:
      return "MUST";
    case Level::must_not:
      return "MUST NOT";
    case Level::should:
      return "SHOULD";
    case Level::should_not:
      return "SHOULD NOT";
    case Level::may:
      return "MAY";
  }
  return "MUST";
}

std::optional<Level> parse_level(std::string_view s) noexcept {
  if (s == "MUST") return Level::must;
  if (s == "MUST NOT") return Level::must_not;
  if (s == "SHOULD") return Level::should;
  if (s == "SHOULD NOT") return Level::should_not;
  if (s == "MAY") return Level::may;
  return std::nullopt;
}

const char* to_string(TlsMode mode) noexcept {
  switch (mode) {
    case TlsMode::none:
      return "none";
    case TlsMode::starttls:
      return "starttls";
    case TlsMode::implicit:
      return "implicit";
  }
  return "none";
}

std::optional<TlsMode> parse_tls_mode(std::string_view s) noexcept {
  if (s == "none") return TlsMode::none;
  if (s == "starttls") return TlsMode::starttls;
  if (s == "implicit") return TlsMode::implicit;
  return std::nullopt;
}

const char* to_string(OnFail on_fail) noexcept {
  switch (on_fail) {
    case OnFail::fail:
      return "fail";
    case OnFail::non_strict:
      return "non_strict";
    case OnFail::warn:
      return "warn";
    case OnFail::skip:
      return "skip";
  }
  return "fail";
}

const char* to_string(OracleMode mode) noexcept {
  switch (mode) {
    case OracleMode::warn:
      return "warn";
    case OracleMode::check:
      return "check";
    case OracleMode::off:
      return "off";
  }
  return "warn";
}

const char* to_string(OutcomeVerdict v) noexcept {
  switch (v) {
    case OutcomeVerdict::pass:
      return "pass";
    case OutcomeVerdict::fail:
      return "fail";
    case OutcomeVerdict::non_strict:
      return "non_strict";
  }
  return "pass";
}

std::string EnhancedPattern::to_string() const {
  std::string out = std::to_string(klass);
  out += '.';
  out += subject ? std::to_string(*subject) : "*";
  out += '.';
  out += detail ? std::to_string(*detail) : "*";
  return out;
}

const char* kind_name(const StepAction& action) noexcept {
  return std::visit(
      [](const auto& step) -> const char* {
        using T = std::decay_t<decltype(step)>;
        if constexpr (std::is_same_v<T, ConnectStep>) return "connect";
        if constexpr (std::is_same_v<T, SendStep>) return "send";
        if constexpr (std::is_same_v<T, RawStep>) return "raw";
        if constexpr (std::is_same_v<T, PipelineStep>) return "pipeline";
        if constexpr (std::is_same_v<T, DataStep>) return "data";
        if constexpr (std::is_same_v<T, BdatStep>) return "bdat";
        if constexpr (std::is_same_v<T, StartTlsStep>) return "starttls";
        if constexpr (std::is_same_v<T, AuthStep>) return "auth";
        if constexpr (std::is_same_v<T, EhloStep>) return "ehlo";
        if constexpr (std::is_same_v<T, SleepStep>) return "sleep";
        if constexpr (std::is_same_v<T, ExpectStep>) return "expect";
        if constexpr (std::is_same_v<T, CloseStep>) return "close";
      },
      action);
}

}  // namespace smtp::scenario
