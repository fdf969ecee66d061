// The body of a confined engine worker (`aegis engine-worker`, started only by
// the server; see worker_protocol.h and sandbox.h). It confines itself, loads the
// model from the sealed memfd, locks itself down, then serves requests from
// shared memory until it is killed.
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aegis/runtime/model_instances.h"
#include "sandbox.h"
#include "worker_protocol.h"

namespace aegis::runtime {
namespace {

using worker::MessageType;

enum ExitCode { kUsage = 2, kLoadFailed = 3, kSandboxFailed = 4, kProtocolFailed = 5 };

struct WorkerArgs {
  ModelFormat format = ModelFormat::kOnnx;
  uint64_t memory_limit = 0;
  int parent = 0;
  // The ONNX Runtime worker (`--engine onnxruntime`): executed in node once
  // confined; it speaks the stream transport (docs/worker-protocol.md).
  bool onnxruntime = false;
  std::string node, package;
  uint64_t threads = 1, request_capacity = 0, response_capacity = 0;
};

std::optional<uint64_t> ParseNumber(std::string_view text) {
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

std::optional<WorkerArgs> ParseArgs(std::span<char* const> args) {
  WorkerArgs out;
  bool have_format = false;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string_view key = args[i], value = args[i + 1];
    if (key == "--format") {
      auto format = ParseModelFormat(value);
      if (!format) return std::nullopt;
      out.format = *format;
      have_format = true;
    } else if (key == "--memory-limit") {
      auto n = ParseNumber(value);
      if (!n) return std::nullopt;
      out.memory_limit = *n;
    } else if (key == "--parent") {
      auto n = ParseNumber(value);
      if (!n || *n > INT32_MAX) return std::nullopt;
      out.parent = static_cast<int>(*n);
    } else if (key == "--engine") {
      if (value != "onnxruntime" && value != "opencv") return std::nullopt;
      out.onnxruntime = value == "onnxruntime";
    } else if (key == "--node") {
      out.node = std::string(value);
    } else if (key == "--package") {
      out.package = std::string(value);
    } else if (key == "--threads" || key == "--request-capacity" || key == "--response-capacity") {
      auto n = ParseNumber(value);
      if (!n || *n == 0 || *n > (uint64_t{1} << 40)) return std::nullopt;
      (key == "--threads"            ? out.threads
       : key == "--request-capacity" ? out.request_capacity
                                     : out.response_capacity) = *n;
    } else {
      return std::nullopt;
    }
  }
  if (args.size() % 2 != 0 || !have_format) return std::nullopt;
  if (out.onnxruntime && (out.format != ModelFormat::kOnnx || out.node.empty() || out.package.empty() ||
                          out.request_capacity == 0 || out.response_capacity == 0 || out.threads > 256)) {
    return std::nullopt;
  }
  return out;
}

// Writes all of `bytes` to the control socket.
bool WriteAll(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(worker::kControlFd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool Send(MessageType type, std::string_view payload) {
  std::string frame;
  worker::AppendFrame(type, payload, frame);
  return WriteAll(frame);
}

std::string Json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int Fail(ExitCode code, std::string_view stage, const std::string& error, const std::string& detail = {}) {
  Send(MessageType::kLoadFailed, Json({{"stage", stage}, {"error", error}, {"detail", detail}}));
  std::fprintf(stderr, "aegis engine worker: %.*s: %s\n", static_cast<int>(stage.size()), stage.data(), error.c_str());
  return code;
}

// The descriptors the server promised, and nothing that is not ours.
bool HaveDescriptors() {
  for (int fd = worker::kControlFd; fd < worker::kFirstUnusedFd; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0) return false;
  }
  return true;
}

struct Mapping {
  uint8_t* data = nullptr;
  size_t size = 0;
};

StatusOr<Mapping> MapFd(int fd, int prot) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) return Status::InvalidArgument("empty or unreadable descriptor");
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), prot, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return Status::Internal(std::string("mmap: ") + std::strerror(errno));
  return Mapping{static_cast<uint8_t*>(p), static_cast<size_t>(st.st_size)};
}

// How many requests this worker takes at once (announced in its hello).
constexpr uint64_t kBatch = 8;

