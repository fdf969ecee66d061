// Registry::Reconcile: catching up with what other servers changed in a
// shared store (PostgreSQL; aegis/store/change_feed.h).
#include <set>

#include "aegis/common/log.h"
#include "aegis/registry/registry.h"
#include "integrity.h"

namespace aegis::registry {

ReconcileResult Registry::Reconcile() {
  ReconcileResult out;
  if (!loaded_.load()) return out;  // LoadAll reads the store itself
  MutexLock once(reconcile_mu_);
  auto records = store_->ListModelVersions();
  auto trusted = store_->ListTrustedKeys();
  if (!records.ok() || !trusted.ok()) {
    out.failures.push_back(records.ok() ? trusted.status() : records.status());
    return out;
  }
  std::set<ModelKey> recorded;
  for (const auto& record : *records) recorded.insert(ModelKey{record.name, record.version});
  std::set<std::string> fingerprints;
  for (const auto& key : *trusted) fingerprints.insert(key.fingerprint);

  // Served here but removed elsewhere, or signed by a key no longer trusted.
  std::set<ModelKey> served;
  {
    MutexLock lock(write_mu_);
    const auto snapshot = table_.load();  // Unpublish replaces table_ while this one is walked
    for (const auto& [model, entry] : *snapshot) {
      for (const auto& [version, m] : entry->versions) {
        const ModelKey key{model, version};
        if (!recorded.contains(key)) {
          if (pushing_.contains(key)) continue;  // recorded by a push here, a moment from publishing
          Unpublish(model, version);
          out.removed.push_back(model + "/" + version);
          continue;
        }
        const auto& sig = m->record.signature;
        if (sig && !fingerprints.contains(sig->fingerprint)) {
          const Status why = internal::IntegrityFailure("signer key '" + sig->signer + "' is no longer trusted");
          Unpublish(model, version);
          MarkFailed(key, why);
          out.withdrawn.push_back(model + "/" + version);
          log::Warn({.model = model, .version = version}, "model {} version {} withdrawn: {}", model, version,
                    why.message());
          continue;
        }
        served.insert(key);
      }
    }
  }
  // A version that failed here and was removed elsewhere is forgotten.
  std::set<ModelKey> failed;
  {
    MutexLock lock(failed_mu_);
    for (auto it = failed_.begin(); it != failed_.end();) {
      if (!it->first.name.empty() && !recorded.contains(it->first)) {
        it = failed_.erase(it);
      } else {
        failed.insert(it->first);
        ++it;
      }
    }
    failed_count_ = static_cast<int>(failed_.size());
  }
  // Recorded elsewhere: loaded like at start (fetched, decrypted, checked).
  for (const auto& record : *records) {
    const ModelKey key{record.name, record.version};
    if (served.contains(key) || failed.contains(key)) continue;
    {
      MutexLock lock(write_mu_);
      if (pushing_.contains(key)) continue;
    }
    {
      MutexLock lock(failed_mu_);
      pending_.insert(key);  // Find answers "loading" meanwhile
      pending_count_ = static_cast<int>(pending_.size());
    }
    const Status loaded = LoadRecorded(record, *trusted);
    if (loaded.ok()) {
      out.loaded.push_back(record.name + "/" + record.version);
      log::Info({.model = record.name, .version = record.version},
                "model {} version {} recorded by another server: now served here", record.name, record.version);
    } else {
      out.failures.push_back(loaded);
    }
  }
  for (const std::string& removed : out.removed) log::Info({}, "model version {} removed by another server", removed);
  return out;
}

}  // namespace aegis::registry
