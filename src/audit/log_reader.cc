// Windows of the log for readers: from a seq and/or a time, oldest first.
#include <fcntl.h>
#include <unistd.h>

#include "aegis/audit/event_line.h"
#include "aegis/common/clock.h"
#include "log_files.h"

namespace aegis::audit::internal {
namespace {

// The time of a segment's first event ("" if it has none yet).
std::string FirstTime(const Segment& segment) {
  auto prefix = SegmentPrefix(segment, 4096);
  if (!prefix.ok()) return {};
  const std::string& head = *prefix;
  const size_t nl = head.find('\n');
  if (nl == std::string::npos) return {};
  return std::string(LineTime(std::string_view(head).substr(0, nl)));
}

}  // namespace

StatusOr<AuditPage> ReadAuditWindow(const std::filesystem::path& dir, const AuditQuery& query, size_t limit) {
  AEGIS_ASSIGN_OR_RETURN(auto segments, ListSegments(dir));
  // Times are written as fixed-width UTC RFC 3339, so they compare as strings.
  const std::string since = query.since ? FormatRfc3339(*query.since) : std::string();
  const uint64_t from = query.from_seq.value_or(0);
  // Start at the last segment that can hold the first match; event times are
  // nearly monotonic, so a segment whose first event is older than `since` is a
  // safe place to begin scanning.
  size_t start = 0;
  for (size_t i = segments.size(); i-- > 0;) {
    if (segments[i].first_seq > from) continue;
    if (!since.empty()) {
      const std::string first = FirstTime(segments[i]);
      if (!first.empty() && first >= since && i > 0) continue;
    }
    start = i;
    break;
  }
  AuditPage page;
  for (size_t i = start; i < segments.size() && !page.next_seq; ++i) {
    AEGIS_ASSIGN_OR_RETURN(SegmentText file, SegmentText::Read(segments[i]));
    ForEachLine(file.view(), [&](std::string_view line) {
      auto prefix = ParseLinePrefix(line);
      if (!prefix || prefix->seq < from) return true;
      if (!since.empty() && LineTime(line) < since) return true;
      if (page.lines.size() == limit) {
        page.next_seq = prefix->seq;
        return false;
      }
      page.lines.emplace_back(line);
      return true;
    });
  }
  return page;
}

}  // namespace aegis::audit::internal
