// The worker's seccomp filters, built with libseccomp, and the SIGSYS handler
// that turns a refused call into EPERM plus a report to the server.
#include "seccomp_policy.h"

#include <sched.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigaction, sigset_t, kill; not in <csignal>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <memory>

#include <seccomp.h>

#include "worker_protocol.h"

namespace aegis::runtime::sandbox {
namespace {

constexpr uint64_t kMaxReports = 64;
std::atomic<uint64_t> g_violations{0};

// Appends the decimal digits of n (async-signal-safe).
char* WriteDecimal(char* p, uint64_t n) {
  char digits[24];
  int len = 0;
  do {
    digits[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  while (len > 0) *p++ = digits[--len];
  return p;
}

// Files engines probe on every call for their own tuning, whose absence they
// handle: XGBoost reads the CPU quota of cgroup v1 each time it predicts. They
// are refused like any other open, but not reported: a report per inference
// would bury the ones that matter. (A hostile model could skip the report
// anyway; it cannot skip the refusal.)
constexpr const char* kQuietProbes[] = {"/sys/fs/cgroup/"};

// The path an open/openat call names, from the registers of the trapped call.
// NOLINTBEGIN(performance-no-int-to-ptr): the saved register holds the call's pointer argument
const char* OpenedPath(int syscall, const ucontext_t* uc) {
#if defined(__x86_64__)
  if (syscall == SYS_openat) return reinterpret_cast<const char*>(uc->uc_mcontext.gregs[REG_RSI]);
  if (syscall == SYS_open) return reinterpret_cast<const char*>(uc->uc_mcontext.gregs[REG_RDI]);
#elif defined(__aarch64__)
  if (syscall == SYS_openat) return reinterpret_cast<const char*>(uc->uc_mcontext.regs[1]);
#endif
  return nullptr;
}
// NOLINTEND(performance-no-int-to-ptr)

bool IsQuietProbe(int syscall, const ucontext_t* uc) {
  const char* path = OpenedPath(syscall, uc);
  if (path == nullptr) return false;
  for (const char* probe : kQuietProbes) {
    size_t i = 0;
    while (probe[i] != '\0' && path[i] == probe[i]) ++i;
    if (probe[i] == '\0') return true;
  }
  return false;
}

// Reports the call on the control socket and makes it return -EPERM. Only
// async-signal-safe work: a fixed buffer, write(2).
void OnSigsys(int, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  const bool quiet = IsQuietProbe(info->si_syscall, static_cast<const ucontext_t*>(context));
  const uint64_t seen = quiet ? kMaxReports : g_violations.fetch_add(1, std::memory_order_relaxed);
  if (seen < kMaxReports) {
    char frame[64];
    char* p = frame + worker::kFrameHeaderBytes;
    static constexpr char kPrefix[] = "{\"syscall\":";
    std::memcpy(p, kPrefix, sizeof(kPrefix) - 1);
    p = WriteDecimal(p + sizeof(kPrefix) - 1, static_cast<uint64_t>(static_cast<uint32_t>(info->si_syscall)));
    *p++ = '}';
    const uint32_t length = static_cast<uint32_t>(p - frame - 4);  // type byte + payload
    std::memcpy(frame, &length, 4);
    frame[4] = static_cast<char>(worker::MessageType::kViolation);
    [[maybe_unused]] const ssize_t n = ::write(worker::kControlFd, frame, static_cast<size_t>(p - frame));
  }
  auto* uc = static_cast<ucontext_t*>(context);
#if defined(__x86_64__)
  uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
  uc->uc_mcontext.regs[0] = static_cast<uint64_t>(-EPERM);
#else
#error "engine workers need the SIGSYS return register of this architecture"
#endif
  errno = saved_errno;
}

Status InstallHandler() {
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) return Status::Ok();
  struct sigaction action {};
  action.sa_sigaction = OnSigsys;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (::sigaction(SIGSYS, &action, nullptr) != 0)
    return Status::Internal("SIGSYS handler: " + std::string(std::strerror(errno)));
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGSYS);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  return Status::Ok();
}

struct ContextDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Context = std::unique_ptr<void, ContextDeleter>;

Status Failed(const char* what, int rc) {
  return Status::Internal(std::string("seccomp: ") + what + ": " + std::strerror(-rc));
}

// A rule by name; names this architecture does not have are skipped.
Status Add(scmp_filter_ctx ctx, uint32_t action, const char* name) {
  const int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return Status::Ok();
  const int rc = seccomp_rule_add(ctx, action, nr, 0);
  return rc == 0 ? Status::Ok() : Failed(name, rc);
}

Status AddAll(scmp_filter_ctx ctx, uint32_t action, std::initializer_list<const char*> names) {
  for (const char* name : names) AEGIS_RETURN_IF_ERROR(Add(ctx, action, name));
  return Status::Ok();
}

// The argument rules every filter of a running worker shares (serve and exec):
// threads but no processes, signals to itself only, limits read but never set,
// thread names. Returns libseccomp's result (0 or -errno).
int AddProcessArgumentRules(scmp_filter_ctx ctx) {
  int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                            SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  // abort() signals the calling thread; signals to anyone else are refused.
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                          SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(::getpid())));
  }
  // prlimit64(0, resource, NULL, &old) reads a limit; setting one is refused.
  if (rc == 0) {
    rc =
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2, SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0));
  }
  // Thread names only.
  for (const scmp_datum_t option : {scmp_datum_t{PR_SET_NAME}, scmp_datum_t{PR_GET_NAME}}) {
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, option));
  }
  return rc;
}

