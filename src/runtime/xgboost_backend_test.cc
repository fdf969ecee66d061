#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include "aegis/runtime/backend.h"
#include "common/testing/status_matchers.h"
#include "runtime_test_util.h"

namespace aegis::runtime {
namespace {

using testing::ReadExampleBytes;

class XgboostBackendTest : public ::testing::TestWithParam<std::string> {};

TEST_P(XgboostBackendTest, ReproducesXgboostPredictions) {
  std::vector<uint8_t> model = ReadExampleBytes(GetParam());
  StatusOr<std::unique_ptr<Backend>> backend = LoadBackend(ModelFormat::kXgboost, model);
  ASSERT_OK(backend);
  EXPECT_EQ((*backend)->platform(), "xgboost");
  const ModelSignature& signature = (*backend)->signature();
  ASSERT_EQ(signature.inputs.size(), 1u);
  EXPECT_EQ(signature.inputs[0].name, "input");
  EXPECT_EQ(signature.inputs[0].shape, (std::vector<int64_t>{-1, 4}));
  ASSERT_EQ(signature.outputs.size(), 1u);
  EXPECT_EQ(signature.outputs[0].name, "output");
  EXPECT_EQ(signature.outputs[0].shape, (std::vector<int64_t>{-1, 3}));  // multi:softprob, 3 classes

  testing::ReferenceCase reference = testing::LoadReference("xgb_classifier");
  ASSERT_OK(ValidateInputs(signature, reference.inputs));
  StatusOr<std::vector<Tensor>> outputs = (*backend)->Infer(reference.inputs);
  ASSERT_OK(outputs);
  testing::ExpectTensorsNear(*outputs, reference.outputs, 0, 1e-6);

  Tensor empty = testing::Fp32Tensor("input", {0, 4}, {});
  StatusOr<std::vector<Tensor>> none = (*backend)->Infer({empty});
  ASSERT_OK(none);
  EXPECT_EQ((*none)[0].shape, (std::vector<int64_t>{0, 3}));
}

INSTANTIATE_TEST_SUITE_P(JsonAndUbj, XgboostBackendTest,
                         ::testing::Values("xgb_classifier.json", "xgb_classifier.ubj"));

// The legacy binary format, produced in memory by libxgboost itself.
std::vector<uint8_t> LegacyBinaryModel() {
  std::vector<uint8_t> json = ReadExampleBytes("xgb_classifier.json");
  BoosterHandle booster = nullptr;
  EXPECT_EQ(XGBoosterCreate(nullptr, 0, &booster), 0);
  EXPECT_EQ(XGBoosterLoadModelFromBuffer(booster, json.data(), json.size()), 0);
  bst_ulong length = 0;
  const char* bytes = nullptr;
  EXPECT_EQ(XGBoosterSaveModelToBuffer(booster, R"({"format": "deprecated"})", &length, &bytes), 0);
  std::vector<uint8_t> legacy(bytes, bytes + length);
  XGBoosterFree(booster);
  return legacy;
}

TEST(XgboostBackendRefusalTest, RefusesLegacyBinary) {
  std::vector<uint8_t> legacy = LegacyBinaryModel();
  ASSERT_GT(legacy.size(), 100u);
  StatusOr<std::unique_ptr<Backend>> refused = LoadBackend(ModelFormat::kXgboost, legacy);
  EXPECT_STATUS_IS(refused, StatusCode::kUnprocessable);
  EXPECT_EQ(refused.status().message(), "only XGBoost JSON or UBJ models are accepted");
}

TEST(XgboostBackendRefusalTest, RefusesGarbageAndTruncations) {
  for (const char* example : {"mlp.onnx", "mlp.pt", "reference.json"}) {
    StatusOr<std::unique_ptr<Backend>> refused = LoadBackend(ModelFormat::kXgboost, ReadExampleBytes(example));
    EXPECT_STATUS_IS(refused, StatusCode::kUnprocessable) << example;
    EXPECT_FALSE(refused.status().message().empty());
  }
  for (const char* example : {"xgb_classifier.json", "xgb_classifier.ubj"}) {
    std::vector<uint8_t> model = ReadExampleBytes(example);
    // Densely through the header, sparsely after it: each load is a whole
    // libxgboost parse (a tenth of a second under ASan).
    for (size_t length = 1; length < model.size(); length += length < 4096 ? 211 : 1499) {
      std::vector<uint8_t> prefix(model.data(), model.data() + length);
      StatusOr<std::unique_ptr<Backend>> loaded = LoadBackend(ModelFormat::kXgboost, prefix);
      EXPECT_STATUS_IS(loaded, StatusCode::kUnprocessable) << example << " length " << length;
    }
  }
}

TEST(XgboostBackendRefusalTest, RefusesNonFloatInputs) {
  StatusOr<std::unique_ptr<Backend>> backend =
      LoadBackend(ModelFormat::kXgboost, ReadExampleBytes("xgb_classifier.json"));
  ASSERT_OK(backend);
  Tensor doubles{.name = "input", .datatype = DataType::kFp64, .shape = {1, 4}};
  doubles.data.resize(32);
  StatusOr<std::vector<Tensor>> result = (*backend)->Infer({doubles});
  EXPECT_STATUS_IS(result, StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "datatype FP64 is not supported by the XGBoost engine");
  Tensor wrong_width = testing::Fp32Tensor("input", {1, 3}, {1, 2, 3});
  EXPECT_STATUS_IS((*backend)->Infer({wrong_width}), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace aegis::runtime
