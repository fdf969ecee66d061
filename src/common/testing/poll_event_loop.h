// PollEventLoop: an EventLoop (aegis/common/event_loop.h) of one thread over
// poll(2), standing in for the server's HTTP I/O threads where a test or a
// harness runs the runtime without the server.
//
//   PollEventLoop loop;
//   options.response_loop = loop.shared();  // or a shared_ptr of your own
//   loop.Post([&] { instances->Submit(...); });  // submits from the loop thread
//
// Thread-safety: every method is safe from any thread.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "aegis/common/event_loop.h"

namespace aegis::testing {

class PollEventLoop final : public EventLoop {
 public:
  PollEventLoop() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~PollEventLoop() override {
    stop_ = true;
    Wake();
    thread_.join();
    for (auto& entry : entries_) ::close(entry->fd);
    ::close(wake_);
  }
  PollEventLoop(const PollEventLoop&) = delete;
  PollEventLoop& operator=(const PollEventLoop&) = delete;

  bool InLoopThread() const override { return std::this_thread::get_id() == thread_.get_id(); }

  std::unique_ptr<Watch> WatchReadable(int fd, std::function<void()> on_readable) override {
    auto entry = std::make_shared<Entry>();
    entry->fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (entry->fd < 0) return nullptr;
    entry->on_readable = std::move(on_readable);
    {
      std::lock_guard lock(mu_);
      entries_.push_back(entry);
      tasks_.push_back([entry] { Call(*entry); });  // the first call, as the contract says
    }
    Wake();
    return std::make_unique<PollWatch>(this, entry);
  }

  // Runs `f` on the loop thread, soon.
  void Post(std::function<void()> f) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(f));
    }
    Wake();
  }

  // How many watches are active.
  size_t watches() const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& entry : entries_) n += entry->active ? 1 : 0;
    return n;
  }

 private:
  struct Entry {
    int fd = -1;
    std::atomic<bool> active{true};
    std::function<void()> on_readable;  // the loop thread's
  };

  class PollWatch final : public Watch {
   public:
    PollWatch(PollEventLoop* loop, std::shared_ptr<Entry> entry) : loop_(loop), entry_(std::move(entry)) {}
    ~PollWatch() override {
      entry_->active = false;
      loop_->Wake();  // the loop drops the entry on its thread
    }

   private:
    PollEventLoop* loop_;
    std::shared_ptr<Entry> entry_;
  };

  static void Call(Entry& entry) {
    if (entry.active && entry.on_readable) entry.on_readable();
  }

  void Wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_, &one, sizeof(one));
  }

  void Run() {
    while (!stop_) {
      std::vector<std::shared_ptr<Entry>> watched;
      std::deque<std::function<void()>> tasks;
      {
        std::lock_guard lock(mu_);
        tasks.swap(tasks_);
        for (auto it = entries_.begin(); it != entries_.end();) {
          if ((*it)->active) {
            watched.push_back(*it);
            ++it;
          } else {
            ::close((*it)->fd);
            (*it)->on_readable = nullptr;
            it = entries_.erase(it);
          }
        }
      }
      for (auto& task : tasks) task();
      if (!tasks.empty()) continue;  // a task may have added or ended watches
      std::vector<pollfd> fds{{wake_, POLLIN, 0}};
      for (const auto& entry : watched) fds.push_back({entry->fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents & POLLIN) {
        uint64_t count;
        [[maybe_unused]] const ssize_t n = ::read(wake_, &count, sizeof(count));
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents & POLLIN) Call(*watched[i - 1]);
      }
    }
  }

  const int wake_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Entry>> entries_;
  std::deque<std::function<void()>> tasks_;
  std::thread thread_;
};

}  // namespace aegis::testing
