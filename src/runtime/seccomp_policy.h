// The two seccomp-bpf filters of an engine worker (internal to the runtime
// module; see sandbox.h for where they sit in the worker's confinement).
//
// A refused call does not kill the worker: it fails with EPERM, and a SIGSYS
// handler reports it to the server on the control socket (the first 64 of a
// worker's life; later ones are only counted), so an attempt to reach a file or
// the network is both stopped and visible in the audit log. The exception is a
// refused call made while the thread blocks SIGSYS (newer C libraries block
// every signal inside fork() and abort()): the kernel then ends the worker with
// SIGSYS. The call is still refused, and the server logs the worker's death.
//
// Thread-safety: install from the main thread; the filters then apply to every
// thread of the worker (TSYNC).
#pragma once

#include <cstdint>
#include <string>

#include "aegis/common/status.h"

namespace aegis::runtime::sandbox {

// Stage 1, before the model loads: everything but what reaches outside the
// worker (sockets, exec, ptrace and other processes' memory, new processes,
// mounts and namespaces, io_uring, bpf, keyrings, kernel modules, perf, handles).
Status InstallLoadFilter();

// Stage 2, after the model loaded: only what inference needs. No file can be
// opened, not even one the worker could read before.
Status InstallServeFilter();

// For a worker that executes another program (node hosting ONNX Runtime): one
// allowlist for that program's whole life, since it cannot install a filter of
// its own. It allows what the program needs to start (opening and mapping files
// of its read-only root, one execve that Landlock limits to the program) and to
// serve; it refuses everything kOutside lists, every socket, new executable
// anonymous memory (no JIT: the program runs with --jitless) and anything
// unlisted, with EPERM. There is no SIGSYS report: a signal handler does not
// survive execve, and a killed worker would turn the runtime's own harmless
// probes (a user lookup that tries nscd's socket) into crashes.
Status InstallExecFilter();

// The first process of a PID namespace only waits for its child: it may wait,
// exit, and pass on a signal to itself; anything else kills it.
Status InstallReaperFilter();

// Refused calls reported on the control socket so far, in this process (the
// reports stop after a fixed number).
uint64_t ReportedViolations();

// "openat" for a system call number of this architecture ("syscall 257" when
// unknown). For the server's audit events.
std::string SyscallName(int64_t number);

}  // namespace aegis::runtime::sandbox
