// libFuzzer target: the XGBoost structure checks over UBJ that ValidateUbj has
// NOT vetted (UbjValue promises bounds checks of its own), then over what it has.
#include "xgboost_structure.h"

#include <cstdint>
#include <span>

#include "ubjson.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aegis::scan::internal;
  std::span<const uint8_t> bytes(data, size);
  aegis::scan::ScanLimits limits;
  FindingList findings;
  CheckXgboostUbjStructure(bytes, limits, findings);
  if (ValidateUbj(bytes, limits.max_json_depth).ok()) CheckXgboostUbjStructure(bytes, limits, findings);
  (void)findings.Take();
  return 0;
}
