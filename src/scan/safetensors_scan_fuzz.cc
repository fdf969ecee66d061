// libFuzzer target: the safetensors header checks, and format detection / the
// whole ScanBytes dispatch on the same input.
#include <cstdint>
#include <span>

#include "scan_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aegis::scan::internal;
  std::span<const uint8_t> bytes(data, size);
  aegis::scan::ScanLimits limits;
  FindingList findings;
  ScanSafetensors(bytes, limits, findings);
  (void)findings.Take();
  aegis::scan::ScanBytes(bytes, limits).IgnoreError();  // any answer, no crash
  return 0;
}
