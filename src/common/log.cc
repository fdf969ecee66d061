#include "aegis/common/log.h"

#include <memory>
#include <mutex>
#include <string>

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace aegis::log {
namespace {

thread_local const Fields* current_fields = nullptr;

std::string_view SpdlogLevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

// Formats every line of the process, whoever called spdlog.
class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(Format format) : format_(format) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    static const Fields kNone;
    const std::string line = FormatLine(format_, msg.time, SpdlogLevelName(msg.level),
                                        std::string_view(msg.payload.data(), msg.payload.size()),
                                        current_fields != nullptr ? *current_fields : kNone);
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<LineFormatter>(format_); }

 private:
  const Format format_;
};

}  // namespace

std::optional<Level> ParseLevel(std::string_view name) {
  for (const Level l : {Level::kTrace, Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (LevelName(l) == name) return l;
  }
  return std::nullopt;
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kTrace:
      return "trace";
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::optional<Format> ParseFormat(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  return std::nullopt;
}

std::string_view FormatName(Format format) { return format == Format::kJson ? "json" : "text"; }

void Configure(Level level, Format format) {
  // One sink for the life of the process; its formatter and the level change
  // under spdlog's own locks (a sink's mutex, the logger's atomic level).
  static const std::shared_ptr<spdlog::sinks::stdout_sink_mt> sink = [] {
    auto s = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("aegis", s));
    return s;
  }();
  sink->set_formatter(std::make_unique<LineFormatter>(format));
  spdlog::set_level(internal::ToSpdlog(level));
}

namespace internal {

spdlog::level::level_enum ToSpdlog(Level level) {
  switch (level) {
    case Level::kTrace:
      return spdlog::level::trace;
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

ScopedFields::ScopedFields(const Fields& fields) : previous_(current_fields) { current_fields = &fields; }
ScopedFields::~ScopedFields() { current_fields = previous_; }

}  // namespace internal

}  // namespace aegis::log
