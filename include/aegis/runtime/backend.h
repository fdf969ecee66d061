// Backend: one loaded instance of a model on one engine. The plug-in boundary
// between Aegis and ONNX (OpenCV DNN), TorchScript (libtorch) and XGBoost.
//
// Every backend loads from an in-memory buffer (plaintext model bytes never touch
// the disk) and catches every engine exception at this boundary: an engine failure
// is a Status (Internal), never an exception escaping to the caller.
//
// Concurrency contract: a Backend instance runs one Infer at a time (callers
// serialize; see ModelInstances). Engines are configured single-threaded per
// instance; parallelism comes from several instances on the worker pool.
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

class Backend {
 public:
  virtual ~Backend() = default;
  // KServe "platform": "onnx_opencv", "pytorch_libtorch", "xgboost".
  virtual std::string_view platform() const = 0;
  virtual const ModelSignature& signature() const = 0;
  // Runs the model. `inputs` have passed ValidateInputs(signature(), inputs).
  // Returns every output the model produces, named as in signature().outputs.
  virtual StatusOr<std::vector<Tensor>> Infer(const std::vector<Tensor>& inputs) = 0;
};

// Parses `model_bytes` with the engine for `format`. The engine's own message is in
// the Status (Unprocessable) when it refuses the model.
StatusOr<std::unique_ptr<Backend>> LoadBackend(ModelFormat format, std::span<const uint8_t> model_bytes);

// N instances of one model; Infer borrows a free instance (waiting if all are busy).
// Infer does not call ValidateInputs: callers validate once, before it (the data
// plane does so ahead of anomaly scoring), so the hot path does not repeat the work.
// Thread-safety: Infer is safe for concurrent use.
class ModelInstances {
 public:
  static StatusOr<std::shared_ptr<ModelInstances>> Load(ModelFormat format, std::span<const uint8_t> model_bytes,
                                                        int instance_count);
  ~ModelInstances();
  const ModelSignature& signature() const;
  std::string_view platform() const;
  ModelFormat format() const { return format_; }
  StatusOr<std::vector<Tensor>> Infer(const std::vector<Tensor>& inputs);

 private:
  struct Pool;
  ModelInstances(ModelFormat format, std::unique_ptr<Pool> pool);
  ModelFormat format_;
  std::unique_ptr<Pool> pool_;
};

}  // namespace aegis::runtime
