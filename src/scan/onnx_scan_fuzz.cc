// libFuzzer target: the ONNX protobuf walker (external data, domains, depth).
#include <cstdint>
#include <span>
#include <vector>

#include "scan_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aegis::scan::internal;
  std::span<const uint8_t> bytes(data, size);
  aegis::scan::ScanLimits limits;
  FindingList findings;
  std::vector<ExternalDataRef> refs;
  (void)LooksLikeOnnx(bytes);
  ScanOnnx(bytes, limits, findings, size % 2 ? &refs : nullptr).IgnoreError();  // any answer, no crash
  (void)findings.Take();
  return 0;
}
