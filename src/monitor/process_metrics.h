// The standard Prometheus process metrics (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds), read from
// /proc at scrape time as the official client libraries do. Internal to
// src/monitor.
//
// Thread-safety: pure functions and reads of /proc; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace aegis::monitor::internal {

struct ProcessSample {
  double cpu_seconds = 0;          // user + system time
  double resident_bytes = 0;       // RSS
  double virtual_bytes = 0;        // address space
  double start_time_seconds = 0;   // unix time the process started
  std::optional<double> open_fds;  // entries of /proc/self/fd
  std::optional<double> max_fds;   // RLIMIT_NOFILE's soft limit
};

// The fields of a /proc/<pid>/stat line this needs, given the kernel's clock
// tick, page size and boot time (unix seconds, /proc/stat's btime). The
// command name (field 2) may hold spaces and parentheses: fields are counted
// after its last ')'. nullopt when the line is not of that shape.
std::optional<ProcessSample> ParseProcStat(std::string_view stat, long ticks_per_second, long page_size,
                                           double boot_time_seconds);

// /proc/stat's "btime" line: the boot time in unix seconds.
std::optional<double> ParseBootTime(std::string_view proc_stat);

// This process, now; nullopt when /proc cannot be read (then the metrics are
// left out rather than reported as zeros).
std::optional<ProcessSample> ReadSelf();

}  // namespace aegis::monitor::internal
