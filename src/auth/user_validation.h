// Input rules for new accounts (internal to src/auth): the user name, the
// grant (role × model glob) and the password policy. Messages name the rule
// broken and never echo the password.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "aegis/common/status.h"
#include "aegis/policy/policy.h"

namespace aegis::auth::internal {

inline constexpr size_t kMinPasswordCharacters = 12;  // code points, not bytes
inline constexpr size_t kMaxPasswordBytes = 1024;

// [A-Za-z0-9][A-Za-z0-9._@-]{0,63}
bool IsValidUserName(std::string_view name);

// A known role, a valid glob, and "*" for roles that are never scoped.
StatusOr<policy::Grant> ValidateGrant(std::string_view role, std::string_view models);

// Valid UTF-8, at least 12 code points, at most 1024 bytes, and not the user
// name in any letter case.
Status ValidatePassword(std::string_view password, std::string_view user_name);

}  // namespace aegis::auth::internal
