// Steps 1-8 of the worker's confinement (see sandbox.h); seccomp is in
// seccomp_policy.cc.
#include "sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigset_t, sigprocmask, kill; not in <csignal>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "seccomp_policy.h"
#include "worker_protocol.h"

namespace aegis::runtime::sandbox {
namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;
constexpr rlim_t kMaxDescriptors = 64;

// The folders a worker may read: the dynamic loader, libraries and their data.
// Everything else (the data folder, /home, /proc, /sys, /tmp, /dev) is absent
// from its root and refused by Landlock.
constexpr std::array<const char*, 6> kReadOnlyPaths = {"/usr",   "/lib",    "/lib64",
                                                       "/lib32", "/libx32", "/etc/ld.so.cache"};

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

Status WriteFile(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::Internal(Errno(path));
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (n != static_cast<ssize_t>(text.size())) return Status::Internal(Errno(path));
  return Status::Ok();
}

// Step 1.
Status DieWithParent(int parent_pid) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Status::Internal(Errno("PR_SET_PDEATHSIG"));
  // The parent may have died before the call above took effect.
  if (parent_pid > 0 && ::getppid() != parent_pid) return Status::Internal("the server is gone");
  const rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) return Status::Internal(Errno("RLIMIT_CORE"));
  return Status::Ok();
}

// Step 2, without the PID namespace. Each namespace is tried on its own so that
// one the kernel refuses does not cost the others.
void EnterNamespaces(ConfinementReport& report) {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (uid != 0) {
    if (::unshare(CLONE_NEWUSER) != 0) {
      report.notes.push_back(Errno("user namespace"));
    } else {
      // Keep our own ids inside; the namespace only grants the capabilities to
      // build the rest of the sandbox, and they are dropped in step 4.
      Status s = WriteFile("/proc/self/setgroups", "deny");
      if (s.ok()) s = WriteFile("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n");
      if (s.ok()) s = WriteFile("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n");
      if (!s.ok()) report.notes.push_back("user namespace id map: " + s.message());
      report.user_ns = true;
    }
  }
  struct Flag {
    int flag;
    bool ConfinementReport::*field;
    const char* name;
  };
  for (const Flag& f : {Flag{CLONE_NEWNET, &ConfinementReport::net_ns, "network namespace"},
                        Flag{CLONE_NEWNS, &ConfinementReport::mount_ns, "mount namespace"},
                        Flag{CLONE_NEWIPC, &ConfinementReport::ipc_ns, "IPC namespace"},
                        Flag{CLONE_NEWUTS, &ConfinementReport::uts_ns, "UTS namespace"}}) {
    if (::unshare(f.flag) == 0) {
      report.*f.field = true;
    } else {
      report.notes.push_back(Errno(f.name));
    }
  }
}

// Binds `path` read-only at `target` (a directory or file that exists).
Status BindReadOnly(const char* path, const std::string& target) {
  if (::mount(path, target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) return Status::Internal(Errno(path));
  if (::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) !=
      0) {
    return Status::Internal(Errno(path));
  }
  return Status::Ok();
}

// mkdir -p of `path` (absolute) below `root`.
Status MakeDirectories(const std::string& root, const std::string& path) {
  std::string at = root;
  for (size_t start = 1; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) {
      at += "/" + path.substr(start, end - start);
      if (::mkdir(at.c_str(), 0755) != 0 && errno != EEXIST) return Status::Internal(Errno(at.c_str()));
    }
    start = end + 1;
  }
  return Status::Ok();
}

