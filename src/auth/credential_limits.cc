#include "aegis/auth/credential_limits.h"

#include <string>

#include "aegis/guard/rate_limiter.h"

namespace aegis::auth {

StatusOr<CredentialLimits> CheckCredentialLimits(const store::RequestLimits& limits) {
  CredentialLimits out;
  if (!limits.rate.empty()) {
    auto rate = guard::ParseRate(limits.rate);
    if (!rate.ok()) return rate.status();
    if (!rate->Limited()) return Status::InvalidArgument("rate \"off\" is not a credential's own limit: leave it out");
    out.rate_per_second = rate->per_second;
    out.burst = rate->burst;
  }
  if (limits.burst != 0) {
    if (limits.rate.empty()) return Status::InvalidArgument("a burst needs a rate (--rate)");
    if (limits.burst > kMaxCredentialBurst) {
      return Status::InvalidArgument("burst must be between 1 and " + std::to_string(kMaxCredentialBurst));
    }
    out.burst = limits.burst;
  }
  if (limits.quota_per_day > kMaxCredentialQuota) {
    return Status::InvalidArgument("quota must be at most " + std::to_string(kMaxCredentialQuota) + " a day");
  }
  out.quota_per_day = limits.quota_per_day;
  return out;
}

}  // namespace aegis::auth
