// libFuzzer target: request-target parsing and percent-decoding. Beyond "no
// crash": an accepted path never contains a ".." segment or a NUL, in any spelling.
#include "target.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  auto target = aegis::http::internal::ParseTarget(raw);
  if (target.ok()) {
    const std::string& path = target->path;
    if (path.find('\0') != std::string::npos) std::abort();
    if (path == ".." || path.find("/../") != std::string::npos || path.ends_with("/..") || path.starts_with("../")) {
      std::abort();
    }
  }
  return 0;
}