// Runs one request in `request_area` and writes its response in `response_area`.
void RunOne(Backend& backend, std::span<const uint8_t> request_area, std::span<uint8_t> response_area) {
  auto request = worker::DecodeTensorList(request_area);
  if (!request.ok()) {
    worker::EncodeFailure(worker::ResponseStatus::kEngineError, PublicMessage(StatusCode::kInternal),
                          "malformed request: " + request.status().message(), response_area);
  } else {
    auto outputs = backend.Infer(request->views);
    if (!outputs.ok()) {
      const auto status = outputs.status().code() == StatusCode::kInvalidArgument
                              ? worker::ResponseStatus::kInvalidInput
                              : worker::ResponseStatus::kEngineError;
      worker::EncodeFailure(status, PublicMessage(outputs.status().code()), outputs.status().message(), response_area);
    } else {
      const std::vector<TensorView> views = ViewsOf(*outputs);
      auto written = worker::EncodeSuccess(views, response_area);
      if (!written.ok()) {
        worker::EncodeFailure(worker::ResponseStatus::kOutputTooLarge,
                              "the model's output is larger than the response limit of " +
                                  std::to_string(response_area.size()) + " bytes",
                              written.status().message(), response_area);
      }
    }
  }
}

// How long a worker watches the arena for its next request before it sleeps
// on the request eventfd: the window the server's own threads poll for
// (src/http/spinning_runner.h). On these virtual machines waking a process
// whose virtual CPU went idle costs tens of microseconds, which a client that
// sends its next request as soon as it has the answer pays on every request;
// the in-process engine's threads poll in the same way, so a confined model
// costs no more wake-ups than an in-process one.
constexpr std::chrono::microseconds kPollWindow{200};

// Returns once request_seq moves past `last` or the window ends, giving the
// core away between looks so that the threads it waits for can run.
void PollForRequest(worker::ArenaHeader* header, uint64_t last) {
  const auto until = std::chrono::steady_clock::now() + kPollWindow;
  const std::atomic_ref<uint64_t> seq(header->request_seq);
  while (seq.load(std::memory_order_acquire) == last && std::chrono::steady_clock::now() < until) ::sched_yield();
}

// Serves requests until the server goes away. Each request (or batch): wait for
// the request eventfd, decode the inputs in place, run the engine, encode the
// response; then publish the responses at once.
int Serve(Backend& backend, const Mapping& arena, const worker::ArenaHeader& layout) {
  auto* header = reinterpret_cast<worker::ArenaHeader*>(arena.data);
  const std::span<const uint8_t> request_area(arena.data + layout.request_offset, layout.request_capacity);
  const std::span<uint8_t> response_area(arena.data + layout.response_offset, layout.response_capacity);
  uint64_t last_seq = std::atomic_ref<uint64_t>(header->request_seq).load(std::memory_order_acquire);
  bool poll = false;
  for (;;) {
    // Only when the server said the last request was the model's only one
    // (ArenaHeader::request_poll): under load, watching would take a core
    // from the server's threads. The eventfd is still read every time: it
    // is what the server signals, and reading it resets it; after a poll that
    // saw the request it does not block (the server writes it right after).
    if (poll) PollForRequest(header, last_seq);
    uint64_t signalled = 0;
    const ssize_t n = ::read(worker::kRequestEventFd, &signalled, sizeof(signalled));
    if (n < 0 && errno == EINTR) continue;
    if (n != sizeof(signalled)) return kProtocolFailed;
    const uint64_t seq = std::atomic_ref<uint64_t>(header->request_seq).load(std::memory_order_acquire);
    last_seq = seq;
    const uint64_t count = std::atomic_ref<uint64_t>(header->request_count).load(std::memory_order_relaxed);
    poll = std::atomic_ref<uint64_t>(header->request_poll).load(std::memory_order_relaxed) == 1;
    if (count < 1 || count > kBatch) return kProtocolFailed;
    for (uint64_t i = 0; i < count; ++i) {
      RunOne(backend, worker::BatchShare(request_area, count, i), worker::BatchShare(response_area, count, i));
    }
    std::atomic_ref<uint64_t>(header->response_violations).store(sandbox::ViolationCount(), std::memory_order_relaxed);
    std::atomic_ref<uint64_t>(header->response_seq).store(seq, std::memory_order_release);
    const uint64_t one = 1;
    if (::write(worker::kResponseEventFd, &one, sizeof(one)) != sizeof(one)) return kProtocolFailed;
  }
}

