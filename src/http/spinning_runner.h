// RunSpinning: runs an io_context like io_context::run(), but after each handler
// keeps polling for a short window before blocking.
//
// Why: on virtual machines an idle vCPU takes 100-200 µs to wake (measured here:
// p50 at one connection fell from ~300 µs to ~100 µs once the cores were kept
// busy). A request crosses threads twice (I/O → worker → I/O), so each wake-up
// is paid on the latency path. Polling while the previous handler's connection
// is likely to produce the next event removes those wake-ups. The poll loop
// yields the CPU between polls, so it never starves runnable threads, and it stops
// after the window, so an idle server sleeps.
//
// Thread-safety: call from each thread that should serve `io`.
#pragma once

#include <chrono>

#include <boost/asio/io_context.hpp>

namespace aegis::http::internal {

inline constexpr std::chrono::microseconds kDefaultSpin{200};

// Returns when `io` is stopped.
void RunSpinning(boost::asio::io_context& io, std::chrono::microseconds spin = kDefaultSpin);

}  // namespace aegis::http::internal
