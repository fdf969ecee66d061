#include "aegis/guard/extraction_detector.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "aegis/runtime/fp16.h"

namespace aegis::guard {
namespace {

using runtime::DataType;
constexpr double kClamp = 1e15;        // squares of 32 such differences still fit a float
constexpr uint32_t kMaxClasses = 256;  // classes beyond fold onto these (argmax mod 256)
constexpr size_t kMaxProjections = 16;
constexpr size_t kMaxCoefficientSets = 64;
constexpr size_t kRecentRows = 512;  // a row equal to one of these is a repeat

// FNV-1a over the row's bytes (-0 and +0 differ: a repeat is bit for bit).
uint64_t RowHash(const float* x, size_t dims) {
  uint64_t h = 0xcbf29ce484222325ULL;
  const auto* bytes = reinterpret_cast<const uint8_t*>(x);
  for (size_t i = 0; i < dims * sizeof(float); ++i) h = (h ^ bytes[i]) * 0x100000001b3ULL;
  return h;
}

float Sanitize(double v) {
  if (std::isnan(v)) return 0.0F;
  return static_cast<float>(std::clamp(v, -kClamp, kClamp));
}

template <typename T>
double Load(const uint8_t* data, size_t i) {
  T v;
  std::memcpy(&v, data + i * sizeof(T), sizeof(T));
  return static_cast<double>(v);
}

double LoadHalf(const uint8_t* data, size_t i) {
  uint16_t h = 0;
  std::memcpy(&h, data + i * 2, 2);
  return runtime::HalfToFloat(h);
}

using Loader = double (*)(const uint8_t*, size_t);

Loader LoaderFor(DataType type) {
  switch (type) {
    case DataType::kBool:
    case DataType::kUint8:
      return Load<uint8_t>;
    case DataType::kUint16:
      return Load<uint16_t>;
    case DataType::kUint32:
      return Load<uint32_t>;
    case DataType::kUint64:
      return Load<uint64_t>;
    case DataType::kInt8:
      return Load<int8_t>;
    case DataType::kInt16:
      return Load<int16_t>;
    case DataType::kInt32:
      return Load<int32_t>;
    case DataType::kInt64:
      return Load<int64_t>;
    case DataType::kFp16:
      return LoadHalf;
    case DataType::kFp32:
      return Load<float>;
    case DataType::kFp64:
      return Load<double>;
    case DataType::kBytes:
      return nullptr;
  }
  return nullptr;
}

bool IsFloat(DataType t) { return t == DataType::kFp16 || t == DataType::kFp32 || t == DataType::kFp64; }

// Rows and features of a checked numeric tensor: the first dimension is the
// batch; rank 0 or 1 is one row.
struct Layout {
  size_t rows = 0, features = 0;
  Loader load = nullptr;
};

std::optional<Layout> LayoutOf(const runtime::TensorView& t) {
  Layout l;
  l.load = LoaderFor(t.datatype);
  const auto count = t.ElementCount();
  if (l.load == nullptr || !count || *count == 0 || t.data.size() != *count * runtime::DataTypeSize(t.datatype)) {
    return std::nullopt;
  }
  if (t.shape.size() <= 1) {
    l.rows = 1;
  } else {
    if (t.shape[0] <= 0) return std::nullopt;
    l.rows = static_cast<size_t>(t.shape[0]);
  }
  l.features = static_cast<size_t>(*count) / l.rows;
  return l;
}

// The class of each observed row, from the model's answer (see Observe).
std::vector<uint16_t> ClassesOf(std::span<const runtime::TensorView> outputs, const ProjectedRows& rows) {
  std::vector<uint16_t> classes(rows.rows, 0);
  auto matches = [&](const runtime::TensorView& o, const Layout& l) {
    return (o.shape.size() <= 1 ? rows.request_rows == 1 || l.rows * l.features == rows.request_rows
                                : l.rows == rows.request_rows);
  };
  for (const auto& o : outputs) {
    auto l = LayoutOf(o);
    if (!l || !IsFloat(o.datatype) || !matches(o, *l)) continue;
    const size_t k = l->rows * l->features / rows.request_rows;
    for (size_t r = 0; r < rows.rows; ++r) {
      const size_t base = rows.indices[r] * k;
      if (k == 1) {
        classes[r] = l->load(o.data.data(), base) > 0.5 ? 1 : 0;  // one score per row: above one half
        continue;
      }
      size_t best = 0;
      double best_v = -std::numeric_limits<double>::infinity();
      for (size_t j = 0; j < k; ++j) {
        const double v = l->load(o.data.data(), base + j);
        if (v > best_v) best_v = v, best = j;  // NaN never wins
      }
      classes[r] = static_cast<uint16_t>(best % kMaxClasses);
    }
    return classes;
  }
  for (const auto& o : outputs) {
    auto l = LayoutOf(o);
    if (!l || IsFloat(o.datatype) || l->rows * l->features != rows.request_rows) continue;
    for (size_t r = 0; r < rows.rows; ++r) {
      const double v = l->load(o.data.data(), rows.indices[r]);
      classes[r] = static_cast<uint16_t>(static_cast<uint64_t>(std::fabs(v)) % kMaxClasses);
    }
    return classes;
  }
  return classes;  // no class to read: one class for all rows
}

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

Status CheckExtractionSettings(const ExtractionSettings& s) {
  if (!(s.threshold > 0 && s.threshold < 1)) return Status::InvalidArgument("extraction_threshold: must be in (0, 1)");
  if (s.min_queries < 20 || s.min_queries > kShapiroWilkMaxN) {
    return Status::InvalidArgument("extraction_min_queries: must be between 20 and 5000");
  }
  if (s.window < s.min_queries || s.window > kShapiroWilkMaxN) {
    return Status::InvalidArgument("extraction_window: must be between extraction_min_queries and 5000");
  }
  return Status::Ok();
}

// A very sparse random projection (Li, Hastie and Church 2006): each of the
// `dims` outputs sums about sqrt(features) inputs with weights
// +-sqrt(sqrt(features) / dims), which preserves L2 distances in expectation.
// The entries are kept in input order, so a row is read front to back once.
struct ExtractionDetector::Projection {
  struct Entry {
    uint32_t index;  // the input feature
    uint32_t dim;    // the output it adds to
    float weight;
  };
  std::vector<Entry> entries;

