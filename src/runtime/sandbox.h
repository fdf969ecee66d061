// The confinement an engine worker puts itself under (internal to the runtime
// module; runs only in the worker process, never in the server).
//
// Order, each step before any model byte is parsed unless said otherwise:
//   1. die with the server (PR_SET_PDEATHSIG), no core files, and (once the user
//      namespace's id maps are written) not dumpable
//   2. new user namespace (when not root), then network, mount, IPC, UTS and PID
//      namespaces; a PID namespace needs a fork, after which the first process
//      only waits for its child and passes on how it ended
//   3. a private, read-only root: an empty tmpfs with only the system library
//      folders bound in read-only (no /proc, /sys, /home, /tmp, no data folder)
//   4. root drops to nobody; otherwise every capability is dropped
//   5. PR_SET_NO_NEW_PRIVS
//   6. Landlock: files under the library folders may be read and mapped,
//      nothing else; no TCP bind/connect; no signals or abstract sockets
//      outside the worker (each as far as the kernel's Landlock ABI allows)
//   7. resource limits: address space, descriptors, processes, no core files
//   8. seccomp stage 1: sockets, exec, ptrace, other processes' memory, mounts,
//      namespaces, io_uring, bpf, keyrings, module loading are refused
//   --- the engine loads the model (TorchScript runs __setstate__ here) ---
//   9. seccomp stage 2 (LockDown): an allowlist of what inference needs (memory,
//      futexes, time, reads and writes on the descriptors it already has,
//      threads); opening any file is refused.
// A worker that executes another program (the ONNX Runtime worker: node, see
// SandboxOptions::exec_program) gets steps 1-7 and, instead of 8 and 9, one
// filter for the program's whole life (InstallExecFilter): it cannot install a
// second one itself. Its read-only root also holds the program's package, and
// Landlock lets it execute only the program and its ELF interpreter.
// A refused system call fails with EPERM and is reported to the server
// (kViolation) from a SIGSYS handler, so an attempt is both stopped and seen.
// Steps 2-4 and 6 depend on the kernel and the environment; what took effect
// is in the report, which the server exports. Steps 1, 5, 7, 8 and 9 are
// mandatory: the worker refuses to run a model without them.
//
// Thread-safety: called once, from the worker's main thread, before it starts
// any other thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::runtime::sandbox {

struct SandboxOptions {
  uint64_t address_space_bytes = 0;  // RLIMIT_AS; 0 = leave as is (sanitizer builds)
  int parent_pid = 0;                // the server: the worker exits if it is gone
  // When set, the worker will execve this program once confined (absolute path,
  // under /usr): Enter installs the exec filter instead of stage 1, and Landlock
  // allows executing only this file and its ELF interpreter.
  std::string exec_program;
  // Folders bound read-only into the private root at the same path, and
  // readable under Landlock (the program's package).
  std::vector<std::string> extra_read_only;
};

// What took effect; sent to the server in kReady.
struct ConfinementReport {
  bool user_ns = false, net_ns = false, mount_ns = false, ipc_ns = false, uts_ns = false, pid_ns = false;
  bool private_root = false;  // step 3
  bool unprivileged = false;  // step 4: nobody, or no capabilities
  bool no_new_privs = false;
  int landlock_abi = 0;  // 0 = not available
  bool rlimits = false;
  bool seccomp_load = false;       // stage 1
  bool seccomp_serve = false;      // stage 2
  bool seccomp_exec = false;       // the exec filter (instead of stages 1 and 2)
  std::vector<std::string> notes;  // why a step did not take effect

  std::string Json() const;
};

// Steps 1-8 (or 1-7 and the exec filter). Returns in the process that will load and run the model. On a PID
// namespace fork, the first process never returns (it waits and exits).
Status Enter(const SandboxOptions& options, ConfinementReport& report);

// Step 9. After it, no file can be opened.
Status LockDown(ConfinementReport& report);

// Refused system calls reported on the control socket so far (from the SIGSYS
// handler; see ArenaHeader::response_violations).
uint64_t ViolationCount();

}  // namespace aegis::runtime::sandbox
