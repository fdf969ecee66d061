#include "user_validation.h"

#include <algorithm>
#include <optional>

#include "aegis/common/model_glob.h"
#include "aegis/common/utf8.h"

namespace aegis::auth::internal {
namespace {

bool IsAlnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Code points in well-formed UTF-8 (no overlongs, surrogates or values past
// U+10FFFF); nullopt otherwise.
std::optional<size_t> CountCodePoints(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++count) {
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return std::nullopt;
    i += len;
  }
  return count;
}

}  // namespace

bool IsValidUserName(std::string_view name) {
  if (name.empty() || name.size() > 64 || !IsAlnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlnum(c) || c == '.' || c == '_' || c == '@' || c == '-'; });
}

StatusOr<policy::Grant> ValidateGrant(std::string_view role_name, std::string_view models) {
  const auto role = policy::ParseRole(role_name);
  if (!role) {
    return Status::InvalidArgument("unknown role '" + std::string(role_name) +
                                   "' (admin, deployer, approver, auditor, consumer)");
  }
  if (!IsValidModelGlob(models)) return Status::InvalidArgument("invalid model glob '" + std::string(models) + "'");
  if (!policy::IsScopable(*role) && models != "*") {
    return Status::InvalidArgument("role " + std::string(role_name) +
                                   " applies to every model: its models must be '*'");
  }
  return policy::Grant{*role, std::string(models)};
}

Status ValidatePassword(std::string_view password, std::string_view user_name) {
  if (password.size() > kMaxPasswordBytes) return Status::InvalidArgument("password must be at most 1024 bytes");
  const auto characters = CountCodePoints(password);
  if (!characters) return Status::InvalidArgument("password must be valid UTF-8");
  if (*characters < kMinPasswordCharacters) {
    return Status::InvalidArgument("password must be at least 12 characters");
  }
  // User names are ASCII, so an ASCII case fold is enough to catch "Alice" for "alice".
  if (std::equal(password.begin(), password.end(), user_name.begin(), user_name.end(),
                 [](char a, char b) { return AsciiLower(a) == AsciiLower(b); })) {
    return Status::InvalidArgument("password must not be the user name");
  }
  return Status::Ok();
}

}  // namespace aegis::auth::internal
