// The PostgreSQL ChangeFeed (internal to src/store): LISTEN aegis_changes on a
// connection of its own, on a thread of its own (aegis/store/change_feed.h).
//
// Thread-safety: see ChangeFeed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "aegis/common/status.h"
#include "aegis/store/change_feed.h"
#include "pg_util.h"

namespace aegis::store::internal {

class PgChangeFeed final : public ChangeFeed {
 public:
  // Connects and listens before returning (Unavailable naming the reason when
  // it cannot), then calls `listener(kAllChanged)` once from its thread, for
  // what changed before it listened.
  static StatusOr<std::unique_ptr<ChangeFeed>> Start(PgConnectOptions options, std::chrono::milliseconds interval,
                                                     Listener listener);
  ~PgChangeFeed() override;

 private:
  PgChangeFeed(PgConnectOptions options, std::chrono::milliseconds interval, Listener listener);
  Status Listen();
  void Run();
  // Waits for the connection's socket, the stop signal or `timeout`; true when
  // the socket is readable.
  bool Wait(std::chrono::milliseconds timeout, bool with_socket);

  const PgConnectOptions options_;
  const std::chrono::milliseconds interval_;
  const Listener listener_;
  PGconn* conn_ = nullptr;  // the feed's thread's alone after Start
  int wake_fd_ = -1;        // eventfd: the destructor's stop signal
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace aegis::store::internal
