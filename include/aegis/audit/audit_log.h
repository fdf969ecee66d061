// AuditLog: one JSON line per request and per management action, appended under
// DIR/audit/ (first cut; the Merkle tree and signed heads come later).
//
// Events name who did what to which resource, the decision and the outcome — never
// tensor data, tokens or other secrets: the event type has no field that could
// carry them. Append() never blocks on disk: events go to a queue drained by one
// writer thread that writes them in batches (group commit: a burst gathers for up
// to 2 ms) and fdatasyncs each batch. The queue is bounded; when it is full
// Append() waits (fail closed: no event is dropped).
//
// Sinks (AddSink) get a copy of each event line once its batch is durable, from
// the writer thread; they must not block it (AuditSink::Offer never does).
//
// Thread-safety: Append, Flush and Recent are safe for concurrent use; AddSink
// before the first Append.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aegis/audit/sink.h"
#include "aegis/common/clock.h"
#include "aegis/common/status.h"

namespace aegis::audit {

struct AuditEvent {
  std::chrono::system_clock::time_point time;
  std::string request_id;
  std::string principal;   // "anonymous" before authentication; "token:ci", "user:alice", ...
  std::string auth_method; // "token" | "session" | "jwt" | "mtls"; empty when unauthenticated
  std::string grant;       // the grant that allowed the action ("consumer:fraud-*"); empty if none
  std::string action;      // "infer", "model.push", ...
  std::string resource;    // "model:mlp/versions/1", "server", ...
  std::string decision;    // "allow" | "deny"
  int status = 0;          // HTTP status
  int64_t latency_us = 0;
  std::string remote;      // client "ip:port"
  std::string listener;    // "data" | "admin" | "cli"
  std::string reason;      // why denied or failed; empty when fine
};

// The event as one JSON object (no trailing newline).
std::string EventToJson(const AuditEvent& event);

class AuditLog {
 public:
  // Opens DIR/audit/audit.jsonl (created 0600) for appending.
  static StatusOr<std::unique_ptr<AuditLog>> Open(const std::filesystem::path& audit_dir);
  ~AuditLog();  // drains the queue

  void Append(AuditEvent event);
  // Returns once every event appended before the call is on disk.
  Status Flush();
  // The last `limit` events (oldest first) as JSON objects, after a Flush.
  StatusOr<std::vector<std::string>> Recent(size_t limit);
  // Sinks get every event line after it is durable (and, once the log signs tree
  // heads, every signed head), from the writer thread. Register before the first Append.
  void AddSink(std::shared_ptr<AuditSink> sink);

 private:
  AuditLog(std::filesystem::path path, int fd);
  void WriterLoop();

  const std::filesystem::path path_;
  const int fd_;
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_, flushed_;
  std::deque<AuditEvent> queue_;
  uint64_t appended_ = 0;   // events ever queued
  uint64_t durable_ = 0;    // events written and synced
  Status write_status_;
  std::vector<std::shared_ptr<AuditSink>> sinks_;
  bool writer_idle_ = false;   // the writer waits for events: Append must wake it
  int flush_waiters_ = 0;      // Flush callers waiting for durability
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace aegis::audit
