// Concurrency limits around logins (internal to src/auth).
//
// NameLocks: one mutex per name, created on demand and dropped when nobody holds
// or waits for it, so attempts on one account are serialized (replay check,
// failure counter) while other accounts proceed in parallel.
//
// HashGate: a counting semaphore with lock()/unlock(), bounding how many Argon2id
// computations (each holding its m_cost of memory) run at once.
//
// Thread-safety: both are safe for concurrent use.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <unordered_map>

namespace aegis::auth::internal {

class NameLocks {
 public:
  class Guard {
   public:
    Guard(NameLocks* owner, std::string name);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    NameLocks* owner_;
    std::string name_;
  };

  // Blocks until `name` is free; released when the guard goes away.
  [[nodiscard]] std::unique_ptr<Guard> Lock(const std::string& name) { return std::make_unique<Guard>(this, name); }

 private:
  struct Entry {
    std::mutex mu;
    size_t users = 0;  // holders and waiters
  };
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;
};

class HashGate {
 public:
  explicit HashGate(std::ptrdiff_t slots) : slots_(slots) {}
  void lock() { slots_.acquire(); }
  void unlock() { slots_.release(); }

 private:
  std::counting_semaphore<> slots_;
};

}  // namespace aegis::auth::internal
