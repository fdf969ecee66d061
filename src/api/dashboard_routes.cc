// Control-plane routes for the live dashboard's static files: GET / (the page),
// /dashboard/app.js, /dashboard/app.css and /dashboard/favicon.svg. They need no
// credential — they hold no data; the page asks for a login and then reads
// /v1/dashboard with it — but every answer carries a strict
// Content-Security-Policy, so that even a bug in the page cannot run injected
// script, load anything from elsewhere or be framed.
#include <optional>

#include "control_routes.h"
#include "dashboard_assets.h"

namespace aegis::api::internal {
namespace {

constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Served {
  std::string_view file;  // in src/api/dashboard/
  std::string_view content_type;
};

// The only paths served; anything else under /dashboard is 404.
std::optional<Served> Lookup(std::string_view path) {
  if (path == "/") return Served{"index.html", "text/html; charset=utf-8"};
  if (path == "/dashboard/app.js") return Served{"app.js", "text/javascript; charset=utf-8"};
  if (path == "/dashboard/app.css") return Served{"app.css", "text/css; charset=utf-8"};
  if (path == "/dashboard/favicon.svg") return Served{"favicon.svg", "image/svg+xml; charset=utf-8"};
  return std::nullopt;
}

const EmbeddedAsset* Find(std::string_view file) {
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    if (kEmbeddedAssets[i].name == file) return &kEmbeddedAssets[i];
  }
  return nullptr;
}

}  // namespace

void AddBrowserHardening(http::Response& response) {
  // The server adds nosniff and no-store to every response; these are the
  // browser-facing rest.
  response.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  response.headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
}

void PlanDashboardAsset(RouteRequest& r) {
  http::Response response;
  const auto served = Lookup(r.head.path);
  const EmbeddedAsset* asset = served ? Find(served->file) : nullptr;
  if (!asset) {
    response = http::Response::Error(404, "no such endpoint");  // the table and the build disagree
  } else {
    response.status = 200;
    response.content_type = std::string(served->content_type);
    response.body.assign(reinterpret_cast<const char*>(asset->data), asset->size);
  }
  AddBrowserHardening(response);
  r.plan.immediate = std::move(response);
}

void PlanDashboardNotFound(RouteRequest& r) {
  http::Response response = http::Response::Error(404, "no such endpoint");
  AddBrowserHardening(response);
  r.plan.immediate = std::move(response);
}

}  // namespace aegis::api::internal
