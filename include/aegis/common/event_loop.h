// EventLoop: lets a lower module have the server's event-loop threads watch a
// descriptor, without knowing about Asio or the HTTP server.
//
// Why: a confined model's engine worker signals each response on an eventfd. A
// thread of the runtime's own that sleeps on it must be woken for every
// response, and on these virtual machines a wake-up costs tens of microseconds
// (bench/README.md). The HTTP I/O threads poll their event loop between requests
// anyway (src/http/spinning_runner.h): when they watch the eventfd too, the
// response is picked up by the thread that will write it to the client.
//
//   watch = loop->WatchReadable(fd, [] { Drain(); Deliver(); });  // null: not running
//   ...
//   watch.reset();  // no call after the loop thread has seen this
//
// Thread-safety: every method is safe from any thread. A Watch may be destroyed
// on any thread, including inside its own callback.
#pragma once

#include <functional>
#include <memory>

namespace aegis {

class EventLoop {
 public:
  // Watching one descriptor; destroying it stops the watch. The stop takes
  // effect on a loop thread: a call already running (on another thread)
  // finishes, and no call starts after the loop thread has processed the stop.
  // What the callback uses must therefore outlive the Watch by its own means
  // (shared or weak ownership captured in the callback), never by the Watch's.
  class Watch {
   public:
    virtual ~Watch() = default;
  };

  virtual ~EventLoop() = default;

  // True when the calling thread is running this loop.
  virtual bool InLoopThread() const = 0;

  // Calls `on_readable` on a loop thread once when the watch starts and then
  // each time `fd` becomes readable, until the Watch is destroyed (a null Watch
  // when the descriptor cannot be watched, or the loop is not there yet). The callback must consume what made
  // the descriptor readable (read the eventfd) and must not block. `fd` is
  // duplicated: the caller may close its own at any time.
  virtual std::unique_ptr<Watch> WatchReadable(int fd, std::function<void()> on_readable) = 0;
};

}  // namespace aegis
