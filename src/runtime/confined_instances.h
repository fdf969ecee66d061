// ModelInstances on confined engine worker processes (internal to the runtime
// module; the contract is in aegis/runtime/model_instances.h).
//
// Each instance is a slot with its own worker process and its own driver thread.
// A request goes straight to an idle worker from the submitting thread (copy into
// the arena and wake the worker, or, on the stream transport, write it on the
// control socket; arm the slot's deadline timer unless it is armed already); the
// driver wakes on the response, hands it to the request's callback, and then
// feeds the slot the next queued requests, up to a batch at once (arena only).
// The driver alone restarts, kills and reaps its worker. On the arena transport a
// submitter may be an HTTP I/O thread: nothing it waits for is held longer than
// a copy into the arena. The first such submitter has its event loop
// (RuntimeOptions::response_loop) watch the worker's response eventfd: from then
// on an I/O thread answers the calls, and the driver wakes only for what is not
// a response, a response with sandbox violations it has not read yet, or a
// large output.
//
// Thread-safety: see ModelInstances.
#pragma once

#include <memory>
#include <span>

#include "aegis/common/status.h"
#include "aegis/runtime/model_instances.h"

namespace aegis::runtime::internal {

StatusOr<std::shared_ptr<ModelInstances>> LoadConfined(ModelFormat format, std::span<const uint8_t> model_bytes,
                                                       const RuntimeOptions& options);

// The default worker command: this executable's hidden sub-command.
std::vector<std::string> DefaultWorkerCommand();

}  // namespace aegis::runtime::internal
