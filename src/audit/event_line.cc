// A hand-written serializer: the writer thread formats every event of the log,
// and a generic JSON library's tree building costs several times more than
// appending escaped strings to one buffer.
#include "aegis/audit/event_line.h"

#include <charconv>

#include "aegis/audit/audit_log.h"
#include "aegis/common/clock.h"
#include "aegis/common/utf8.h"

namespace aegis::audit {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendUint(uint64_t v, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void AppendInt(int64_t v, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void Member(std::string_view key, std::string_view value, std::string& out) {
  out += ",\"";
  out += key;
  out += "\":";
  AppendJsonString(value, out);
}

// ,"summary":{"window_ms":1000,"count":N,"statuses":{"200":N},"latency_us":{"p50":…,"p90":…,"p99":…,"max":…}}
void AppendSummary(const EventSummary& summary, std::string& out) {
  out += ",\"summary\":{\"window_ms\":";
  AppendInt(summary.window_ms, out);
  out += ",\"count\":";
  AppendUint(summary.count, out);
  out += ",\"statuses\":{";
  for (size_t i = 0; i < summary.statuses.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    AppendInt(summary.statuses[i].first, out);
    out += "\":";
    AppendUint(summary.statuses[i].second, out);
  }
  out += "},\"latency_us\":{\"p50\":";
  AppendInt(summary.p50_us, out);
  out += ",\"p90\":";
  AppendInt(summary.p90_us, out);
  out += ",\"p99\":";
  AppendInt(summary.p99_us, out);
  out += ",\"max\":";
  AppendInt(summary.max_us, out);
  out += "}}";
}

}  // namespace

void AppendJsonString(std::string_view s, std::string& out) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        ++i;
        continue;
      case '\\':
        out += "\\\\";
        ++i;
        continue;
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD for each invalid byte
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  out += '"';
}

void AppendEventLine(uint64_t seq, const Hash& prev, std::string_view replica, const AuditEvent& e, std::string& out) {
  out += "{\"seq\":";
  AppendUint(seq, out);
  out += ",\"prev\":\"";
  for (uint8_t b : prev) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  out += '"';
  if (!replica.empty()) Member("replica", replica, out);
  AppendEventMembers(e, out);
  out += '}';
}

void AppendEventMembers(const AuditEvent& e, std::string& out) {
  Member("time", FormatRfc3339(e.time), out);
  Member("request_id", e.request_id, out);
  // Optional members are left out when unset, so events without them keep the
  // bytes they always had.
  if (e.request_id_from_client) Member("request_id_origin", "client", out);
  if (!e.traceparent.empty()) Member("traceparent", e.traceparent, out);
  Member("principal", e.principal, out);
  if (!e.auth_method.empty()) Member("auth_method", e.auth_method, out);
  Member("action", e.action, out);
  Member("resource", e.resource, out);
  Member("decision", DecisionName(e.decision), out);
  if (!e.grant.empty()) Member("grant", e.grant, out);
  out += ",\"status\":";
  AppendInt(e.status, out);
  out += ",\"latency_us\":";
  AppendInt(e.latency_us, out);
  Member("remote", e.remote, out);
  Member("listener", ListenerName(e.listener), out);
  if (!e.reason.empty()) Member("reason", e.reason, out);
  if (e.summary) AppendSummary(*e.summary, out);
}

std::string EventToJson(const AuditEvent& e) {
  std::string out;
  AppendEventMembers(e, out);
  out[0] = '{';  // the members start with a separating comma
  out += '}';
  return out;
}

std::optional<LinePrefix> ParseLinePrefix(std::string_view line) {
  constexpr std::string_view kSeq = "{\"seq\":";
  constexpr std::string_view kPrev = ",\"prev\":\"";
  if (!line.starts_with(kSeq)) return std::nullopt;
  LinePrefix p;
  const char* begin = line.data() + kSeq.size();
  const char* end = line.data() + line.size();
  if (begin == end || (*begin == '0' && begin + 1 < end && begin[1] >= '0' && begin[1] <= '9')) return std::nullopt;
  auto [ptr, ec] = std::from_chars(begin, end, p.seq);
  if (ec != std::errc() || ptr == begin) return std::nullopt;
  std::string_view rest(ptr, static_cast<size_t>(end - ptr));
  if (!rest.starts_with(kPrev) || rest.size() < kPrev.size() + 64 + 1) return std::nullopt;
  rest.remove_prefix(kPrev.size());
  for (size_t i = 0; i < 32; ++i) {
    int v = 0;
    for (int half = 0; half < 2; ++half) {
      const char c = rest[2 * i + half];
      int d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else
        return std::nullopt;
      v = v * 16 + d;
    }
    p.prev[i] = static_cast<uint8_t>(v);
  }
  if (rest[64] != '"') return std::nullopt;
  return p;
}

std::string_view LineTime(std::string_view line) {
  constexpr std::string_view kTime = ",\"time\":\"";
  const size_t at = line.find(kTime);
  if (at == std::string_view::npos) return {};
  const size_t start = at + kTime.size();
  const size_t close = line.find('"', start);
  if (close == std::string_view::npos) return {};
  return line.substr(start, close - start);
}

}  // namespace aegis::audit
