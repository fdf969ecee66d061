// What a pickle may import. Allowed imports are exact (module, name) pairs: there
// is no prefix matching (so "torch._utils " or "torch._utils.os" are unknown), with
// one exception: TorchScript archives may name `__torch__.*` classes, which libtorch
// resolves against the TorchScript code compiled from the archive itself (no Python
// runs), except `__torch__.torch.classes.*`, libtorch's custom classes (native code):
// only the ones torchscript_allowlist.h allows.
// Everything else is a finding; the severity says how bad it looks.
//
// numpy's array reconstruction (`_reconstruct`, `ndarray`, `dtype`) is allowed in
// generic pickles: it builds arrays from bytes and calls nothing it is given; the
// rest of numpy (load, testing, ctypeslib…) is not. So are the plain containers
// pickle cannot express with opcodes (set, frozenset, bytearray). operator.* and functools.* are
// critical: attrgetter / methodcaller / itemgetter / partial are the classic
// gadgets for reaching a callable without naming it.
#include <array>
#include <iterator>
#include <string_view>
#include <unordered_set>

#include "pickle_scanner.h"
#include "torchscript_allowlist.h"

namespace aegis::scan::internal {
namespace {

struct Pair {
  std::string_view module, name;
};

// Plain values libtorch resolves itself (storage classes and quantization schemes).
constexpr std::string_view kTorchValues[] = {
    "FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "IntStorage", "ShortStorage",
    "CharStorage", "ByteStorage", "BoolStorage", "ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage",
    "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage", "UntypedStorage", "ComplexHalfStorage",
    // Quantization schemes (torch.qscheme values), passed to _rebuild_qtensor.
    "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric", "per_channel_symmetric",
    "per_channel_affine_float_qparams"};

// Read by libtorch's C++ unpickler (torch/csrc/jit/serialization/unpickler.cpp).
constexpr std::array<Pair, 11> kTorchScriptAllowed = {{
    {"torch._utils", "_rebuild_tensor_v2"},
    {"torch._utils", "_rebuild_qtensor"},
    {"torch._utils", "_rebuild_sparse_tensor"},
    {"torch.jit._pickle", "build_intlist"},
    {"torch.jit._pickle", "build_tensorlist"},
    {"torch.jit._pickle", "build_doublelist"},
    {"torch.jit._pickle", "build_boollist"},
    {"torch.jit._pickle", "build_tensor_from_id"},
    {"torch.jit._pickle", "restore_type_tag"},
    {"collections", "OrderedDict"},
    {"builtins", "complex"},
}};

// Bare pickles and torch.save archives (which are refused anyway, as a format).
// _codecs.encode is how protocols 0-2 spell bytes objects (a text codec, no code).
constexpr std::array<Pair, 17> kGenericAllowed = {{
    {"torch._utils", "_rebuild_tensor_v2"},
    {"torch._utils", "_rebuild_parameter"},
    {"torch._utils", "_rebuild_parameter_with_state"},
    {"torch._utils", "_rebuild_qtensor"},
    {"torch._utils", "_rebuild_sparse_tensor"},
    {"collections", "OrderedDict"},
    {"numpy.core.multiarray", "_reconstruct"},
    {"numpy._core.multiarray", "_reconstruct"},
    {"numpy", "ndarray"},
    {"numpy", "dtype"},
    {"_codecs", "encode"},
    {"builtins", "set"},
    {"builtins", "frozenset"},
    {"builtins", "bytearray"},
    {"__builtin__", "set"},
    {"__builtin__", "frozenset"},
    {"__builtin__", "bytearray"},
}};

// Module names (any dotted component, after mapping Python 2 names as pickle's
// fix_imports does) that mean code execution, imports, files, processes or network.
constexpr std::string_view kCriticalModules[] = {"os",
                                                 "posix",
                                                 "nt",
                                                 "posixpath",
                                                 "ntpath",
                                                 "genericpath",
                                                 "subprocess",
                                                 "_posixsubprocess",
                                                 "sys",
                                                 "socket",
                                                 "_socket",
                                                 "ssl",
                                                 "runpy",
                                                 "pty",
                                                 "shutil",
                                                 "ctypes",
                                                 "_ctypes",
                                                 "importlib",
                                                 "_imp",
                                                 "imp",
                                                 "zipimport",
                                                 "pkgutil",
                                                 "pydoc",
                                                 "functools",
                                                 "_functools",
                                                 "operator",
                                                 "_operator",
                                                 "pickle",
                                                 "_pickle",
                                                 "pickletools",
                                                 "shelve",
                                                 "dill",
                                                 "cloudpickle",
                                                 "joblib",
                                                 "marshal",
                                                 "types",
                                                 "code",
                                                 "codeop",
                                                 "webbrowser",
                                                 "asyncio",
                                                 "multiprocessing",
                                                 "_multiprocessing",
                                                 "concurrent",
                                                 "threading",
                                                 "_thread",
                                                 "signal",
                                                 "tempfile",
                                                 "pathlib",
                                                 "io",
                                                 "_io",
                                                 "fileinput",
                                                 "glob",
                                                 "linecache",
                                                 "timeit",
                                                 "trace",
                                                 "cProfile",
                                                 "profile",
                                                 "pdb",
                                                 "bdb",
                                                 "doctest",
                                                 "inspect",
                                                 "gc",
                                                 "site",
                                                 "sysconfig",
                                                 "venv",
                                                 "ensurepip",
                                                 "distutils",
                                                 "setuptools",
                                                 "pip",
                                                 "urllib",
                                                 "http",
                                                 "ftplib",
                                                 "smtplib",
                                                 "poplib",
                                                 "imaplib",
                                                 "telnetlib",
                                                 "nntplib",
                                                 "xmlrpc",
                                                 "socketserver",
                                                 "requests",
                                                 "fcntl",
                                                 "resource",
                                                 "mmap",
                                                 "select",
                                                 "selectors",
                                                 "copyreg",
                                                 "logging",
                                                 "winreg",
                                                 "msvcrt",
                                                 "_winapi",
                                                 "atexit",
                                                 "weakref",
                                                 "zipfile",
                                                 "tarfile",
                                                 "ctypeslib",
                                                 "cpp_extension",
                                                 "hub",
                                                 "serialization",
                                                 "_C",
                                                 "fx",
                                                 "package",
                                                 "_dynamo",
                                                 "_inductor",
                                                 "distributed",
                                                 "library",
                                                 "testing",
                                                 "f2py",
                                                 "npyio"};

// Names (any dotted component) that execute, import, read/write files or spawn.
constexpr std::string_view kCriticalNames[] = {
    "system",  "popen",         "spawn",        "spawnl",     "spawnle",         "spawnlp",
    "spawnv",  "spawnve",       "spawnvp",      "spawnvpe",   "execl",           "execle",
    "execlp",  "execv",         "execve",       "execvp",     "execvpe",         "fork",
    "forkpty", "kill",          "eval",         "exec",       "execfile",        "compile",
    "getattr", "setattr",       "delattr",      "globals",    "locals",          "vars",
    "open",    "breakpoint",    "input",        "load",       "loads",           "run",
    "call",    "check_call",    "check_output", "Popen",      "remove",          "unlink",
    "rmtree",  "apply",         "reload",       "attrgetter", "methodcaller",    "itemgetter",
    "partial", "import_module", "resolve_name", "locate",     "_load_from_bytes"};

// builtins that only construct plain values: unknown here (high), not critical.
constexpr std::string_view kPlainBuiltins[] = {"set",   "frozenset", "list", "dict",    "tuple", "int",
                                               "float", "complex",   "bool", "str",     "bytes", "bytearray",
                                               "slice", "range",     "long", "unicode", "xrange"};

// Membership through a hash set built once per list (one instantiation per array;
// thread-safe static initialisation).
template <const auto& kList>
bool Contains(std::string_view value) {
  static const std::unordered_set<std::string_view> set(std::begin(kList), std::end(kList));
  return set.contains(value);
}

std::string_view Python3Module(std::string_view module) {
  if (module == "__builtin__" || module == "exceptions") return "builtins";
  if (module == "copy_reg") return "copyreg";
  if (module == "cPickle") return "pickle";
  if (module == "commands") return "subprocess";
  if (module == "thread") return "_thread";
  if (module == "urllib2" || module == "urlparse") return "urllib";
  if (module == "httplib" || module == "BaseHTTPServer" || module == "SimpleHTTPServer" || module == "CGIHTTPServer" ||
      module == "cookielib") {
    return "http";
  }
  if (module == "SocketServer") return "socketserver";
  if (module == "cStringIO" || module == "StringIO") return "io";
  if (module == "xmlrpclib" || module == "SimpleXMLRPCServer") return "xmlrpc";
  if (module == "_winreg") return "winreg";
  return module;
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool IsDunder(std::string_view s) { return s.size() > 4 && s.starts_with("__") && s.ends_with("__"); }

// Calls `fn` on each '.'-separated component.
template <typename Fn>
bool AnyComponent(std::string_view dotted, Fn fn) {
  size_t start = 0;
  while (true) {
    size_t dot = dotted.find('.', start);
    std::string_view part = dotted.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (fn(part)) return true;
    if (dot == std::string_view::npos) return false;
    start = dot + 1;
  }
}

// `__torch__.torch.classes.*` are not the archive's classes but libtorch custom
// classes: native code whose __setstate__ the unpickler calls (critical, below).
bool IsCustomClass(std::string_view module) {
  return module == "__torch__.torch.classes" || module.starts_with("__torch__.torch.classes.");
}

bool IsTorchScriptClass(std::string_view module, std::string_view name) {
  if (module != "__torch__" && !module.starts_with("__torch__.")) return false;
  if (IsCustomClass(module)) return false;
  if (!IsIdentifier(name)) return false;
  return !AnyComponent(module, [](std::string_view part) { return !IsIdentifier(part); });
}

}  // namespace

ImportVerdict CheckImport(std::string_view module, std::string_view name, PickleContext context) {
  auto matches = [&](const auto& list) {
    for (const Pair& p : list) {
      if (p.module == module && p.name == name) return true;
    }
    return false;
  };
  if (context == PickleContext::kTorchScript) {
    if (matches(kTorchScriptAllowed) || IsTorchScriptClass(module, name)) return {true, Severity::kLow};
    if (module == "torch" && Contains<kTorchValues>(name)) return {true, Severity::kLow};
  } else {
    if (matches(kGenericAllowed)) return {true, Severity::kLow};
    if (module == "torch" && Contains<kTorchValues>(name)) return {true, Severity::kLow};
  }

  if (IsCustomClass(module)) {
    bool allowed = context == PickleContext::kTorchScript &&
                   torchscript::CheckCustomClass(std::string(module) + "." + std::string(name)).allowed;
    return {allowed, Severity::kCritical};
  }
  std::string_view py3 = Python3Module(module);
  bool critical = AnyComponent(py3, [](std::string_view part) { return Contains<kCriticalModules>(part); }) ||
                  AnyComponent(module, [](std::string_view part) { return Contains<kCriticalModules>(part); });
  critical = critical || AnyComponent(name, [](std::string_view part) {
               return IsDunder(part) || Contains<kCriticalNames>(part) || Contains<kCriticalModules>(part);
             });
  if (py3 == "builtins" && !(Contains<kPlainBuiltins>(name))) critical = true;
  if (py3 == "torch" && (name == "load" || name == "save" || name.starts_with("_"))) critical = true;
  return {false, critical ? Severity::kCritical : Severity::kHigh};
}

}  // namespace aegis::scan::internal
