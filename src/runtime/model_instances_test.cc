#include "aegis/runtime/model_instances.h"

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
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

// Many requests at once for one confined instance: they queue and, on OpenCV
// DNN (the arena transport), go to the worker in batches, each in its own share
// of the shared memory; ONNX Runtime (the stream transport, no batches) takes
// them one at a time. Every request has its own inputs, and must get its own
// answer: the in-process result.
class ConfinedBatchTest : public ::testing::TestWithParam<OnnxEngine> {};

TEST_P(ConfinedBatchTest, EveryRequestOfABatchGetsItsOwnAnswer) {
  std::vector<uint8_t> model = testing::ReadExampleBytes("mlp.onnx");
  RuntimeOptions confined_options = Options(Isolation::kProcess, 1);
  confined_options.onnx_engine = GetParam();
  confined_options.queue_timeout = std::chrono::seconds(60);  // 64 requests wait for one instance
  RuntimeOptions local_options = Options(Isolation::kNone, 1);
  local_options.onnx_engine = OnnxEngine::kOpenCv;  // in process
  auto confined = ModelInstances::Load(ModelFormat::kOnnx, model, confined_options);
  auto local = ModelInstances::Load(ModelFormat::kOnnx, model, local_options);
  ASSERT_TRUE(confined.ok()) << confined.status().message();
  ASSERT_TRUE(local.ok()) << local.status().message();
  const testing::ReferenceCase reference = testing::LoadReference("mlp");
  auto inputs_for = [&](int k) {
    std::vector<Tensor> inputs = reference.inputs;
    std::vector<float> values = testing::Floats(inputs[0]);
    for (float& v : values) v *= 0.25f * static_cast<float>(k + 1);
    inputs[0] = testing::Fp32Tensor(inputs[0].name, inputs[0].shape, values);
    return inputs;
  };
  constexpr int kRequests = 64;
  for (int round = 0; round < 3; ++round) {
    std::mutex mu;
    std::condition_variable cv;
    int answered = 0;
    std::vector<std::vector<float>> got(kRequests);
    for (int k = 0; k < kRequests; ++k) {
      (*confined)->Submit(inputs_for(k), "r" + std::to_string(k), [&, k](const InferenceResult& result) {
        std::lock_guard lock(mu);
        if (result.status.ok() && result.outputs.size() == 1) {
          const auto& data = result.outputs[0].data;
          got[k].resize(data.size() / sizeof(float));
          std::memcpy(got[k].data(), data.data(), got[k].size() * sizeof(float));
        }
        ++answered;
        cv.notify_all();
      });
    }
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(90), [&] { return answered == kRequests; }));
    for (int k = 0; k < kRequests; ++k) {
      auto want = (*local)->Infer(inputs_for(k));
      ASSERT_TRUE(want.ok());
      const std::vector<float> expected = testing::Floats((*want)[0]);
      ASSERT_EQ(got[k].size(), expected.size()) << "request " << k;
      // ONNX Runtime and OpenCV round differently: a relative tolerance.
      for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_NEAR(got[k][i], expected[i], 1e-4f * (1.0f + std::abs(expected[i]))) << "request " << k;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, ConfinedBatchTest,
                         ::testing::Values(OnnxEngine::kOpenCv, OnnxEngine::kOnnxRuntime),
                         [](const ::testing::TestParamInfo<OnnxEngine>& info) {
                           return info.param == OnnxEngine::kOpenCv ? "OpenCvArena" : "OnnxRuntimeStream";
                         });

}  // namespace
}  // namespace aegis::runtime
