// Format names and the LoadBackend dispatcher.
#include "aegis/runtime/backend.h"

#include "engines.h"

namespace aegis::runtime {

std::string_view ModelFormatName(ModelFormat format) {
  switch (format) {
    case ModelFormat::kOnnx:
      return "onnx";
    case ModelFormat::kTorchScript:
      return "torchscript";
    case ModelFormat::kXgboost:
      return "xgboost";
  }
  return "unknown";
}

std::optional<ModelFormat> ParseModelFormat(std::string_view name) {
  for (ModelFormat format : {ModelFormat::kOnnx, ModelFormat::kTorchScript, ModelFormat::kXgboost}) {
    if (ModelFormatName(format) == name) return format;
  }
  return std::nullopt;
}

void PrepareEngine(ModelFormat format) {
  switch (format) {
    case ModelFormat::kOnnx:
      return PrepareOnnxEngine();
    case ModelFormat::kTorchScript:
      return PrepareTorchScriptEngine();
    case ModelFormat::kXgboost:
      return PrepareXgboostEngine();
  }
}

StatusOr<std::unique_ptr<Backend>> LoadBackend(ModelFormat format, std::span<const uint8_t> model_bytes,
                                               const EngineOptions& options) {
  if (model_bytes.empty()) return Status::Unprocessable("the model is empty");
  switch (format) {
    case ModelFormat::kOnnx:
      return LoadOnnxBackend(model_bytes, options);
    case ModelFormat::kTorchScript:
      return LoadTorchScriptBackend(model_bytes, options);
    case ModelFormat::kXgboost:
      return LoadXgboostBackend(model_bytes, options);
  }
  return Status::InvalidArgument("unknown model format");
}

std::string PublicMessage(StatusCode code) {
  return code == StatusCode::kInvalidArgument ? "the input does not fit the model" : "inference failed";
}

}  // namespace aegis::runtime
