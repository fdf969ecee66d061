// The worker sandbox, entered for real in a child process: what it refuses, that
// each refusal fails with EPERM and is reported on the control socket, and that
// what inference needs still works.
#include "sandbox.h"

#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "seccomp_policy.h"
#include "worker_protocol.h"

namespace aegis::runtime::sandbox {
namespace {

// What the confined child found, one byte per probe: 'E' refused with EPERM,
// 'A' allowed (it should not have been), 'X' anything else; then 'W' when
// memory, threads and time still worked after the lockdown.
struct Outcome {
  std::string probes;
  std::vector<std::string> reported;  // system call names from kViolation frames
  int exit_code = -1;
};

char Probe(long result) { return result >= 0 ? 'A' : (errno == EPERM ? 'E' : 'X'); }

// Runs Enter + LockDown in a forked child whose fd 3 is a control socket, then
// the probes. The parent collects the child's report and the violation frames.
Outcome RunConfined(const std::string& secret_path) {
  int control[2], result[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, control), 0);
  EXPECT_EQ(::pipe(result), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(control[1], worker::kControlFd);
    ::dup2(result[1], 20);
    for (int fd = worker::kControlFd + 1; fd < worker::kFirstUnusedFd; ++fd) ::dup2(::open("/dev/null", O_RDONLY), fd);
    ConfinementReport report;
    if (!Enter({1ull << 34, 0}, report).ok() || !LockDown(report).ok()) ::_exit(10);
    std::string probes;
    probes += Probe(::open(secret_path.c_str(), O_RDONLY));
    probes += Probe(::openat(AT_FDCWD, "/proc/self/environ", O_RDONLY));
    probes += Probe(::socket(AF_INET, SOCK_STREAM, 0));
    probes += Probe(::socket(AF_UNIX, SOCK_STREAM, 0));
    char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
    probes += Probe(::execve("/bin/true", argv, argv + 1));
    probes += Probe(::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr));
    char buffer[8];
    iovec local{buffer, sizeof(buffer)}, remote{buffer, sizeof(buffer)};
    probes += Probe(::process_vm_readv(::getppid(), &local, 1, &remote, 1, 0));
    probes += Probe(::fork());
    // What inference needs: memory, a thread, time.
    std::vector<char> memory(64 << 20, 'x');
    bool thread_ran = false;
    std::thread([&] { thread_ran = true; }).join();
    timespec now{};
    if (memory.back() == 'x' && thread_ran && ::clock_gettime(CLOCK_MONOTONIC, &now) == 0) probes += 'W';
    if (::write(20, probes.data(), probes.size()) != static_cast<ssize_t>(probes.size())) ::_exit(11);
    ::_exit(0);
  }
  ::close(control[1]);
  ::close(result[1]);
  Outcome outcome;
  int status = 0;
  ::waitpid(pid, &status, 0);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  char buffer[256];
  ssize_t n;
  while ((n = ::read(result[0], buffer, sizeof(buffer))) > 0) outcome.probes.append(buffer, static_cast<size_t>(n));
  ::shutdown(control[0], SHUT_WR);
  worker::FrameReader reader;
  while ((n = ::read(control[0], buffer, sizeof(buffer))) > 0)
    reader.Feed({reinterpret_cast<uint8_t*>(buffer), size_t(n)});
  for (;;) {
    auto frame = reader.Next();
    if (!frame.ok() || !frame->has_value()) break;
    if ((*frame)->type != worker::MessageType::kViolation) continue;
    const std::string& payload = (*frame)->payload;  // {"syscall":N}
    const auto colon = payload.find(':');
    outcome.reported.push_back(SyscallName(std::stoll(payload.substr(colon + 1))));
  }
  ::close(control[0]);
  ::close(result[0]);
  return outcome;
}

TEST(SandboxTest, RefusesAndReportsWhatReachesOutside) {
  // World-readable, so that only the sandbox can keep the worker out.
  char dir[] = "/tmp/aegis-sandbox-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string secret = std::string(dir) + "/kek.key";
  {
    const int fd = ::open(secret.c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "secret", 6), 6);
    ::close(fd);
  }
  ::chmod(dir, 0755);
  const Outcome outcome = RunConfined(secret);
  ::unlink(secret.c_str());
  ::rmdir(dir);
  ASSERT_EQ(outcome.exit_code, 0) << "the sandbox could not be entered";
  // open, /proc, two sockets, exec, ptrace, process_vm_readv, fork: all refused;
  // then memory, threads and time still work.
  EXPECT_EQ(outcome.probes, "EEEEEEEEW");
  for (const char* call : {"openat", "socket", "execve", "ptrace", "process_vm_readv"}) {
    EXPECT_NE(std::find(outcome.reported.begin(), outcome.reported.end(), call), outcome.reported.end())
        << call << " was not reported";
  }
}

TEST(SandboxTest, ReportsWhatTookEffect) {
  ConfinementReport report;
  report.net_ns = report.seccomp_serve = true;
  report.landlock_abi = 3;
  report.notes.push_back("user namespace: Operation not permitted");
  const std::string json = report.Json();
  EXPECT_NE(json.find("\"net_ns\":true"), std::string::npos);
  EXPECT_NE(json.find("\"landlock_abi\":3"), std::string::npos);
  EXPECT_NE(json.find("Operation not permitted"), std::string::npos);
}

}  // namespace
}  // namespace aegis::runtime::sandbox
