// IoEventLoop: the EventLoop (aegis/common/event_loop.h) of an io_context, for
// the runtime's engine workers to deliver their responses on the HTTP I/O
// threads.
//
// Each watch is a posix::stream_descriptor over a duplicate of the descriptor,
// on a strand of its own (an io_context may have several I/O threads, and a
// descriptor object is not safe for concurrent use). A wait is re-armed before
// the callback runs: the reactor registers descriptors edge-triggered, so a
// signal that came between the callback and a later re-arm would be lost; one
// that comes after the re-arm completes it.
//
// Thread-safety: as EventLoop. The io_context must outlive every Watch's stop
// (a Watch destroyed after the io_context stopped running only queues its stop,
// which the io_context's destructor discards with the watch).
#pragma once

#include <boost/asio/io_context.hpp>

#include "aegis/common/event_loop.h"

namespace aegis::http::internal {

class IoEventLoop final : public EventLoop {
 public:
  explicit IoEventLoop(boost::asio::io_context& io) : io_(io) {}

  bool InLoopThread() const override;
  std::unique_ptr<Watch> WatchReadable(int fd, std::function<void()> on_readable) override;

 private:
  boost::asio::io_context& io_;
};

}  // namespace aegis::http::internal
