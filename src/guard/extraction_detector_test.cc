#include "aegis/guard/extraction_detector.h"

#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace aegis::guard {
namespace {

using runtime::DataType;
using runtime::TensorView;
using Clock = std::chrono::system_clock;
const auto kT0 = Clock::time_point(std::chrono::hours(24 * 20000) + std::chrono::hours(1));

TensorView View(const std::vector<float>& v, int64_t rows, int64_t features) {
  return {"x",
          DataType::kFp32,
          {rows, features},
          std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float))};
}

// A fixed two-class "model": the sign of a linear score.
std::vector<float> Scores(const std::vector<float>& x, size_t features) {
  std::vector<float> out;
  for (size_t r = 0; r < x.size() / features; ++r) {
    double s = 0;
    for (size_t f = 0; f < features; ++f) s += x[r * features + f] * (f % 3 == 0 ? 1.0 : -0.5);
    out.push_back(static_cast<float>(s));
    out.push_back(static_cast<float>(-s));
  }
  return out;
}

struct Feed {
  ExtractionDetector& detector;
  std::string principal = "token:a";
  std::string model = "m";
  size_t features = 12;
  Clock::time_point now = kT0;
  // Sends `x` (rows x features) as one request; the first alarm, if any.
  std::optional<ExtractionAlarm> Send(const std::vector<float>& x) {
    const auto rows = static_cast<int64_t>(x.size() / features);
    auto projected = detector.Project(View(x, rows, static_cast<int64_t>(features)));
    EXPECT_TRUE(projected.has_value());
    const std::vector<float> scores = Scores(x, features);
    const TensorView out = View(scores, rows, 2);
    now += std::chrono::milliseconds(5);
    return detector.Observe(principal, model, *projected, std::span(&out, 1), now);
  }
};

std::vector<float> Gaussian(std::mt19937_64& rng, size_t rows, size_t features) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> x(rows * features);
  for (auto& v : x) v = n(rng);
  return x;
}

// Papernot et al.'s Jacobian augmentation in miniature: 10 seeds, then every
// known point stepped by lambda * sign(gradient of a fixed substitute).
// The rows sent before the first alarm (all of them with `alarms`, which
// then collects every alarm up to `limit` rows).
std::optional<size_t> JacobianAttack(ExtractionDetector& d, size_t features, size_t batch, size_t limit,
                                     std::vector<ExtractionAlarm>* alarms = nullptr) {
  std::mt19937_64 rng(7);
  Feed feed{d};
  feed.features = features;
  std::vector<std::vector<float>> known;
  for (size_t i = 0; i < 10; ++i) known.push_back(Gaussian(rng, 1, features));
  size_t sent = 0;
  std::vector<std::vector<float>> round = known;
  while (sent < limit) {
    for (size_t i = 0; i < round.size(); i += batch) {
      std::vector<float> x;
      for (size_t j = i; j < std::min(round.size(), i + batch); ++j)
        x.insert(x.end(), round[j].begin(), round[j].end());
      auto alarm = feed.Send(x);
      sent += x.size() / features;
      if (alarm && alarms == nullptr) return sent;
      if (alarm) alarms->push_back(*alarm);
    }
    std::vector<std::vector<float>> next;
    for (const auto& p : known) {
      std::vector<float> q = p;
      // The sign of a gradient that depends on the point, as a nonlinear
      // substitute's does.
      for (size_t f = 0; f < features; ++f)
        q[f] += 0.1F * (std::sin(3.0F * p[f] + static_cast<float>(f)) > 0 ? 1.0F : -1.0F);
      next.push_back(q);
    }
    known.insert(known.end(), next.begin(), next.end());
    round = next;
  }
  if (alarms != nullptr && !alarms->empty()) return sent;
  return std::nullopt;
}

TEST(ExtractionDetector, CatchesJacobianAugmentationWithin500Rows) {
  ExtractionDetector d({});
  auto at = JacobianAttack(d, 12, 1, 500);
  ASSERT_TRUE(at.has_value());
  EXPECT_LT(*at, 500U);
}

TEST(ExtractionDetector, CountsRowsNotRequests) {
  ExtractionDetector one({}), batched({});
  auto a = JacobianAttack(one, 12, 1, 500);
  auto b = JacobianAttack(batched, 12, 100, 500);
  ASSERT_TRUE(a && b);
  EXPECT_LE(*b, *a + 100) << "batching 100 rows a request must not hide them";
}

