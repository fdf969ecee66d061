// Loads the TorchScript engine module on first use (see torchscript_module.h) and
// implements engines.h's TorchScript entry points through it.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "engines.h"
#include "torchscript_module.h"

#ifndef AEGIS_TORCHSCRIPT_MODULE
#error "AEGIS_TORCHSCRIPT_MODULE (the engine module's path) is set by src/runtime/CMakeLists.txt"
#endif

namespace aegis::runtime {
namespace torchscript {
namespace {

bool SameLayout(const ModuleEntry& got) {
  constexpr ModuleEntry want = ExpectedLayout();
  return got.abi == want.abi && got.sizeof_status == want.sizeof_status && got.sizeof_tensor == want.sizeof_tensor &&
         got.sizeof_tensor_view == want.sizeof_tensor_view && got.sizeof_engine_options == want.sizeof_engine_options &&
         got.sizeof_signature == want.sizeof_signature && got.prepare != nullptr && got.load != nullptr;
}

// The module this process uses: opened once, by whichever thread needs it first.
const StatusOr<const ModuleEntry*>& TheModule() {
  static const StatusOr<const ModuleEntry*> module = OpenModule(ModulePath());
  return module;
}

}  // namespace

const char* ModulePath() { return AEGIS_TORCHSCRIPT_MODULE; }

StatusOr<const ModuleEntry*> OpenModule(const std::string& path) {
  const std::string what = "the TorchScript engine module " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ELOOP) return Status::Internal(what + " is a symbolic link; refusing to load it");
    return Status::Internal(what + " cannot be opened: " + std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return Status::Internal(what + " is not a regular file");
  }
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    ::close(fd);
    return Status::Internal(what + " is writable by group or others; refusing to load it");
  }
  if (info.st_uid != 0 && info.st_uid != ::geteuid()) {
    ::close(fd);
    return Status::Internal(what + " is owned by another user (uid " + std::to_string(info.st_uid) +
                            "); refusing to load it");
  }
  // Loading the descriptor, not the path: the file checked above is the one mapped.
  // glibc knows a library by every name it was opened under, and hands back the
  // library it knows by a name. So no name is used twice: the descriptor moves above
  // every number an earlier load in this process used. (Another name for a file
  // that is already loaded gets that library back by its inode: the file checked.)
  {
    static std::mutex mutex;
    static int highest_used = -1;
    std::lock_guard lock(mutex);
    if (fd <= highest_used) {
      int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, highest_used + 1);
      ::close(fd);
      if (moved < 0) return Status::Internal(what + " cannot be opened: " + std::strerror(errno));
      fd = moved;
    }
    highest_used = fd;
  }
  const std::string by_descriptor = "/proc/self/fd/" + std::to_string(fd);
  // What dlopen accepts stays loaded for the life of the process: unloading
  // libtorch is not supported.
  void* handle = ::dlopen(by_descriptor.c_str(), RTLD_NOW | RTLD_LOCAL);
  ::close(fd);
  if (handle == nullptr) {
    const char* error = ::dlerror();
    return Status::Internal(what + " cannot be loaded: " + (error != nullptr ? error : "unknown error"));
  }
  auto* entry_function = reinterpret_cast<EntryFunction*>(::dlsym(handle, kEntryPoint));
  if (entry_function == nullptr) {
    return Status::Internal(what + " has no entry point " + kEntryPoint + ": it is not an Aegis engine module");
  }
  const ModuleEntry* entry = entry_function();
  if (entry == nullptr || !SameLayout(*entry)) {
    return Status::Internal(what + " was built from another version of Aegis; rebuild or reinstall it");
  }
  return entry;
}

}  // namespace torchscript

void PrepareTorchScriptEngine() {
  const StatusOr<const torchscript::ModuleEntry*>& module = torchscript::TheModule();
  // A failure is reported by the load that follows, with the reason.
  if (module.ok()) (*module)->prepare();
}

StatusOr<std::unique_ptr<Backend>> LoadTorchScriptBackend(std::span<const uint8_t> model_bytes,
                                                          const EngineOptions& options) {
  const StatusOr<const torchscript::ModuleEntry*>& module = torchscript::TheModule();
  if (!module.ok()) return module.status();
  return (*module)->load(model_bytes, options);
}

}  // namespace aegis::runtime
