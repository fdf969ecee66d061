// ModelInstances: the running instances of one model version, and the one way
// the server runs model code.
//
// With isolation kProcess (the default) every instance is a confined engine
// worker process: a fresh exec of the aegis binary with an empty environment and
// no descriptor but /dev/null, its stderr pipe and the five of
// docs/worker-protocol.md (it never has the KEK, tokens, TLS keys, the
// audit key, the database or the data folder open), in its own user, network,
// mount, IPC, UTS and PID namespaces where the kernel allows, with no new
// privileges, a Landlock file-system ruleset, resource limits (address space,
// descriptors, no core dumps), and a seccomp-bpf allowlist installed after the
// engine has loaded the model that refuses opening files, sockets, exec, ptrace
// and other processes' memory. The model arrives as a sealed memfd; tensors cross
// in shared memory (one copy each way).
//
// Faults stay inside: a worker that crashes, is killed, breaks the protocol or
// overruns the per-request deadline fails only the request it held; its instance
// is restarted with back-off, the model is not ready while no instance is up, and
// repeated failures withdraw the version (every request then gets 503). A slow
// model delays only its own requests: each instance has its own driver thread,
// and requests wait in the model's own bounded queue, never on a shared pool.
//
// ONNX models on ONNX Runtime (the default ONNX engine) are served by a node
// worker (runtime/onnxruntime/worker.js) that the same launcher confines and then
// executes; it speaks the protocol's stream transport, and docs/confinement.md
// lists what differs from the C++ workers and why. It always runs in a worker
// process, whatever the isolation.
//
// kNone runs the engines in the server process (trusted models, machines without
// seccomp): none of the above holds, and the server warns.
//
// Thread-safety: every method is safe for concurrent use.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/event_loop.h"
#include "aegis/common/status.h"
#include "aegis/runtime/backend.h"
#include "aegis/runtime/tensor.h"

