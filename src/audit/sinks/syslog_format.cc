#include "syslog_format.h"

#include <nlohmann/json.hpp>

#include "aegis/common/clock.h"

namespace aegis::audit::internal {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The audit log writes times as FormatRfc3339 does ("2026-11-22T01:58:25.123456Z"),
// which is exactly RFC 5424's TIMESTAMP with TIME-SECFRAC of six digits. Anything
// else is not copied into the header.
bool IsRfc5424Timestamp(std::string_view t) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  if (t.size() < kShape.size() + 1 || t.size() > kShape.size() + 8 || t.back() != 'Z') return false;
  for (size_t i = 0; i < kShape.size(); ++i) {
    const bool digit = t[i] >= '0' && t[i] <= '9';
    if (kShape[i] == 'd' ? !digit : t[i] != kShape[i]) return false;
  }
  std::string_view frac = t.substr(kShape.size(), t.size() - kShape.size() - 1);
  if (frac.empty()) return true;
  if (frac.size() < 2 || frac[0] != '.') return false;
  for (char c : frac.substr(1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string Timestamp(const nlohmann::json& j, std::chrono::system_clock::time_point now) {
  if (j.is_object()) {
    auto it = j.find("time");
    if (it != j.end() && it->is_string() && IsRfc5424Timestamp(it->get_ref<const std::string&>())) {
      return it->get<std::string>();
    }
  }
  return FormatRfc3339(now);
}

std::string StringField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (it->is_number_unsigned()) return std::to_string(it->get<uint64_t>());
  return {};
}

std::string Header(const SyslogOrigin& o, int severity, const std::string& timestamp, std::string_view msgid) {
  std::string out = "<" + std::to_string(o.facility * 8 + severity) + ">1 " + timestamp + " ";
  out += o.hostname + " " + o.app_name + " " + o.procid + " " + SanitizeHeaderField(msgid, 32) + " ";
  return out;
}

void AddParam(std::string& sd, const char* name, std::string_view value) {
  sd += ' ';
  sd += name;
  sd += "=\"";
  sd += EscapeSdValue(value);
  sd += '"';
}

// RFC 5424 §7.3.1: [meta sequenceId="N"], 1..2147483647, wrapping.
std::string MetaElement(uint64_t seq) {
  constexpr uint64_t kMax = 2147483647;
  const uint64_t id = seq == 0 ? 1 : (seq - 1) % kMax + 1;
  return "[meta sequenceId=\"" + std::to_string(id) + "\"]";
}

void AppendMsg(std::string& out, std::string_view json) {
  out += kBom;
  out += json;
}

}  // namespace

std::string SanitizeHeaderField(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 33 && u <= 126) ? c : '_';
  }
  return out.empty() ? "-" : out;
}

std::string EscapeSdValue(std::string_view s, size_t max) {
  std::string in(s.substr(0, max + 1));  // one byte more tells whether `max` splits a character
  TruncateUtf8(in, max);
  std::string out;
  out.reserve(in.size() + 8);
  for (char c : in) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\' || c == ']') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatEventMessage(const SyslogOrigin& origin, std::string_view event_json, uint64_t seq,
                               std::chrono::system_clock::time_point now) {
  // The line comes from our own writer; a line that does not parse is still
  // forwarded (as MSG), just without the fields taken from it.
  const auto j = nlohmann::json::parse(event_json, nullptr, false);
  const std::string decision = StringField(j, "decision");
  const int severity = decision == "deny" ? kSeverityWarning : kSeverityInfo;
  std::string out = Header(origin, severity, Timestamp(j, now), StringField(j, "action"));
  std::string sd = "[" + std::string(kSdId);
  if (const std::string log_seq = StringField(j, "seq"); !log_seq.empty()) AddParam(sd, "seq", log_seq);
  AddParam(sd, "decision", decision);
  AddParam(sd, "status", StringField(j, "status"));
  AddParam(sd, "principal", StringField(j, "principal"));
  AddParam(sd, "resource", StringField(j, "resource"));
  out += sd + "]" + MetaElement(seq) + " ";
  AppendMsg(out, event_json);
  return out;
}

std::string FormatHeadMessage(const SyslogOrigin& origin, std::string_view head_json, uint64_t seq,
                              std::chrono::system_clock::time_point now) {
  const auto j = nlohmann::json::parse(head_json, nullptr, false);
  std::string out = Header(origin, kSeverityInfo, Timestamp(j, now), "tree_head");
  std::string sd = "[" + std::string(kSdId);
  AddParam(sd, "tree_size", StringField(j, "tree_size"));
  AddParam(sd, "root", StringField(j, "root"));
  out += sd + "]" + MetaElement(seq) + " ";
  AppendMsg(out, head_json);
  return out;
}

void TruncateUtf8(std::string& message, size_t max_bytes) {
  if (message.size() <= max_bytes) return;
  size_t cut = max_bytes;
  // Back up to the first byte of the sequence the cut falls into (at most 3 steps
  // in valid UTF-8), so the kept part ends with complete characters.
  for (int i = 0; i < 3 && cut > 0 && IsContinuation(message[cut]); ++i) --cut;
  message.resize(cut);
}

std::string OctetCountingFrame(std::string_view message) {
  std::string out = std::to_string(message.size());
  out += ' ';
  out += message;
  return out;
}

}  // namespace aegis::audit::internal
