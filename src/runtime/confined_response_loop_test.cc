// Confined instances with a response loop (RuntimeOptions::response_loop): the
// server's I/O threads answer a worker's calls themselves, the driver only what
// it must (large outputs, failures).
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>

#include <gtest/gtest.h>

#include "aegis/runtime/model_instances.h"
#include "common/testing/poll_event_loop.h"
#include "runtime_test_util.h"

namespace aegis::runtime {
namespace {

using namespace std::chrono_literals;

RuntimeOptions ConfinedWithLoop(std::shared_ptr<EventLoop> loop) {
  RuntimeOptions options;
  options.isolation = Isolation::kProcess;
  options.instances = 1;
  options.worker_command = {AEGIS_TEST_ENGINE_WORKER, "engine-worker"};
  options.label = "echo/1";
  options.response_loop = std::move(loop);
  return options;
}

Tensor Bytes(size_t n, uint8_t seed) {
  Tensor t{.name = "x", .datatype = DataType::kUint8, .shape = {static_cast<int64_t>(n)}};
  t.data.resize(n);
  for (size_t i = 0; i < n; ++i) t.data[i] = static_cast<uint8_t>(i * 31 + seed);
  return t;
}

// Requests submitted one after another from the loop thread (each from the
// previous one's callback, as an I/O thread does for a keep-alive connection).
struct PingPong {
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  int correct = 0;
  int on_loop = 0;
  int failed = 0;

  void Run(const std::shared_ptr<aegis::testing::PollEventLoop>& loop, const std::shared_ptr<ModelInstances>& model,
           int rounds, size_t bytes) {
    std::function<void(int)> submit = [&, loop, model](int k) {
      Tensor input = Bytes(bytes, static_cast<uint8_t>(k));
      std::vector<uint8_t> want = input.data;
      model->Submit({std::move(input)}, "r" + std::to_string(k),
                    [&, k, want = std::move(want), loop](const InferenceResult& result) {
                      const bool here = loop->InLoopThread();
                      const bool ok = result.status.ok() && result.outputs.size() == 1 &&
                                      result.outputs[0].data.size() == want.size() &&
                                      std::memcmp(result.outputs[0].data.data(), want.data(), want.size()) == 0;
                      // The next one first: once the last answer is counted, Run
                      // returns and its locals (rounds, submit) are gone.
                      if (k + 1 < rounds) loop->Post([&submit, k] { submit(k + 1); });
                      std::lock_guard lock(mu);
                      ++answered;
                      correct += ok ? 1 : 0;
                      on_loop += here ? 1 : 0;
                      failed += result.status.ok() ? 0 : 1;
                      cv.notify_all();
                    });
    };
    loop->Post([&submit] { submit(0); });
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return answered == rounds; })) << answered << " of " << rounds;
  }
};

TEST(ConfinedResponseLoopTest, SmallResponsesAreAnsweredOnTheLoopThread) {
  auto loop = std::make_shared<aegis::testing::PollEventLoop>();
  auto model =
      ModelInstances::Load(ModelFormat::kTorchScript, testing::ReadExampleBytes("echo.pt"), ConfinedWithLoop(loop));
  ASSERT_TRUE(model.ok()) << model.status().message();
  PingPong run;
  run.Run(loop, *model, 300, 1024);
  EXPECT_EQ(run.correct, 300);
  // The first response may race to the driver, which polled the eventfd
  // before the loop took it over; every later one is the loop's.
  EXPECT_GE(run.on_loop, 298);
  EXPECT_EQ(loop->watches(), 1u);
  (*model)->Shutdown();
  model->reset();
}

TEST(ConfinedResponseLoopTest, LargeOutputsAreLeftToTheDriver) {
  auto loop = std::make_shared<aegis::testing::PollEventLoop>();
  auto model =
      ModelInstances::Load(ModelFormat::kTorchScript, testing::ReadExampleBytes("echo.pt"), ConfinedWithLoop(loop));
  ASSERT_TRUE(model.ok()) << model.status().message();
  PingPong run;
  run.Run(loop, *model, 40, 256 * 1024);  // each output well over what an I/O thread encodes
  EXPECT_EQ(run.correct, 40);
  EXPECT_EQ(run.on_loop, 0);
}

TEST(ConfinedResponseLoopTest, EngineErrorsAreAnsweredAndTheWatchEndsWithTheModel) {
  auto loop = std::make_shared<aegis::testing::PollEventLoop>();
  RuntimeOptions options = ConfinedWithLoop(loop);
  options.label = "failing/1";
  auto model = ModelInstances::Load(ModelFormat::kTorchScript, testing::ReadExampleBytes("failing.pt"), options);
  ASSERT_TRUE(model.ok()) << model.status().message();
  PingPong run;
  run.Run(loop, *model, 20, 16);
  EXPECT_EQ(run.failed, 20);
  EXPECT_EQ(run.correct, 0);
  EXPECT_GE(run.on_loop, 18);
  model->reset();  // stops the worker: its watch ends
  for (int i = 0; i < 200 && loop->watches() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(loop->watches(), 0u);
}

}  // namespace
}  // namespace aegis::runtime
