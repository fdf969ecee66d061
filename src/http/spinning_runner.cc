#include "spinning_runner.h"

#include <sched.h>

namespace aegis::http::internal {

void RunSpinning(boost::asio::io_context& io, std::chrono::microseconds spin) {
  using Clock = std::chrono::steady_clock;
  while (!io.stopped()) {
    if (io.poll_one() > 0) continue;
    bool ran = false;
    const auto until = Clock::now() + spin;
    while (!io.stopped() && Clock::now() < until) {
      if (io.poll_one() > 0) {
        ran = true;
        break;
      }
      ::sched_yield();
    }
    if (!ran) io.run_one();  // blocks until the next handler (or stop)
  }
}

}  // namespace aegis::http::internal
