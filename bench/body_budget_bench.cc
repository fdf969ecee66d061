// What the request-body memory budget adds to one inference request, in
// process: exactly what the data plane does (open a reservation for the
// principal in a shared_ptr, wrap it in the plan's reserve_body function, grow
// it to the Content-Length once, release it with the plan), with one thread
// and with two threads of the same principal (the same shard mutex). Prints
// one JSON object with medians of repeated batches, in nanoseconds per request.
//
//   build/release/bench/body_budget_bench [batches=15]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "aegis/guard/memory_budget.h"

namespace {

using aegis::guard::BudgetRefusal;
using aegis::guard::MemoryBudget;
using Steady = std::chrono::steady_clock;
constexpr int kPerBatch = 200'000;

void OneRequest(MemoryBudget& budget) {
  auto reservation = std::make_shared<MemoryBudget::Reservation>(budget.Open("token:bench-client"));
  std::function<bool(uint64_t)> reserve_body = [reservation](uint64_t bytes) {
    return reservation->GrowTo(bytes) == BudgetRefusal::kNone;
  };
  if (!reserve_body(187)) std::abort();  // the one-row request of bench/run_bench.py
}

double NanosPerRequest(int threads, MemoryBudget& budget) {
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  const auto start = Steady::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < kPerBatch; ++i) OneRequest(budget);
    });
  }
  for (auto& t : pool) t.join();
  const double ns = std::chrono::duration<double, std::nano>(Steady::now() - start).count();
  return ns / kPerBatch;  // wall time per request of one thread
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::atoi(argv[1]) : 15;
  MemoryBudget budget({.total_bytes = 1ull << 30, .per_principal_bytes = 256ull << 20});
  std::vector<double> one, two;
  for (int b = 0; b < batches; ++b) {
    one.push_back(NanosPerRequest(1, budget));
    two.push_back(NanosPerRequest(2, budget));
  }
  std::printf("{\"ns_per_request_1_thread\": %.1f, \"ns_per_request_2_threads\": %.1f, \"batches\": %d}\n", Median(one),
              Median(two), batches);
  return budget.Stats().held_bytes == 0 ? 0 : 1;
}
