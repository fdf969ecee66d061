// Starting and tearing down engine worker processes.
#include "worker_process.h"

#include <fcntl.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigset_t, siginfo_t, kill; not in <csignal>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace aegis::runtime::internal {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// The worker's argument vector: the command, then its options.
std::vector<std::string> Arguments(const WorkerLaunch& launch) {
  std::vector<std::string> args = launch.command;
  args.insert(args.end(), {"--format", std::string(ModelFormatName(launch.format)), "--memory-limit",
                           std::to_string(launch.memory_limit_bytes), "--parent", std::to_string(::getpid())});
  return args;
}

// posix_spawn's file actions and attributes, released on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
};

}  // namespace

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

StatusOr<UniqueFd> SealedModelFile(std::span<const uint8_t> model_bytes) {
  UniqueFd fd(::memfd_create("aegis-model", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd.get() < 0) return Status::Internal(Errno("memfd_create"));
  for (size_t done = 0; done < model_bytes.size();) {
    const ssize_t n = ::write(fd.get(), model_bytes.data() + done, model_bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Internal(Errno("writing the model memfd"));
    done += static_cast<size_t>(n);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return Status::Internal(Errno("sealing the model memfd"));
  }
  return fd;
}

StatusOr<std::unique_ptr<WorkerProcess>> WorkerProcess::Spawn(const WorkerLaunch& launch, int model_fd) {
  if (launch.command.empty()) return Status::Internal("no engine worker command");
  std::unique_ptr<WorkerProcess> w(new WorkerProcess());

  // The arena: sized once, sealed against resizing, so the worker cannot shrink
  // it under the server's mapping (which would fault the server).
  w->layout_ = launch.stream ? worker::ArenaLayout(0, 0)
                             : worker::ArenaLayout(launch.request_capacity, launch.response_capacity);
  w->arena_fd_ = UniqueFd(::memfd_create("aegis-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (w->arena_fd_.get() < 0) return Status::Internal(Errno("memfd_create"));
  if (::ftruncate(w->arena_fd_.get(), static_cast<off_t>(w->layout_.arena_bytes)) != 0) {
    return Status::Internal(Errno("sizing the worker arena"));
  }
  if (::fcntl(w->arena_fd_.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return Status::Internal(Errno("sealing the worker arena"));
  }
  void* map = ::mmap(nullptr, w->layout_.arena_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, w->arena_fd_.get(), 0);
  if (map == MAP_FAILED) return Status::Internal(Errno("mapping the worker arena"));
  w->arena_ = static_cast<uint8_t*>(map);
  w->arena_bytes_ = w->layout_.arena_bytes;
  std::memcpy(w->arena_, &w->layout_, sizeof(w->layout_));

  int control[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) != 0) return Status::Internal(Errno("socketpair"));
  w->control_ = UniqueFd(control[0]);
  UniqueFd worker_control(control[1]);
  w->request_event_ = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  w->response_event_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (w->request_event_.get() < 0 || w->response_event_.get() < 0) return Status::Internal(Errno("eventfd"));
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return Status::Internal(Errno("pipe2"));
  w->stderr_ = UniqueFd(err_pipe[0]);
  UniqueFd worker_stderr(err_pipe[1]);
  if (::fcntl(w->stderr_.get(), F_SETFL, O_NONBLOCK) != 0 || ::fcntl(w->control_.get(), F_SETFL, O_NONBLOCK) != 0) {
    return Status::Internal(Errno("non-blocking descriptors"));
  }

  // The worker's descriptors 3..7 in protocol order, and its stderr. They are
  // first copied above every source, so that no dup2 overwrites a source that
  // is yet to be copied.
  const int sources[] = {worker_control.get(),     model_fd,           w->arena_fd_.get(), w->request_event_.get(),
                         w->response_event_.get(), worker_stderr.get()};
  constexpr int kSources = 6;
  int base = worker::kFirstUnusedFd;
  for (int fd : sources) base = std::max(base, fd + 1);
  SpawnSetup setup;
  for (int i = 0; i < kSources; ++i) posix_spawn_file_actions_adddup2(&setup.actions, sources[i], base + i);
  for (int i = 0; i < kSources - 1; ++i) {
    posix_spawn_file_actions_adddup2(&setup.actions, base + i, worker::kControlFd + i);
  }
  posix_spawn_file_actions_adddup2(&setup.actions, base + kSources - 1, 2);
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&setup.actions, 1, "/dev/null", O_WRONLY, 0);
  // Nothing else of the server's crosses: no database, log, key or socket.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, worker::kFirstUnusedFd);

  // The server blocks SIGTERM/SIGINT and ignores SIGPIPE; the worker starts clean.
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&setup.attributes, &empty);
  posix_spawnattr_setsigdefault(&setup.attributes, &all);
  posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);

  const std::vector<std::string> args = Arguments(launch);
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  char* envp[] = {nullptr};  // an empty environment
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0].c_str(), &setup.actions, &setup.attributes, argv.data(), envp);
  if (rc != 0) return Status::Internal("starting the engine worker " + args[0] + ": " + std::strerror(rc));
  w->pid_ = pid;
  return w;
}

