#include "aegis/runtime/model_instances.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "aegis/runtime/backend.h"
#include "common/testing/status_matchers.h"
#include "runtime_test_util.h"

namespace aegis::runtime {
namespace {

TEST(ModelFormatTest, NamesRoundTrip) {
  for (ModelFormat format : {ModelFormat::kOnnx, ModelFormat::kTorchScript, ModelFormat::kXgboost}) {
    EXPECT_EQ(ParseModelFormat(ModelFormatName(format)), format);
  }
  EXPECT_EQ(ParseModelFormat("pickle"), std::nullopt);
}

RuntimeOptions Options(Isolation isolation, int instances) {
  RuntimeOptions options;
  options.isolation = isolation;
  options.instances = instances;
  options.worker_command = {AEGIS_TEST_ENGINE_WORKER, "engine-worker"};
  options.label = "test/1";
  return options;
}

class ModelInstancesTest : public ::testing::TestWithParam<Isolation> {};

TEST_P(ModelInstancesTest, RefusesBadCountsAndModels) {
  std::vector<uint8_t> model = testing::ReadExampleBytes("mlp.onnx");
  EXPECT_EQ(ModelInstances::Load(ModelFormat::kOnnx, model, Options(GetParam(), 0)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ModelInstances::Load(ModelFormat::kOnnx, model, Options(GetParam(), 100000)).status().code(),
            StatusCode::kInvalidArgument);
  std::vector<uint8_t> garbage(100, 0x42);
  EXPECT_EQ(ModelInstances::Load(ModelFormat::kOnnx, garbage, Options(GetParam(), 2)).status().code(),
            StatusCode::kUnprocessable);
}

INSTANTIATE_TEST_SUITE_P(Isolations, ModelInstancesTest, ::testing::Values(Isolation::kProcess, Isolation::kNone));

// 4 threads share 2 instances of each engine, confined and in process; every
// result must match the reference.
class ModelInstancesConcurrencyTest
    : public ::testing::TestWithParam<std::tuple<std::pair<ModelFormat, std::string>, Isolation>> {};

TEST_P(ModelInstancesConcurrencyTest, FourThreadsTwoInstances) {
  auto [engine, isolation] = GetParam();
  auto [format, example] = engine;
  std::vector<uint8_t> model = testing::ReadExampleBytes(example);
  StatusOr<std::shared_ptr<ModelInstances>> instances = ModelInstances::Load(format, model, Options(isolation, 2));
  ASSERT_TRUE(instances.ok()) << instances.status().message();
  EXPECT_EQ((*instances)->format(), format);
  testing::ReferenceCase reference = testing::LoadReference(format == ModelFormat::kXgboost ? "xgb_classifier" : "mlp");
  ASSERT_OK(ValidateInputs((*instances)->signature(), reference.inputs));

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        StatusOr<std::vector<Tensor>> outputs = (*instances)->Infer(reference.inputs);
        if (!outputs.ok() || outputs->size() != 1) {
          ++failures;
          continue;
        }
        std::vector<float> got = testing::Floats((*outputs)[0]), want = testing::Floats(reference.outputs[0]);
        if (got.size() != want.size()) {
          ++failures;
          continue;
        }
        for (size_t k = 0; k < got.size(); ++k) {
          if (std::abs(got[k] - want[k]) > 1e-5f) {
            ++failures;
            break;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Engines, ModelInstancesConcurrencyTest,
    ::testing::Combine(::testing::Values(std::make_pair(ModelFormat::kOnnx, std::string("mlp.onnx")),
                                         std::make_pair(ModelFormat::kTorchScript, std::string("mlp.pt")),
                                         std::make_pair(ModelFormat::kXgboost, std::string("xgb_classifier.ubj"))),
                       ::testing::Values(Isolation::kProcess, Isolation::kNone)));

}  // namespace
}  // namespace aegis::runtime
