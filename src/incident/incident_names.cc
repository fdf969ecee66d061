// The incidents' vocabularies, the checks on what operators send, and the
// default playbooks (include/aegis/incident/incidents.h).
#include <algorithm>
#include <array>

#include "aegis/common/utf8.h"
#include "aegis/incident/incidents.h"

namespace aegis::incident {
namespace {

constexpr std::array<std::string_view, kIncidentKindCount> kKindNames = {
    "rate_abuse", "brute_force", "out_of_distribution", "extraction", "integrity", "engine_crash", "audit"};
constexpr std::array<std::string_view, kSeverityCount> kSeverityNames = {"low", "medium", "high", "critical"};
constexpr std::array<std::string_view, 3> kStateNames = {"open", "acknowledged", "resolved"};
constexpr std::array<std::string_view, 4> kActionNames = {"alert", "throttle", "suspend", "withdraw"};
constexpr std::array<std::string_view, 4> kPrincipalPrefixes = {"token:", "user:", "jwt:", "cert:"};
constexpr size_t kMaxPrincipalName = 256;

template <typename E, size_t N>
std::optional<E> Parse(const std::array<std::string_view, N>& names, std::string_view name) {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) return std::nullopt;
  return static_cast<E>(it - names.begin());
}

// Well-formed UTF-8 with no control character except those `allowed` names.
bool IsCleanText(std::string_view s, std::string_view allowed) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 || c == 0x7f) && allowed.find(static_cast<char>(c)) == std::string_view::npos) return false;
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    // C1 controls (U+0080..U+009F) are two bytes, 0xC2 0x80..0x9F.
    if (n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) return false;
    i += n;
  }
  return true;
}

}  // namespace

std::string_view IncidentKindName(IncidentKind kind) { return kKindNames.at(static_cast<size_t>(kind)); }
std::optional<IncidentKind> ParseIncidentKind(std::string_view name) { return Parse<IncidentKind>(kKindNames, name); }
std::string_view SeverityName(Severity severity) { return kSeverityNames.at(static_cast<size_t>(severity)); }
std::optional<Severity> ParseSeverity(std::string_view name) { return Parse<Severity>(kSeverityNames, name); }
std::string_view IncidentStateName(IncidentState state) { return kStateNames.at(static_cast<size_t>(state)); }
std::optional<IncidentState> ParseIncidentState(std::string_view name) {
  return Parse<IncidentState>(kStateNames, name);
}
std::string_view ResponseActionName(ResponseAction action) { return kActionNames.at(static_cast<size_t>(action)); }
std::optional<ResponseAction> ParseResponseAction(std::string_view name) {
  return Parse<ResponseAction>(kActionNames, name);
}

bool IsIncidentId(std::string_view id) {
  return id.size() == 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Status CheckPrincipalName(std::string_view name) {
  const bool prefixed = std::any_of(kPrincipalPrefixes.begin(), kPrincipalPrefixes.end(), [&](std::string_view p) {
    return name.size() > p.size() && name.substr(0, p.size()) == p;
  });
  if (!prefixed) {
    return Status::InvalidArgument(
        "a principal is named like the audit log names it: token:NAME, user:NAME, jwt:SUB or cert:SUBJECT");
  }
  if (name.size() > kMaxPrincipalName) {
    return Status::InvalidArgument("a principal name is at most " + std::to_string(kMaxPrincipalName) + " bytes");
  }
  if (!IsCleanText(name, "")) {
    return Status::InvalidArgument("a principal name must be UTF-8 without control characters");
  }
  return Status::Ok();
}

Status CheckNote(std::string_view note) {
  if (note.empty()) return Status::InvalidArgument("a resolution note is required");
  if (note.size() > kMaxNoteBytes) {
    return Status::InvalidArgument("a note is at most " + std::to_string(kMaxNoteBytes) + " bytes");
  }
  if (!IsCleanText(note, "\n\t")) {
    return Status::InvalidArgument("a note must be UTF-8 without control characters other than newline and tab");
  }
  return Status::Ok();
}

Playbooks Playbooks::Defaults() {
  // Only actions this build carries out: an incident must not list an action
  // that did nothing. Extraction is the one signal an outsider cannot raise
  // against someone else's credential (its queries are made with it): stop it
  // at once. The rest are recorded and left to an operator.
  Playbooks p;
  p.by_kind[static_cast<size_t>(IncidentKind::kExtraction)] = {ResponseAction::kSuspend};
  return p;
}

}  // namespace aegis::incident