TEST(ExtractionDetector, IidQueriesRaiseNothing) {
  ExtractionDetector d({});
  std::mt19937_64 rng(11);
  Feed feed{d};
  for (int i = 0; i < 5000; ++i) ASSERT_FALSE(feed.Send(Gaussian(rng, 1, 12))) << "row " << i;
  Feed batched{d, "token:b"};
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(batched.Send(Gaussian(rng, 50, 12))) << "request " << i;
}

TEST(ExtractionDetector, AlarmCarriesItsEvidenceOncePerWindow) {
  ExtractionDetector d({});
  std::vector<ExtractionAlarm> alarms;
  ASSERT_TRUE(JacobianAttack(d, 12, 10, 1200, &alarms));
  ASSERT_FALSE(alarms.empty());
  const ExtractionAlarm& alarm = alarms.front();
  EXPECT_EQ(alarm.signal, ExtractionAlarm::Signal::kDistances);
  EXPECT_LT(alarm.w, 0.90);
  EXPECT_EQ(alarm.threshold, 0.90);
  EXPECT_GE(alarm.window, 50U);
  EXPECT_LE(alarm.window, 200U);
  EXPECT_GT(alarm.detected_at_ms, alarm.first_query_at_ms);
  EXPECT_LE(alarm.rows, 500U);
  EXPECT_LE(alarms.size(), 1200U / 50U) << "at most one alarm per min_queries distances";
  for (size_t i = 1; i < alarms.size(); ++i) EXPECT_GE(alarms[i].rows, alarms[i - 1].rows + 50);
}

TEST(ExtractionDetector, RepeatedFixedInputsRaiseNothing) {
  // A probe or a retry loop sending the same few rows again and again: the rows
  // that did not join G would otherwise add the same distances every time.
  ExtractionDetector d({});
  std::mt19937_64 rng(21);
  Feed feed{d};
  const auto fixed = Gaussian(rng, 5, 12);
  for (int i = 0; i < 2000; ++i) ASSERT_FALSE(feed.Send(fixed)) << "request " << i;
  Feed single{d, "token:single"};
  const auto one = Gaussian(rng, 1, 12), two = Gaussian(rng, 1, 12);
  for (int i = 0; i < 2000; ++i) ASSERT_FALSE(single.Send(i % 2 == 0 ? one : two)) << "request " << i;
}

TEST(ExtractionDetector, PerModelSettingsAndOff) {
  ExtractionOptions o;
  o.models["quiet"].enabled = false;
  ExtractionDetector d(o);
  Feed feed{d};
  feed.model = "quiet";
  std::mt19937_64 rng(1);
  const auto seed = Gaussian(rng, 1, 12);
  for (int i = 0; i < 300; ++i) {
    std::vector<float> x = seed;
    x[0] += 0.1F * static_cast<float>(i);
    ASSERT_FALSE(feed.Send(x));
  }
  EXPECT_EQ(d.Tracked(), 0U);
  EXPECT_FALSE(d.SettingsFor("quiet").enabled);
  EXPECT_TRUE(d.SettingsFor("other").enabled);
}

TEST(ExtractionDetector, VolumeSignalOncePerDay) {
  ExtractionOptions o;
  o.defaults.max_rows_per_day = 1000;
  o.defaults.enabled = true;
  ExtractionDetector d(o);
  std::mt19937_64 rng(5);
  Feed feed{d};
  int volume = 0;
  for (int i = 0; i < 30; ++i) {
    if (auto a = feed.Send(Gaussian(rng, 100, 12)); a && a->signal == ExtractionAlarm::Signal::kVolume) {
      ++volume;
      EXPECT_EQ(i, 10) << "the request that passes 1000 rows";
      EXPECT_EQ(a->threshold, 1000.0);
    }
  }
  EXPECT_EQ(volume, 1);
  feed.now += std::chrono::hours(24);
  for (int i = 0; i < 11; ++i) feed.Send(Gaussian(rng, 100, 12));
  // A new day counts afresh (and alarms again once over).
}

