// WaitFor: polls a condition that another thread will make true (a sink that
// delivered, a server that closed a connection), for tests only.
//
//   ASSERT_TRUE(WaitFor([&] { return sink->Stats().delivered == 3; }));
//
// The timeout only bounds a failing test; a passing one returns as soon as the
// condition holds, so it is generous on purpose (sanitizer builds on a loaded
// machine are slow).
//
// Thread-safety: the predicate runs on the calling thread; it must read shared
// state safely (atomics, or a locked accessor).
#pragma once

#include <chrono>
#include <thread>

namespace aegis::testing {

// True as soon as predicate() is; false if it is still false after `timeout`.
template <typename Predicate>
bool WaitFor(Predicate&& predicate, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace aegis::testing
