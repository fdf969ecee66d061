#include "aegis/auth/jwks_refresher.h"

#include <utility>

#include <spdlog/spdlog.h>

namespace aegis::auth {

JwksRefresher::JwksRefresher(JwtVerifier& verifier, Fetch fetch, std::chrono::steady_clock::duration interval)
    : verifier_(verifier), fetch_(std::move(fetch)), thread_(interval, [this]() noexcept { Refresh(); }) {}

void JwksRefresher::Refresh() noexcept {
  StatusOr<std::string> jwks = fetch_();
  if (!jwks.ok()) {
    spdlog::warn("JWKS refresh failed, keeping the previous keys: {}", jwks.status().message());
    return;
  }
  if (Status replaced = verifier_.ReplaceKeys(*jwks); !replaced.ok()) {
    spdlog::warn("JWKS refresh refused, keeping the previous keys: {}", replaced.message());
  }
}

}  // namespace aegis::auth
