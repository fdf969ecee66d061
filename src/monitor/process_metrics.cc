#include "process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace aegis::monitor::internal {
namespace {

std::optional<std::string> ReadText(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<double> ToNumber(std::string_view field) {
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), n);
  if (ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
  return static_cast<double>(n);
}

// Entries of /proc/self/fd except "." and "..", not counting the one opendir holds.
std::optional<double> CountOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double n = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - 1;
}

}  // namespace

std::optional<ProcessSample> ParseProcStat(std::string_view stat, long ticks_per_second, long page_size,
                                           double boot_time_seconds) {
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0 || page_size <= 0) return std::nullopt;
  // After "pid (comm) ": field 3 (state) onwards, separated by single spaces.
  std::vector<std::string_view> fields;
  std::string_view rest = stat.substr(close + 1);
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  // Field n (1-based, proc(5)) is fields[n - 3].
  const auto field = [&](size_t n) { return n - 3 < fields.size() ? ToNumber(fields[n - 3]) : std::nullopt; };
  const auto utime = field(14), stime = field(15), starttime = field(22), vsize = field(23), rss = field(24);
  if (!utime || !stime || !starttime || !vsize || !rss) return std::nullopt;
  ProcessSample s;
  const auto ticks = static_cast<double>(ticks_per_second);
  s.cpu_seconds = (*utime + *stime) / ticks;
  s.start_time_seconds = boot_time_seconds + *starttime / ticks;
  s.virtual_bytes = *vsize;
  s.resident_bytes = *rss * static_cast<double>(page_size);
  return s;
}

std::optional<double> ParseBootTime(std::string_view proc_stat) {
  constexpr std::string_view kKey = "btime ";
  size_t at = 0;
  while ((at = proc_stat.find(kKey, at)) != std::string_view::npos) {
    if (at == 0 || proc_stat[at - 1] == '\n') {
      std::string_view value = proc_stat.substr(at + kKey.size());
      value = value.substr(0, value.find('\n'));
      return ToNumber(value);
    }
    at += kKey.size();
  }
  return std::nullopt;
}

std::optional<ProcessSample> ReadSelf() {
  const auto stat = ReadText("/proc/self/stat");
  const auto system = ReadText("/proc/stat");
  if (!stat || !system) return std::nullopt;
  const auto boot = ParseBootTime(*system);
  if (!boot) return std::nullopt;
  auto sample = ParseProcStat(*stat, ::sysconf(_SC_CLK_TCK), ::sysconf(_SC_PAGESIZE), *boot);
  if (!sample) return std::nullopt;
  sample->open_fds = CountOpenFds();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    sample->max_fds = static_cast<double>(limit.rlim_cur);
  }
  return sample;
}

}  // namespace aegis::monitor::internal
