// What the monitor adds to one inference request, in process: the work the
// request path does for metrics (stage timers and histograms, the served
// model's cell, the auth counter, the request counters), with one thread and
// with two threads hitting the same cells. Prints one JSON object with medians
// of repeated batches, in nanoseconds per request.
//
//   build/release/bench/monitor_bench [batches=15]
#include "aegis/monitor/monitor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace aegis;
using Steady = std::chrono::steady_clock;
constexpr int kPerBatch = 200'000;

// One request's worth of monitor calls, as request_pipeline.cc and data_plane.cc make them.
void OneRequest(monitor::Monitor& m, const registry::ServedModel& served) {
  monitor::StageTimer auth;
  m.ObserveStage(monitor::Stage::kAuth, auth.Lap());
  m.AuthAttempt(monitor::AuthMethod::kToken, true);
  monitor::StageTimer policy;
  m.ObserveStage(monitor::Stage::kPolicy, policy.Lap());
  monitor::ModelSeries* series = m.SeriesFor(served);
  monitor::StageTimer work;
  m.ObserveStage(monitor::Stage::kGuard, work.Lap());
  m.ObserveStage(monitor::Stage::kEngine, work.Lap());
  monitor::StageTimer audit;
  m.ObserveStage(monitor::Stage::kAudit, audit.Lap());
  m.RequestEnded(series, 200, false, std::chrono::microseconds(70));
}

double NanosPerRequest(int threads, monitor::Monitor& m, const registry::ServedModel& served) {
  const auto start = Steady::now();
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < kPerBatch; ++i) OneRequest(m, served);
    });
  }
  for (auto& t : pool) t.join();
  const double ns = std::chrono::duration<double, std::nano>(Steady::now() - start).count();
  return ns / kPerBatch;  // wall time per request per thread
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  monitor::Monitor m({});
  registry::ServedModel served;
  served.record.name = "mlp";
  served.record.version = "1";
  std::vector<double> one, two;
  for (int b = 0; b < batches; ++b) {
    one.push_back(NanosPerRequest(1, m, served));
    two.push_back(NanosPerRequest(2, m, served));
  }
  std::printf(
      "{\"monitor_ns_per_request_1_thread\": %.0f, \"monitor_ns_per_request_2_threads\": %.0f, "
      "\"batches\": %d, \"requests_per_batch\": %d}\n",
      Median(one), Median(two), batches, kPerBatch);
  return 0;
}