  Projection(size_t features, size_t dims, uint64_t seed) {
    std::mt19937_64 rng(seed ^ (features * 0x9E3779B97F4A7C15ULL));
    const double s = std::sqrt(static_cast<double>(features));
    const auto scale = static_cast<float>(std::sqrt(s / static_cast<double>(dims)));
    std::geometric_distribution<uint64_t> skip(1 / s);
    std::bernoulli_distribution sign(0.5);
    for (size_t j = 0; j < dims; ++j) {
      for (uint64_t i = skip(rng); i < features; i += 1 + skip(rng)) {
        entries.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(j), sign(rng) ? scale : -scale});
      }
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.index < b.index; });
  }
};

// What one (principal, model, width) has shown the detector.
struct ExtractionDetector::Pair {
  std::mutex mu;
  size_t dims = 0;
  // G: the growing sets of all classes, a ring of at most max_points rows.
  std::vector<float> points;
  std::vector<uint16_t> point_class;
  size_t next_point = 0;
  struct ClassStats {
    uint32_t in_g = 0;  // rows of this class in G now
    uint64_t n = 0;     // distances of the rows that joined G (Welford)
    double mean = 0, m2 = 0;
  };
  std::unordered_map<uint16_t, ClassStats> classes;
  // D: the latest `window` distances and when their rows came.
  std::vector<double> distances;
  std::vector<int64_t> times;
  size_t next_distance = 0;
  uint64_t counted = 0;  // distances since the last alarm
  uint64_t since_test = 0;
  uint64_t rows = 0;
  std::vector<uint64_t> recent;  // hashes of the latest kRecentRows distinct rows
  size_t next_recent = 0;
  int64_t day = -1;
  uint64_t rows_today = 0;
  std::atomic<size_t> bytes{0};

  void UpdateBytes() {
    bytes = sizeof(Pair) + points.capacity() * sizeof(float) + point_class.capacity() * sizeof(uint16_t) +
            classes.size() * (sizeof(ClassStats) + 32) + distances.capacity() * sizeof(double) +
            times.capacity() * sizeof(int64_t) + recent.capacity() * sizeof(uint64_t);
  }
};

ExtractionDetector::ExtractionDetector(ExtractionOptions options)
    : options_(std::move(options)),
      seed_(options_.seed != 0 ? options_.seed : std::random_device{}() * 0x100000001ULL) {}

ExtractionDetector::~ExtractionDetector() = default;

const ExtractionSettings& ExtractionDetector::SettingsFor(std::string_view model) const {
  const auto it = options_.models.find(model);
  return it == options_.models.end() ? options_.defaults : it->second;
}

std::shared_ptr<const ExtractionDetector::Projection> ExtractionDetector::ProjectionFor(size_t features) const {
  std::lock_guard lock(projections_mu_);
  auto it = projections_.find(features);
  if (it != projections_.end()) return it->second;
  if (projections_.size() >= kMaxProjections) projections_.erase(projections_.begin());
  auto p = std::make_shared<const Projection>(features, options_.dims, seed_);
  projections_.emplace(features, p);
  return p;
}

