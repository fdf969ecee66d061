#include "jwks_source.h"

#include "aegis/common/file_util.h"
#include "aegis/http/client.h"
#include "commands.h"

namespace aegis::cli {
namespace {

constexpr size_t kMaxJwksBytes = 1 << 20;
constexpr std::string_view kFetching = "fetching auth.jwt.jwks_url";

// "https://host[:port]/path" → ("https://host[:port]", "/path").
std::pair<std::string, std::string> SplitUrl(const std::string& url) {
  const size_t path = url.find('/', std::string("https://").size());
  if (path == std::string::npos) return {url, "/"};
  return {url.substr(0, path), url.substr(path)};
}

// The JWKS at jwks_url, verified against jwks_ca (or the system store).
StatusOr<std::string> FetchJwks(const JwtSettings& settings) {
  const std::string context(kFetching);
  auto [server, target] = SplitUrl(settings.jwks_url);
  http::ClientOptions options;
  options.server = server;
  if (!settings.jwks_ca.empty()) options.ca_file = settings.jwks_ca;
  options.timeout_seconds = 10;
  auto client = http::HttpsClient::Connect(options);
  if (!client.ok()) return client.status().WithContext(context);
  auto response = (*client)->Request("GET", target);
  if (!response.ok()) return response.status().WithContext(context);
  if (response->status != 200) return Status::Unavailable(context + ": HTTP " + std::to_string(response->status));
  if (response->body.size() > kMaxJwksBytes) return Status::TooLarge(context + ": JWKS over 1 MiB");
  return std::move(response->body);
}

}  // namespace

JwksSource::JwksSource(const Config& config) : settings_(config.jwt) {
  if (!settings_) return;
  const std::string jwks = settings_->jwks_url.empty()
                               ? Check(ReadFile(settings_->jwks_file, kMaxJwksBytes), "reading auth.jwt.jwks_file")
                               : Check(FetchJwks(*settings_));
  verifier_ = Check(auth::JwtVerifier::Create(settings_->verifier, jwks), "auth.jwt");
}

JwksSource::~JwksSource() { StopRefresh(); }

void JwksSource::StartRefresh() {
  if (!settings_ || settings_->jwks_url.empty()) return;
  refresher_ =
      std::make_unique<auth::JwksRefresher>(*verifier_, [settings = *settings_] { return FetchJwks(settings); });
}

void JwksSource::StopRefresh() { refresher_.reset(); }

}  // namespace aegis::cli