// The ONNX Runtime worker: confine this process as for any engine (with the
// exec filter instead of the two seccomp stages, and the package in the root),
// then become node running runtime/onnxruntime/worker.js. Node gets a clean
// environment, no inspector, no code generation from strings, no JIT (the
// filter refuses executable anonymous memory) and Node's permission model
// limited to reading its package.
int ExecNodeWorker(const WorkerArgs& options) {
  char resolved[PATH_MAX];
  // The same check, and message, as `aegis serve` makes at start.
  if (::realpath(options.package.c_str(), resolved) == nullptr || !OnnxRuntimeMissing(resolved).empty()) {
    return Fail(kLoadFailed, "load", OnnxRuntimeMissing(options.package));
  }
  const std::string package = resolved;
  if (::realpath(options.node.c_str(), resolved) == nullptr || std::string_view(resolved).rfind("/usr/", 0) != 0) {
    return Fail(kLoadFailed, "load", "node (" + options.node + ") is not installed under /usr: install nodejs");
  }
  const std::string node = resolved;

  sandbox::ConfinementReport report;
  sandbox::SandboxOptions sandbox_options{options.memory_limit, options.parent, node, {package}};
  Status entered = sandbox::Enter(sandbox_options, report);
  if (!entered.ok()) return Fail(kSandboxFailed, "sandbox", entered.message());
  // The arena and its eventfds are not part of the stream transport.
  for (int fd : {worker::kArenaFd, worker::kRequestEventFd, worker::kResponseEventFd}) ::close(fd);

  const std::vector<std::string> args = {node,
                                         "--jitless",
                                         "--disallow-code-generation-from-strings",
                                         "--disable-proto=throw",
                                         "--no-warnings",
                                         "--experimental-permission",
                                         "--allow-fs-read=" + package + "/",
                                         "--allow-addons",
                                         "--v8-pool-size=1",
                                         package + "/worker.js",
                                         "--format",
                                         "onnx",
                                         "--memory-limit",
                                         std::to_string(options.memory_limit),
                                         "--parent",
                                         std::to_string(options.parent),
                                         "--threads",
                                         std::to_string(options.threads),
                                         "--request-capacity",
                                         std::to_string(options.request_capacity),
                                         "--response-capacity",
                                         std::to_string(options.response_capacity),
                                         "--confinement",
                                         report.Json()};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // libuv must not use io_uring (the filter refuses it anyway).
  char env_uring[] = "UV_USE_IO_URING=0";
  char* envp[] = {env_uring, nullptr};
  ::execve(node.c_str(), argv.data(), envp);
  return Fail(kLoadFailed, "load", std::string("cannot execute node: ") + std::strerror(errno));
}

}  // namespace

int RunEngineWorker(std::span<char* const> args) {
  const std::optional<WorkerArgs> options = ParseArgs(args);
  if (!options || !HaveDescriptors()) {
    std::fprintf(stderr, "aegis: engine-worker is started by `aegis serve`, not by hand\n");
    return kUsage;
  }
  if (options->onnxruntime) return ExecNodeWorker(*options);
  // One malloc arena: a worker runs one inference at a time, and every arena
  // would count against the address-space limit.
  ::mallopt(M_ARENA_MAX, 1);
  PrepareEngine(options->format);

  sandbox::ConfinementReport report;
  Status entered = sandbox::Enter({options->memory_limit, options->parent}, report);
  if (!entered.ok()) return Fail(kSandboxFailed, "sandbox", entered.message());
  if (!Send(MessageType::kHello, Json({{"protocol", worker::kProtocolVersion},
                                       {"pid", ::getpid()},
                                       {"batch", kBatch},
                                       {"engine", ModelFormatName(options->format)}}))) {
    return kProtocolFailed;
  }

  auto model = MapFd(worker::kModelFd, PROT_READ);
  if (!model.ok()) return Fail(kLoadFailed, "load", "the model could not be mapped", model.status().message());
  auto backend = LoadBackend(options->format, {model->data, model->size}, EngineOptions{.may_borrow_inputs = true});
  if (!backend.ok()) return Fail(kLoadFailed, "load", backend.status().message());
  worker::LoadedModel loaded{std::string((*backend)->platform()), (*backend)->signature()};
  if (!Send(MessageType::kLoaded, worker::SignatureJson(loaded))) return kProtocolFailed;

  auto arena = MapFd(worker::kArenaFd, PROT_READ | PROT_WRITE);
  if (!arena.ok() || arena->size < sizeof(worker::ArenaHeader)) {
    return Fail(kProtocolFailed, "arena", "the shared memory could not be mapped");
  }
  worker::ArenaHeader layout;
  std::memcpy(&layout, arena->data, sizeof(layout));
  Status checked = worker::CheckArenaLayout(layout, arena->size);
  if (!checked.ok()) return Fail(kProtocolFailed, "arena", checked.message());

  Status locked = sandbox::LockDown(report);
  if (!locked.ok()) return Fail(kSandboxFailed, "sandbox", locked.message());
  if (!Send(MessageType::kReady, "{\"confinement\":" + report.Json() + "}")) return kProtocolFailed;
  return Serve(**backend, *arena, layout);
}

}  // namespace aegis::runtime
