#include "io_event_loop.h"

#include <fcntl.h>
#include <unistd.h>

#include <exception>
#include <utility>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "asio_types.h"

namespace aegis::http::internal {
namespace {

using Strand = asio::strand<asio::io_context::executor_type>;

// One watched descriptor. Touched only on its strand after construction.
class WatchState : public std::enable_shared_from_this<WatchState> {
 public:
  WatchState(const Strand& strand, int fd, std::function<void()> on_readable)
      : strand_(strand), descriptor_(strand, fd), on_readable_(std::move(on_readable)) {}

  const Strand& strand() const { return strand_; }

  // The first wait, and one call for what may have been signalled before it.
  void Start() {
    Arm();
    Call();
  }

  void Stop() {
    stopped_ = true;
    on_readable_ = nullptr;  // releases what the callback holds, on the loop
    error_code ignored;
    descriptor_.close(ignored);
  }

 private:
  void Arm() {
    descriptor_.async_wait(asio::posix::descriptor_base::wait_read,
                           [self = shared_from_this()](const error_code& ec) { self->OnReadable(ec); });
  }

  void OnReadable(const error_code& ec) {
    if (stopped_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Not expected of an eventfd; the watch ends, and its owner's own thread
      // (which keeps the descriptor) still notices what it must.
      spdlog::error("event loop: watching descriptor failed: {}", ec.message());
      return;
    }
    Arm();  // before the call: a signal from here on completes the new wait
    Call();
  }

  void Call() {
    if (stopped_ || !on_readable_) return;
    try {
      on_readable_();
    } catch (const std::exception& e) {
      spdlog::error("event loop: watch callback failed: {}", e.what());
    }
  }

  Strand strand_;
  asio::posix::stream_descriptor descriptor_;
  std::function<void()> on_readable_;
  bool stopped_ = false;
};

class IoWatch final : public EventLoop::Watch {
 public:
  explicit IoWatch(std::shared_ptr<WatchState> state) : state_(std::move(state)) {}
  ~IoWatch() override {
    const Strand strand = state_->strand();
    asio::post(strand, [state = std::move(state_)] { state->Stop(); });
  }
  IoWatch(const IoWatch&) = delete;
  IoWatch& operator=(const IoWatch&) = delete;

 private:
  std::shared_ptr<WatchState> state_;
};

}  // namespace

bool IoEventLoop::InLoopThread() const { return io_.get_executor().running_in_this_thread(); }

std::unique_ptr<EventLoop::Watch> IoEventLoop::WatchReadable(int fd, std::function<void()> on_readable) {
  const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return nullptr;
  std::shared_ptr<WatchState> state;
  try {
    state = std::make_shared<WatchState>(asio::make_strand(io_), own, std::move(on_readable));
  } catch (const std::exception& e) {
    ::close(own);  // not registered: the descriptor object never owned it
    spdlog::error("event loop: cannot watch a descriptor: {}", e.what());
    return nullptr;
  }
  asio::post(state->strand(), [state] { state->Start(); });
  return std::make_unique<IoWatch>(std::move(state));
}

}  // namespace aegis::http::internal
