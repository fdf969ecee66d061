// blob_decrypt_bench: how fast ReadBlob turns an encrypted model blob back into
// plaintext, against the floor a single EVP AES-256-GCM call sets on one core.
//
// Writes a 256 MiB blob of random bytes (default 1 MiB chunks) into a temp dir,
// reads it back 7 times and prints the median throughput; then decrypts the same
// 256 MiB as one GCM message in one EVP call (the peer: into a warm buffer, and
// into fresh memory as ReadBlob must) and prints the ratios. The blob is in the
// page cache (just written), so this measures CPU, not disk. CPU milliseconds are
// printed too: on a shared machine they show cost apart from contention.
//
// Usage: blob_decrypt_bench [size_mib]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <openssl/evp.h>

#include "aegis/crypto/random.h"
#include "aegis/crypto/secure_buffer.h"
#include "aegis/store/encrypted_blob.h"

namespace {

constexpr int kRuns = 7;

// CPU seconds used by the whole process (all threads): tells cost apart from
// contention when the machine is shared.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "blob_decrypt_bench: %s\n", what.c_str());
  std::exit(1);
}

// Peer: one AES-256-GCM message over the whole buffer, one EVP_DecryptUpdate call.
// With `fresh_output` each run decrypts into newly allocated (untouched) memory, as
// ReadBlob must; otherwise into a warm buffer (pure cipher speed).
double PeerGbps(const std::vector<uint8_t>& plaintext, const uint8_t* key, bool fresh_output,
                std::vector<double>* cpu_ms) {
  const uint8_t nonce[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const int len = static_cast<int>(plaintext.size());
  std::vector<uint8_t> ciphertext(plaintext.size()), out(plaintext.size(), 0);
  uint8_t tag[16];
  int n = 0;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, nullptr) != 1 ||
      EVP_EncryptUpdate(ctx, ciphertext.data(), &n, plaintext.data(), len) != 1 ||
      EVP_EncryptFinal_ex(ctx, nullptr, &n) != 1 || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1) {
    Die("peer encryption failed");
  }
  std::vector<double> gbps;
  for (int run = 0; run < kRuns; ++run) {
    const double cpu_start = CpuSeconds();
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<uint8_t[]> fresh(fresh_output ? new uint8_t[plaintext.size()] : nullptr);
    uint8_t* dst = fresh_output ? fresh.get() : out.data();
    if (EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1 ||
        EVP_DecryptUpdate(ctx, dst, &n, ciphertext.data(), len) != 1 || EVP_DecryptFinal_ex(ctx, nullptr, &n) != 1) {
      Die("peer decryption failed");
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    if (fresh_output && std::memcmp(dst, plaintext.data(), plaintext.size()) != 0) Die("peer mismatch");
    gbps.push_back(static_cast<double>(plaintext.size()) / took.count() / 1e9);
    cpu_ms->push_back((CpuSeconds() - cpu_start) * 1e3);
  }
  EVP_CIPHER_CTX_free(ctx);
  if (!fresh_output && out != plaintext) Die("peer round trip mismatch");
  return Median(gbps);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const size_t size = mib << 20;
  std::vector<uint8_t> plaintext(size);
  uint8_t dek[32];
  aegis::store::ArtifactId id{};
  if (!aegis::crypto::RandomBytes(plaintext).ok() || !aegis::crypto::RandomBytes(dek).ok() ||
      !aegis::crypto::RandomBytes(id).ok()) {
    Die("no randomness");
  }

  std::string tmpl = (std::filesystem::temp_directory_path() / "aegis-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) Die("cannot create temp dir");
  const std::filesystem::path dir = tmpl, path = dir / "blob";
  auto writer = aegis::store::BlobWriter::Create(path, id, dek);
  if (!writer.ok()) Die(writer.status().message());
  for (size_t off = 0; off < size; off += 4u << 20) {
    const size_t n = std::min<size_t>(4u << 20, size - off);
    if (!(*writer)->Append(std::span(plaintext).subspan(off, n)).ok()) Die("append failed");
  }
  if (!(*writer)->Commit().ok()) Die("commit failed");

  std::vector<double> gbps, cpu_ms;
  for (int run = 0; run < kRuns; ++run) {
    const double cpu_start = CpuSeconds();
    const auto start = std::chrono::steady_clock::now();
    auto read = aegis::store::ReadBlob(path, id, dek);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    cpu_ms.push_back((CpuSeconds() - cpu_start) * 1e3);
    if (!read.ok()) Die(read.status().message());
    if (read->size() != size || !std::equal(plaintext.begin(), plaintext.end(), read->data())) Die("mismatch");
    gbps.push_back(static_cast<double>(size) / took.count() / 1e9);
  }
  std::filesystem::remove_all(dir);

  const double ours = Median(gbps);
  std::vector<double> peer_cpu_ms, fresh_cpu_ms;
  const double peer = PeerGbps(plaintext, dek, false, &peer_cpu_ms);
  const double peer_fresh = PeerGbps(plaintext, dek, true, &fresh_cpu_ms);
  std::printf("blob size            %zu MiB, chunk %u KiB, %u hardware threads\n", mib,
              aegis::store::kDefaultChunkSize >> 10, std::thread::hardware_concurrency());
  std::printf("ReadBlob (median/%d)  %.2f GB/s  (open, read, allocate, authenticate, decrypt; %.0f ms CPU)\n", kRuns,
              ours, Median(cpu_ms));
  std::printf("peer: 1 EVP call     %.2f GB/s  (AES-256-GCM decrypt in memory, 1 thread, warm buffers; %.0f ms CPU)\n",
              peer, Median(peer_cpu_ms));
  std::printf("peer, fresh output   %.2f GB/s  (same, into newly allocated memory like ReadBlob; %.0f ms CPU)\n",
              peer_fresh, Median(fresh_cpu_ms));
  std::printf("ratio                %.2fx vs warm peer, %.2fx vs fresh-output peer\n", ours / peer, ours / peer_fresh);
  return 0;
}