namespace aegis::runtime {

enum class Isolation { kProcess, kNone };
std::string_view IsolationName(Isolation isolation);  // "process", "none"

// The engine for ONNX models. ONNX Runtime (the default) runs in node, in a
// worker process that speaks the protocol's stream transport, whatever the
// isolation; OpenCV DNN runs like the other C++ engines.
enum class OnnxEngine { kOnnxRuntime, kOpenCv };
std::string_view OnnxEngineName(OnnxEngine engine);  // "onnxruntime", "opencv"
std::optional<OnnxEngine> ParseOnnxEngine(std::string_view name);

// Where the ONNX Runtime worker's package (runtime/onnxruntime: worker.js and
// node_modules) was installed at build time.
std::string DefaultOnnxRuntimeDir();
// Empty when the package is installed in `dir`; otherwise one line that names
// the fix (`make onnxruntime`).
std::string OnnxRuntimeMissing(const std::string& dir);

// Something that happened to a model's workers, for the audit log and metrics.
struct RuntimeEvent {
  enum class Kind {
    kWorkerCrashed,      // died (signal or exit), e.g. an engine crash or the memory cap
    kWorkerTimedOut,     // overran the request deadline and was killed
    kProtocolViolation,  // sent something that is not the protocol, and was killed
    kSandboxViolation,   // tried a system call the sandbox refuses (the call failed)
    kWorkerRestarted,    // a replacement worker is serving again
    kWithdrawn,          // too many failures: the version no longer serves
  };
  Kind kind;
  std::string detail;  // e.g. "signal 11 (Segmentation fault)", "syscall openat"
};
std::string_view RuntimeEventName(RuntimeEvent::Kind kind);  // "worker_crashed", ...

struct RuntimeOptions {
  Isolation isolation = Isolation::kProcess;
  int instances = 1;
  // Per worker: the address-space limit (RLIMIT_AS) covering the engine, the
  // model and the shared memory; the largest request and response.
  uint64_t memory_limit_bytes = 4ull << 30;
  uint64_t max_request_bytes = 64ull << 20;
  uint64_t max_response_bytes = 64ull << 20;
  // How long one inference may run before its worker is killed, and how long a
  // request may wait for a free instance before it gets 503.
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds queue_timeout{5000};
  // Requests waiting for a free instance; more get 503 at once.
  size_t max_queued = 256;
  std::chrono::milliseconds load_timeout{120000};
  // Failures (crash, timeout, protocol violation) tolerated within the window;
  // one more withdraws the version.
  int max_failures = 3;
  std::chrono::seconds failure_window{600};
  // The program a worker runs: `worker_command` then the worker's own options.
  // Default: this executable (/proc/self/exe) with the hidden `engine-worker`
  // sub-command.
  std::vector<std::string> worker_command;
  // ONNX models: the engine, the ONNX Runtime package and node.
  OnnxEngine onnx_engine = OnnxEngine::kOnnxRuntime;
  std::string onnxruntime_dir = DefaultOnnxRuntimeDir();
  std::string node_program = "/usr/bin/node";
  // "model/version", in logs and events.
  std::string label;
  // Called from driver threads; must not block for long.
  std::function<void(const RuntimeEvent&)> on_event;
  // Optional: the server's I/O threads. A confined worker's responses are then
  // picked up and handed to their callbacks by an I/O thread that submitted to
  // it, instead of by the instance's driver thread, which saves a thread wake-up
  // per response (docs/confinement.md). InferenceDone may then run on it.
  std::shared_ptr<EventLoop> response_loop;
};

// The outcome of one inference. `outputs` are valid only during the callback
// (they may point into a worker's shared memory); a failure's `status` carries
// a message that is safe for the client (see PublicMessage) and has already been
// logged in full with the request id.
struct InferenceResult {
  Status status;
  std::span<const TensorView> outputs;
  // For the metrics: how long the request waited for a free instance (zero
  // when one was idle), and how many requests the engine ran in its batch.
  std::chrono::nanoseconds queue_wait{0};
  int batch_size = 1;
};
using InferenceDone = std::function<void(const InferenceResult&)>;

struct InstanceStats {
  int instances = 0;
  int up = 0;  // workers (or in-process instances) ready to serve
  uint64_t failures = 0;
  uint64_t restarts = 0;
  uint64_t sandbox_violations = 0;
  bool withdrawn = false;
  // What confinement took effect in the newest worker, as it reported it (JSON,
  // see docs/confinement.md); empty in process.
  std::string confinement;
};

class ModelInstances {
 public:
  // Starts `options.instances` instances of the model and waits until each has
  // loaded it (or failed to: Unprocessable with a message safe to show the
  // publisher, e.g. the engine refused the model or its worker crashed).
  static StatusOr<std::shared_ptr<ModelInstances>> Load(ModelFormat format, std::span<const uint8_t> model_bytes,
                                                        const RuntimeOptions& options);
  virtual ~ModelInstances() = default;

  virtual ModelFormat format() const = 0;
  virtual std::string_view platform() const = 0;
  virtual const ModelSignature& signature() const = 0;

  // Runs one inference on `inputs`, which have passed ValidateInputs(signature()).
  // `done` is called exactly once, on this thread or another. Never blocks on the
  // model (kProcess): a busy model queues the request or refuses it.
  virtual void Submit(std::vector<Tensor> inputs, std::string request_id, InferenceDone done) = 0;

  // Submit, waiting for the result (tests, warm-up); outputs are copied out.
  StatusOr<std::vector<Tensor>> Infer(std::vector<Tensor> inputs, std::string request_id = "-");

  // True when at least one instance can serve and the version is not withdrawn.
  virtual bool Ready() const = 0;
  // True when Submit only hands the request over and returns without waiting
  // (confined workers on the shared-memory transport), so that an I/O thread may
  // call it; false when it runs the model itself or may wait for a worker.
  virtual bool SubmitHandsOver() const { return false; }
  virtual InstanceStats Stats() const = 0;

  // Fails every queued and running request at once and stops the workers (the
  // server's drain timeout ran out). Later Submits fail with 503.
  virtual void Shutdown() = 0;
};

// The hidden `aegis engine-worker` sub-command: the body of a confined worker.
// `args` are the arguments after the sub-command name. Returns the exit code.
int RunEngineWorker(std::span<char* const> args);

}  // namespace aegis::runtime
