// libFuzzer target: XGBoost JSON (simdjson, depth-limited) and UBJ (ubjson.cc).
#include <cstdint>
#include <span>

#include "scan_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aegis::scan::internal;
  std::span<const uint8_t> bytes(data, size);
  aegis::scan::ScanLimits limits;
  FindingList findings;
  (void)ScanXgboostJson(bytes, limits, findings);
  (void)ScanXgboostUbj(bytes, limits, findings);
  (void)findings.Take();
  return 0;
}