// Step 3: an empty tmpfs root with the library folders bound read-only.
Status PrivateRoot(const std::vector<std::string>& extra_read_only) {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return Status::Internal(Errno("make / private"));
  // The executed program's package, opened before the new root covers /tmp
  // (where it may live): bound below through /proc/self/fd. Only absolute,
  // normalised folder paths.
  std::vector<std::pair<std::string, int>> extra;
  struct Closer {
    std::vector<std::pair<std::string, int>>& fds;
    ~Closer() {
      for (auto& [path, fd] : fds) ::close(fd);
    }
  } closer{extra};
  for (const std::string& path : extra_read_only) {
    if (path.empty() || path[0] != '/' || path.find("/..") != std::string::npos) {
      return Status::Internal("not an absolute path: " + path);
    }
    const int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::Internal(Errno(path.c_str()));
    extra.emplace_back(path, fd);
  }
  // A mount point that every system has; in this namespace only.
  const std::string root = "/tmp";
  if (::mount("aegis-worker", root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755") != 0) {
    return Status::Internal(Errno("tmpfs root"));
  }
  for (const char* path : kReadOnlyPaths) {
    struct stat st {};
    if (::lstat(path, &st) != 0) continue;  // not on this system
    const std::string target = root + path;
    if (S_ISLNK(st.st_mode)) {  // merged /usr: /lib -> usr/lib
      char link[256];
      const ssize_t n = ::readlink(path, link, sizeof(link) - 1);
      if (n <= 0) return Status::Internal(Errno(path));
      link[n] = '\0';
      if (::symlink(link, target.c_str()) != 0) return Status::Internal(Errno(target.c_str()));
      continue;
    }
    if (std::string(path).rfind("/etc/", 0) == 0) ::mkdir((root + "/etc").c_str(), 0755);
    if (S_ISDIR(st.st_mode)) {
      if (::mkdir(target.c_str(), 0755) != 0) return Status::Internal(Errno(target.c_str()));
    } else {
      const int fd = ::open(target.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0444);
      if (fd < 0) return Status::Internal(Errno(target.c_str()));
      ::close(fd);
    }
    AEGIS_RETURN_IF_ERROR(BindReadOnly(path, target));
  }
  for (const auto& [path, fd] : extra) {
    AEGIS_RETURN_IF_ERROR(MakeDirectories(root, path));
    AEGIS_RETURN_IF_ERROR(BindReadOnly(("/proc/self/fd/" + std::to_string(fd)).c_str(), root + path));
  }
  const std::string old_root = root + "/.old";
  if (::mkdir(old_root.c_str(), 0700) != 0) return Status::Internal(Errno("old root"));
  if (::syscall(SYS_pivot_root, root.c_str(), old_root.c_str()) != 0) return Status::Internal(Errno("pivot_root"));
  if (::chdir("/") != 0) return Status::Internal(Errno("chdir /"));
  if (::umount2("/.old", MNT_DETACH) != 0) return Status::Internal(Errno("detach the old root"));
  if (::rmdir("/.old") != 0) return Status::Internal(Errno("remove the old root"));
  if (::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) !=
      0) {
    return Status::Internal(Errno("read-only root"));
  }
  return Status::Ok();
}

// Step 2's PID namespace, after unshare(CLONE_NEWPID): the process forks, the
// child returns (it is PID 1 of the namespace), and the first process only
// waits for it, under a filter that allows nothing else, and ends the way the
// child ended.
Status ForkIntoPidNamespace(ConfinementReport& report) {
  // The first process holds the write end until it exits: the child sees it
  // closed if the first process died before the child's PR_SET_PDEATHSIG took
  // effect (getppid() cannot tell: the parent is outside the namespace).
  int alive[2];
  if (::pipe2(alive, O_CLOEXEC) != 0) return Status::Internal(Errno("pipe"));
  const pid_t child = ::fork();
  if (child < 0) return Status::Internal(Errno("fork into the PID namespace"));
  if (child == 0) {
    ::close(alive[1]);
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ::_exit(120);
    pollfd parent{alive[0], POLLIN, 0};
    if (::poll(&parent, 1, 0) != 0) ::_exit(120);  // hung up: the first process is gone
    ::close(alive[0]);
    report.pid_ns = true;
    return Status::Ok();
  }
  ::close(alive[0]);
  // The first process keeps nothing the child uses: the server must see the
  // control socket close when the child dies.
  for (int fd = worker::kControlFd; fd < worker::kFirstUnusedFd; ++fd) ::close(fd);
  if (!InstallReaperFilter().ok()) {
    ::kill(child, SIGKILL);
    ::_exit(121);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    ::signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
    ::kill(::getpid(), sig);
    ::_exit(128 + sig);
  }
  ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

// Step 4.
Status DropPrivileges(ConfinementReport& report) {
  // The bounding set first: emptying it needs CAP_SETPCAP, which the change of
  // user below takes away. EINVAL is a capability this kernel does not know; an
  // unprivileged worker without a user namespace has no capability to bound
  // (and no_new_privs keeps it from gaining one by exec).
  const bool privileged = ::geteuid() == 0 || report.user_ns;
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL && privileged) {
      return Status::Internal(Errno("PR_CAPBSET_DROP"));
    }
  }
  if (::geteuid() == 0 && !report.user_ns) {
    if (::setgroups(0, nullptr) != 0) return Status::Internal(Errno("setgroups"));
    if (::setresgid(kNogroup, kNogroup, kNogroup) != 0) return Status::Internal(Errno("setresgid nobody"));
    if (::setresuid(kNobody, kNobody, kNobody) != 0) return Status::Internal(Errno("setresuid nobody"));
  }
  // Whatever remains (the user namespace's capabilities): none.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capset, &header, data) != 0) return Status::Internal(Errno("capset"));
  report.unprivileged = true;
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Landlock (step 6), from the kernel's UAPI; defined here because the C
// library's headers may predate the ABI the kernel offers.