Status Load(scmp_filter_ctx ctx) {
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc != 0) return Failed("TSYNC", rc);
  rc = seccomp_load(ctx);
  return rc == 0 ? Status::Ok() : Failed("load", rc);
}

// Calls that reach outside the worker; refused in both stages.
constexpr std::initializer_list<const char*> kOutside = {"socket",
                                                         "socketpair",
                                                         "connect",
                                                         "bind",
                                                         "listen",
                                                         "accept",
                                                         "accept4",
                                                         "sendmsg",
                                                         "recvmsg",
                                                         "sendmmsg",
                                                         "recvmmsg",
                                                         "sendto",
                                                         "recvfrom",
                                                         "shutdown",
                                                         "setsockopt",
                                                         "getsockopt",
                                                         "execve",
                                                         "execveat",
                                                         "ptrace",
                                                         "process_vm_readv",
                                                         "process_vm_writev",
                                                         "process_madvise",
                                                         "pidfd_open",
                                                         "pidfd_getfd",
                                                         "pidfd_send_signal",
                                                         "kill",
                                                         "tkill",
                                                         "rt_sigqueueinfo",
                                                         "rt_tgsigqueueinfo",
                                                         "fork",
                                                         "vfork",
                                                         "mount",
                                                         "umount2",
                                                         "pivot_root",
                                                         "chroot",
                                                         "unshare",
                                                         "setns",
                                                         "move_mount",
                                                         "open_tree",
                                                         "fsopen",
                                                         "fsmount",
                                                         "fsconfig",
                                                         "fspick",
                                                         "mount_setattr",
                                                         "io_uring_setup",
                                                         "io_uring_enter",
                                                         "io_uring_register",
                                                         "bpf",
                                                         "perf_event_open",
                                                         "userfaultfd",
                                                         "keyctl",
                                                         "add_key",
                                                         "request_key",
                                                         "init_module",
                                                         "finit_module",
                                                         "delete_module",
                                                         "kexec_load",
                                                         "kexec_file_load",
                                                         "open_by_handle_at",
                                                         "name_to_handle_at",
                                                         "kcmp",
                                                         "personality",
                                                         "acct",
                                                         "swapon",
                                                         "swapoff",
                                                         "reboot",
                                                         "setuid",
                                                         "setgid",
                                                         "setreuid",
                                                         "setregid",
                                                         "setresuid",
                                                         "setresgid",
                                                         "setgroups",
                                                         "capset",
                                                         "quotactl",
                                                         "lookup_dcookie",
                                                         "fanotify_init",
                                                         "inotify_init",
                                                         "inotify_init1",
                                                         "memfd_secret",
                                                         "landlock_create_ruleset",
                                                         "ioperm",
                                                         "iopl",
                                                         "modify_ldt",
                                                         "vhangup",
                                                         "syslog",
                                                         "settimeofday",
                                                         "clock_settime",
                                                         "clock_adjtime",
                                                         "adjtimex",
                                                         "mknod",
                                                         "mknodat",
                                                         "sethostname",
                                                         "setdomainname"};

}  // namespace

Status InstallLoadFilter() {
  AEGIS_RETURN_IF_ERROR(InstallHandler());
  Context ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Status::Internal("seccomp: cannot initialise a filter");
  AEGIS_RETURN_IF_ERROR(AddAll(ctx.get(), SCMP_ACT_TRAP, kOutside));
  // A new thread is fine; a new process is not.
  int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_TRAP, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
  if (rc != 0) return Failed("clone", rc);
  // clone3's flags are behind a pointer the filter cannot read; the C library
  // falls back to clone on ENOSYS.
  AEGIS_RETURN_IF_ERROR(Add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), "clone3"));
  return Load(ctx.get());
}

