#include "counters.h"

namespace aegis::monitor::internal {

Counters::Counters() {
  indexes_.push_back(std::make_unique<const SeriesIndex>());
  index_.store(indexes_.back().get(), std::memory_order_release);
}

ModelSeries* Counters::Find(std::string_view model, std::string_view version) const {
  const SeriesIndex* index = index_.load(std::memory_order_acquire);
  const auto it = index->find(SeriesKey{model, version});
  return it == index->end() ? nullptr : it->second;
}

ModelSeries* Counters::FindOrCreate(std::string_view model, std::string_view version) {
  if (ModelSeries* found = Find(model, version)) return found;
  MutexLock lock(mu_);
  const SeriesIndex& current = *indexes_.back();
  if (const auto it = current.find(SeriesKey{model, version}); it != current.end()) return it->second;
  if (series_.size() >= kMaxModelSeries) return nullptr;
  series_.push_back(std::make_unique<ModelSeries>(std::string(model), std::string(version), series_.size()));
  ModelSeries* created = series_.back().get();
  auto next = std::make_unique<SeriesIndex>(current);
  next->emplace(SeriesKey{created->model, created->version}, created);
  indexes_.push_back(std::move(next));
  index_.store(indexes_.back().get(), std::memory_order_release);
  return created;
}

std::vector<const ModelSeries*> Counters::All() const {
  MutexLock lock(mu_);
  std::vector<const ModelSeries*> out;
  out.reserve(series_.size());
  for (const auto& s : series_) out.push_back(s.get());
  return out;
}

}  // namespace aegis::monitor::internal
