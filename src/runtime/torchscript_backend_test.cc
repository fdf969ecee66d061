#include <gtest/gtest.h>

#include "aegis/runtime/backend.h"
#include "common/testing/status_matchers.h"
#include "runtime_test_util.h"

namespace aegis::runtime {
namespace {

using testing::ReadExampleBytes;

std::unique_ptr<Backend> MustLoad(const std::string& example) {
  std::vector<uint8_t> model = ReadExampleBytes(example);
  StatusOr<std::unique_ptr<Backend>> backend = LoadBackend(ModelFormat::kTorchScript, model);
  EXPECT_OK(backend);
  return backend.ok() ? std::move(backend).value() : nullptr;
}

TEST(TorchScriptBackendTest, ReproducesReferenceOutputs) {
  std::unique_ptr<Backend> backend = MustLoad("mlp.pt");
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->platform(), "pytorch_libtorch");
  const ModelSignature& signature = backend->signature();
  ASSERT_EQ(signature.inputs.size(), 1u);
  EXPECT_EQ(signature.inputs[0].name, "input");  // from forward's schema, `self` skipped
  EXPECT_FALSE(signature.inputs[0].datatype_fixed);
  EXPECT_FALSE(signature.inputs[0].rank_known);
  EXPECT_EQ(signature.inputs[0].datatype, DataType::kFp32);
  ASSERT_EQ(signature.outputs.size(), 1u);
  EXPECT_EQ(signature.outputs[0].name, "output");