TEST(ExtractionDetector, BoundedInPairsAndPoints) {
  ExtractionOptions o;
  o.max_tracked = 5;
  o.max_points = 64;
  ExtractionDetector d(o);
  std::mt19937_64 rng(9);
  for (int p = 0; p < 20; ++p) {
    Feed feed{d, "token:p" + std::to_string(p)};
    feed.Send(Gaussian(rng, 10, 12));
  }
  EXPECT_EQ(d.Tracked(), 5U);
  Feed feed{d};
  // G holds at most 64 rows of 12 floats, D 200 distances and their times.
  const size_t bound = size_t{5} * (64 * (12 * 4 + 2) + 256 * 16 + 2048);
  for (int i = 0; i < 400; ++i) feed.Send(Gaussian(rng, 40, 12));
  const size_t full = d.TrackedBytes();
  EXPECT_LT(full, bound);
  for (int i = 0; i < 100; ++i) feed.Send(Gaussian(rng, 40, 12));
  EXPECT_EQ(d.TrackedBytes(), full) << "G and D stop growing at their caps";
}

TEST(ExtractionDetector, NonFiniteAndHugeInputsAreHandled) {
  ExtractionDetector d({});
  Feed feed{d};
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::mt19937_64 rng(2);
  for (int i = 0; i < 300; ++i) {
    auto x = Gaussian(rng, 1, 12);
    x[i % 12] = i % 3 == 0 ? inf : i % 3 == 1 ? nan : -3e38F;
    auto a = feed.Send(x);
    if (a && a->signal == ExtractionAlarm::Signal::kDistances) {
      EXPECT_TRUE(std::isfinite(a->w));
    }
  }
  auto p = d.Project(View(std::vector<float>(12, nan), 1, 12));
  ASSERT_TRUE(p.has_value());
  for (float v : p->values) EXPECT_EQ(v, 0.0F);
}

TEST(ExtractionDetector, ProjectsWideInputsPreservingDistances) {
  constexpr size_t kFeatures = size_t{224} * 224 * 3;
  ExtractionDetector d({.seed = 42});
  std::mt19937_64 rng(4);
  const auto x = Gaussian(rng, 2, kFeatures);
  auto p = d.Project(View(x, 2, kFeatures));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->dims, 32U);
  EXPECT_EQ(p->rows, 2U);
  double orig = 0, proj = 0;
  for (size_t f = 0; f < kFeatures; ++f) orig += std::pow(x[f] - x[kFeatures + f], 2);
  for (size_t j = 0; j < 32; ++j) proj += std::pow(p->values[j] - p->values[32 + j], 2);
  EXPECT_NEAR(std::sqrt(proj / orig), 1.0, 0.35);
  // The same seed projects the same way; the wide attack is caught as well.
  auto again = d.Project(View(x, 2, kFeatures));
  EXPECT_EQ(again->values, p->values);
  ExtractionDetector wide({});
  auto at = JacobianAttack(wide, kFeatures, 20, 500);
  ASSERT_TRUE(at.has_value());
  EXPECT_LT(*at, 500U);
}

TEST(ExtractionDetector, RefusesWhatItCannotRead) {
  ExtractionDetector d({});
  const std::vector<uint8_t> bytes = {1, 0, 0, 0, 'a'};
  EXPECT_FALSE(d.Project({"x", DataType::kBytes, {1}, bytes}).has_value());
  EXPECT_FALSE(d.Project({"x", DataType::kFp32, {1, 4}, std::span(bytes).first(3)}).has_value());
  EXPECT_FALSE(d.Project({"x", DataType::kFp32, {0, 4}, {}}).has_value());
  const std::vector<int64_t> ints = {1, 2, 3, 4, 5, 6};
  auto p = d.Project({"x",
                      DataType::kInt64,
                      {2, 3},
                      std::span(reinterpret_cast<const uint8_t*>(ints.data()), ints.size() * sizeof(int64_t))});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->values, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(ExtractionDetector, ConcurrentPrincipalsWithEviction) {
  ExtractionOptions o;
  o.max_tracked = 8;
  ExtractionDetector d(o);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&d, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t));
      for (int i = 0; i < 500; ++i) {
        Feed feed{d, "token:p" + std::to_string(rng() % 20)};
        feed.Send(Gaussian(rng, 4, 12));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(d.Tracked(), 8U);
}

TEST(ExtractionDetector, ChecksSettings) {
  EXPECT_TRUE(CheckExtractionSettings({}).ok());
  EXPECT_FALSE(CheckExtractionSettings({.threshold = 1.0}).ok());
  EXPECT_FALSE(CheckExtractionSettings({.threshold = 0.0}).ok());
  EXPECT_FALSE(CheckExtractionSettings({.min_queries = 10}).ok());
  EXPECT_FALSE(CheckExtractionSettings({.min_queries = 300, .window = 200}).ok());
  EXPECT_FALSE(CheckExtractionSettings({.window = 6000}).ok());
}

}  // namespace
}  // namespace aegis::guard
