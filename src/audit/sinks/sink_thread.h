// The delivery thread of a sink (internal to src/audit/sinks). It blocks every signal:
// process signals (SIGTERM) belong to the server's signal thread, and a write to
// a collector that went away must fail with EPIPE rather than raise SIGPIPE
// (OpenSSL writes to its socket with write(2), which cannot pass MSG_NOSIGNAL).
#pragma once

#include <pthread.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigset_t, not in <csignal>

#include <thread>
#include <utility>

namespace aegis::audit::internal {

template <typename Body>
std::thread StartSinkThread(Body body) {
  return std::thread([body = std::move(body)]() mutable {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    body();
  });
}

}  // namespace aegis::audit::internal
