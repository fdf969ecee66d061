// The audit log's two throughput goals (issue 4), each beside a peer measured in
// the same run, as medians of repeated runs:
//
//  append: events/s through AuditLog (format, leaf hash, Merkle frontier, group
//          fdatasync, a signed tree head every second) from 2 producer threads,
//          against a plain JSON-lines writer with the same batching and fsyncs but
//          no hashing or signing (what the log cost before it was tamper-evident).
//  verify: events/s of VerifyAuditLog over the log just written (every leaf,
//          every prev link, every head's root and signature), against one
//          SHA-256 pass over the same bytes (the floor for any verifier that
//          reads every byte).
//
//   build/release/bench/audit_bench [events=500000] [runs=5] [dir=/tmp]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "aegis/audit/audit_log.h"
#include "aegis/audit/log_verifier.h"
#include "aegis/crypto/hash.h"
#include "aegis/keys/key_provider.h"

namespace {

using namespace aegis;
using Steady = std::chrono::steady_clock;

audit::AuditEvent Event(uint64_t i) {
  audit::AuditEvent e;
  e.time = std::chrono::system_clock::now();
  e.request_id = "9f86d081884c7d65" + std::to_string(i);
  e.principal = "token:scorer";
  e.auth_method = "token";
  e.grant = "consumer:fraud-*";
  e.action = "infer";
  e.resource = "model:fraud-mlp/versions/3";
  e.decision = i % 10 == 0 ? audit::Decision::kDeny : audit::Decision::kAllow;
  e.status = i % 10 == 0 ? 403 : 200;
  e.latency_us = 70 + static_cast<int64_t>(i % 50);
  e.remote = "127.0.0.1:51234";
  e.listener = audit::Listener::kData;
  return e;
}

double Seconds(Steady::time_point since) { return std::chrono::duration<double>(Steady::now() - since).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Two producers, as request threads would be; returns events/s until durable and signed.
double AppendAegis(const std::filesystem::path& root, uint64_t n, const keys::KeyProvider& kek) {
  audit::AuditLogOptions o;
  o.dir = root / "audit";
  o.signing_key_file = root / "audit-signing.key";
  o.kek = &kek;
  o.verify_interval = std::chrono::seconds(0);
  auto log = audit::AuditLog::Open(o);
  if (!log.ok()) {
    std::fprintf(stderr, "audit_bench: %s\n", log.status().message().c_str());
    std::exit(1);
  }
  const auto start = Steady::now();
  std::vector<std::thread> producers;
  for (uint64_t t = 0; t < 2; ++t) {
    producers.emplace_back([&, t] {
      for (uint64_t i = t; i < n; i += 2) (*log)->Append(Event(i));
    });
  }
  for (auto& p : producers) p.join();
  if (!(*log)->SignNow().ok()) std::exit(1);
  return static_cast<double>(n) / Seconds(start);
}

// The peer: JSON lines by nlohmann::json, 4096 per write + fdatasync, no tree.
double AppendPlain(const std::filesystem::path& root, uint64_t n) {
  const auto path = root / "plain.jsonl";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const auto start = Steady::now();
  std::string buffer;
  for (uint64_t i = 0; i < n; ++i) {
    buffer += audit::EventToJson(Event(i));
    buffer += '\n';
    if (buffer.size() > size_t{4096} * 300 || i + 1 == n) {
      if (::write(fd, buffer.data(), buffer.size()) != static_cast<ssize_t>(buffer.size()) || ::fdatasync(fd) != 0) {
        std::exit(1);
      }
      buffer.clear();
    }
  }
  ::close(fd);
  return static_cast<double>(n) / Seconds(start);
}

double Verify(const std::filesystem::path& root, uint64_t* events, uint64_t* heads) {
  const auto start = Steady::now();
  auto report = audit::VerifyAuditLog(root / "audit");
  const double s = Seconds(start);
  if (!report.ok() || !report->ok) {
    std::fprintf(stderr, "audit_bench: verification failed\n");
    std::exit(1);
  }
  *events = report->events;
  *heads = report->heads.size();
  return static_cast<double>(report->events) / s;
}

double HashPass(const std::filesystem::path& root, uint64_t events) {
  const auto start = Steady::now();
  crypto::Sha256Hasher hasher;
  std::vector<uint8_t> block(1 << 20);
  for (const auto& entry : std::filesystem::directory_iterator(root / "audit")) {
    if (!entry.path().filename().string().starts_with("segment-")) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    for (ssize_t got; (got = ::read(fd, block.data(), block.size())) > 0;) {
      hasher.Update(std::span(block.data(), static_cast<size_t>(got)));
    }
    ::close(fd);
  }
  volatile auto sink = hasher.Finish()[0];
  (void)sink;
  return static_cast<double>(events) / Seconds(start);
}

}  // namespace

// An exception (a full disk, a JSON error) ends the run with its message and exit 1.
int main(int argc, char** argv) try {
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 500000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::filesystem::path base = argc > 3 ? argv[3] : "/tmp";
  std::vector<double> aegis_append, plain_append, verify, hash;
  uint64_t events = 0, heads = 0;
  for (int r = 0; r < runs; ++r) {
    const auto root = base / ("aegis-audit-bench-" + std::to_string(::getpid()) + "-" + std::to_string(r));
    std::filesystem::remove_all(root);
    std::filesystem::create_directories(root);
    auto kek = keys::LocalKeyProvider::Create(root / "keys", std::nullopt);
    if (!kek.ok()) return 1;
    // Interleaved, so drift on a shared machine hits both alike.
    plain_append.push_back(AppendPlain(root, n));
    aegis_append.push_back(AppendAegis(root, n, **kek));
    verify.push_back(Verify(root, &events, &heads));
    hash.push_back(HashPass(root, events));
    std::filesystem::remove_all(root);
  }
  nlohmann::ordered_json out;
  out["events_per_run"] = n;
  out["runs"] = runs;
  out["signed_heads_in_last_run"] = heads;
  out["append_events_per_s"] = {{"aegis", Median(aegis_append)},
                                {"plain_jsonl_peer", Median(plain_append)},
                                {"ratio", Median(aegis_append) / Median(plain_append)},
                                {"goal", 200000}};
  out["verify_events_per_s"] = {{"aegis", Median(verify)},
                                {"sha256_pass_peer", Median(hash)},
                                {"ratio", Median(verify) / Median(hash)},
                                {"goal", 1000000}};
  out["raw"] = {{"aegis_append", aegis_append}, {"plain_append", plain_append}, {"verify", verify}, {"hash", hash}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "audit_bench: %s\n", e.what());
  return 1;
}
