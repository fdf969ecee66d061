// What the guard stage adds to one inference request, in process: exactly the
// calls the request path makes (src/api/guard_stage.cc and data_plane.cc):
//
//   limits   RequestGuard::CheckSource (every authenticated route asks it before
//            the credential) + Admit (the principal's bucket, the model's
//            bucket, the in-flight slot) + the slot's release at the end;
//   outputs  HardenOutputs under "top_k:1" for the 12-feature sample model's
//            output ([1, 2] FP32), and under "top_k:5" for an ImageNet-sized
//            classifier's ([1, 1000] FP32, what a 224x224x3 input yields).
//
//   extraction  ExtractionDetector::Project + Observe for one request of one
//            row, 12 features (the sample model) and 150,528 features
//            (224x224x3, projected to 32 dimensions), one principal in steady
//            state (its growing set warmed up, W tested every 10th row);
//            and the bytes one tracked (principal, model) pair holds when
//            its growing set is full.
//
// Input screening (issue 15 section 2) is not in these figures.
//
// With one thread and with two threads of the same principal (the same shard
// mutexes), and many principals (each request from another of 10,000). Also the
// memory one tracked principal costs (RSS growth over 100,000 new principals, each
// with its own bucket and its bucket on the model).
// Prints one JSON object with medians of repeated batches, in ns per request.
//
//   build/release/bench/guard_bench [batches=15]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "aegis/guard/extraction_detector.h"
#include "aegis/guard/output_policy.h"
#include "aegis/guard/request_guard.h"