std::optional<ProjectedRows> ExtractionDetector::Project(const runtime::TensorView& input) const {
  const auto layout = LayoutOf(input);
  if (!layout || layout->features == 0 || layout->features > std::numeric_limits<uint32_t>::max() ||
      options_.dims == 0) {
    return std::nullopt;
  }
  ProjectedRows out;
  out.request_rows = layout->rows;
  out.rows = std::min(layout->rows, kMaxRowsPerRequest);
  out.dims = std::min(layout->features, options_.dims);
  out.indices.reserve(out.rows);
  for (size_t k = 0; k < out.rows; ++k) out.indices.push_back(k * layout->rows / out.rows);  // evenly spaced
  out.values.resize(out.rows * out.dims);
  const uint8_t* data = input.data.data();
  if (layout->features <= options_.dims) {
    for (size_t k = 0; k < out.rows; ++k) {
      const size_t base = out.indices[k] * layout->features;
      for (size_t f = 0; f < out.dims; ++f) out.values[k * out.dims + f] = Sanitize(layout->load(data, base + f));
    }
    return out;
  }
  const auto projection = ProjectionFor(layout->features);
  // Summed in float and made finite once per output: NaN or Inf in a feature
  // can only spoil the one or two outputs it adds to, which then read as 0 or
  // +-1e15.
  std::vector<float> sums(out.dims);
  for (size_t k = 0; k < out.rows; ++k) {
    const size_t base = out.indices[k] * layout->features;
    std::fill(sums.begin(), sums.end(), 0.0F);
    if (input.datatype == DataType::kFp32) {  // the common case, without a call per value
      const uint8_t* row = data + base * sizeof(float);
      for (const auto& e : projection->entries) {
        float v;
        std::memcpy(&v, row + size_t{e.index} * sizeof(float), sizeof(float));
        sums[e.dim] += e.weight * v;
      }
    } else {
      for (const auto& e : projection->entries) {
        sums[e.dim] += e.weight * static_cast<float>(layout->load(data, base + e.index));
      }
    }
    for (size_t j = 0; j < out.dims; ++j) out.values[k * out.dims + j] = Sanitize(sums[j]);
  }
  return out;
}

std::shared_ptr<ExtractionDetector::Pair> ExtractionDetector::Find(const std::string& key, size_t dims) {
  std::lock_guard lock(mu_);
  auto it = pairs_.find(key);
  if (it != pairs_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second.pair;
  }
  while (!pairs_.empty() && pairs_.size() >= options_.max_tracked) {
    // The least recently used pair goes: its next row starts afresh.
    pairs_.erase(lru_.back());
    lru_.pop_back();
  }
  if (options_.max_tracked == 0) return nullptr;
  auto pair = std::make_shared<Pair>();
  pair->dims = dims;
  pair->UpdateBytes();
  lru_.push_front(key);
  pairs_.emplace(key, Entry{pair, lru_.begin()});
  return pair;
}

std::shared_ptr<const ShapiroWilkCoefficients> ExtractionDetector::Coefficients(size_t n) {
  std::lock_guard lock(coefficients_mu_);
  auto it = coefficients_.find(n);
  if (it != coefficients_.end()) return it->second;
  if (coefficients_.size() >= kMaxCoefficientSets) coefficients_.clear();
  auto c = std::make_shared<const ShapiroWilkCoefficients>(n);
  coefficients_.emplace(n, c);
  return c;
}

