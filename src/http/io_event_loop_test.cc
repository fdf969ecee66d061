#include "io_event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "spinning_runner.h"

namespace aegis::http::internal {
namespace {

using namespace std::chrono_literals;

// An io_context run as the server runs its I/O threads.
class LoopThread {
 public:
  LoopThread() : work_(boost::asio::make_work_guard(io_)), loop_(io_) {
    thread_ = std::thread([this] { RunSpinning(io_); });
  }
  ~LoopThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::io_context& io() { return io_; }
  IoEventLoop& loop() { return loop_; }

  // Runs `f` on the loop thread and waits for it.
  template <typename F>
  void OnLoop(F f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  IoEventLoop loop_;
  std::thread thread_;
};

struct EventFd {
  EventFd() : fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~EventFd() { ::close(fd); }
  void Signal() const {
    const uint64_t one = 1;
    ASSERT_EQ(::write(fd, &one, sizeof(one)), 8);
  }
  // Reads the counter; 0 when nothing was signalled.
  uint64_t Take() const {
    uint64_t count = 0;
    return ::read(fd, &count, sizeof(count)) == 8 ? count : 0;
  }
  int fd;
};

// Counts what a watch's callback consumed, and on which thread it ran.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t signals = 0;
  int calls = 0;
  bool off_loop = false;

  bool WaitFor(uint64_t n, std::chrono::milliseconds within) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, within, [&] { return signals >= n; });
  }
};

std::function<void()> Consume(const EventFd& fd, const std::shared_ptr<Seen>& seen, IoEventLoop& loop) {
  return [&fd, seen, &loop] {
    const uint64_t n = fd.Take();
    std::lock_guard lock(seen->mu);
    ++seen->calls;
    seen->signals += n;
    if (!loop.InLoopThread()) seen->off_loop = true;
    seen->cv.notify_all();
  };
}

TEST(IoEventLoopTest, KnowsItsOwnThreads) {
  LoopThread t;
  EXPECT_FALSE(t.loop().InLoopThread());
  bool inside = false;
  t.OnLoop([&] { inside = t.loop().InLoopThread(); });
  EXPECT_TRUE(inside);
}

TEST(IoEventLoopTest, CallsOnTheLoopThreadForEachSignal) {
  LoopThread t;
  EventFd fd;
  auto seen = std::make_shared<Seen>();
  std::unique_ptr<EventLoop::Watch> watch;
  t.OnLoop([&] { watch = t.loop().WatchReadable(fd.fd, Consume(fd, seen, t.loop())); });
  ASSERT_NE(watch, nullptr);
  fd.Signal();
  ASSERT_TRUE(seen->WaitFor(1, 5s));
  fd.Signal();
  ASSERT_TRUE(seen->WaitFor(2, 5s));
  EXPECT_FALSE(seen->off_loop);
  t.OnLoop([&] { watch.reset(); });
}

TEST(IoEventLoopTest, ASignalBeforeTheWatchStartsIsNotLost) {
  LoopThread t;
  EventFd fd;
  fd.Signal();  // readable before it is watched: no edge will come
  auto seen = std::make_shared<Seen>();
  std::unique_ptr<EventLoop::Watch> watch;
  t.OnLoop([&] { watch = t.loop().WatchReadable(fd.fd, Consume(fd, seen, t.loop())); });
  EXPECT_TRUE(seen->WaitFor(1, 5s));
  t.OnLoop([&] { watch.reset(); });
}

// Ping-pong as between the server and an engine worker: the next signal comes
// as soon as the previous one was consumed, often before the wait is re-armed
// on an edge-triggered reactor. None may be lost.
TEST(IoEventLoopTest, BackToBackSignalsAreNeverLost) {
  LoopThread t;
  EventFd fd;
  auto seen = std::make_shared<Seen>();
  std::unique_ptr<EventLoop::Watch> watch;
  t.OnLoop([&] { watch = t.loop().WatchReadable(fd.fd, Consume(fd, seen, t.loop())); });
  constexpr uint64_t kRounds = 20000;
  for (uint64_t i = 1; i <= kRounds; ++i) {
    fd.Signal();
    ASSERT_TRUE(seen->WaitFor(i, 5s)) << "signal " << i << " was never seen";
  }
  t.OnLoop([&] { watch.reset(); });
}

TEST(IoEventLoopTest, NoCallAfterTheStopReachedTheLoop) {
  LoopThread t;
  EventFd fd;
  auto seen = std::make_shared<Seen>();
  std::unique_ptr<EventLoop::Watch> watch;
  t.OnLoop([&] { watch = t.loop().WatchReadable(fd.fd, Consume(fd, seen, t.loop())); });
  fd.Signal();
  ASSERT_TRUE(seen->WaitFor(1, 5s));
  watch.reset();    // off the loop thread
  t.OnLoop([] {});  // the stop was queued before this
  t.OnLoop([] {});
  int calls;
  {
    std::lock_guard lock(seen->mu);
    calls = seen->calls;
  }
  fd.Signal();
  std::this_thread::sleep_for(50ms);
  std::lock_guard lock(seen->mu);
  EXPECT_EQ(seen->calls, calls);
  EXPECT_EQ(fd.Take(), 1u) << "a stopped watch consumed a signal";
}

TEST(IoEventLoopTest, AWatchMayEndInsideItsOwnCallback) {
  LoopThread t;
  EventFd fd;
  std::unique_ptr<EventLoop::Watch> watch;  // touched on the loop thread only
  std::atomic<int> consumed{0};
  std::atomic<bool> ended{false};
  t.OnLoop([&] {
    watch = t.loop().WatchReadable(fd.fd, [&] {
      // The first call (at the start) may find nothing or the signal already.
      if (fd.Take() == 0) return;
      ++consumed;
      watch.reset();
      ended = true;
    });
  });
  fd.Signal();
  for (int i = 0; i < 500 && !ended; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(ended);
  t.OnLoop([] {});  // the stop has reached the loop
  fd.Signal();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(consumed.load(), 1);
  EXPECT_EQ(fd.Take(), 1u) << "an ended watch consumed a signal";
}

}  // namespace
}  // namespace aegis::http::internal
