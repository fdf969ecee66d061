// A static pickle analyser: disassembles protocol 0-5 opcode streams and simulates
// the unpickler's stack, mark stack and memo just enough to know, for every import
// (GLOBAL, STACK_GLOBAL, INST, EXT*), which module and name it resolves to, and, for
// every call (REDUCE, OBJ, NEWOBJ, NEWOBJ_EX, INST) and BUILD, what it applies to.
//
// It follows CPython's C unpickler (_pickle.c) where scanners have been fooled
// before: the memo is keyed exactly as CPython keys it (MEMOIZE uses the number of
// entries, so PUT and MEMOIZE can collide), GET of a missing key is an error,
// POP removes a mark when one sits on top, STACK_GLOBAL operands are taken from
// the simulated stack (through the memo), never from "the last strings seen", and
// import names are compared byte for byte (no trimming: "os " or "os\r" are not "os").
//
// Thread-safety: stateless; safe for concurrent use.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "scan_internal.h"

namespace aegis::scan::internal {

// Which allowlist applies: TorchScript archives are read by libtorch's own
// unpickler, which knows a handful of globals and `__torch__.*` classes compiled
// from the archive's code; anything else might reach Python's pickle.
enum class PickleContext { kTorchScript, kGeneric };

struct PickleScanOptions {
  PickleContext context = PickleContext::kGeneric;
  std::string location;      // prefix of finding locations, e.g. "zip entry 'a/data.pkl'"
  uint64_t base_offset = 0;  // added to the offsets in finding locations
  // True: a malformed stream is itself a critical finding. False (a member picked
  // by content sniffing, maybe not a pickle at all): only imports and calls count.
  bool report_malformed = true;
};

struct PickleScanResult {
  size_t end = 0;  // offset just past STOP, or where analysis stopped
  bool reached_stop = false;
  bool malformed = false;  // the unpickler would have raised (or limits were hit)
  std::string error;       // why, when malformed
  size_t imports = 0;      // import opcodes seen (resolved or not)
};

// Scans one pickle stream starting at bytes[0] and ending at its STOP.
PickleScanResult ScanPickle(std::span<const uint8_t> bytes, const PickleScanOptions& options, FindingList& out);

// True for the legacy (pre-zip) torch.save format, which starts with a pickled magic number.
bool IsLegacyTorchSave(std::span<const uint8_t> bytes);

// The allowlist decision for one import. `allowed` imports need no finding; the
// others get `severity` (critical for code execution, import machinery, files,
// processes, network; high for anything else unknown).
struct ImportVerdict {
  bool allowed = false;
  Severity severity = Severity::kHigh;
};
ImportVerdict CheckImport(std::string_view module, std::string_view name, PickleContext context);

}  // namespace aegis::scan::internal
