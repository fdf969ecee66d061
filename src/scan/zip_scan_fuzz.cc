// libFuzzer target: the bounded zip reader and the archive scanner (names,
// torch archive kinds, member extraction with CRC checks, pickle members).
#include <cstdint>
#include <span>

#include "scan_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aegis::scan::internal;
  aegis::scan::ScanLimits limits;
  limits.max_pickle_bytes = 4u << 20;  // keeps each run fast; the logic is the same
  FindingList findings;
  // Any answer is fine; the fuzzer looks for crashes and overreads.
  ScanZipArchive(std::span<const uint8_t>(data, size), limits, findings).IgnoreError();
  (void)findings.Take();
  return 0;
}
