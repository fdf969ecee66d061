// HashModel: list the model, cut it into work items (a whole file for
// "files", a shard for "shards"), hash the items on a small thread pool.
//
// SHA-256 is sequential, so one file is one item under "files": parallelism
// comes from many files (or from shards). Items are taken largest first so
// that one big file does not start last and leave the other cores idle.
// Files are read with pread into a per-thread block small enough to stay in
// the core's L2 cache, so the copy out of the page cache is cheap.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>
#include <thread>

#include "aegis/signing/manifest.h"
#include "manifest_rules.h"
#include "model_walk.h"

namespace aegis::signing {
namespace {

using internal::ModelFile;
using internal::Quote;

constexpr size_t kBlockBytes = size_t{512} * 1024;
constexpr uint64_t kProgressStep = 32ull << 20;

struct Item {
  size_t file;
  uint64_t start, end;
};

class ParallelHasher {
 public:
  ParallelHasher(const std::vector<ModelFile>& files, const std::vector<Item>& items, const HashOptions& options,
                 bool whole_files)
      : files_(files), items_(items), options_(options), whole_files_(whole_files), digests_(items.size()) {
    order_.resize(items.size());
    std::iota(order_.begin(), order_.end(), size_t{0});
    std::stable_sort(order_.begin(), order_.end(),
                     [&](size_t a, size_t b) { return items[a].end - items[a].start > items[b].end - items[b].start; });
    for (const Item& item : items) total_ += item.end - item.start;
  }

  StatusOr<std::vector<crypto::Sha256Digest>> Run() {
    size_t threads = options_.threads > 0 ? static_cast<size_t>(options_.threads) : std::thread::hardware_concurrency();
    threads = std::clamp<size_t>(threads, 1, std::max<size_t>(items_.size(), 1));
    std::vector<std::thread> pool;
    try {
      for (size_t i = 1; i < threads; ++i) pool.emplace_back([this] { Work(); });
    } catch (const std::system_error&) {
      // Fewer threads than asked is slower, not wrong.
    }
    Work();
    for (std::thread& t : pool) t.join();
    if (!error_.ok()) return error_;
    if (options_.progress) options_.progress(total_, total_);
    return std::move(digests_);
  }

 private:
  void Work() {
    try {
      std::unique_ptr<uint8_t[]> block(new uint8_t[kBlockBytes]);
      for (size_t next; !failed_.load() && (next = next_.fetch_add(1)) < order_.size();) {
        const size_t index = order_[next];
        Status status = HashItem(items_[index], block.get(), &digests_[index]);
        if (!status.ok()) Fail(std::move(status));
      }
    } catch (const std::bad_alloc&) {
      Fail(Status::Internal("out of memory while hashing"));
    }
  }

  void Fail(Status status) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (error_.ok()) error_ = std::move(status);
    failed_.store(true);
  }

  Status HashItem(const Item& item, uint8_t* block, crypto::Sha256Digest* out) {
    const ModelFile& file = files_[item.file];
    // O_NONBLOCK: a FIFO swapped in after listing must not hang the open.
    const int flags =
        O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (options_.serialization.allow_symlinks ? 0 : O_NOFOLLOW);
    const int fd = ::open(file.path.c_str(), flags);
    if (fd < 0) {
      if (errno == ELOOP) return Status::InvalidArgument("symlink " + Quote(file.name) + " is not allowed");
      return Status::Internal("cannot open " + Quote(file.name) + ": " + std::strerror(errno));
    }
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != file.device || st.st_ino != file.inode) {
      return Changed(file);
    }
    ::posix_fadvise(fd, static_cast<off_t>(item.start), static_cast<off_t>(item.end - item.start),
                    POSIX_FADV_SEQUENTIAL);
    crypto::Sha256Hasher hasher;
    for (uint64_t offset = item.start; offset < item.end;) {
      if (failed_.load(std::memory_order_relaxed)) return Status::Ok();  // someone else's error wins
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kBlockBytes, item.end - offset));
      const ssize_t n = ::pread(fd, block, want, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::Internal("cannot read " + Quote(file.name) + ": " + std::strerror(errno));
      if (n == 0) return Changed(file);  // shrank since it was listed
      hasher.Update({block, static_cast<size_t>(n)});
      offset += static_cast<uint64_t>(n);
      Progress(static_cast<uint64_t>(n));
    }
    // A whole-file digest must cover the whole file: one that grew is refused.
    if (whole_files_) {
      uint8_t probe;
      ssize_t n;
      while ((n = ::pread(fd, &probe, 1, static_cast<off_t>(item.end))) < 0 && errno == EINTR) {
      }
      if (n != 0) return Changed(file);
    }
    *out = hasher.Finish();
    return Status::Ok();
  }

  static Status Changed(const ModelFile& file) {
    return Status::PermissionDenied("file " + Quote(file.name) + " changed while hashing");
  }

  void Progress(uint64_t bytes) {
    if (!options_.progress) return;
    const uint64_t before = done_.fetch_add(bytes);
    if ((before + bytes) / kProgressStep == before / kProgressStep) return;
    // The (done == total) report is Run()'s alone, after every thread finished.
    std::unique_lock<std::mutex> lock(progress_mutex_, std::try_to_lock);
    if (const uint64_t now = done_.load(); lock.owns_lock() && now < total_) options_.progress(now, total_);
  }

  const std::vector<ModelFile>& files_;
  const std::vector<Item>& items_;
  const HashOptions& options_;
  const bool whole_files_;
  std::vector<size_t> order_;
  std::vector<crypto::Sha256Digest> digests_;
  uint64_t total_ = 0;
  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> done_{0};
  std::atomic<bool> failed_{false};
  std::mutex error_mutex_, progress_mutex_;
  Status error_;
};

