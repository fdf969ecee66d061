// The boundary between the runtime and its TorchScript engine module
// (libaegis_torchscript.so), the only code that links libtorch.
//
// Why a module: a process that links libtorch pays about 0.7 s of CPU and 160 MB of
// memory before main(), mapping and relocating it. Every `aegis` command, the server
// and every engine worker paid that, though only a worker that runs a TorchScript
// model uses libtorch; and the server process carried libtorch's code without ever
// calling it. The runtime now loads the module (torchscript_engine.cc) the first time
// a TorchScript engine is prepared: in a confined engine worker before it confines
// itself, or in the server only with [runtime] isolation = "none".
//
// The module is built from this tree, by the same compiler, against the same
// headers, and passes C++ types across; the entry checks that it matches the
// loading binary (kAbi and the sizes below) rather than trusting it.
// Thread-safety: the entry is immutable; its functions follow engines.h.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "aegis/common/status.h"
#include "aegis/runtime/backend.h"
#include "aegis/runtime/tensor.h"

namespace aegis::runtime::torchscript {

// The module's one exported symbol: `extern "C" const ModuleEntry* <kEntryPoint>()`.
inline constexpr char kEntryPoint[] = "aegis_torchscript_engine";
// Bumped whenever ModuleEntry, or what its functions pass, changes meaning.
inline constexpr uint32_t kAbi = 1;

struct ModuleEntry {
  uint32_t abi;
  // The layout of what crosses the boundary, as the module was compiled.
  uint32_t sizeof_status;
  uint32_t sizeof_tensor;
  uint32_t sizeof_tensor_view;
  uint32_t sizeof_engine_options;
  uint32_t sizeof_signature;
  void (*prepare)();
  StatusOr<std::unique_ptr<Backend>> (*load)(std::span<const uint8_t> model_bytes, const EngineOptions& options);
};

// What the loading binary expects; the module fills its entry the same way.
inline constexpr ModuleEntry ExpectedLayout() {
  return ModuleEntry{
      kAbi,    sizeof(Status), sizeof(Tensor), sizeof(TensorView), sizeof(EngineOptions), sizeof(ModelSignature),
      nullptr, nullptr};
}

using EntryFunction = const ModuleEntry*();

// Opens the module at `path` and returns its checked entry. The file must be a
// regular file (not a symbolic link), owned by root or by this process's user and
// not writable by group or others: a library is code this process will run, so
// only who could replace the aegis binary itself may provide it. It is opened once
// and loaded through /proc/self/fd, so the file checked is the file loaded. What
// was loaded is never unloaded (libtorch does not support it). For the runtime's
// own use and tests.
StatusOr<const ModuleEntry*> OpenModule(const std::string& path);

// Where this build's module is (set at build time; see src/runtime/CMakeLists.txt).
const char* ModulePath();

}  // namespace aegis::runtime::torchscript
