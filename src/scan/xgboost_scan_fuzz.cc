// libFuzzer target: XGBoost JSON (simdjson, depth-limited) and UBJ (ubjson.cc).
#include <cstdint>
#include <span>

#include "scan_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aegis::scan::internal;
  std::span<const uint8_t> bytes(data, size);
  aegis::scan::ScanLimits limits;
  FindingList findings;
  // Any answer is fine; the fuzzer looks for crashes and overreads.
  ScanXgboostJson(bytes, limits, findings).IgnoreError();
  ScanXgboostUbj(bytes, limits, findings).IgnoreError();
  (void)findings.Take();
  return 0;
}
