#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#include "aegis/crypto/hash.h"
#include "aegis/store/encrypted_blob.h"
#include "blob_format.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older glibc headers lack it
#endif

namespace aegis::store {
namespace {

using internal::kChunkOverhead;
using internal::kHeaderSize;

// Below this a second thread costs more to start than it saves.
constexpr uint64_t kParallelThreshold = 8u << 20;
constexpr unsigned kMaxThreads = 16;
constexpr size_t kPrefaultMin = 64u << 10;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads exactly the bytes the iovecs describe at `offset`, retrying short reads.
bool PreadvFull(int fd, iovec* iov, int count, off_t offset) {
  while (count > 0) {
    const ssize_t n = ::preadv(fd, iov, count, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    offset += n;
    for (size_t left = static_cast<size_t>(n); left > 0 && count > 0;) {
      const size_t step = std::min(left, iov->iov_len);
      iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + step;
      iov->iov_len -= step;
      left -= step;
      if (iov->iov_len == 0) ++iov, --count;
    }
  }
  return true;
}

// Decrypts chunks handed out by an atomic counter, in place in the output buffer:
// the ciphertext is read straight to where its plaintext belongs (one copy from
// the page cache, no scratch buffer), then opened there.
class ChunkDecryptor {
 public:
  ChunkDecryptor(int fd, std::span<const uint8_t, kHeaderSize> header, const internal::BlobHeader& fields,
                 std::span<const uint8_t> dek, crypto::SecureBuffer& out)
      : fd_(fd),
        header_(header),
        fields_(fields),
        dek_(dek),
        out_(out),
        chunks_(internal::ChunkCount(fields.plaintext_size, fields.chunk_size)) {}

  Status Run(unsigned threads) {
    std::vector<std::thread> workers;
    try {
      for (unsigned i = 1; i < threads; ++i) workers.emplace_back([this] { Work(); });
    } catch (const std::system_error&) {
      // No thread to spare: the ones already started and this one finish the job.
    }
    Work();
    for (auto& t : workers) t.join();
    return failed_.load() ? first_error_ : Status::Ok();
  }

 private:
  void Work() {
    auto ctx = crypto::AeadContext::Create(dek_);  // one EVP context per thread
    if (!ctx.ok()) return Fail(ctx.status());
    for (;;) {
      const uint64_t index = next_.fetch_add(1);
      if (index >= chunks_ || failed_.load(std::memory_order_relaxed)) return;
      Status s = DecryptChunk(*ctx, index);
      if (!s.ok()) return Fail(s);
    }
  }

  Status DecryptChunk(crypto::AeadContext& ctx, uint64_t index) {
    const uint64_t start = index * fields_.chunk_size;
    const size_t len = static_cast<size_t>(std::min<uint64_t>(fields_.chunk_size, fields_.plaintext_size - start));
    const bool final = index + 1 == chunks_;
    PrefaultOutput(start, len);
    uint8_t nonce[crypto::kAeadNonceSize];
    uint8_t tag[crypto::kAeadTagSize];
    iovec iov[3] = {{nonce, sizeof nonce}, {out_.data() + start, len}, {tag, sizeof tag}};
    const off_t offset = static_cast<off_t>(kHeaderSize + index * (fields_.chunk_size + kChunkOverhead));
    if (!PreadvFull(fd_, iov, 3, offset)) return Status::DataLoss("blob is truncated");
    std::array<uint8_t, internal::kMaxAadSize> aad;
    const size_t aad_len = internal::ChunkAad(header_, index, final, aad);
    const std::span<uint8_t> chunk(out_.data() + start, len);
    if (!ctx.OpenDetached(nonce, std::span(aad).first(aad_len), chunk, tag, chunk).ok()) {
      return Status::DataLoss("blob chunk " + std::to_string(index) + " failed authentication");
    }
    return Status::Ok();
  }

  // Fresh output pages would otherwise be faulted in one trap per 4 KiB page inside
  // preadv, which on a VM costs more than decrypting them. MADV_POPULATE_WRITE maps
  // the whole range in one call, on this worker's core. Best effort: older kernels
  // return EINVAL and the pages fault in as usual.
  void PrefaultOutput(uint64_t start, size_t len) {
    if (len < kPrefaultMin) return;
    static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(out_.data() + start) & ~(page - 1);
    const auto end = (reinterpret_cast<uintptr_t>(out_.data() + start + len) + page - 1) & ~(page - 1);
    // NOLINTNEXTLINE(performance-no-int-to-ptr): page-aligned address for madvise, never dereferenced
    (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
  }

  void Fail(Status s) {
    std::lock_guard lock(mu_);
    if (!failed_.exchange(true)) first_error_ = std::move(s);
  }

  const int fd_;
  const std::span<const uint8_t, kHeaderSize> header_;
  const internal::BlobHeader fields_;
  const std::span<const uint8_t> dek_;
  crypto::SecureBuffer& out_;
  const uint64_t chunks_;
  std::atomic<uint64_t> next_{0};
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  Status first_error_;
};

}  // namespace

StatusOr<crypto::SecureBuffer> ReadBlob(const std::filesystem::path& path, const ArtifactId& id,
                                        std::span<const uint8_t> dek) {
  if (dek.size() != crypto::kAeadKeySize) return Status::InvalidArgument("blob key must be 32 bytes");
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::NotFound("blob " + path.string() + " does not exist");
    return Status::Internal("cannot open blob " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return Status::DataLoss("blob is not a regular file");
  const auto file_size = static_cast<uint64_t>(st.st_size);

  std::array<uint8_t, kHeaderSize> header_bytes{};
  if (file_size < kHeaderSize || ::pread(fd.get(), header_bytes.data(), kHeaderSize, 0) != kHeaderSize) {
    return Status::DataLoss("blob is shorter than its header");
  }
  const auto header = internal::DecodeHeader(header_bytes);
  if (!header) return Status::DataLoss("blob header has a bad magic or version");
  if (!crypto::ConstantTimeEqual(header->artifact_id, id)) return Status::DataLoss("blob belongs to another artifact");
  if (header->chunk_size < internal::kMinChunkSize || header->chunk_size > internal::kMaxChunkSize) {
    return Status::DataLoss("blob header has an invalid chunk size");
  }
  // The exact size follows from the header: refuse truncation or trailing bytes before
  // allocating or decrypting anything. plaintext_size <= file_size rules out overflow.
  const uint64_t chunks = internal::ChunkCount(header->plaintext_size, header->chunk_size);
  if (header->plaintext_size > file_size ||
      kHeaderSize + chunks * kChunkOverhead + header->plaintext_size != file_size) {
    return Status::DataLoss("blob size does not match its header");
  }

  crypto::SecureBuffer out;
  try {
    out = crypto::SecureBuffer(static_cast<size_t>(header->plaintext_size));
  } catch (const std::bad_alloc&) {
    return Status::TooLarge("not enough memory to load a blob of " + std::to_string(header->plaintext_size) + " bytes");
  }
  unsigned threads = 1;
  if (header->plaintext_size >= kParallelThreshold) {
    threads = std::clamp<unsigned>(std::thread::hardware_concurrency(), 1, kMaxThreads);
    threads = static_cast<unsigned>(std::min<uint64_t>(threads, chunks));
  }
  ChunkDecryptor decryptor(fd.get(), header_bytes, *header, dek, out);
  // On failure `out` is destroyed here, which wipes whatever was decrypted.
  AEGIS_RETURN_IF_ERROR(decryptor.Run(threads));
  return out;
}

}  // namespace aegis::store