constexpr uint64_t kFsExecute = 1ull << 0, kFsWriteFile = 1ull << 1, kFsReadFile = 1ull << 2, kFsReadDir = 1ull << 3;
constexpr uint64_t kFsAbi1 = (1ull << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr uint64_t kFsRefer = 1ull << 13, kFsTruncate = 1ull << 14, kFsIoctlDev = 1ull << 15;
constexpr uint64_t kNetBindTcp = 1ull << 0, kNetConnectTcp = 1ull << 1;
constexpr uint64_t kScopeAbstractUnixSocket = 1ull << 0, kScopeSignal = 1ull << 1;
constexpr uint32_t kCreateRulesetVersion = 1u << 0;
constexpr int kRulePathBeneath = 1;
#ifndef SYS_landlock_create_ruleset
constexpr long SYS_landlock_create_ruleset = 444, SYS_landlock_add_rule = 445, SYS_landlock_restrict_self = 446;
#endif

struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};

// The ELF interpreter the executed program needs (the kernel opens it for
// execution too).
#if defined(__x86_64__)
constexpr const char* kElfInterpreter = "/lib64/ld-linux-x86-64.so.2";
#elif defined(__aarch64__)
constexpr const char* kElfInterpreter = "/lib/ld-linux-aarch64.so.1";
#else
constexpr const char* kElfInterpreter = "";
#endif

bool AddPathRule(int ruleset, const char* path, uint64_t access, ConfinementReport& report) {
  const int fd = ::open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  ::fstat(fd, &st);
  PathBeneathAttr rule{S_ISDIR(st.st_mode) ? access : (access & ~kFsReadDir), fd};
  const bool added = ::syscall(SYS_landlock_add_rule, ruleset, kRulePathBeneath, &rule, 0) == 0;
  if (!added) report.notes.push_back(Errno(path));
  ::close(fd);
  return added;
}

void RestrictWithLandlock(const SandboxOptions& options, ConfinementReport& report) {
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  if (abi < 1) {
    report.notes.push_back(Errno("Landlock"));
    return;
  }
  RulesetAttr attr{kFsAbi1, 0, 0};
  size_t attr_size = sizeof(uint64_t);
  if (abi >= 2) attr.handled_access_fs |= kFsRefer;
  if (abi >= 3) attr.handled_access_fs |= kFsTruncate;
  if (abi >= 4) {
    attr.handled_access_net = kNetBindTcp | kNetConnectTcp;
    attr_size = 2 * sizeof(uint64_t);
  }
  if (abi >= 5) attr.handled_access_fs |= kFsIoctlDev;
  if (abi >= 6) {
    attr.scoped = kScopeAbstractUnixSocket | kScopeSignal;
    attr_size = sizeof(RulesetAttr);
  }
  const int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0));
  if (ruleset < 0) {
    report.notes.push_back(Errno("Landlock ruleset"));
    return;
  }
  // A worker that executes a program may execute only that program (and the
  // interpreter the kernel loads it with); mapping libraries is not execution.
  const bool exec = !options.exec_program.empty();
  const uint64_t read_only = (exec ? 0 : kFsExecute) | kFsReadFile | kFsReadDir;
  for (const char* path : kReadOnlyPaths) AddPathRule(ruleset, path, read_only, report);
  for (const std::string& path : options.extra_read_only) {
    AddPathRule(ruleset, path.c_str(), kFsReadFile | kFsReadDir, report);
  }
  if (exec) {
    AddPathRule(ruleset, options.exec_program.c_str(), kFsExecute | kFsReadFile, report);
    AddPathRule(ruleset, kElfInterpreter, kFsExecute | kFsReadFile, report);
  }
  if (::syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
    report.notes.push_back(Errno("Landlock restrict"));
  } else {
    report.landlock_abi = static_cast<int>(abi);
  }
  ::close(ruleset);
  (void)kFsWriteFile;
}

