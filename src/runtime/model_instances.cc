// ModelInstances: a fixed pool of backend instances lent out one Infer at a time.
//
// Infer does NOT validate inputs: the data plane calls ValidateInputs(signature(),
// inputs) once before anomaly scoring, and validating again here would only repeat
// that work on the hot path.
#include <condition_variable>
#include <mutex>

#include "aegis/runtime/backend.h"

namespace aegis::runtime {

struct ModelInstances::Pool {
  std::vector<std::unique_ptr<Backend>> instances;
  std::mutex mutex;
  std::condition_variable freed;
  std::vector<Backend*> free;  // guarded by mutex
};

namespace {
constexpr int kMaxInstances = 256;
}

StatusOr<std::shared_ptr<ModelInstances>> ModelInstances::Load(ModelFormat format, std::span<const uint8_t> model_bytes,
                                                               int instance_count) {
  if (instance_count < 1 || instance_count > kMaxInstances) {
    return Status::InvalidArgument("instance count must be between 1 and " + std::to_string(kMaxInstances));
  }
  auto pool = std::make_unique<Pool>();
  for (int i = 0; i < instance_count; ++i) {
    AEGIS_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, LoadBackend(format, model_bytes));
    pool->free.push_back(backend.get());
    pool->instances.push_back(std::move(backend));
  }
  return std::shared_ptr<ModelInstances>(new ModelInstances(format, std::move(pool)));
}

ModelInstances::ModelInstances(ModelFormat format, std::unique_ptr<Pool> pool)
    : format_(format), pool_(std::move(pool)) {}

ModelInstances::~ModelInstances() = default;

const ModelSignature& ModelInstances::signature() const { return pool_->instances.front()->signature(); }

std::string_view ModelInstances::platform() const { return pool_->instances.front()->platform(); }

StatusOr<std::vector<Tensor>> ModelInstances::Infer(const std::vector<Tensor>& inputs) {
  // Returns the instance to the free list on every exit, even if Infer throws
  // (std::bad_alloc): a lost instance would starve the model.
  struct Lease {
    Pool* pool;
    Backend* backend;
    ~Lease() {
      {
        std::lock_guard lock(pool->mutex);
        pool->free.push_back(backend);
      }
      pool->freed.notify_one();
    }
  };
  Backend* backend = nullptr;
  {
    std::unique_lock lock(pool_->mutex);
    pool_->freed.wait(lock, [this] { return !pool_->free.empty(); });
    backend = pool_->free.back();
    pool_->free.pop_back();
  }
  Lease lease{pool_.get(), backend};
  return backend->Infer(inputs);
}

}  // namespace aegis::runtime
