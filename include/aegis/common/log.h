// The server log: levels, the text or JSON line format, and structured fields.
//
// Every module logs through spdlog, which is the one mechanism: Configure()
// gives spdlog's default logger the formatter of log_format.h, so a line from a
// module that calls spdlog::warn(...) directly (src/runtime does) is escaped and
// written exactly as one from these functions. A call site that knows the
// request or the model says so through these functions, and the fields become
// JSON members (or key=value pairs in text):
//
//   log::Error({.request_id = head.request_id, .model = name, .status = 500},
//              "inference failed: {}", reason);
//
// Lines go to standard output, one write per line, whatever the thread.
//
// Thread-safety: every function is safe from any thread; Configure may be
// called again while others log (the level and format change between lines).
#pragma once

#include <optional>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "aegis/common/log_format.h"

namespace aegis::log {

// [logging] level: what is written, from this level up.
enum class Level { kTrace, kDebug, kInfo, kWarn, kError };

// "trace" | "debug" | "info" | "warn" | "error"; nullopt for anything else.
std::optional<Level> ParseLevel(std::string_view name);
std::string_view LevelName(Level level);
// "text" | "json"; nullopt for anything else.
std::optional<Format> ParseFormat(std::string_view name);
std::string_view FormatName(Format format);

// Makes spdlog's default logger write `format` lines to standard output from
// `level` up. The first call installs the logger; later ones change it.
void Configure(Level level, Format format);

namespace internal {

spdlog::level::level_enum ToSpdlog(Level level);

// The fields of the line being written on this thread: the formatter runs on
// the caller's thread (the logger is synchronous) and reads them there.
class ScopedFields {
 public:
  explicit ScopedFields(const Fields& fields);
  ~ScopedFields();
  ScopedFields(const ScopedFields&) = delete;
  ScopedFields& operator=(const ScopedFields&) = delete;

 private:
  const Fields* previous_;
};

}  // namespace internal

template <typename... Args>
void Write(Level level, const Fields& fields, fmt::format_string<Args...> format, Args&&... args) {
  const spdlog::level::level_enum at = internal::ToSpdlog(level);
  if (!spdlog::should_log(at)) return;
  const internal::ScopedFields scope(fields);
  spdlog::log(at, format, std::forward<Args>(args)...);
}

template <typename... Args>
void Debug(const Fields& fields, fmt::format_string<Args...> format, Args&&... args) {
  Write(Level::kDebug, fields, format, std::forward<Args>(args)...);
}
template <typename... Args>
void Info(const Fields& fields, fmt::format_string<Args...> format, Args&&... args) {
  Write(Level::kInfo, fields, format, std::forward<Args>(args)...);
}
template <typename... Args>
void Warn(const Fields& fields, fmt::format_string<Args...> format, Args&&... args) {
  Write(Level::kWarn, fields, format, std::forward<Args>(args)...);
}
template <typename... Args>
void Error(const Fields& fields, fmt::format_string<Args...> format, Args&&... args) {
  Write(Level::kError, fields, format, std::forward<Args>(args)...);
}

}  // namespace aegis::log
