// A credential's own request limits as stored (store::RequestLimits: the rate
// as written, "N/s", "N/m" or "N/h") and as the guard stage uses them
// (auth::CredentialLimits), checked the same way for tokens and users.
//
// Thread-safety: stateless functions.
#pragma once

#include "aegis/auth/principal.h"
#include "aegis/common/status.h"
#include "aegis/store/metadata_store.h"

namespace aegis::auth {

// Largest burst and daily quota a credential may be given.
inline constexpr uint64_t kMaxCredentialBurst = 1'000'000'000;
inline constexpr uint64_t kMaxCredentialQuota = 1'000'000'000'000;

// InvalidArgument naming the problem: a rate that does not parse, a burst
// without a rate, a burst or quota out of range. Empty limits are valid (the
// server's defaults). A valid burst of 0 with a rate becomes the rate's N.
StatusOr<CredentialLimits> CheckCredentialLimits(const store::RequestLimits& limits);

}  // namespace aegis::auth
