#include "trace_ids.h"

#include <optional>

namespace aegis::http::internal {
namespace {

bool IsLowerHex(std::string_view s) {
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZeros(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

// The value of the only `name` header, or nullopt when absent or repeated.
std::optional<std::string_view> OnlyHeader(const RequestHead& head, std::string_view name) {
  std::optional<std::string_view> found;
  for (const auto& [n, v] : head.headers) {
    if (n != name) continue;
    if (found) return std::nullopt;
    found = v;
  }
  return found;
}

}  // namespace

bool IsValidClientRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxClientRequestIdLength) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

bool IsValidTraceparent(std::string_view value) {
  // version "-" trace-id "-" parent-id "-" trace-flags
  if (value.size() != 55 || value[2] != '-' || value[35] != '-' || value[52] != '-') return false;
  const std::string_view version = value.substr(0, 2);
  const std::string_view trace_id = value.substr(3, 32);
  const std::string_view parent_id = value.substr(36, 16);
  const std::string_view flags = value.substr(53, 2);
  return version == "00" && IsLowerHex(trace_id) && !AllZeros(trace_id) && IsLowerHex(parent_id) &&
         !AllZeros(parent_id) && IsLowerHex(flags);
}

void AdoptClientIds(RequestHead& head) {
  if (const auto id = OnlyHeader(head, "x-request-id"); id && IsValidClientRequestId(*id)) {
    head.request_id.assign(*id);
    head.request_id_from_client = true;
  }
  if (const auto tp = OnlyHeader(head, "traceparent"); tp && IsValidTraceparent(*tp)) head.traceparent.assign(*tp);
}

}  // namespace aegis::http::internal
