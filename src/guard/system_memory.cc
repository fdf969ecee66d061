#include "aegis/guard/system_memory.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace aegis::guard {
namespace {

// Small kernel files only; a missing or odd file yields "".
std::string ReadSmallFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::string text(4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<uint64_t> MemAvailable(const std::filesystem::path& meminfo) {
  std::istringstream in(ReadSmallFile(meminfo));
  std::string key, unit;
  uint64_t value = 0;
  while (in >> key >> value) {
    std::getline(in, unit);
    if (key == "MemAvailable:") {
      if (value > UINT64_MAX / 1024) return std::nullopt;
      return value * 1024;  // the file counts in kB
    }
  }
  return std::nullopt;
}

// The smallest headroom (memory.max - memory.current) of the process's cgroup
// v2 and its ancestors; nullopt when there is no limit (or no cgroup v2).
std::optional<uint64_t> CgroupHeadroom(const MemorySources& sources) {
  std::istringstream in(ReadSmallFile(sources.self_cgroup));
  std::string line, path;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) path = line.substr(3);  // the unified hierarchy
  }
  if (path.empty() || path.front() != '/') return std::nullopt;
  std::optional<uint64_t> headroom;
  for (std::filesystem::path dir = std::filesystem::path(path).relative_path();; dir = dir.parent_path()) {
    const auto base = sources.cgroup_root / dir;
    const auto max = ParseUint(ReadSmallFile(base / "memory.max"));  // "max" (no limit) does not parse
    if (max) {
      const uint64_t current = ParseUint(ReadSmallFile(base / "memory.current")).value_or(0);
      const uint64_t room = *max > current ? *max - current : 0;
      headroom = std::min(headroom.value_or(room), room);
    }
    if (dir.empty()) break;
  }
  return headroom;
}

}  // namespace

std::optional<uint64_t> AvailableMemory(const MemorySources& sources) {
  std::optional<uint64_t> available = MemAvailable(sources.meminfo);
  if (const auto room = CgroupHeadroom(sources)) available = std::min(available.value_or(*room), *room);
  return available;
}

MemoryBudgetOptions BodyBudgetOptions(uint64_t configured_total, int principal_percent, uint64_t max_body_bytes,
                                      std::optional<uint64_t> available) {
  MemoryBudgetOptions o;
  o.total_bytes = configured_total != 0
                      ? configured_total
                      : std::clamp(available ? *available / 4 : kFallbackBodyBudget, kMinBodyBudget, kMaxBodyBudget);
  const uint64_t percent = static_cast<uint64_t>(std::clamp(principal_percent, 1, 100));
  // percent / 100 of the total without overflow or losing the remainder.
  const uint64_t share = o.total_bytes / 100 * percent + o.total_bytes % 100 * percent / 100;
  o.per_principal_bytes = std::max(share, std::min(max_body_bytes, o.total_bytes));
  o.per_principal_bytes = std::min(o.per_principal_bytes, o.total_bytes);
  return o;
}

}  // namespace aegis::guard
