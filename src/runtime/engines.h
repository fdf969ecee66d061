// The engine factories behind LoadBackend (internal to the runtime module).
//
// Each parses `model_bytes` from memory only, catches every engine exception and
// returns Unprocessable with the engine's message when the engine refuses the model.
// Thread-safety: the factories may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "aegis/common/status.h"
#include "aegis/runtime/backend.h"

namespace aegis::runtime {

StatusOr<std::unique_ptr<Backend>> LoadOnnxBackend(std::span<const uint8_t> model_bytes, const EngineOptions& options);
StatusOr<std::unique_ptr<Backend>> LoadTorchScriptBackend(std::span<const uint8_t> model_bytes,
                                                          const EngineOptions& options);
StatusOr<std::unique_ptr<Backend>> LoadXgboostBackend(std::span<const uint8_t> model_bytes,
                                                      const EngineOptions& options);

// Process-wide engine set-up (thread pools, CPU detection), which reads /proc and
// /sys: done once, before an engine worker confines itself. Idempotent; the
// Load functions call it too.
void PrepareOnnxEngine();
void PrepareTorchScriptEngine();
void PrepareXgboostEngine();

// Element count of a dense (non-BYTES) tensor whose data length matches its shape;
// InvalidArgument otherwise. Backends re-check this cheap invariant so that a caller
// that skipped ValidateInputs gets an error, not an out-of-bounds read.
StatusOr<uint64_t> DenseElementCount(const TensorView& tensor);

// Engine messages go to clients: keep them to one bounded line.
std::string EngineMessage(std::string_view message);

}  // namespace aegis::runtime
