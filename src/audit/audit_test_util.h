// Test support for the audit module: a temp installation (KEK + audit dir) and
// event factories.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "aegis/audit/audit_log.h"
#include "aegis/audit/log_verifier.h"
#include "aegis/common/file_util.h"
#include "aegis/keys/key_provider.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::audit::testing {

inline AuditEvent Event(int i) {
  AuditEvent e;
  e.time = std::chrono::system_clock::now();
  e.request_id = "req" + std::to_string(i);
  e.principal = "token:admin";
  e.action = "infer";
  e.resource = "model:m/versions/1";
  e.decision = Decision::kAllow;
  e.status = 200;
  e.latency_us = i;
  e.remote = "127.0.0.1:1234";
  e.listener = Listener::kData;
  return e;
}

class AuditDir : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kek = keys::LocalKeyProvider::Create(tmp_.path() / "keys", std::nullopt);
    ASSERT_OK(kek);
    kek_ = std::move(*kek);
  }

  AuditLogOptions Options() const {
    AuditLogOptions o;
    o.dir = dir_;
    o.signing_key_file = tmp_.path() / "keys" / "audit-signing.key";
    o.kek = kek_.get();
    o.verify_interval = std::chrono::seconds(0);
    // Tests edit segment files by name; compression is tested on its own.
    o.compress_sealed_segments = false;
    return o;
  }

  std::unique_ptr<AuditLog> OpenLog(const AuditLogOptions& o) {
    auto log = AuditLog::Open(o);
    EXPECT_OK(log);
    return log.ok() ? std::move(*log) : nullptr;
  }
  std::unique_ptr<AuditLog> OpenLog() { return OpenLog(Options()); }

  // Writes `n` events plus the log's own start/stop events and closes the log.
  void WriteEvents(int n) {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < n; ++i) log->Append(Event(i));
  }

  // Verifies `dir` (this log, or an archive of it) against this log's own key.
  VerifyReport VerifyPinned(const std::filesystem::path& dir) const {
    VerifyOptions o;
    o.pinned_key = ReadAuditPublicKey(dir_).value();
    auto r = VerifyAuditLog(dir, o);
    EXPECT_OK(r);
    return r.ok() ? *r : VerifyReport{};
  }

  std::filesystem::path Segment0() const { return dir_ / "segment-00000000000000000000.jsonl"; }

  aegis::testing::ScopedTempDir tmp_;
  const std::filesystem::path dir_ = tmp_.path() / "audit";
  std::unique_ptr<keys::LocalKeyProvider> kek_;
};

}  // namespace aegis::audit::testing
