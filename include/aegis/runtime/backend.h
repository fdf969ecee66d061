// Backend: one loaded instance of a model on one engine. The plug-in boundary
// between Aegis and ONNX (OpenCV DNN), TorchScript (libtorch) and XGBoost.
//
// A Backend runs model code: the server creates them only inside confined engine
// worker processes (see model_instances.h), or in process when an operator set
// [runtime] isolation = "none" for trusted models.
//
// Every backend loads from an in-memory buffer (plaintext model bytes never touch
// the disk) and catches every engine exception at this boundary: an engine failure
// is a Status (Internal), never an exception escaping to the caller.
//
// Concurrency contract: a Backend instance runs one Infer at a time (callers
// serialize). Engines are configured single-threaded per instance; parallelism
// comes from several instances.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/runtime/tensor.h"

namespace aegis::runtime {

enum class ModelFormat { kOnnx, kTorchScript, kXgboost };
std::string_view ModelFormatName(ModelFormat format);  // "onnx", "torchscript", "xgboost"
std::optional<ModelFormat> ParseModelFormat(std::string_view name);

// How an engine may treat what it is given.
struct EngineOptions {
  // True when input bytes stay mapped after Infer returns and are the engine's to
  // change (a worker's shared memory): engines may then read them in place
  // instead of copying. False in the server process, where they are the caller's.
  bool may_borrow_inputs = false;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // KServe "platform": "onnx_opencv", "pytorch_libtorch", "xgboost".
  virtual std::string_view platform() const = 0;
  virtual const ModelSignature& signature() const = 0;
  // Runs the model. `inputs` have passed ValidateInputs(signature(), inputs).
  // Returns every output the model produces, named as in signature().outputs.
  // A failure's message is the engine's own (it may name weights or shapes): it
  // is for the server log; clients get a generic reason (see PublicMessage).
  // InvalidArgument means the input does not fit the model.
  virtual StatusOr<std::vector<Tensor>> Infer(std::span<const TensorView> inputs) = 0;
  StatusOr<std::vector<Tensor>> Infer(const std::vector<Tensor>& inputs) { return Infer(ViewsOf(inputs)); }
};

// The engine's process-wide set-up, which reads /proc and /sys (thread pools, CPU
// detection). An engine worker calls it before it confines itself; LoadBackend
// calls it too.
void PrepareEngine(ModelFormat format);

// Parses `model_bytes` with the engine for `format`. The engine's own message is in
// the Status (Unprocessable) when it refuses the model.
StatusOr<std::unique_ptr<Backend>> LoadBackend(ModelFormat format, std::span<const uint8_t> model_bytes,
                                               const EngineOptions& options = {});

// What a client is told about a failed inference, whatever the engine said:
// "the input does not fit the model" for InvalidArgument, "inference failed"
// otherwise. Engine messages can describe a model's internals (weight shapes,
// layer names), which a consumer must not learn.
std::string PublicMessage(StatusCode code);

}  // namespace aegis::runtime