// The ignore paths as recorded: normalised, sorted, without duplicates.
StatusOr<std::vector<std::string>> NormalizedIgnorePaths(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const std::string& p : paths) {
    auto normalized = internal::NormalizeIgnorePath(p);
    if (!normalized) return Status::InvalidArgument("ignore path " + Quote(p) + " is not a safe relative path");
    out.push_back(std::move(*normalized));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

StatusOr<Manifest> HashModel(const std::filesystem::path& path, const HashOptions& options) {
  Manifest manifest;
  manifest.serialization = options.serialization;
  Serialization& s = manifest.serialization;
  if (s.hash_type != "sha256") return Status::InvalidArgument("unsupported hash_type " + Quote(s.hash_type));
  const bool shards = s.method == SerializationMethod::kShards;
  if (shards && s.shard_size == 0) return Status::InvalidArgument("shard_size must be a positive integer");
  if (!shards) s.shard_size = 0;
  AEGIS_ASSIGN_OR_RETURN(s.ignore_paths, NormalizedIgnorePaths(s.ignore_paths));

  AEGIS_ASSIGN_OR_RETURN(internal::ModelListing listing,
                         internal::ListModelFiles(path, s.allow_symlinks, s.ignore_paths));
  manifest.model_name = listing.model_name;
  manifest.single_file = listing.single_file;

  // Work items in resource order (files are sorted; shards ascend per file).
  std::vector<Item> items;
  for (size_t i = 0; i < listing.files.size(); ++i) {
    const uint64_t size = listing.files[i].size;
    if (!shards) {
      items.push_back({i, 0, size});
      continue;
    }
    for (uint64_t start = 0; start < size;) {
      if (items.size() >= internal::kMaxResources) {
        return Status::InvalidArgument("too many shards for one bundle: use a larger shard size");
      }
      const uint64_t end = start + std::min(s.shard_size, size - start);  // no overflow near 2^64
      items.push_back({i, start, end});
      start = end;
    }
  }
  if (items.empty()) {
    return Status::InvalidArgument(shards ? "the model has no non-empty file to sign"
                                          : "the model has no file to sign");
  }
  AEGIS_ASSIGN_OR_RETURN(std::vector<crypto::Sha256Digest> digests,
                         ParallelHasher(listing.files, items, options, !shards).Run());

  const std::string algorithm = shards ? internal::ShardAlgorithm(s.shard_size) : "sha256";
  manifest.resources.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& name = listing.files[items[i].file].name;
    manifest.resources.push_back(
        {shards ? internal::ShardName(name, items[i].start, items[i].end) : name, algorithm, digests[i]});
  }
  // "f:0:10" < "f:10:20" needs no help, but "f:1000:..." vs "f:200:..." and
  // "f.bin:..." vs "f:..." do: sort by the full name, as OMS requires.
  std::sort(manifest.resources.begin(), manifest.resources.end(),
            [](const Resource& a, const Resource& b) { return a.name < b.name; });
  return manifest;
}

}  // namespace aegis::signing
