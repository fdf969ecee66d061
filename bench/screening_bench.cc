// What input screening (guard/screening.h) adds to one inference request, in
// process, and the whole guard stage around it: exactly the calls the request
// path makes (src/api/guard_stage.cc and data_plane.cc):
//
//   screening  Screening::Find (the version's baseline) + ScreenedVersion::Screen
//              of one row: the per-feature bounds, the multivariate score and
//              the drift window, for the 12-feature sample model ([1, 12] FP32)
//              and a 224x224x3 image ([1, 150528] FP32, block means to 64 dims);
//   total      the whole guard stage: the same plus the limits
//              (RequestGuard::CheckSource + Admit), the extraction detector
//              (ExtractionDetector::Project of the row + Observe of the answer)
//              and the output policy ("top_k:1" of [1, 2]; "top_k:5" of
//              [1, 1000]).
//
// Baselines come from 2,000 rows (12 features) and 40 rows (150,528) of
// uniform values; the screened rows are in distribution (the common path).
// Every request changes a few features of the row, so the detector sees
// distinct queries (an identical row takes its cheaper repeat path).
// Prints one JSON object with medians of repeated batches, in ns per request.
//
//   build/release/bench/screening_bench [batches=15] [small]
#include "aegis/guard/screening.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "aegis/guard/baseline.h"
#include "aegis/guard/extraction_detector.h"
#include "aegis/guard/output_policy.h"
#include "aegis/guard/request_guard.h"

namespace {

using aegis::guard::OutputPolicy;
using aegis::runtime::DataType;
using aegis::runtime::TensorView;
using Steady = std::chrono::steady_clock;

aegis::guard::Baseline Uniform(uint64_t rows, uint64_t features) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  aegis::guard::SampleInput s{"input", rows, features, std::vector<float>(rows * features)};
  for (float& v : s.values) v = u(rng);
  auto b = aegis::guard::ComputeBaseline(std::vector<aegis::guard::SampleInput>{s});
  if (!b.ok()) std::abort();
  return std::move(*b);
}

struct Case {
  std::string model;
  std::vector<float> row;
  int64_t classes;
  OutputPolicy policy;
};

// The whole stage when `guard` and `detector` are given; screening alone otherwise.
double Nanos(const aegis::guard::Screening& screening, aegis::guard::RequestGuard* guard,
             aegis::guard::ExtractionDetector* detector, const Case& c, int n) {
  std::vector<float> row = c.row;
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(row.data()), row.size() * sizeof(float));
  std::vector<float> scores(static_cast<size_t>(c.classes), 0.25f);
  scores[0] = 0.5f;
  const std::span<const uint8_t> out_bytes(reinterpret_cast<const uint8_t*>(scores.data()), scores.size() * 4);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.2f, 0.8f);
  std::vector<float> fresh(4096);
  for (float& v : fresh) v = u(rng);
  const auto start = Steady::now();
  for (int i = 0; i < n; ++i) {
    for (size_t k = 0; k < 4; ++k) {
      const size_t at = static_cast<size_t>(i) * 4 + k;
      row[(at * 2654435761u) % row.size()] = fresh[at % fresh.size()];
    }
    if (guard != nullptr) {
      if (guard->CheckSource("10.1.2.3")) std::abort();
      auto admission = guard->Admit("token:client", {}, c.model);
      if (admission.refusal) std::abort();
    }
    const auto version = screening.Find(c.model, "1");
    const std::vector<TensorView> inputs{{"input", DataType::kFp32, {1, static_cast<int64_t>(c.row.size())}, bytes}};
    if (auto finding = version->Screen(inputs)) {
      std::fprintf(stderr, "unexpected finding: %s\n", finding->Describe().c_str());
      std::abort();
    }
    if (guard != nullptr) {
      std::vector<TensorView> outputs{{"scores", DataType::kFp32, {1, c.classes}, out_bytes}};
      if (detector != nullptr) {
        auto projected = detector->Project(inputs[0]);
        if (!projected) std::abort();
        detector->Observe("token:client", c.model, *projected, outputs, std::chrono::system_clock::now());
      }
      auto hardened = aegis::guard::HardenOutputs(c.policy, outputs);
      if (!hardened.ok()) std::abort();
    }
  }
  return std::chrono::duration<double, std::nano>(Steady::now() - start).count() / n;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::atoi(argv[1]) : 15;
  const bool wide = argc <= 2 || std::string(argv[2]) != "small";  // "small": the 12-feature case only (profiling)
  aegis::guard::Screening screening;
  screening.Install("small", "1", Uniform(2000, 12));
  screening.Install("image", "1", Uniform(40, 150528));
  aegis::guard::GuardOptions options;
  options.principal = {.per_second = 1e12, .burst = 1'000'000'000'000};
  options.concurrency = 64;
  options.auth_failures = {.per_second = 5, .burst = 300};
  aegis::guard::RequestGuard guard(options);
  Case small{"small", std::vector<float>(12, 0.5f), 2, {OutputPolicy::Kind::kTopK, 1}};
  Case image{"image", std::vector<float>(150528, 0.5f), 1000, {OutputPolicy::Kind::kTopK, 5}};
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(0.2f, 0.8f);  // inside every range of the samples
  for (float& v : small.row) v = u(rng);
  for (float& v : image.row) v = u(rng);
  aegis::guard::ExtractionDetector detector({});
  // The detector's steady state: its stored set and distance window full.
  Nanos(screening, &guard, &detector, small, 5'000);
  if (wide) Nanos(screening, &guard, &detector, image, 600);
  std::vector<double> s12, s150k, t12, t150k;
  for (int b = 0; b < batches; ++b) {
    s12.push_back(Nanos(screening, nullptr, nullptr, small, 100'000));
    if (wide) s150k.push_back(Nanos(screening, nullptr, nullptr, image, 2'000));
    t12.push_back(Nanos(screening, &guard, &detector, small, 100'000));
    if (wide) t150k.push_back(Nanos(screening, &guard, &detector, image, 2'000));
  }
  std::printf(
      "{\"screening_12_features_ns\": %.1f, \"screening_150528_features_ns\": %.1f, "
      "\"guard_stage_12_features_ns\": %.1f, \"guard_stage_150528_features_ns\": %.1f, \"batches\": %d}\n",
      Median(s12), wide ? Median(s150k) : 0.0, Median(t12), wide ? Median(t150k) : 0.0, batches);
  return 0;
}
