// XGBoost models on libxgboost's C API (platform "xgboost").
//
// One input `input`, FP32 [-1, num_features]; one output `output`, FP32 [-1] or
// [-1, K] as the booster reports it (K classes for multi:softprob). Prediction uses
// XGBoosterPredictFromDense (in-place predict: no DMatrix per request).
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <xgboost/c_api.h>

#include "engines.h"
#include "xgboost_format.h"

namespace aegis::runtime {
namespace {

// XGBoost appends a native stack trace to its messages; clients get the message alone.
Status XgbError(StatusCode code, const std::string& what) {
  std::string_view message = XGBGetLastError();
  message = message.substr(0, message.find("Stack trace:"));
  return Status(code, what + ": " + EngineMessage(message));
}

// The prediction settings: plain values, all trees, NaN marks a missing feature.
constexpr const char* kPredictConfig =
    R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "missing": NaN, "cache_id": 0})";

struct Prediction {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Runs in-place prediction over `rows` x `features` floats at `data`.
StatusOr<Prediction> Predict(BoosterHandle booster, const float* data, uint64_t rows, uint64_t features) {
  char array_interface[256];
  std::snprintf(array_interface, sizeof(array_interface),
                R"({"data": [%)" PRIuPTR R"(, true], "shape": [%)" PRIu64 ", %" PRIu64
                R"(], "typestr": "<f4", "version": 3})",
                reinterpret_cast<uintptr_t>(data), rows, features);
  const bst_ulong* out_shape = nullptr;
  bst_ulong out_dim = 0;
  const float* out_result = nullptr;
  if (XGBoosterPredictFromDense(booster, array_interface, kPredictConfig, nullptr, &out_shape, &out_dim, &out_result) !=
      0) {
    return XgbError(StatusCode::kInternal, "XGBoost prediction failed");
  }
  Prediction prediction;
  uint64_t count = 1;
  for (bst_ulong i = 0; i < out_dim; ++i) {
    prediction.shape.push_back(static_cast<int64_t>(out_shape[i]));
    count *= out_shape[i];
  }
  // out_result is thread-local scratch owned by the booster: copy it before the next call.
  prediction.values.assign(out_result, out_result + count);
  return prediction;
}

class XgboostBackend final : public Backend {
 public:
  explicit XgboostBackend(BoosterHandle booster) : booster_(booster) {}
  ~XgboostBackend() override { XGBoosterFree(booster_); }
  XgboostBackend(const XgboostBackend&) = delete;
  XgboostBackend& operator=(const XgboostBackend&) = delete;

  // Loads the model, then learns the output shape from one probe row (which also
  // warms the booster up).
  Status Load(std::span<const uint8_t> model_bytes) {
    if (XGBoosterLoadModelFromBuffer(booster_, model_bytes.data(), model_bytes.size()) != 0) {
      return XgbError(StatusCode::kUnprocessable, "XGBoost refused the model");
    }
    // One thread per instance; parallelism comes from instances.
    if (XGBoosterSetParam(booster_, "nthread", "1") != 0) return XgbError(StatusCode::kInternal, "XGBoost nthread");
    bst_ulong features = 0;
    if (XGBoosterGetNumFeature(booster_, &features) != 0) {
      return XgbError(StatusCode::kUnprocessable, "XGBoost model without a feature count");
    }
    if (features == 0 || features > (uint64_t{1} << 31)) {
      return Status::Unprocessable("XGBoost model has " + std::to_string(features) + " features");
    }
    features_ = features;
    signature_.inputs.push_back({.name = "input", .datatype = DataType::kFp32, .shape = {-1, int64_t(features_)}});
    std::vector<float> row(features_, 0.0f);
    AEGIS_ASSIGN_OR_RETURN(Prediction probe, Predict(booster_, row.data(), 1, features_));
    TensorSpec output{.name = "output", .datatype = DataType::kFp32, .shape = {-1}};
    if (probe.shape.size() == 2) {
      output.shape.push_back(probe.shape[1]);
    } else if (probe.shape.size() != 1) {
      return Status::Unprocessable("XGBoost predicts a rank-" + std::to_string(probe.shape.size()) +
                                   " output; Aegis serves rank 1 or 2");
    }
    signature_.outputs.push_back(std::move(output));
    return Status::Ok();
  }

  std::string_view platform() const override { return "xgboost"; }
  const ModelSignature& signature() const override { return signature_; }

  StatusOr<std::vector<Tensor>> Infer(std::span<const TensorView> inputs) override {
    const TensorView* input = nullptr;
    for (const TensorView& t : inputs) input = t.name == "input" ? &t : input;
    if (!input) return Status::InvalidArgument("missing input 'input'");
    if (input->datatype != DataType::kFp32) {
      return Status::InvalidArgument("datatype " + std::string(DataTypeName(input->datatype)) +
                                     " is not supported by the XGBoost engine");
    }
    AEGIS_RETURN_IF_ERROR(DenseElementCount(*input).status());
    if (input->shape.size() != 2 || input->shape[1] != static_cast<int64_t>(features_)) {
      return Status::InvalidArgument("input 'input' must have shape [-1, " + std::to_string(features_) + "]");
    }
    uint64_t rows = static_cast<uint64_t>(input->shape[0]);
    Tensor output{.name = "output", .datatype = DataType::kFp32, .shape = signature_.outputs[0].shape};
    output.shape[0] = static_cast<int64_t>(rows);
    if (rows == 0) return std::vector<Tensor>{std::move(output)};  // nothing to ask the engine
    // The vector's storage is at least 8-byte aligned, as the "<f4" array interface needs.
    AEGIS_ASSIGN_OR_RETURN(Prediction prediction,
                           Predict(booster_, reinterpret_cast<const float*>(input->data.data()), rows, features_));
    output.shape = prediction.shape;
    output.data.resize(prediction.values.size() * sizeof(float));
    std::memcpy(output.data.data(), prediction.values.data(), output.data.size());
    return std::vector<Tensor>{std::move(output)};
  }

 private:
  BoosterHandle booster_;
  uint64_t features_ = 0;
  ModelSignature signature_;
};

}  // namespace

void PrepareXgboostEngine() {
  // A throw-away booster initialises the library (and its OpenMP runtime).
  static std::once_flag once;
  std::call_once(once, [] {
    BoosterHandle booster = nullptr;
    if (XGBoosterCreate(nullptr, 0, &booster) == 0) XGBoosterFree(booster);
  });
}

StatusOr<std::unique_ptr<Backend>> LoadXgboostBackend(std::span<const uint8_t> model_bytes, const EngineOptions&) {
  AEGIS_RETURN_IF_ERROR(CheckXgboostModelFormat(model_bytes).status());
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) return XgbError(StatusCode::kInternal, "XGBoost booster creation");
  auto backend = std::make_unique<XgboostBackend>(booster);  // frees the booster on every return
  AEGIS_RETURN_IF_ERROR(backend->Load(model_bytes));
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace aegis::runtime