std::optional<ExtractionAlarm> ExtractionDetector::Observe(std::string_view principal, std::string_view model,
                                                           const ProjectedRows& rows,
                                                           std::span<const runtime::TensorView> outputs,
                                                           std::chrono::system_clock::time_point now) {
  const ExtractionSettings& settings = SettingsFor(model);
  if (!settings.enabled || rows.rows == 0 || rows.dims == 0 || rows.values.size() != rows.rows * rows.dims ||
      rows.indices.size() != rows.rows) {
    return std::nullopt;
  }
  const std::vector<uint16_t> classes = ClassesOf(outputs, rows);
  std::string key;
  key.reserve(principal.size() + model.size() + 8);
  key.append(principal).push_back('\0');
  key.append(model).push_back('\0');
  key += std::to_string(rows.dims);
  const auto pair = Find(key, rows.dims);
  if (pair == nullptr) return std::nullopt;
  const int64_t now_ms = UnixMs(now);
  const size_t dims = rows.dims;
  const size_t window = settings.window;
  std::optional<ExtractionAlarm> alarm;
  std::vector<double> sample;

  std::lock_guard lock(pair->mu);
  Pair& p = *pair;
  const int64_t day = now_ms / 86'400'000;
  if (day != p.day) p.day = day, p.rows_today = 0;
  for (size_t r = 0; r < rows.rows; ++r) {
    const float* x = rows.values.data() + r * dims;
    const uint16_t c = classes[r];
    ++p.rows;
    // Each observed row stands for the rows it was sampled from.
    p.rows_today += r + 1 < rows.rows ? rows.indices[r + 1] - rows.indices[r] : rows.request_rows - rows.indices[r];
    // A row the client sent recently, again: it teaches nothing new, and a
    // client that repeats a few fixed inputs (a probe, a retry loop) would
    // otherwise add the same few distances over and over, which is far from
    // normal. Only the first sending counts.
    const uint64_t hash = RowHash(x, dims);
    if (std::find(p.recent.begin(), p.recent.end(), hash) != p.recent.end()) continue;
    if (p.recent.size() < kRecentRows) {
      p.recent.push_back(hash);
    } else {
      p.recent[p.next_recent] = hash;
      p.next_recent = (p.next_recent + 1) % kRecentRows;
    }
    Pair::ClassStats& stats = p.classes[c];
    const size_t stored = p.point_class.size();
    auto add = [&] {
      if (stored < options_.max_points) {
        p.points.insert(p.points.end(), x, x + dims);
        p.point_class.push_back(c);
      } else {
        // The oldest row makes room (the most recent ones are what a
        // perturbation-based search steps from).
        const size_t slot = p.next_point;
        --p.classes[p.point_class[slot]].in_g;
        std::copy(x, x + dims, p.points.begin() + static_cast<ptrdiff_t>(slot * dims));
        p.point_class[slot] = c;
        p.next_point = (slot + 1) % options_.max_points;
      }
      ++stats.in_g;
    };
    if (stats.in_g == 0) {
      if (options_.max_points > 0) add();
      continue;
    }
    float best = std::numeric_limits<float>::infinity();
    for (size_t k = 0; k < stored; ++k) {
      if (p.point_class[k] != c) continue;
      const float* y = p.points.data() + k * dims;
      float d2 = 0;
      for (size_t f = 0; f < dims; ++f) d2 += (x[f] - y[f]) * (x[f] - y[f]);
      best = std::min(best, d2);
    }
    const double d = std::sqrt(static_cast<double>(best));
    if (!(d > 0) || !std::isfinite(d)) continue;  // an exact repeat teaches nothing
    const double std_dev = stats.n > 0 ? std::sqrt(stats.m2 / static_cast<double>(stats.n)) : 0;
    if (d > std::max(0.0, stats.mean - std_dev)) {
      add();
      ++stats.n;
      const double delta = d - stats.mean;
      stats.mean += delta / static_cast<double>(stats.n);
      stats.m2 += delta * (d - stats.mean);
    }
    if (p.distances.size() < window) {
      p.distances.push_back(d);
      p.times.push_back(now_ms);
    } else {
      p.distances[p.next_distance] = d;
      p.times[p.next_distance] = now_ms;
    }
    p.next_distance = (p.next_distance + 1) % window;
    ++p.counted;
    if (++p.since_test < options_.test_every || p.counted < settings.min_queries || alarm) continue;
    p.since_test = 0;
    const size_t n = std::min<uint64_t>(p.counted, p.distances.size());
    // The latest n distances, oldest first.
    sample.clear();
    int64_t first_at = now_ms;
    for (size_t i = 0; i < n; ++i) {
      const size_t slot = (p.next_distance + window - n + i) % window;
      sample.push_back(p.distances[slot]);
      if (i == 0) first_at = p.times[slot];
    }
    std::sort(sample.begin(), sample.end());
    const auto w = Coefficients(n)->W(sample);
    if (!w || *w >= settings.threshold) continue;
    alarm = ExtractionAlarm{ExtractionAlarm::Signal::kDistances,
                            *w,
                            settings.threshold,
                            p.rows,
                            static_cast<uint32_t>(n),
                            first_at,
                            now_ms};
    p.counted = 0;  // the next alarm needs a fresh min_queries distances
  }
  const uint64_t before = p.rows_today - rows.request_rows;
  if (!alarm && settings.max_rows_per_day > 0 && before <= settings.max_rows_per_day &&
      p.rows_today > settings.max_rows_per_day) {
    alarm = ExtractionAlarm{ExtractionAlarm::Signal::kVolume,
                            0,
                            static_cast<double>(settings.max_rows_per_day),
                            p.rows,
                            0,
                            day * 86'400'000,  // the day's count began at midnight UTC
                            now_ms};
  }
  p.UpdateBytes();
  if (alarm) alarms_[static_cast<size_t>(alarm->signal)].fetch_add(1, std::memory_order_relaxed);
  return alarm;
}

size_t ExtractionDetector::Tracked() const {
  std::lock_guard lock(mu_);
  return pairs_.size();
}

size_t ExtractionDetector::TrackedBytes() const {
  std::lock_guard lock(mu_);
  size_t total = 0;
  for (const auto& [key, entry] : pairs_) total += entry.pair->bytes.load() + key.size() * 2 + 64;
  return total;
}

}  // namespace aegis::guard