Status InstallServeFilter() {
  AEGIS_RETURN_IF_ERROR(InstallHandler());
  Context ctx(seccomp_init(SCMP_ACT_TRAP));
  if (!ctx) return Status::Internal("seccomp: cannot initialise a filter");
  AEGIS_RETURN_IF_ERROR(
      AddAll(ctx.get(), SCMP_ACT_ALLOW,
             {// memory
              "mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
              // threads and their synchronisation
              "futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "membarrier", "sched_yield",
              "sched_getaffinity", "getcpu", "set_tid_address",
              // time
              "clock_gettime", "clock_getres", "gettimeofday", "time", "clock_nanosleep", "nanosleep",
              // the descriptors the worker already has
              "read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close", "fstat", "poll", "ppoll",
              // identity and limits, read-only
              "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
              "getrlimit", "getrusage", "uname", "getrandom",
              // signals of its own
              "rt_sigreturn", "rt_sigprocmask", "sigaltstack", "restart_syscall",
              // the end
              "exit", "exit_group"}));
#if defined(__SANITIZE_ADDRESS__)
  // Sanitizer builds (tests only): UBSan's vptr check probes memory by writing
  // it into a fresh pipe; refused, every virtual call into libtorch looks like
  // an invalid object. A pipe reaches nothing outside the worker.
  AEGIS_RETURN_IF_ERROR(AddAll(ctx.get(), SCMP_ACT_ALLOW, {"pipe", "pipe2"}));
#endif
  const int rc = AddProcessArgumentRules(ctx.get());
  if (rc != 0) return Failed("argument rules", rc);
  return Load(ctx.get());
}

Status InstallExecFilter() {
  // Refused calls fail with EPERM and no report (see the header): nothing here
  // traps, since the SIGSYS handler would not survive the execve.
  Context ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!ctx) return Status::Internal("seccomp: cannot initialise a filter");
  AEGIS_RETURN_IF_ERROR(
      AddAll(ctx.get(), SCMP_ACT_ALLOW,
             {// memory (mmap and mprotect: see the argument rules below)
              "munmap", "mremap", "madvise", "brk", "membarrier",
              // threads and their synchronisation
              "futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "sched_yield", "sched_getaffinity",
              "getcpu", "set_tid_address", "arch_prctl",
              // time
              "clock_gettime", "clock_getres", "gettimeofday", "time", "clock_nanosleep", "nanosleep",
              // files of the read-only root (the program, its libraries and package)
              // and the descriptors the worker has; the root holds nothing else
              "open", "openat", "read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close", "fstat",
              "newfstatat", "stat", "lstat", "statx", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
              "getdents64", "getcwd", "fcntl", "dup", "dup2", "dup3",
              // the event loop
              "pipe", "pipe2", "eventfd2", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
              "poll", "ppoll", "select", "pselect6",
              // identity and limits, read-only
              "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
              "getgroups", "capget", "getrlimit", "getrusage", "uname", "sysinfo", "getrandom",
              // signals of its own
              "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
              // the one execve of the program (Landlock allows executing nothing else)
              "execve",
              // the end
              "exit", "exit_group"}));
  int rc = AddProcessArgumentRules(ctx.get());
  // No new executable memory but file mappings (the libraries of the read-only
  // root): anonymous mappings and mprotect never get PROT_EXEC. V8 runs with
  // --jitless, so it needs none.
  if (rc == 0) {
    rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  }
  if (rc == 0) {
    rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, 0));
  }
  if (rc == 0) {
    rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  }
  // Terminal probes on its own descriptors (isatty) and non-blocking mode.
  for (const scmp_datum_t request : {scmp_datum_t{TCGETS}, scmp_datum_t{FIONBIO}, scmp_datum_t{FIOCLEX}}) {
    if (rc == 0) rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, request));
  }
  if (rc != 0) return Failed("argument rules", rc);
  return Load(ctx.get());
}

Status InstallReaperFilter() {
  Context ctx(seccomp_init(SCMP_ACT_KILL_PROCESS));
  if (!ctx) return Status::Internal("seccomp: cannot initialise a filter");
  AEGIS_RETURN_IF_ERROR(AddAll(ctx.get(), SCMP_ACT_ALLOW,
                               {"wait4", "waitid", "exit", "exit_group", "rt_sigreturn", "rt_sigaction",
                                "rt_sigprocmask", "restart_syscall", "getpid", "gettid", "kill", "tgkill",
                                // its own signal stack (sanitizer runtimes query it around a wait)
                                "sigaltstack"}));
  return Load(ctx.get());
}

uint64_t ReportedViolations() { return std::min(g_violations.load(std::memory_order_relaxed), kMaxReports); }

std::string SyscallName(int64_t number) {
  if (number >= 0 && number <= INT32_MAX) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, static_cast<int>(number));
    if (name != nullptr) {
      std::string out(name);
      free(name);  // NOLINT: libseccomp allocates with malloc
      return out;
    }
  }
  return "syscall " + std::to_string(number);
}

}  // namespace aegis::runtime::sandbox
