// libFuzzer target: the pickle disassembler and stack/memo simulation, on one
// stream and as a whole file (consecutive pickles), with both allowlists.
#include <cstdint>
#include <span>

#include "pickle_scanner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aegis::scan::internal;
  std::span<const uint8_t> bytes(data, size);
  FindingList findings;
  PickleScanOptions options;
  options.context = size % 2 ? PickleContext::kTorchScript : PickleContext::kGeneric;
  options.report_malformed = size % 3 != 0;
  PickleScanResult result = ScanPickle(bytes, options, findings);
  if (result.end > size) __builtin_trap();
  ScanBarePickle(bytes, findings);
  (void)findings.Take();
  return 0;
}
