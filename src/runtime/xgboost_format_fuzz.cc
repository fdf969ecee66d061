// libFuzzer target: the XGBoost format check guards libxgboost's recursive JSON and
// UBJ readers (depth) and refuses the legacy binary format.
#include "xgboost_format.h"

#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Any answer is fine; the fuzzer looks for crashes and overreads.
  aegis::runtime::CheckXgboostModelFormat(std::span<const uint8_t>(data, size)).IgnoreError();
  return 0;
}