namespace {

using aegis::guard::GuardOptions;
using aegis::guard::OutputPolicy;
using aegis::guard::RequestGuard;
using Steady = std::chrono::steady_clock;
constexpr int kPerBatch = 100'000;

GuardOptions Options() {
  GuardOptions o;
  o.principal = {.per_second = 1e9, .burst = 1'000'000'000};  // never refuses: the cost of the checks
  o.concurrency = 64;
  o.auth_failures = {.per_second = 5, .burst = 300};
  o.models["fraud-mlp"] = {.per_second = 1e9, .burst = 1'000'000'000};
  return o;
}

void Limits(RequestGuard& guard, const std::string& principal) {
  if (guard.CheckSource("10.1.2.3")) std::abort();
  auto admission = guard.Admit(principal, {}, "fraud-mlp");
  if (admission.refusal) std::abort();
  // The slot is released when the request's plan goes.
}

double LimitsNanos(int threads, RequestGuard& guard, bool many_principals) {
  std::vector<std::string> names;
  names.reserve(many_principals ? 10'000 : 1);
  for (int i = 0; i < (many_principals ? 10'000 : 1); ++i) names.push_back("token:client-" + std::to_string(i));
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  const auto start = Steady::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < kPerBatch; ++i) Limits(guard, names[static_cast<size_t>(i) % names.size()]);
    });
  }
  for (auto& t : pool) t.join();
  return std::chrono::duration<double, std::nano>(Steady::now() - start).count() / kPerBatch;
}

double OutputNanos(const OutputPolicy& policy, int64_t classes) {
  std::vector<float> scores(static_cast<size_t>(classes));
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f;
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(scores.data()), scores.size() * sizeof(float));
  const int n = classes > 100 ? kPerBatch / 10 : kPerBatch;
  const auto start = Steady::now();
  for (int i = 0; i < n; ++i) {
    std::vector<aegis::runtime::TensorView> outputs{{"scores", aegis::runtime::DataType::kFp32, {1, classes}, bytes}};
    auto hardened = aegis::guard::HardenOutputs(policy, outputs);
    if (!hardened.ok() || hardened->empty()) std::abort();
  }
  return std::chrono::duration<double, std::nano>(Steady::now() - start).count() / n;
}

// Rows of baseline-like inputs (standard normal) that the bench cycles through,
// changing a few features of each row on every use so no row repeats exactly.
struct RowSource {
  size_t features;
  std::vector<float> rows;
  std::mt19937_64 rng{17};
  size_t next = 0;
  RowSource(size_t f, size_t count) : features(f), rows(f * count) {
    std::normal_distribution<float> n(0, 1);
    for (auto& v : rows) v = n(rng);
  }
  aegis::runtime::TensorView Next() {
    const size_t count = rows.size() / features;
    float* row = rows.data() + (next++ % count) * features;
    std::normal_distribution<float> n(0, 1);
    for (int k = 0; k < 16; ++k) row[rng() % features] = n(rng);
    return {"input",
            aegis::runtime::DataType::kFp32,
            {1, static_cast<int64_t>(features)},
            std::span(reinterpret_cast<const uint8_t*>(row), features * sizeof(float))};
  }
};

void Extraction(aegis::guard::ExtractionDetector& detector, RowSource& source, const std::string& principal) {
  const std::vector<float> scores = {0.3F, 0.7F};
  const aegis::runtime::TensorView out{
      "output", aegis::runtime::DataType::kFp32, {1, 2}, std::span(reinterpret_cast<const uint8_t*>(scores.data()), 8)};
  auto rows = detector.Project(source.Next());
  if (!rows) std::abort();
  detector.Observe(principal, "fraud-mlp", *rows, std::span(&out, 1), std::chrono::system_clock::now());
}

double ExtractionNanos(aegis::guard::ExtractionDetector& detector, RowSource& source, int n) {
  const auto start = Steady::now();
  for (int i = 0; i < n; ++i) Extraction(detector, source, "token:bench");
  return std::chrono::duration<double, std::nano>(Steady::now() - start).count() / n;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

uint64_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::atoi(argv[1]) : 15;
  RequestGuard guard(Options());
  const OutputPolicy top1{OutputPolicy::Kind::kTopK, 1}, top5{OutputPolicy::Kind::kTopK, 5};
  std::vector<double> one, two, many, small, large, narrow, wide;
  // The detector's defaults, as aegis serve runs it; 12 and 150,528 features.
  aegis::guard::ExtractionDetector detector({});
  // Two wide rows: a request's input was just parsed, so it is in the cache, not
  // spread over 20 MB of rows.
  RowSource narrow_rows(12, 4096), wide_rows(size_t{224} * 224 * 3, 2);
  for (int i = 0; i < 5000; ++i) Extraction(detector, narrow_rows, "token:bench");  // G and D warm
  for (int i = 0; i < 1000; ++i) Extraction(detector, wide_rows, "token:bench");
  for (int b = 0; b < batches; ++b) {
    one.push_back(LimitsNanos(1, guard, false));
    two.push_back(LimitsNanos(2, guard, false));
    many.push_back(LimitsNanos(1, guard, true));
    small.push_back(OutputNanos(top1, 2));
    large.push_back(OutputNanos(top5, 1000));
    narrow.push_back(ExtractionNanos(detector, narrow_rows, 20'000));
    wide.push_back(ExtractionNanos(detector, wide_rows, 1'000));
  }
  // Bytes per tracked pair with a full growing set (512 rows), 12 and 32 dimensions.
  double pair_bytes_12 = 0, pair_bytes_32 = 0;
  {
    aegis::guard::ExtractionDetector fresh({});
    RowSource spread(12, 4096);
    for (int i = 0; i < 40'000; ++i) Extraction(fresh, spread, "token:pair");
    pair_bytes_12 = static_cast<double>(fresh.TrackedBytes());
    aegis::guard::ExtractionDetector wide_fresh({});
    for (int i = 0; i < 3'000; ++i) Extraction(wide_fresh, wide_rows, "token:pair");
    pair_bytes_32 = static_cast<double>(wide_fresh.TrackedBytes());
  }
  // Memory per tracked principal: a fresh guard, 100,000 principals.
  constexpr int kKeys = 100'000;
  const uint64_t before = RssBytes();
  {
    GuardOptions options = Options();
    options.max_tracked = 1'000'000;  // no eviction while measuring
    RequestGuard fresh(options);
    for (int i = 0; i < kKeys; ++i) Limits(fresh, "token:principal-" + std::to_string(i));
    const uint64_t after = RssBytes();
    std::printf(
        "{\"limits_ns_1_thread\": %.1f, \"limits_ns_2_threads\": %.1f, \"limits_ns_10000_principals\": %.1f, "
        "\"output_top1_2_classes_ns\": %.1f, \"output_top5_1000_classes_ns\": %.1f, "
        "\"extraction_12_features_ns\": %.1f, \"extraction_150528_features_ns\": %.1f, "
        "\"extraction_bytes_per_pair_12\": %.0f, \"extraction_bytes_per_pair_32\": %.0f, "
        "\"bytes_per_tracked_principal\": %.0f, \"tracked\": %zu, \"batches\": %d}\n",
        Median(one), Median(two), Median(many), Median(small), Median(large), Median(narrow), Median(wide),
        pair_bytes_12, pair_bytes_32, static_cast<double>(after - before) / kKeys, fresh.TrackedKeys(), batches);
  }
  return 0;
}
