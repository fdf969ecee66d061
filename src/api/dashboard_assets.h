// The dashboard's static files (src/api/dashboard/), embedded into the binary at
// build time by dashboard/embed_assets.cmake. Internal to the api module.
//
// Thread-safety: immutable data.
#pragma once

#include <cstddef>
#include <string_view>

namespace aegis::api::internal {

struct EmbeddedAsset {
  std::string_view name;  // file name in src/api/dashboard/, e.g. "app.js"
  const unsigned char* data;
  size_t size;
};

// Defined in the generated dashboard_assets.cc.
extern const EmbeddedAsset kEmbeddedAssets[];
extern const size_t kEmbeddedAssetCount;

}  // namespace aegis::api::internal
