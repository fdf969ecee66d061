#include <gtest/gtest.h>

#include "aegis/runtime/backend.h"
#include "common/testing/status_matchers.h"
#include "runtime_test_util.h"

namespace aegis::runtime {
namespace {

using testing::ReadExampleBytes;

TEST(OnnxBackendTest, ReproducesTorchReferenceOutputs) {
  std::vector<uint8_t> model = ReadExampleBytes("mlp.onnx");
  StatusOr<std::unique_ptr<Backend>> backend = LoadBackend(ModelFormat::kOnnx, model);
  ASSERT_OK(backend);
  EXPECT_EQ((*backend)->platform(), "onnx_opencv");
  const ModelSignature& signature = (*backend)->signature();
  ASSERT_EQ(signature.inputs.size(), 1u);
  EXPECT_EQ(signature.inputs[0].name, "input");
  EXPECT_EQ(signature.inputs[0].datatype, DataType::kFp32);
  EXPECT_TRUE(signature.inputs[0].datatype_fixed);
  EXPECT_EQ(signature.inputs[0].shape, (std::vector<int64_t>{-1, 4}));
  ASSERT_EQ(signature.outputs.size(), 1u);
  EXPECT_EQ(signature.outputs[0].name, "output");

  testing::ReferenceCase reference = testing::LoadReference("mlp");
  ASSERT_OK(ValidateInputs(signature, reference.inputs));
  for (int run = 0; run < 3; ++run) {  // repeated runs reuse OpenCV's allocated network
    StatusOr<std::vector<Tensor>> outputs = (*backend)->Infer(reference.inputs);
    ASSERT_OK(outputs);
    testing::ExpectTensorsNear(*outputs, reference.outputs, 1e-5, 0);
  }
  // A different batch size on the same instance.
  Tensor one_row = testing::Fp32Tensor("input", {1, 4}, {0.5f, -1.0f, 2.0f, 0.0f});
  StatusOr<std::vector<Tensor>> single = (*backend)->Infer({one_row});
  ASSERT_OK(single);
  EXPECT_EQ((*single)[0].shape, (std::vector<int64_t>{1, 3}));
}

TEST(OnnxBackendTest, RefusesInputsItCannotTake) {
  std::vector<uint8_t> model = ReadExampleBytes("mlp.onnx");
  StatusOr<std::unique_ptr<Backend>> backend = LoadBackend(ModelFormat::kOnnx, model);
  ASSERT_OK(backend);
  Tensor bytes{.name = "input", .datatype = DataType::kBytes, .shape = {1}, .data = {0, 0, 0, 0}};
  StatusOr<std::vector<Tensor>> result = (*backend)->Infer({bytes});
  EXPECT_STATUS_IS(result, StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "datatype BYTES is not supported by the OpenCV ONNX engine");
  Tensor short_data = testing::Fp32Tensor("input", {2, 4}, {1, 2, 3});  // skipped validation: still no over-read
  EXPECT_STATUS_IS((*backend)->Infer({short_data}), StatusCode::kInvalidArgument);
  // A wrong feature count reaches OpenCV, whose failure is an Internal error, not a crash.
  Tensor wrong_width = testing::Fp32Tensor("input", {1, 5}, {1, 2, 3, 4, 5});
  StatusOr<std::vector<Tensor>> engine_failure = (*backend)->Infer({wrong_width});
  EXPECT_STATUS_IS(engine_failure, StatusCode::kInternal);
}

TEST(OnnxBackendTest, ConvertsOtherNumericInputsToFloat) {
  std::vector<uint8_t> model = ReadExampleBytes("mlp.onnx");
  StatusOr<std::unique_ptr<Backend>> backend = LoadBackend(ModelFormat::kOnnx, model);
  ASSERT_OK(backend);
  Tensor as_float = testing::Fp32Tensor("input", {1, 4}, {1, 2, 3, 4});
  Tensor as_int64{.name = "input", .datatype = DataType::kInt64, .shape = {1, 4}};
  for (int64_t v : {1, 2, 3, 4}) {
    as_int64.data.insert(as_int64.data.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 8);
  }
  StatusOr<std::vector<Tensor>> expected = (*backend)->Infer({as_float});
  StatusOr<std::vector<Tensor>> actual = (*backend)->Infer({as_int64});
  ASSERT_TRUE(expected.ok() && actual.ok());
  EXPECT_EQ((*actual)[0].data, (*expected)[0].data);
}

TEST(OnnxBackendTest, RefusesGarbageAndTruncatedModels) {
  std::vector<uint8_t> garbage(4096);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>(i * 7919 + 13);
  StatusOr<std::unique_ptr<Backend>> refused = LoadBackend(ModelFormat::kOnnx, garbage);
  EXPECT_STATUS_IS(refused, StatusCode::kUnprocessable);
  EXPECT_FALSE(refused.status().message().empty());
  EXPECT_STATUS_IS(LoadBackend(ModelFormat::kOnnx, std::span<const uint8_t>()), StatusCode::kUnprocessable);
  EXPECT_STATUS_IS(LoadBackend(ModelFormat::kOnnx, ReadExampleBytes("mlp.pt")), StatusCode::kUnprocessable);

  std::vector<uint8_t> model = ReadExampleBytes("mlp.onnx");
  for (size_t length = 1; length < model.size(); length += 3) {
    std::vector<uint8_t> prefix(model.data(), model.data() + length);
    StatusOr<std::unique_ptr<Backend>> loaded = LoadBackend(ModelFormat::kOnnx, prefix);
    if (!loaded.ok()) {
      EXPECT_STATUS_IS(loaded, StatusCode::kUnprocessable) << loaded.status().message();
    }
  }
}

}  // namespace
}  // namespace aegis::runtime
