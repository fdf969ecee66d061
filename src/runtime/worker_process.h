// The server's side of one engine worker process (internal to the runtime
// module): the sealed model memfd, the shared-memory arena, and starting,
// signalling, killing and reaping the process. The protocol is in
// worker_protocol.h; scheduling and restarts are in confined_instances.cc.
//
// Thread-safety: a WorkerProcess is driven by one thread at a time (its
// instance's driver, or a submitter holding the instance's dispatch lock).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/runtime/backend.h"
#include "worker_protocol.h"

namespace aegis::runtime::internal {

// An owned file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset();

 private:
  int fd_ = -1;
};

// The decrypted model in a memfd that nobody can change any more (write, shrink,
// grow and further seals are sealed), handed to every worker of the model.
StatusOr<UniqueFd> SealedModelFile(std::span<const uint8_t> model_bytes);

struct WorkerLaunch {
  std::vector<std::string> command;  // the program and its leading arguments
  ModelFormat format = ModelFormat::kOnnx;
  uint64_t memory_limit_bytes = 0;
  uint64_t request_capacity = 0;
  uint64_t response_capacity = 0;
  // The stream transport: tensors travel on the control socket; the arena is
  // only its header (the worker closes it and the eventfds).
  bool stream = false;
};

class WorkerProcess {
 public:
  // Creates the arena, eventfds, control socket and stderr pipe, and starts the
  // program with exactly those descriptors (see worker_protocol.h), an empty
  // environment, default signal handling and its own session.
  static StatusOr<std::unique_ptr<WorkerProcess>> Spawn(const WorkerLaunch& launch, int model_fd);
  // Kills (SIGKILL) and reaps the process if it still runs.
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const { return pid_; }
  int control_fd() const { return control_.get(); }
  int response_event_fd() const { return response_event_.get(); }
  int stderr_fd() const { return stderr_.get(); }

  // The request area (written by the server) and the response area (written by
  // the worker: untrusted, see worker_protocol.h).
  std::span<uint8_t> request_area() const;
  std::span<const uint8_t> response_area() const;
  uint64_t response_capacity() const { return layout_.response_capacity; }

  // Publishes the request (or the batch of `count`) written in the request area
  // as `seq` and wakes the worker; `poll` is ArenaHeader::request_poll.
  Status SignalRequest(uint64_t seq, uint64_t count = 1, bool poll = false);
  // Consumes a response wake-up; the sequence number the worker published.
  StatusOr<uint64_t> TakeResponse();
  // After TakeResponse: the violation reports the worker had sent when it
  // published that response (ArenaHeader::response_violations).
  uint64_t ResponseViolations() const;

  void Kill();
  // Waits for the process to end (after Kill) and says how it ended:
  // "signal 11 (SIGSEGV)", "exit code 3".
  std::string Reap();
  // For a worker whose control socket closed: gives it `grace` to finish dying on
  // its own (so its own signal is what gets reported), then kills it; then Reap.
  std::string ReapDying(std::chrono::milliseconds grace);

 private:
  WorkerProcess() = default;

  pid_t pid_ = -1;
  bool reaped_ = false;
  UniqueFd control_, request_event_, response_event_, stderr_, arena_fd_;
  uint8_t* arena_ = nullptr;
  size_t arena_bytes_ = 0;
  worker::ArenaHeader layout_{};  // the server's own copy; never re-read from shared memory
};

}  // namespace aegis::runtime::internal