// Step 7.
Status LimitResources(const SandboxOptions& options, ConfinementReport& report) {
  struct Limit {
    int resource;
    rlim_t value;
    const char* name;
  };
  std::vector<Limit> limits = {{RLIMIT_NOFILE, kMaxDescriptors, "RLIMIT_NOFILE"},
                               {RLIMIT_CORE, 0, "RLIMIT_CORE"},
                               {RLIMIT_FSIZE, 0, "RLIMIT_FSIZE"},
                               {RLIMIT_MEMLOCK, 0, "RLIMIT_MEMLOCK"}};
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer reserves terabytes of shadow address space: an address-space
  // limit would stop it at once. Sanitizer builds are for tests only.
  report.notes.push_back("RLIMIT_AS: not set in a sanitizer build");
  (void)options;
#else
  if (options.address_space_bytes > 0) limits.push_back({RLIMIT_AS, options.address_space_bytes, "RLIMIT_AS"});
#endif
  for (const Limit& l : limits) {
    const rlimit value{l.value, l.value};
    if (::setrlimit(l.resource, &value) != 0) return Status::Internal(Errno(l.name));
  }
  report.rlimits = true;
  return Status::Ok();
}

}  // namespace

std::string ConfinementReport::Json() const {
  return nlohmann::json{{"user_ns", user_ns},
                        {"net_ns", net_ns},
                        {"mount_ns", mount_ns},
                        {"ipc_ns", ipc_ns},
                        {"uts_ns", uts_ns},
                        {"pid_ns", pid_ns},
                        {"private_root", private_root},
                        {"unprivileged", unprivileged},
                        {"no_new_privs", no_new_privs},
                        {"landlock_abi", landlock_abi},
                        {"rlimits", rlimits},
                        {"seccomp_load", seccomp_load},
                        {"seccomp_serve", seccomp_serve},
                        {"seccomp_exec", seccomp_exec},
                        {"notes", notes}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status Enter(const SandboxOptions& options, ConfinementReport& report) {
  AEGIS_RETURN_IF_ERROR(DieWithParent(options.parent_pid));
  EnterNamespaces(report);
  // Not before: a process that is not dumpable cannot write its own uid_map.
  if (::prctl(PR_SET_DUMPABLE, 0) != 0) return Status::Internal(Errno("PR_SET_DUMPABLE"));
  // Creating a PID namespace needs the privileges dropped below; entering it
  // (the fork) comes after, so that both processes are unprivileged.
  const bool new_pid_ns = ::unshare(CLONE_NEWPID) == 0;
  if (!new_pid_ns) report.notes.push_back(Errno("PID namespace"));
  if (report.mount_ns) {
    Status root = PrivateRoot(options.extra_read_only);
    report.private_root = root.ok();
    if (!root.ok()) report.notes.push_back("private root: " + root.message());
  }
  AEGIS_RETURN_IF_ERROR(DropPrivileges(report));
  // Changing the user id cleared the parent-death signal: set it again.
  AEGIS_RETURN_IF_ERROR(DieWithParent(options.parent_pid));
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Status::Internal(Errno("PR_SET_NO_NEW_PRIVS"));
  report.no_new_privs = true;
  if (new_pid_ns) AEGIS_RETURN_IF_ERROR(ForkIntoPidNamespace(report));
  RestrictWithLandlock(options, report);
  AEGIS_RETURN_IF_ERROR(LimitResources(options, report));
  if (!options.exec_program.empty()) {
    AEGIS_RETURN_IF_ERROR(InstallExecFilter());
    report.seccomp_exec = true;
    return Status::Ok();
  }
  AEGIS_RETURN_IF_ERROR(InstallLoadFilter());
  report.seccomp_load = true;
  return Status::Ok();
}

Status LockDown(ConfinementReport& report) {
  AEGIS_RETURN_IF_ERROR(InstallServeFilter());
  report.seccomp_serve = true;
  return Status::Ok();
}

uint64_t ViolationCount() { return ReportedViolations(); }

}  // namespace aegis::runtime::sandbox
