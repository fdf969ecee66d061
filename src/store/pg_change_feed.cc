#include "pg_change_feed.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <string_view>

#include "aegis/common/log.h"

namespace aegis::store::internal {
namespace {

uint32_t TableBit(std::string_view table) {
  if (table == "model_versions") return kModelVersionsChanged;
  if (table == "tokens") return kTokensChanged;
  if (table == "users") return kUsersChanged;
  if (table == "trusted_keys") return kTrustedKeysChanged;
  if (table == "suspensions") return kSuspensionsChanged;
  if (table == "sessions") return kSessionsChanged;
  if (table == "incidents" || table == "incident_actions") return kIncidentsChanged;
  return 0;  // a table no server caches
}

}  // namespace

PgChangeFeed::PgChangeFeed(PgConnectOptions options, std::chrono::milliseconds interval, Listener listener)
    : options_(std::move(options)), interval_(interval), listener_(std::move(listener)) {}

StatusOr<std::unique_ptr<ChangeFeed>> PgChangeFeed::Start(PgConnectOptions options, std::chrono::milliseconds interval,
                                                          Listener listener) {
  std::unique_ptr<PgChangeFeed> feed(new PgChangeFeed(std::move(options), interval, std::move(listener)));
  feed->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (feed->wake_fd_ < 0) return Status::Internal("cannot create the change feed's eventfd");
  AEGIS_RETURN_IF_ERROR(feed->Listen().WithContext("the change feed"));
  feed->thread_ = std::thread([f = feed.get()] { f->Run(); });
  return std::unique_ptr<ChangeFeed>(std::move(feed));
}

PgChangeFeed::~PgChangeFeed() {
  stop_ = true;
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  PQfinish(conn_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status PgChangeFeed::Listen() {
  PQfinish(conn_);
  conn_ = OpenPgConnection(options_);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    return Status::Unavailable("cannot connect to the database at " + options_.display + ": " +
                               PgFirstLine(conn_ ? PQerrorMessage(conn_) : "out of memory"));
  }
  PGresult* result = PQexec(conn_, "LISTEN aegis_changes");
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  PQclear(result);
  if (!ok) return Status::Unavailable("cannot LISTEN on the database: " + PgFirstLine(PQerrorMessage(conn_)));
  return Status::Ok();
}

bool PgChangeFeed::Wait(std::chrono::milliseconds timeout, bool with_socket) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {with_socket ? PQsocket(conn_) : -1, POLLIN, 0}};
  const int n = ::poll(fds, 2, static_cast<int>(std::max<int64_t>(0, timeout.count())));
  return n > 0 && with_socket && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
}

void PgChangeFeed::Run() {
  bool connected = true;
  uint32_t pending = kAllChanged;  // what changed before this feed listened
  auto next_reconcile = std::chrono::steady_clock::now() + interval_;
  while (!stop_) {
    if (pending != 0) {
      listener_(pending);
      pending = 0;
    }
    if (!connected) {
      Wait(std::chrono::seconds(1), false);
      if (stop_) break;
      const Status listening = Listen();
      connected = listening.ok();
      if (!connected) {
        log::Warn({}, "change feed: {}", listening.message());
        continue;
      }
      log::Info({}, "change feed: listening again; refreshing everything");
      pending = kAllChanged;  // notifications sent while it was away are lost
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_reconcile) {
      pending = kAllChanged;
      next_reconcile = now + interval_;
      continue;
    }
    if (!Wait(
            std::chrono::duration_cast<std::chrono::milliseconds>(next_reconcile - now) + std::chrono::milliseconds(1),
            true)) {
      continue;
    }
    if (!PQconsumeInput(conn_) || PQstatus(conn_) != CONNECTION_OK) {
      log::Warn({}, "change feed: lost the database connection: {}", PgFirstLine(PQerrorMessage(conn_)));
      connected = false;
      continue;
    }
    while (PGnotify* notify = PQnotifies(conn_)) {
      pending |= TableBit(notify->extra ? notify->extra : "");
      PQfreemem(notify);
    }
  }
}

}  // namespace aegis::store::internal
