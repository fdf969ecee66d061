// ModelInstances: the facade over confined workers (confined_instances.cc) and
// the in-process pool for isolation = "none".
#include "aegis/runtime/model_instances.h"

#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>

#include <spdlog/spdlog.h>

#include "confined_instances.h"

namespace aegis::runtime {
namespace {

constexpr int kMaxInstances = 256;

// isolation = "none": N backends in this process, lent out one call at a time.
// Submit runs the engine on the calling thread, waiting for a free instance.
class InProcessInstances final : public ModelInstances {
 public:
  InProcessInstances(ModelFormat format, std::string label) : format_(format), label_(std::move(label)) {}

  Status Load(std::span<const uint8_t> model_bytes, int count) {
    for (int i = 0; i < count; ++i) {
      AEGIS_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, LoadBackend(format_, model_bytes));
      free_.push_back(backend.get());
      backends_.push_back(std::move(backend));
    }
    return Status::Ok();
  }

  ModelFormat format() const override { return format_; }
  std::string_view platform() const override { return backends_.front()->platform(); }
  const ModelSignature& signature() const override { return backends_.front()->signature(); }
  bool Ready() const override {
    std::lock_guard lock(mu_);
    return !stopped_;
  }
  InstanceStats Stats() const override {
    std::lock_guard lock(mu_);
    InstanceStats stats;
    stats.instances = static_cast<int>(backends_.size());
    stats.up = stopped_ ? 0 : stats.instances;
    return stats;
  }
  void Shutdown() override {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }

  void Submit(std::vector<Tensor> inputs, std::string request_id, InferenceDone done) override {
    Backend* backend = nullptr;
    const auto arrived = std::chrono::steady_clock::now();
    std::chrono::nanoseconds waited{0};
    {
      std::unique_lock lock(mu_);
      freed_.wait(lock, [this] { return !free_.empty() || stopped_; });
      waited = std::chrono::steady_clock::now() - arrived;
      if (stopped_) {
        lock.unlock();
        return done(InferenceResult{Status::Unavailable("the server is shutting down"), {}, waited});
      }
      backend = free_.back();
      free_.pop_back();
    }
    // Returns the instance on every exit, even if Infer throws (std::bad_alloc).
    struct Lease {
      InProcessInstances* self;
      Backend* backend;
      ~Lease() {
        {
          std::lock_guard lock(self->mu_);
          self->free_.push_back(backend);
        }
        self->freed_.notify_one();
      }
    };
    StatusOr<std::vector<Tensor>> outputs = Status::Internal("not run");
    {
      Lease lease{this, backend};
      outputs = backend->Infer(ViewsOf(inputs));
    }
    if (!outputs.ok()) {
      const StatusCode code = outputs.status().code() == StatusCode::kInvalidArgument ? StatusCode::kInvalidArgument
                                                                                      : StatusCode::kInternal;
      spdlog::warn("request {}: model {}: {}: {}", request_id, label_, PublicMessage(code), outputs.status().message());
      return done(InferenceResult{Status(code, PublicMessage(code)), {}, waited});
    }
    const std::vector<TensorView> views = ViewsOf(*outputs);
    done(InferenceResult{Status::Ok(), views, waited});
  }

 private:
  const ModelFormat format_;
  const std::string label_;
  std::vector<std::unique_ptr<Backend>> backends_;  // fixed after Load
  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<Backend*> free_;
  bool stopped_ = false;
};

}  // namespace

std::string_view IsolationName(Isolation isolation) { return isolation == Isolation::kNone ? "none" : "process"; }

std::string_view OnnxEngineName(OnnxEngine engine) { return engine == OnnxEngine::kOpenCv ? "opencv" : "onnxruntime"; }

std::optional<OnnxEngine> ParseOnnxEngine(std::string_view name) {
  if (name == "onnxruntime") return OnnxEngine::kOnnxRuntime;
  if (name == "opencv") return OnnxEngine::kOpenCv;
  return std::nullopt;
}

std::string DefaultOnnxRuntimeDir() { return AEGIS_DEFAULT_ONNXRUNTIME_DIR; }

std::string OnnxRuntimeMissing(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(dir + "/worker.js", ec) &&
      std::filesystem::is_regular_file(dir + "/node_modules/onnxruntime-node/package.json", ec)) {
    return {};
  }
  return "ONNX Runtime is not installed in " + dir + ": run `make onnxruntime` (npm ci --ignore-scripts --prefix " +
         dir + "), or set engine = \"opencv\" for the ONNX models";
}

std::string_view RuntimeEventName(RuntimeEvent::Kind kind) {
  switch (kind) {
    case RuntimeEvent::Kind::kWorkerCrashed:
      return "worker_crashed";
    case RuntimeEvent::Kind::kWorkerTimedOut:
      return "worker_timed_out";
    case RuntimeEvent::Kind::kProtocolViolation:
      return "protocol_violation";
    case RuntimeEvent::Kind::kSandboxViolation:
      return "sandbox_violation";
    case RuntimeEvent::Kind::kWorkerRestarted:
      return "worker_restarted";
    case RuntimeEvent::Kind::kWithdrawn:
      return "withdrawn";
  }
  return "unknown";
}

StatusOr<std::shared_ptr<ModelInstances>> ModelInstances::Load(ModelFormat format, std::span<const uint8_t> model_bytes,
                                                               const RuntimeOptions& options) {
  if (options.instances < 1 || options.instances > kMaxInstances) {
    return Status::InvalidArgument("instance count must be between 1 and " + std::to_string(kMaxInstances));
  }
  if (model_bytes.empty()) return Status::Unprocessable("the model is empty");
  // ONNX Runtime runs in node: always a worker process.
  const bool onnxruntime = format == ModelFormat::kOnnx && options.onnx_engine == OnnxEngine::kOnnxRuntime;
  if (options.isolation == Isolation::kProcess || onnxruntime) {
    return internal::LoadConfined(format, model_bytes, options);
  }
  auto instances = std::make_shared<InProcessInstances>(format, options.label);
  AEGIS_RETURN_IF_ERROR(instances->Load(model_bytes, options.instances));
  return std::shared_ptr<ModelInstances>(std::move(instances));
}

StatusOr<std::vector<Tensor>> ModelInstances::Infer(std::vector<Tensor> inputs, std::string request_id) {
  std::promise<StatusOr<std::vector<Tensor>>> promise;
  auto result = promise.get_future();
  Submit(std::move(inputs), std::move(request_id), [&promise](const InferenceResult& r) {
    if (!r.status.ok()) return promise.set_value(r.status);
    std::vector<Tensor> outputs;
    for (const TensorView& v : r.outputs) {
      outputs.push_back(Tensor{std::string(v.name), v.datatype, v.shape, {v.data.begin(), v.data.end()}});
    }
    promise.set_value(std::move(outputs));
  });
  return result.get();
}

}  // namespace aegis::runtime