WorkerProcess::~WorkerProcess() {
  Kill();
  Reap();
  if (arena_ != nullptr) ::munmap(arena_, arena_bytes_);
}

std::span<uint8_t> WorkerProcess::request_area() const {
  return {arena_ + layout_.request_offset, layout_.request_capacity};
}

std::span<const uint8_t> WorkerProcess::response_area() const {
  return {arena_ + layout_.response_offset, layout_.response_capacity};
}

Status WorkerProcess::SignalRequest(uint64_t seq, uint64_t count, bool poll) {
  auto* header = reinterpret_cast<worker::ArenaHeader*>(arena_);
  std::atomic_ref<uint64_t>(header->request_count).store(count, std::memory_order_relaxed);
  std::atomic_ref<uint64_t>(header->request_poll).store(poll ? 1 : 0, std::memory_order_relaxed);
  std::atomic_ref<uint64_t>(header->request_seq).store(seq, std::memory_order_release);
  const uint64_t one = 1;
  if (::write(request_event_.get(), &one, sizeof(one)) != sizeof(one)) return Status::Internal(Errno("eventfd write"));
  return Status::Ok();
}

StatusOr<uint64_t> WorkerProcess::TakeResponse() {
  uint64_t count = 0;
  if (::read(response_event_.get(), &count, sizeof(count)) != sizeof(count)) {
    return Status::Unavailable("no response signalled");
  }
  auto* header = reinterpret_cast<worker::ArenaHeader*>(arena_);
  return std::atomic_ref<uint64_t>(header->response_seq).load(std::memory_order_acquire);
}

uint64_t WorkerProcess::ResponseViolations() const {
  auto* header = reinterpret_cast<worker::ArenaHeader*>(arena_);
  return std::atomic_ref<uint64_t>(header->response_violations).load(std::memory_order_relaxed);
}

void WorkerProcess::Kill() {
  if (pid_ > 0 && !reaped_) ::kill(pid_, SIGKILL);
}

std::string WorkerProcess::ReapDying(std::chrono::milliseconds grace) {
  const auto until = std::chrono::steady_clock::now() + grace;
  while (pid_ > 0 && !reaped_ && std::chrono::steady_clock::now() < until) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_) {
      break;  // it ended; Reap collects it
    }
    ::usleep(2000);
  }
  Kill();
  return Reap();
}

std::string WorkerProcess::Reap() {
  if (pid_ <= 0 || reaped_) return "already reaped";
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  reaped_ = true;
  if (r < 0) return Errno("waitpid");
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = ::sigabbrev_np(sig);
    return "signal " + std::to_string(sig) + (abbrev ? " (SIG" + std::string(abbrev) + ")" : std::string());
  }
  return "exit code " + std::to_string(WEXITSTATUS(status));
}

}  // namespace aegis::runtime::internal
