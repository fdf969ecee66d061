#include "jwks_source.h"

#include <spdlog/spdlog.h>

#include "aegis/common/file_util.h"
#include "aegis/http/client.h"
#include "commands.h"

namespace aegis::cli {
namespace {

constexpr size_t kMaxJwksBytes = 1 << 20;
constexpr std::chrono::minutes kRefreshInterval{5};

// "https://host[:port]/path" → ("https://host[:port]", "/path").
std::pair<std::string, std::string> SplitUrl(const std::string& url) {
  const size_t path = url.find('/', std::string("https://").size());
  if (path == std::string::npos) return {url, "/"};
  return {url.substr(0, path), url.substr(path)};
}

}  // namespace

JwksSource::JwksSource(const Config& config) : settings_(config.jwt) {
  if (!settings_) return;
  const std::string jwks = settings_->jwks_url.empty()
                               ? Check(ReadFile(settings_->jwks_file, kMaxJwksBytes), "reading auth.jwt.jwks_file")
                               : Fetch();
  verifier_ = Check(auth::JwtVerifier::Create(settings_->verifier, jwks), "auth.jwt");
}

JwksSource::~JwksSource() { StopRefresh(); }

std::string JwksSource::Fetch() const {
  auto [server, target] = SplitUrl(settings_->jwks_url);
  http::ClientOptions options;
  options.server = server;
  if (!settings_->jwks_ca.empty()) options.ca_file = settings_->jwks_ca;
  options.timeout_seconds = 10;
  auto client = Check(http::HttpsClient::Connect(options), "fetching auth.jwt.jwks_url");
  auto response = Check(client->Request("GET", target), "fetching auth.jwt.jwks_url");
  if (response.status != 200) {
    throw CommandError("fetching auth.jwt.jwks_url: HTTP " + std::to_string(response.status));
  }
  if (response.body.size() > kMaxJwksBytes) throw CommandError("fetching auth.jwt.jwks_url: JWKS over 1 MiB");
  return response.body;
}

void JwksSource::StartRefresh() {
  if (!settings_ || settings_->jwks_url.empty()) return;
  refresher_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!wake_.wait_for(lock, kRefreshInterval, [this] { return stop_; })) {
      lock.unlock();
      try {
        Status replaced = verifier_->ReplaceKeys(Fetch());
        if (!replaced.ok()) spdlog::warn("JWKS refresh refused, keeping the previous keys: {}", replaced.message());
      } catch (const CommandError& e) {
        spdlog::warn("JWKS refresh failed, keeping the previous keys: {}", e.what());
      }
      lock.lock();
    }
  });
}

void JwksSource::StopRefresh() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

}  // namespace aegis::cli
