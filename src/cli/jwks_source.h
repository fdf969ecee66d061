// JwksSource: the JWT verifier of `aegis serve`, with its keys from
// [auth.jwt] jwks_file (read once at start) or jwks_url (fetched at start, then
// kept current by auth::JwksRefresher: every 5 minutes, a failed refresh keeps
// the previous keys and is logged). Start-up fails when the keys cannot be read:
// a server configured for JWTs never runs without them.
//
// Thread-safety: construct, StartRefresh and StopRefresh on one thread;
// verifier() is safe to use from any thread.
#pragma once

#include <memory>
#include <optional>

#include "aegis/auth/jwks_refresher.h"
#include "aegis/auth/jwt.h"
#include "aegis/cli/config.h"

namespace aegis::cli {

class JwksSource {
 public:
  // Throws CommandError when [auth.jwt] is configured and its keys are unusable.
  explicit JwksSource(const Config& config);
  ~JwksSource();

  // Null when JWTs are not configured.
  const auth::JwtVerifier* verifier() const { return verifier_.get(); }

  void StartRefresh();
  void StopRefresh();

 private:
  std::optional<JwtSettings> settings_;
  std::unique_ptr<auth::JwtVerifier> verifier_;
  std::unique_ptr<auth::JwksRefresher> refresher_;  // declared last: stopped before the verifier goes
};

}  // namespace aegis::cli
