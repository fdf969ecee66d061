#include "connection_registry.h"

#include <vector>

#include <boost/asio/post.hpp>

namespace aegis::http::internal {

bool ConnectionRegistry::Add(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mu_);
  connections_.insert(connection);
  return !stop_requested_;
}

void ConnectionRegistry::Remove(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mu_);
  connections_.erase(connection);
  if (connections_.empty() && tasks_ == 0) cv_.notify_all();
}

void ConnectionRegistry::AddTask() {
  std::lock_guard lock(mu_);
  ++tasks_;
}

void ConnectionRegistry::RemoveTask() {
  std::lock_guard lock(mu_);
  --tasks_;
  if (connections_.empty() && tasks_ == 0) cv_.notify_all();
}

bool ConnectionRegistry::RequestStop() {
  std::lock_guard lock(mu_);
  if (stop_requested_) return false;
  stop_requested_ = true;
  cv_.notify_all();
  return true;
}

bool ConnectionRegistry::stop_requested() const {
  std::lock_guard lock(mu_);
  return stop_requested_;
}

void ConnectionRegistry::WaitForStopRequest() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stop_requested_; });
}

void ConnectionRegistry::PostToAll(void (*action)(Connection&)) {
  std::vector<std::shared_ptr<Connection>> all;
  {
    std::lock_guard lock(mu_);
    all.assign(connections_.begin(), connections_.end());
  }
  // Each connection's state is touched only on its own executor.
  for (auto& c : all) asio::post(c->stream.get_executor(), [c, action] { action(*c); });
}

void ConnectionRegistry::DrainAll() {
  PostToAll([](Connection& c) {
    c.stopping = true;
    // Cancel rather than close: the session then sends close_notify itself.
    if (c.idle) c.transport().cancel();
  });
}

void ConnectionRegistry::CloseAll() {
  PostToAll([](Connection& c) {
    c.stopping = true;
    c.transport().close();
  });
}

bool ConnectionRegistry::WaitUntilEmpty(std::optional<std::chrono::steady_clock::time_point> deadline) {
  std::unique_lock lock(mu_);
  const auto empty = [&] { return connections_.empty() && tasks_ == 0; };
  if (!deadline) {
    cv_.wait(lock, empty);
    return true;
  }
  return cv_.wait_until(lock, *deadline, empty);
}

size_t ConnectionRegistry::size() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

}  // namespace aegis::http::internal