  testing::ReferenceCase reference = testing::LoadReference("mlp");
  ASSERT_OK(ValidateInputs(signature, reference.inputs));
  for (int run = 0; run < 3; ++run) {  // the JIT profiles the first runs, then optimizes
    StatusOr<std::vector<Tensor>> outputs = backend->Infer(reference.inputs);
    ASSERT_OK(outputs);
    testing::ExpectTensorsNear(*outputs, reference.outputs, 1e-5, 0);
  }
}

// echo.pt returns x.clone(): each supported datatype must come back bit for bit.
TEST(TorchScriptBackendTest, EchoRoundTripsEverySupportedDatatype) {
  std::unique_ptr<Backend> backend = MustLoad("echo.pt");
  ASSERT_NE(backend, nullptr);
  ASSERT_EQ(backend->signature().inputs.size(), 1u);
  EXPECT_EQ(backend->signature().inputs[0].name, "x");
  for (DataType type : {DataType::kBool, DataType::kUint8, DataType::kInt8, DataType::kInt16, DataType::kInt32,
                        DataType::kInt64, DataType::kFp16, DataType::kFp32, DataType::kFp64}) {
    for (const std::vector<int64_t>& shape :
         {std::vector<int64_t>{2, 3}, std::vector<int64_t>{}, std::vector<int64_t>{0, 4}}) {
      Tensor input{.name = "x", .datatype = type, .shape = shape};
      input.data.resize(*input.ElementCount() * DataTypeSize(type));
      for (size_t i = 0; i < input.data.size(); ++i) {
        // BOOL must be 0/1; FP16/FP32/FP64 bytes are arbitrary but finite-safe for a copy.
        input.data[i] = type == DataType::kBool ? (i % 2) : static_cast<uint8_t>(i * 37 + 5);
      }
      StatusOr<std::vector<Tensor>> outputs = backend->Infer({input});
      ASSERT_OK(outputs) << DataTypeName(type) << ": " << outputs.status().message();
      ASSERT_EQ(outputs->size(), 1u);
      const Tensor& out = (*outputs)[0];
      EXPECT_EQ(out.name, "output");
      EXPECT_EQ(out.datatype, type) << DataTypeName(type);
      EXPECT_EQ(out.shape, shape);
      EXPECT_EQ(out.data, input.data) << DataTypeName(type);
    }
  }
}

TEST(TorchScriptBackendTest, RefusesDatatypesTorchLacks) {
  std::unique_ptr<Backend> backend = MustLoad("echo.pt");
  ASSERT_NE(backend, nullptr);
  for (DataType type : {DataType::kUint16, DataType::kUint32, DataType::kUint64}) {
    Tensor input{.name = "x", .datatype = type, .shape = {1}};
    input.data.resize(DataTypeSize(type));
    StatusOr<std::vector<Tensor>> result = backend->Infer({input});
    EXPECT_STATUS_IS(result, StatusCode::kInvalidArgument);
    EXPECT_EQ(result.status().message(),
              "datatype " + std::string(DataTypeName(type)) + " is not supported by the TorchScript engine");
  }
  Tensor bytes{.name = "x", .datatype = DataType::kBytes, .shape = {1}, .data = {1, 0, 0, 0, 'a'}};
  EXPECT_EQ(backend->Infer({bytes}).status().message(), "datatype BYTES is not supported by the TorchScript engine");
}

TEST(TorchScriptBackendTest, InputThatDoesNotFitIsInvalidAndHidesTheModelCode) {
  std::unique_ptr<Backend> backend = MustLoad("mlp.pt");
  ASSERT_NE(backend, nullptr);
  Tensor wrong_width = testing::Fp32Tensor("input", {1, 5}, {1, 2, 3, 4, 5});
  StatusOr<std::vector<Tensor>> result = backend->Infer({wrong_width});
  EXPECT_STATUS_IS(result, StatusCode::kInvalidArgument);
  const std::string& message = result.status().message();
  EXPECT_NE(message.find("cannot be multiplied"), std::string::npos) << message;
  EXPECT_EQ(message.find("Exception raised from"), std::string::npos) << message;  // no C++ backtrace
  EXPECT_EQ(message.find("Traceback"), std::string::npos) << message;              // no TorchScript traceback
  EXPECT_EQ(message.find("self."), std::string::npos) << message;                  // no model code
}

TEST(TorchScriptBackendTest, EngineFailureIsInternal) {
  std::unique_ptr<Backend> backend = MustLoad("failing.pt");  // raises inside forward
  ASSERT_NE(backend, nullptr);
  StatusOr<std::vector<Tensor>> result = backend->Infer({testing::Fp32Tensor("x", {1}, {1})});
  EXPECT_STATUS_IS(result, StatusCode::kInternal) << result.status().message();
  const std::string& message = result.status().message();
  EXPECT_NE(message.find("deliberate failure inside the model"), std::string::npos) << message;
  EXPECT_EQ(message.find("Exception raised from"), std::string::npos) << message;
  EXPECT_EQ(message.find("Traceback"), std::string::npos) << message;
}

TEST(TorchScriptBackendTest, RefusesOtherBytes) {
  for (const char* example : {"mlp.onnx", "xgb_classifier.json", "reference.json"}) {
    StatusOr<std::unique_ptr<Backend>> refused = LoadBackend(ModelFormat::kTorchScript, ReadExampleBytes(example));
    EXPECT_STATUS_IS(refused, StatusCode::kUnprocessable) << example;
    EXPECT_FALSE(refused.status().message().empty());
  }
  std::vector<uint8_t> garbage(3000);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>(i * 131 + 7);
  EXPECT_STATUS_IS(LoadBackend(ModelFormat::kTorchScript, garbage), StatusCode::kUnprocessable);
}

TEST(TorchScriptBackendTest, RefusesTruncatedArchives) {
  std::vector<uint8_t> model = ReadExampleBytes("mlp.pt");
  for (size_t length = 1; length < model.size(); length += 97) {
    std::vector<uint8_t> prefix(model.data(), model.data() + length);
    StatusOr<std::unique_ptr<Backend>> loaded = LoadBackend(ModelFormat::kTorchScript, prefix);
    EXPECT_STATUS_IS(loaded, StatusCode::kUnprocessable) << "length " << length;
  }
}

}  // namespace
}  // namespace aegis::runtime
