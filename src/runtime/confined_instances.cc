// ModelInstances on confined engine workers: scheduling, deadlines, restarts and
// withdrawal (see confined_instances.h).
#include "confined_instances.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "aegis/common/strict_json.h"
#include "seccomp_policy.h"
#include "worker_process.h"
#include "worker_protocol.h"

namespace aegis::runtime::internal {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{30000};
// A worker that served this long before failing starts over with a short back-off.
constexpr std::chrono::seconds kStableUptime{60};
constexpr int kStderrLinesPerMinute = 20;
// How long a worker whose control socket closed may take to finish dying.
constexpr milliseconds kDyingGrace{500};
constexpr size_t kMaxStderrLine = 512;

// Lone calls in a row before a worker is told it may watch for the next
// request (ArenaHeader::request_poll, Pool::AloneLocked).
constexpr uint64_t kAloneStreak = 8;

// Batches: a worker that announced it takes up to this many queued requests at
// once (docs/worker-protocol.md), but only for a model whose requests take less
// than kBatchBelow each, and only as many as run within a quarter of the
// request deadline. Each wake-up of a worker and of its driver costs tens of
// microseconds on a busy machine; a batch pays them once for all its requests.
constexpr size_t kBatchSize = 8;
constexpr std::chrono::milliseconds kBatchBelow{100};

// Outputs up to this size (all calls of a batch together) are answered on the
// response loop's I/O thread; larger ones by the instance's driver.
constexpr uint64_t kLoopResponseBytes = uint64_t{64} * 1024;

std::string Ms(milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

// A request waiting for a free instance.
struct PendingCall {
  std::vector<Tensor> inputs;
  std::string request_id;
  InferenceDone done;
  Clock::time_point queue_deadline;
  bool alone = false;  // its output did not fit its share of a batch: runs by itself
};

// A request a worker is running.
struct RunningCall {
  std::string request_id;
  InferenceDone done;
  // In a batch, the inputs, for a run by itself should its output not fit its
  // share of the response area.
  std::vector<Tensor> inputs;
  Clock::time_point queue_deadline;
  // How long it waited in the queue for a free instance (zero: one was idle).
  Clock::duration queue_wait{};
};

enum class SlotState { kStarting, kIdle, kBusy, kDown };

// Why a worker stopped serving.
struct Failure {
  RuntimeEvent::Kind kind;
  std::string detail;
};

void Fire(const UniqueFd& fd) {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(fd.get(), &one, sizeof(one));
}

void Drain(int fd) {
  uint64_t count;
  [[maybe_unused]] const ssize_t n = ::read(fd, &count, sizeof(count));
}

void Arm(const UniqueFd& timer, Clock::duration after) {
  const auto ns = std::max<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(after).count(), 1);
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
  spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
  ::timerfd_settime(timer.get(), 0, &spec, nullptr);
}

void Disarm(const UniqueFd& timer) {
  itimerspec spec{};
  ::timerfd_settime(timer.get(), 0, &spec, nullptr);
}

// Engine text for the server log: one bounded line of printable characters.
std::string LogSafe(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 2048)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  return out;
}

void Complete(const InferenceDone& done, Status status) { done(InferenceResult{std::move(status), {}}); }

class Pool;

struct Slot {
  explicit Slot(int i) : index(i) {}
  const int index;
  UniqueFd wake;   // eventfd: stop, or withdraw
  UniqueFd timer;  // timerfd: at or before the running request's deadline
  // Whether `timer` is armed. It is armed once per busy period, not per request
  // (two timerfd_settime calls per request cost more than the inference of a
  // small model): when it fires early, the driver re-arms it for the running
  // request's deadline. Cleared only under Pool::mu_ while nothing runs.
  std::atomic<bool> timer_armed{false};
  std::thread driver;

  // Under Pool::mu_.
  SlotState state = SlotState::kStarting;
  std::vector<RunningCall> running;  // the request (or batch) the worker holds
  Clock::time_point started;         // when `running` was handed over
  size_t batch_limit = 1;            // what the worker announced
  uint64_t idle_order = 0;           // Pool::idle_count_ when it last went idle

  // The process and its arena: a submitter writes a request under io_mu; the
  // driver replaces or destroys the worker under it. Shared with the event
  // loop's delivery (OnResponseSignalled), which may still read a response from
  // the arena of a worker the driver has just taken down.
  std::mutex io_mu;
  std::shared_ptr<WorkerProcess> worker;
  uint64_t seq = 0;
  // Bumped, under io_mu and Pool::mu_ both, whenever the driver takes a worker
  // down: what the event loop does for an older worker is dropped.
  uint64_t generation = 0;
  // Under io_mu: the event loop's watch of the worker's response eventfd
  // (RuntimeOptions::response_loop), made by the first submitting I/O thread.
  std::unique_ptr<EventLoop::Watch> watch;
  // Whether `watch` exists: the driver then leaves the response eventfd to it.
  std::atomic<bool> watched{false};

  // Under Pool::mu_: what the event loop leaves to the driver. A response whose
  // worker reported violations the driver has not read yet (it reads them,
  // then answers), or a protocol failure of the worker.
  std::optional<uint64_t> handoff_seq;
  std::optional<Failure> loop_failure;
  uint64_t violations_seen = 0;  // reports read from the current worker

  // The driver's own.
  worker::FrameReader frames;
  std::string stderr_buffer;
  Clock::time_point stderr_window{};
  int stderr_lines = 0;
};

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  Pool(ModelFormat format, RuntimeOptions options, UniqueFd model)
      : format_(format), options_(std::move(options)), model_(std::move(model)) {
    launch_.command = options_.worker_command.empty() ? DefaultWorkerCommand() : options_.worker_command;
    launch_.format = format_;
    launch_.memory_limit_bytes = options_.memory_limit_bytes;
    launch_.request_capacity = options_.max_request_bytes;
    launch_.response_capacity = options_.max_response_bytes;
    if (format_ == ModelFormat::kOnnx) {
      launch_.command.insert(launch_.command.end(), {"--engine", std::string(OnnxEngineName(options_.onnx_engine))});
    }
    if (format_ == ModelFormat::kOnnx && options_.onnx_engine == OnnxEngine::kOnnxRuntime) {
      // ONNX Runtime in node: the stream transport. Intra-op threads share the
      // cores among the model's instances.
      stream_ = true;
      launch_.stream = true;
      const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
      const unsigned threads = std::max(1u, cores / static_cast<unsigned>(std::max(1, options_.instances)));
      launch_.command.insert(launch_.command.end(),
                             {"--node", options_.node_program, "--package", options_.onnxruntime_dir, "--threads",
                              std::to_string(threads), "--request-capacity", std::to_string(options_.max_request_bytes),
                              "--response-capacity", std::to_string(options_.max_response_bytes)});
    }
  }

  Status Start() {
    queue_timer_ = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (queue_timer_.get() < 0) return Status::Internal("timerfd_create failed");
    for (int i = 0; i < options_.instances; ++i) {
      auto slot = std::make_unique<Slot>(i);
      slot->wake = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      slot->timer = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
      if (slot->wake.get() < 0 || slot->timer.get() < 0) return Status::Internal("cannot create worker descriptors");
      slots_.push_back(std::move(slot));
    }
    // Each driver starts its own worker: a worker dies with the thread that
    // started it (PR_SET_PDEATHSIG), and a driver lives as long as its slot.
    for (auto& slot : slots_) {
      slot->driver = std::thread([self = shared_from_this(), s = slot.get()] { self->DriverLoop(*s); });
    }
    std::unique_lock lock(mu_);
    loaded_cv_.wait(lock, [&] { return first_starts_ == options_.instances; });
    if (!load_error_.ok()) {
      Status error = load_error_;
      lock.unlock();
      Shutdown(Status::Unavailable("loading failed"));
      return error;
    }
    return Status::Ok();
  }

  const std::string& platform() const { return platform_; }
  const ModelSignature& signature() const { return signature_; }
  ModelFormat format() const { return format_; }

  void Submit(std::vector<Tensor> inputs, std::string request_id, InferenceDone done) {
    std::unique_lock lock(mu_);
    if (stopping_ || withdrawn_) {
      Status why = UnusableLocked();
      lock.unlock();
      return Complete(done, std::move(why));
    }
    // The idle slot that went idle last: if its worker is watching the arena
    // for a moment (ArenaHeader::request_poll), it takes the request without a
    // wake-up, and the others sleep instead of watching in vain.
    Slot* idle = nullptr;
    for (auto& slot : slots_) {
      if (slot->state == SlotState::kIdle && (idle == nullptr || slot->idle_order > idle->idle_order)) {
        idle = slot.get();
      }
    }
    if (Slot* slot = idle; slot != nullptr) {
      slot->state = SlotState::kBusy;
      slot->running.push_back(RunningCall{request_id, std::move(done), {}, {}});
      slot->started = Clock::now();
      const bool alone = AloneLocked(*slot);
      lock.unlock();
      std::vector<std::vector<Tensor>> batch;
      batch.push_back(std::move(inputs));
      Dispatch(*slot, std::move(batch), alone);
      return;
    }
    if (queue_.size() >= options_.max_queued) {
      lock.unlock();
      return Complete(done, Status::Unavailable("the model is busy: " + std::to_string(options_.max_queued) +
                                                " requests are already waiting"));
    }
    const auto deadline = Clock::now() + options_.queue_timeout;
    queue_.push_back(PendingCall{std::move(inputs), std::move(request_id), std::move(done), deadline});
    if (queue_timer_due_ == Clock::time_point::max()) {
      queue_timer_due_ = deadline;
      Arm(queue_timer_, options_.queue_timeout);
    }
  }

  bool Ready() const {
    std::lock_guard lock(mu_);
    if (stopping_ || withdrawn_) return false;
    return std::any_of(slots_.begin(), slots_.end(),
                       [](const auto& s) { return s->state == SlotState::kIdle || s->state == SlotState::kBusy; });
  }

  // Whether Submit returns without waiting, so that an HTTP I/O thread may call
  // it (ModelInstances::SubmitHandsOver). In the arena it copies into shared
  // memory and signals an eventfd. A stream request is written to the control
  // socket and waits, up to the request deadline, while the socket is full,
  // which a worker that stops reading can make happen: that wait belongs on
  // the worker pool, never on an I/O thread serving other connections.
  bool SubmitHandsOver() const { return !stream_; }

  InstanceStats Stats() const {
    std::lock_guard lock(mu_);
    InstanceStats stats;
    stats.instances = options_.instances;
    for (const auto& s : slots_) stats.up += (s->state == SlotState::kIdle || s->state == SlotState::kBusy) ? 1 : 0;
    stats.failures = failures_total_;
    stats.restarts = restarts_;
    stats.sandbox_violations = violations_;
    stats.withdrawn = withdrawn_;
    stats.confinement = confinement_;
    return stats;
  }

  // Stops every driver; each fails what it holds with `why`.
  void Shutdown(Status why) {
    std::deque<PendingCall> queued;
    Status unusable;
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        stopping_ = true;
        stop_reason_ = std::move(why);
      }
      queued.swap(queue_);
      unusable = UnusableLocked();
    }
    for (PendingCall& call : queued) Complete(call.done, unusable);
    for (auto& slot : slots_) Fire(slot->wake);
    for (auto& slot : slots_) {
      if (!slot->driver.joinable()) continue;
      // A callback that dropped the last reference runs on a driver: that driver
      // ends by itself, holding the pool alive until it has.
      if (slot->driver.get_id() == std::this_thread::get_id()) {
        slot->driver.detach();
      } else {
        slot->driver.join();
      }
    }
  }

 private:
  Status Unusable() const {
    std::lock_guard lock(mu_);
    return UnusableLocked();
  }

  // Under mu_: why a request cannot run any more.
  Status UnusableLocked() const {
    if (withdrawn_) {
      return Status::Unavailable("model " + options_.label + " was withdrawn after repeated engine failures");
    }
    return stop_reason_.ok() ? Status::Unavailable("the model is shutting down") : stop_reason_;
  }

  bool Stopping() const {
    std::lock_guard lock(mu_);
    return stopping_ || withdrawn_;
  }

  void Emit(RuntimeEvent::Kind kind, std::string detail) {
    if (options_.on_event) options_.on_event(RuntimeEvent{kind, std::move(detail)});
  }

  // ---------------------------------------------------------------------------
  // Requests

  // Under mu_: ArenaHeader::request_poll for `slot`'s call. The worker may
  // watch for the next request only while the model serves one request at a
  // time: this call and the kAloneStreak before it each found nothing queued
  // and no other instance busy (a client waiting for each answer). One call
  // that found company ends it, so a loaded model, whose workers' watching
  // would take cores from the server's threads, stops watching at once and
  // starts again only after a run of lone calls.
  bool AloneLocked(const Slot& slot) {
    const bool alone = queue_.empty() && std::none_of(slots_.begin(), slots_.end(), [&slot](const auto& other) {
                         return other.get() != &slot && other->state == SlotState::kBusy;
                       });
    alone_streak_ = alone ? alone_streak_ + 1 : 0;
    return alone_streak_ > kAloneStreak;
  }

  // Sends the inputs of the calls the caller put in slot.running (one request,
  // or a batch whose inputs each fit their share of the request area).
  // `alone`: AloneLocked's answer for them, taken when they were handed over.
  void Dispatch(Slot& slot, std::vector<std::vector<Tensor>> inputs, bool alone = false) {
    Status sent;
    const size_t count = inputs.size();
    {
      std::lock_guard io(slot.io_mu);
      if (!slot.worker) {
        sent = Status::Unavailable("the model's engine worker is restarting");
      } else if (stream_) {
        // One request: the stream transport has no batches (see kHello).
        sent = SendStreamRequest(slot, ViewsOf(inputs.front()));
      } else {
        for (size_t i = 0; i < count && sent.ok(); ++i) {
          const std::vector<TensorView> views = ViewsOf(inputs[i]);
          auto written = worker::EncodeTensorList(views, worker::BatchShare(slot.worker->request_area(), count, i));
          if (!written.ok()) {
            sent = Status::TooLarge("the request is larger than the model's request limit of " +
                                    std::to_string(options_.max_request_bytes) + " bytes");
          }
        }
        if (sent.ok() && count > 1) {
          // Kept for a run by itself should a call's output not fit its share
          // (before the signal: the answer may come at once).
          std::lock_guard lock(mu_);
          for (size_t i = 0; i < count && i < slot.running.size(); ++i) slot.running[i].inputs = std::move(inputs[i]);
        }
        if (sent.ok()) {
          // Armed for now + timeout, which is no later than this request's deadline.
          if (!slot.timer_armed.exchange(true)) Arm(slot.timer, options_.request_timeout);
          if (!slot.watched.load(std::memory_order_relaxed)) WatchResponses(slot);
          sent = slot.worker->SignalRequest(++slot.seq, count, alone);
        }
      }
    }
    // A worker that cannot be signalled has died: its driver fails the calls.
    if (sent.ok() || sent.code() == StatusCode::kInternal) return;
    std::vector<RunningCall> calls;
    {
      std::lock_guard lock(mu_);
      calls.swap(slot.running);
    }
    for (RunningCall& call : calls) Complete(call.done, sent);
    ReleaseSlot(slot);
  }

  // Under slot.io_mu: the stream transport's request, written on the control
  // socket (non-blocking: bounded by the request deadline, after which the
  // driver kills the worker anyway).
  Status SendStreamRequest(Slot& slot, const std::vector<TensorView>& views) {
    std::string frame;
    Status encoded = worker::AppendStreamRequest(slot.seq + 1, views, options_.max_request_bytes, frame);
    if (!encoded.ok()) {
      return Status::TooLarge("the request is larger than the model's request limit of " +
                              std::to_string(options_.max_request_bytes) + " bytes");
    }
    // As in the arena: armed for now + timeout unless it is armed already
    // (then for an earlier time, which the driver moves on when it fires).
    if (!slot.timer_armed.exchange(true)) Arm(slot.timer, options_.request_timeout);
    ++slot.seq;
    const auto deadline = Clock::now() + options_.request_timeout;
    const int fd = slot.worker->control_fd();
    for (size_t done = 0; done < frame.size();) {
      const ssize_t n = ::send(fd, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        pollfd out{fd, POLLOUT, 0};
        if (left.count() > 0 && ::poll(&out, 1, static_cast<int>(left.count())) >= 0) continue;
      }
      // The worker is gone or stuck: its driver fails the call.
      return Status::Internal("the request could not be written to the worker");
    }
    return Status::Ok();
  }

  // Under slot.io_mu, on the arena transport: once the response loop runs (the
  // HTTP server has started), it watches the worker's response eventfd and
  // answers the calls itself, so that no driver has to wake for a response.
  // Made at the first request handed over after that, from whichever thread
  // (a busy model's requests are handed over by the thread that delivered the
  // previous answer). The driver's poll may still catch one response before it
  // sees `watched`: whoever reads the eventfd answers.
  void WatchResponses(Slot& slot) {
    const std::shared_ptr<EventLoop>& loop = options_.response_loop;
    if (!loop) return;
    slot.watch = loop->WatchReadable(slot.worker->response_event_fd(),
                                     [weak = weak_from_this(), s = &slot, generation = slot.generation] {
                                       if (auto self = weak.lock()) self->OnResponseSignalled(*s, generation);
                                     });
    if (slot.watch) slot.watched = true;
  }

  // On a response-loop thread: the worker of `generation` signalled a response.
  void OnResponseSignalled(Slot& slot, uint64_t generation) {
    std::shared_ptr<WorkerProcess> proc;
    {
      std::lock_guard io(slot.io_mu);
      if (slot.generation != generation || !slot.worker) return;
      proc = slot.worker;
    }
    auto seq = proc->TakeResponse();
    if (!seq.ok()) return;  // a spurious wake-up, or the driver took it
    size_t calls = 0;
    bool driver_answers = false;
    {
      std::lock_guard lock(mu_);
      if (slot.generation != generation) return;
      calls = slot.running.size();
      // Violations first (see ArenaHeader::response_violations).
      driver_answers = proc->ResponseViolations() > slot.violations_seen;
    }
    // Decoded once, here: Deliver hands these to the calls.
    std::vector<StatusOr<worker::DecodedResponse>> responses;
    responses.reserve(calls);
    for (size_t i = 0; i < calls; ++i) {
      responses.push_back(worker::DecodeResponse(worker::BatchShare(proc->response_area(), calls, i)));
    }
    driver_answers = driver_answers || !SmallResponses(responses);
    if (driver_answers) {
      std::lock_guard lock(mu_);
      if (slot.generation != generation) return;
      slot.handoff_seq = *seq;
      Fire(slot.wake);
      return;
    }
    if (auto failure = Deliver(slot, *seq, proc->response_area(), &responses, generation)) {
      std::lock_guard lock(mu_);
      if (slot.generation == generation && !slot.loop_failure) slot.loop_failure = std::move(failure);
      Fire(slot.wake);
    }
  }

  // Whether the responses to a batch are small enough to be answered on an I/O
  // thread: encoding a large output there would hold up the other connections
  // that thread serves, so those go to the driver.
  static bool SmallResponses(const std::vector<StatusOr<worker::DecodedResponse>>& responses) {
    uint64_t bytes = 0;
    for (const auto& response : responses) {
      if (!response.ok()) continue;  // Deliver reports it
      for (const TensorView& view : response->outputs.views) bytes += view.data.size();
    }
    return bytes <= kLoopResponseBytes;
  }

  // Under mu_: how many queued calls the slot may take at once.
  size_t BatchLimitLocked(const Slot& slot) const {
    if (slot.batch_limit <= 1 || service_per_request_ <= Clock::duration::zero() ||
        service_per_request_ >= kBatchBelow) {
      return 1;
    }
    const auto within = std::chrono::duration_cast<Clock::duration>(options_.request_timeout) / 4;
    return std::clamp<size_t>(static_cast<size_t>(within / service_per_request_), 1, slot.batch_limit);
  }

  // The slot finished a call: give it the next queued one, or mark it idle.
  void ReleaseSlot(Slot& slot) {
    std::vector<std::vector<Tensor>> next;
    std::vector<PendingCall> expired;
    bool alone = false;
    {
      std::lock_guard lock(mu_);
      if (slot.state != SlotState::kBusy) return;  // down or stopping: the driver decides
      const auto now = Clock::now();
      expired = TakeExpiredLocked(now);
      const size_t limit = BatchLimitLocked(slot);
      // Each call of a batch gets an equal share of the request area.
      const uint64_t share = worker::BatchShareBytes(options_.max_request_bytes, limit);
      while (!queue_.empty() && next.size() < limit) {
        PendingCall& call = queue_.front();
        if (!next.empty() && call.alone) break;
        if (limit > 1) {
          const std::optional<uint64_t> size = worker::EncodedTensorListSize(ViewsOf(call.inputs));
          if (!next.empty() && (!size || *size > share)) break;
        }
        const bool alone = call.alone;
        slot.running.push_back(RunningCall{std::move(call.request_id),
                                           std::move(call.done),
                                           {},
                                           call.queue_deadline,
                                           now - (call.queue_deadline - options_.queue_timeout)});
        next.push_back(std::move(call.inputs));
        queue_.pop_front();
        if (alone) break;
      }
      if (next.size() > 1 && worker::EncodedTensorListSize(ViewsOf(next.front())).value_or(UINT64_MAX) > share) {
        // The first call is too big to share the area: it goes alone, the others back.
        for (size_t i = next.size(); i-- > 1;) {
          RunningCall& back = slot.running[i];
          PushFrontLocked(
              PendingCall{std::move(next[i]), std::move(back.request_id), std::move(back.done), back.queue_deadline});
        }
        next.resize(1);
        slot.running.resize(1);
      }
      if (next.empty()) {
        slot.state = SlotState::kIdle;
        slot.idle_order = ++idle_count_;
      } else {
        slot.started = now;
        alone = AloneLocked(slot);
      }
    }
    FailExpired(expired);
    if (!next.empty()) Dispatch(slot, std::move(next), alone);
  }

  // Under mu_: puts a call back at the head of the queue.
  void PushFrontLocked(PendingCall call) {
    const auto deadline = call.queue_deadline;
    queue_.push_front(std::move(call));
    if (deadline < queue_timer_due_) {
      queue_timer_due_ = deadline;
      Arm(queue_timer_, deadline - Clock::now());
    }
  }

  // Under mu_: removes the queued calls whose wait is over (the oldest first).
  std::vector<PendingCall> TakeExpiredLocked(Clock::time_point now) {
    std::vector<PendingCall> expired;
    while (!queue_.empty() && queue_.front().queue_deadline <= now) {
      expired.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return expired;
  }

  // Outside mu_: answers calls that waited too long for a free instance.
  void FailExpired(std::vector<PendingCall>& expired) {
    const Status timeout =
        Status::Unavailable("the model is busy: no instance was free within " + Ms(options_.queue_timeout));
    for (PendingCall& call : expired) Complete(call.done, timeout);
  }

  // Under mu_, when the queue timer fired: arms it for the oldest call's
  // deadline. It is not moved as calls leave the queue (a system call per
  // request): a timer that fires early finds nothing expired and is armed again.
  void RearmQueueTimer(Clock::time_point now) {
    if (queue_.empty()) {
      queue_timer_due_ = Clock::time_point::max();  // it fired: disarmed
    } else {
      queue_timer_due_ = queue_.front().queue_deadline;
      Arm(queue_timer_, queue_timer_due_ - now);
    }
  }

  void ExpireQueue() {
    std::vector<PendingCall> expired;
    {
      std::lock_guard lock(mu_);
      const auto now = Clock::now();
      expired = TakeExpiredLocked(now);
      RearmQueueTimer(now);
    }
    FailExpired(expired);
  }

  // The worker signalled a response: hand it to its call. Returns a failure when
  // the worker broke the protocol.
  std::optional<Failure> DeliverResponse(Slot& slot) {
    if (stream_) return std::nullopt;  // responses arrive as kResponse frames
    auto seq = slot.worker->TakeResponse();
    if (!seq.ok()) return std::nullopt;  // a spurious wake-up
    return Deliver(slot, *seq, slot.worker->response_area(), nullptr);
  }

  // Hands the responses for `seq` to the calls of the request or batch: those
  // already `decoded` (one per call; in the stream transport, the one decoded
  // from its frame), or else each call's share of the arena's `area`. Returns a
  // failure when the worker broke the protocol.
  // From the response loop, `generation` is the worker's whose arena `area` is:
  // if the driver has taken that worker down since, nothing is delivered.
  std::optional<Failure> Deliver(Slot& slot, uint64_t seq, std::span<const uint8_t> area,
                                 std::vector<StatusOr<worker::DecodedResponse>>* decoded,
                                 std::optional<uint64_t> generation = std::nullopt) {
    std::vector<RunningCall> calls;
    {
      std::lock_guard lock(mu_);
      if (generation && *generation != slot.generation) return std::nullopt;
      if (slot.running.empty() || seq != slot.seq) {
        return Failure{RuntimeEvent::Kind::kProtocolViolation, "a response for no request it was given"};
      }
      calls.swap(slot.running);
      const auto per_request = (Clock::now() - slot.started) / static_cast<int64_t>(calls.size());
      service_per_request_ =
          service_per_request_ <= Clock::duration::zero() ? per_request : (service_per_request_ * 3 + per_request) / 4;
    }
    std::optional<Failure> failure;
    for (size_t i = 0; i < calls.size(); ++i) {
      if (failure) {
        Complete(calls[i].done, Status::Internal(PublicMessage(StatusCode::kInternal)));
        continue;
      }
      // The stream transport has no batches (see kHello): its one call gets the
      // streamed response. A call of a batch gets its share of the area.
      StatusOr<worker::DecodedResponse> response = Status::InvalidArgument("no response for a call of the batch");
      if (decoded == nullptr) {
        response = worker::DecodeResponse(worker::BatchShare(area, calls.size(), i));
      } else if (i < decoded->size()) {
        response = std::move((*decoded)[i]);
      }
      failure = Answer(calls[i], response, calls.size());
    }
    if (failure) return failure;
    ReleaseSlot(slot);
    return std::nullopt;
  }

  // Answers `call` with its decoded `response`. A failure when the worker broke
  // the protocol (the call is answered 500).
  std::optional<Failure> Answer(RunningCall& call, StatusOr<worker::DecodedResponse>& response, size_t batch_size) {
    const bool batched = batch_size > 1;
    if (!response.ok()) {
      Complete(call.done, Status::Internal(PublicMessage(StatusCode::kInternal)));
      return Failure{RuntimeEvent::Kind::kProtocolViolation, "malformed response: " + response.status().message()};
    }
    if (batched && response->status == worker::ResponseStatus::kOutputTooLarge) {
      // It did not fit its share of the batch's response area: again, by itself, first.
      std::lock_guard lock(mu_);
      PushFrontLocked(PendingCall{std::move(call.inputs), std::move(call.request_id), std::move(call.done),
                                  Clock::now() + options_.queue_timeout, true});
      return std::nullopt;
    }
    switch (response->status) {
      case worker::ResponseStatus::kOk:
        call.done(
            InferenceResult{Status::Ok(), response->outputs.views, call.queue_wait, static_cast<int>(batch_size)});
        break;
      case worker::ResponseStatus::kInvalidInput:
      case worker::ResponseStatus::kEngineError: {
        const StatusCode code = response->status == worker::ResponseStatus::kInvalidInput ? StatusCode::kInvalidArgument
                                                                                          : StatusCode::kInternal;
        spdlog::warn("request {}: model {}: {} ({}): {}", call.request_id, options_.label, PublicMessage(code),
                     code == StatusCode::kInternal ? "engine error" : "rejected by the engine",
                     LogSafe(response->detail));
        Complete(call.done, Status(code, PublicMessage(code)));
        break;
      }
      case worker::ResponseStatus::kOutputTooLarge:
        spdlog::warn("request {}: model {}: output over the response limit: {}", call.request_id, options_.label,
                     LogSafe(response->detail));
        Complete(call.done, Status::Internal("the model's output is larger than the response limit of " +
                                             std::to_string(options_.max_response_bytes) + " bytes"));
        break;
    }
    return std::nullopt;
  }

  // ---------------------------------------------------------------------------
  // Control messages and the worker's stderr

  // Reads what the control socket has. A failure when the worker is gone (EOF)
  // or sent something that is not the protocol.
  std::optional<Failure> ReadControl(Slot& slot, int fd, bool loading, std::optional<std::string>* ready = nullptr,
                                     Status* load_result = nullptr) {
    uint8_t buffer[16 * 1024];
    bool closed = false;
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        closed = true;
        break;
      }
      slot.frames.Feed({buffer, static_cast<size_t>(n)});
      if (slot.frames.buffered() > size_t{2} * worker::kMaxFramePayload + (stream_ ? StreamFrameLimit() : 0)) {
        return Failure{RuntimeEvent::Kind::kProtocolViolation, "control stream overflow"};
      }
    }
    // What arrived before the socket closed still counts (a last kLoadFailed, or
    // a last answer). A worker that closed it is dead: the slot is marked down
    // first, so that delivering that answer (a kResponse frame here, or the
    // arena's response in Serve) does not hand the queued requests to it; they
    // wait for its successor.
    if (closed && !loading) {
      std::lock_guard lock(mu_);
      slot.state = SlotState::kDown;
    }
    for (;;) {
      auto frame = slot.frames.Next();
      if (!frame.ok()) return Failure{RuntimeEvent::Kind::kProtocolViolation, frame.status().message()};
      if (!frame->has_value()) break;
      auto failure = HandleFrame(slot, **frame, loading, ready, load_result);
      if (failure) return failure;
    }
    if (closed) return Failure{RuntimeEvent::Kind::kWorkerCrashed, "closed its control socket"};
    return std::nullopt;
  }

  std::optional<Failure> HandleFrame(Slot& slot, const worker::FrameReader::Frame& frame, bool loading,
                                     std::optional<std::string>* ready, Status* load_result) {
    using worker::MessageType;
    if (frame.type == MessageType::kResponse) {
      if (!stream_ || loading) return Failure{RuntimeEvent::Kind::kProtocolViolation, "an unexpected control message"};
      const std::span<const uint8_t> payload(reinterpret_cast<const uint8_t*>(frame.payload.data()),
                                             frame.payload.size());
      auto streamed = worker::DecodeStreamResponse(payload);
      std::vector<StatusOr<worker::DecodedResponse>> response;
      response.push_back(streamed.ok() ? std::move(streamed->response)
                                       : StatusOr<worker::DecodedResponse>(streamed.status()));
      // A malformed one fails the running call and reports the violation.
      return Deliver(slot, streamed.ok() ? streamed->seq : slot.seq, {}, &response);
    }
    json::JsonDocument doc;
    if (!doc.Parse(frame.payload, "control message", 8).ok()) {
      return Failure{RuntimeEvent::Kind::kProtocolViolation, "a control message that is not JSON"};
    }
    switch (frame.type) {
      case MessageType::kViolation: {
        int64_t nr = -1;
        if (doc.root()["syscall"].get_int64().get(nr) != simdjson::SUCCESS) nr = -1;
        {
          std::lock_guard lock(mu_);
          ++violations_;
          ++slot.violations_seen;
        }
        const std::string call = sandbox::SyscallName(nr);
        spdlog::warn("model {}: the sandbox refused system call {} (worker instance {})", options_.label, call,
                     slot.index);
        Emit(RuntimeEvent::Kind::kSandboxViolation, "system call " + call);
        return std::nullopt;
      }
      case MessageType::kLog: {
        std::string_view message;
        if (doc.root()["message"].get_string().get(message) == simdjson::SUCCESS) {
          spdlog::info("model {}: engine: {}", options_.label, LogSafe(message));
        }
        return std::nullopt;
      }
      default:
        break;
    }
    if (!loading) return Failure{RuntimeEvent::Kind::kProtocolViolation, "an unexpected control message"};
    switch (frame.type) {
      case MessageType::kHello: {
        uint64_t protocol = 0;
        std::string_view transport;
        if (doc.root()["transport"].get_string().get(transport) != simdjson::SUCCESS) transport = "arena";
        if (doc.root()["protocol"].get_uint64().get(protocol) != simdjson::SUCCESS ||
            protocol != worker::kProtocolVersion) {
          *load_result = Status::Internal("the engine worker speaks another protocol version");
        } else if (transport != (stream_ ? "stream" : "arena")) {
          return Failure{RuntimeEvent::Kind::kProtocolViolation, "the worker speaks another transport"};
        }
        // Optional: how many requests it takes at once (absent: one). Batches
        // are an arena feature: they share out its areas and save a wake-up
        // each way per request. A stream worker gets one request at a time
        // whatever it announces: a batch there would need framing of its own,
        // and the ONNX Runtime worker's cost per request is its decoding and
        // encoding in JavaScript, not the wake-ups (bench/README.md).
        uint64_t batch = 1;
        if (stream_ || doc.root()["batch"].get_uint64().get(batch) != simdjson::SUCCESS || batch < 1) batch = 1;
        std::lock_guard lock(mu_);
        slot.batch_limit = std::min<uint64_t>(batch, kBatchSize);
        return std::nullopt;
      }
      case MessageType::kLoaded: {
        auto loaded = worker::ParseSignatureJson(frame.payload);
        if (!loaded.ok()) return Failure{RuntimeEvent::Kind::kProtocolViolation, loaded.status().message()};
        std::lock_guard lock(mu_);
        if (signature_json_.empty()) {
          signature_json_ = frame.payload;
          platform_ = loaded->platform;
          signature_ = std::move(loaded->signature);
        } else if (signature_json_ != frame.payload) {
          return Failure{RuntimeEvent::Kind::kProtocolViolation, "instances disagree about the model's signature"};
        }
        return std::nullopt;
      }
      case MessageType::kLoadFailed: {
        // Absent or mistyped members read as empty.
        auto text = [&](const char* key) {
          std::string_view value;
          return doc.root()[key].get_string().get(value) == simdjson::SUCCESS ? value : std::string_view();
        };
        const std::string_view stage = text("stage"), error = text("error"), detail = text("detail");
        if (!detail.empty()) spdlog::warn("model {}: engine worker: {}", options_.label, LogSafe(detail));
        if (stage == "sandbox") {
          *load_result = Status::Internal("the engine worker could not confine itself (" + LogSafe(error) +
                                          "); on a machine without these kernel features set [runtime] isolation = "
                                          "\"none\", for trusted models only");
        } else {
          *load_result = Status::Unprocessable(LogSafe(error));
        }
        return std::nullopt;
      }
      case MessageType::kReady:
        *ready = frame.payload;
        return std::nullopt;
      default:
        return Failure{RuntimeEvent::Kind::kProtocolViolation, "an unexpected control message"};
    }
  }

  // Logs what the worker wrote to stderr, a bounded number of lines a minute.
  void ReadStderr(Slot& slot, int fd, bool& open) {
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;
      if (n == 0) {
        open = false;
        return;
      }
      slot.stderr_buffer.append(buffer, static_cast<size_t>(n));
    }
  }

  void FlushStderr(Slot& slot, bool all) {
    for (;;) {
      size_t nl = slot.stderr_buffer.find('\n');
      if (nl == std::string::npos) {
        if (!all && slot.stderr_buffer.size() < kMaxStderrLine) return;
        nl = slot.stderr_buffer.size();
        if (nl == 0) return;
      }
      const std::string line = slot.stderr_buffer.substr(0, std::min(nl, kMaxStderrLine));
      slot.stderr_buffer.erase(0, std::min(nl + 1, slot.stderr_buffer.size()));
      const auto now = Clock::now();
      if (now - slot.stderr_window > std::chrono::minutes(1)) {
        slot.stderr_window = now;
        slot.stderr_lines = 0;
      }
      if (!line.empty() && ++slot.stderr_lines <= kStderrLinesPerMinute) {
        spdlog::warn("model {}: engine worker {}: {}", options_.label, slot.index, LogSafe(line));
      }
    }
  }

  // ---------------------------------------------------------------------------
  // The driver

  // Starts a worker and waits until it is ready to serve.
  Status StartWorker(Slot& slot) {
    auto spawned = WorkerProcess::Spawn(launch_, model_.get());
    if (!spawned.ok()) return spawned.status();
    std::unique_ptr<WorkerProcess> proc = std::move(spawned).value();
    slot.frames = worker::FrameReader(stream_ ? StreamFrameLimit() : 0);
    slot.stderr_buffer.clear();
    const auto deadline = Clock::now() + options_.load_timeout;
    std::optional<std::string> ready;
    Status load_result;
    bool stderr_open = true;
    auto stopped = [&](const std::string& why) {
      const std::string how = proc->ReapDying(kDyingGrace);
      FlushStderr(slot, true);
      return Status::Unprocessable("the engine worker stopped while loading the model (" + why + ", " + how + ")");
    };
    while (!ready && load_result.ok()) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        proc->Kill();
        proc->Reap();
        return Status::Unprocessable("the engine did not load the model within " + Ms(options_.load_timeout));
      }
      pollfd fds[3] = {{slot.wake.get(), POLLIN, 0},
                       {proc->control_fd(), POLLIN, 0},
                       {stderr_open ? proc->stderr_fd() : -1, POLLIN, 0}};
      if (::poll(fds, 3, static_cast<int>(std::min<int64_t>(left.count(), 1000))) < 0 && errno != EINTR) {
        return Status::Internal("poll failed");
      }
      if (fds[0].revents & POLLIN) {
        Drain(slot.wake.get());
        if (Stopping()) return Status::Unavailable("stopped while loading");
      }
      if (fds[2].revents & (POLLIN | POLLHUP)) {
        ReadStderr(slot, proc->stderr_fd(), stderr_open);
        FlushStderr(slot, false);
      }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        auto failure = ReadControl(slot, proc->control_fd(), true, &ready, &load_result);
        if (!load_result.ok()) break;
        if (failure) return stopped(failure->detail);
      }
    }
    if (!load_result.ok()) {
      proc->Kill();
      proc->Reap();
      FlushStderr(slot, true);
      return load_result;
    }
    {
      // The report itself, for Stats(): {"confinement": {...}} carries it.
      json::JsonDocument doc;
      simdjson::dom::object report;
      std::string minified;
      if (doc.Parse(*ready, "the worker's confinement report", 8).ok() &&
          doc.root()["confinement"].get_object().get(report) == simdjson::SUCCESS) {
        minified = simdjson::minify(report);
      }
      std::lock_guard lock(mu_);
      if (confinement_ != minified) {
        // Once per model, and again if a restarted worker got a different sandbox.
        spdlog::info("model {}: engine worker confinement: {}", options_.label, minified);
        if (minified.find("\"notes\":[]") == std::string::npos) {
          spdlog::warn("model {}: some confinement layers are missing on this machine (see docs/confinement.md)",
                       options_.label);
        }
      }
      confinement_ = std::move(minified);
    }
    std::lock_guard io(slot.io_mu);
    slot.worker = std::move(proc);
    slot.seq = 0;
    return Status::Ok();
  }

  // What the response loop left to the driver (see Slot::handoff_seq): the
  // response is answered now that the control socket has been read. Returns
  // the worker's failure, if the loop found one or the answer shows one.
  std::optional<Failure> TakeOverFromLoop(Slot& slot, WorkerProcess& proc) {
    std::optional<uint64_t> handoff;
    std::optional<Failure> failure;
    {
      std::lock_guard lock(mu_);
      handoff.swap(slot.handoff_seq);
      failure.swap(slot.loop_failure);
    }
    if (failure) return failure;
    if (handoff) return Deliver(slot, *handoff, proc.response_area(), nullptr);
    return std::nullopt;
  }

  // Serves until the worker fails (returned) or the pool stops (nullopt).
  std::optional<Failure> Serve(Slot& slot) {
    WorkerProcess& proc = *slot.worker;
    bool stderr_open = true;
    for (;;) {
      // Once the response loop watches the response eventfd, only it does.
      const bool watched = slot.watched.load(std::memory_order_relaxed);
      pollfd fds[6] = {{slot.wake.get(), POLLIN, 0},
                       {watched ? -1 : proc.response_event_fd(), POLLIN, 0},
                       {proc.control_fd(), POLLIN, 0},
                       {slot.timer.get(), POLLIN, 0},
                       {stderr_open ? proc.stderr_fd() : -1, POLLIN, 0},
                       {slot.index == 0 ? queue_timer_.get() : -1, POLLIN, 0}};
      if (::poll(fds, 6, -1) < 0) {
        if (errno == EINTR) continue;
        return Failure{RuntimeEvent::Kind::kWorkerCrashed, "poll failed"};
      }
      const bool woken = fds[0].revents & POLLIN;
      if (woken) {
        Drain(slot.wake.get());
        if (Stopping()) return std::nullopt;
      }
      if (fds[4].revents & (POLLIN | POLLHUP)) {
        ReadStderr(slot, proc.stderr_fd(), stderr_open);
        FlushStderr(slot, false);
      }
      // Control messages before the response: a sandbox violation the worker
      // reported during a request is recorded before that request completes.
      const bool responded = fds[1].revents & POLLIN;
      // A response handed over by the loop comes with a wake-up, and its
      // violation reports were written before it: read the socket in any case.
      if (woken || (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
        if (auto failure = ReadControl(slot, proc.control_fd(), false)) {
          // A worker that answered and then died still answered (ReadControl
          // marked the slot down: the queued requests wait for its successor).
          if (failure->kind == RuntimeEvent::Kind::kWorkerCrashed) {
            if (watched) TakeOverFromLoop(slot, proc);
            if (responded || watched) DeliverResponse(slot);
          }
          return failure;
        }
      }
      if (responded) {
        if (auto failure = DeliverResponse(slot)) return failure;
      }
      if (woken) {
        if (auto failure = TakeOverFromLoop(slot, proc)) return failure;
      }
      if (fds[3].revents & POLLIN) {
        Drain(slot.timer.get());
        std::lock_guard lock(mu_);
        const auto now = Clock::now();
        if (slot.running.empty()) {
          slot.timer_armed = false;  // idle: the next request arms it
        } else if (now - slot.started >= options_.request_timeout) {
          return Failure{RuntimeEvent::Kind::kWorkerTimedOut,
                         "an inference ran longer than " + Ms(options_.request_timeout)};
        } else {
          Arm(slot.timer, slot.started + options_.request_timeout - now);
        }
      }
      if (fds[5].revents & POLLIN) {
        Drain(queue_timer_.get());
        ExpireQueue();
      }
    }
  }

  // Takes the slot's worker, and the response loop's watch of it, away: what
  // the loop still does for that worker is dropped from here on.
  std::shared_ptr<WorkerProcess> TakeWorker(Slot& slot) {
    std::shared_ptr<WorkerProcess> proc;
    std::unique_ptr<EventLoop::Watch> watch;
    {
      std::lock_guard io(slot.io_mu);
      std::lock_guard lock(mu_);
      proc = std::move(slot.worker);
      watch = std::move(slot.watch);
      slot.watched = false;
      ++slot.generation;
      slot.handoff_seq.reset();
      slot.loop_failure.reset();
      slot.violations_seen = 0;
    }
    return proc;  // the watch stops here, outside the locks
  }

  // Kills and reaps the worker, fails the call it held, counts the failure.
  // Returns true when the version is withdrawn by it.
  bool HandleFailure(Slot& slot, const Failure& failure) {
    {
      std::lock_guard lock(mu_);
      slot.state = SlotState::kDown;  // no new request for it from here on
    }
    // Reaped without io_mu: a submitter (an I/O thread, see Plan) that takes it
    // finds no worker at once instead of waiting for a dying one.
    std::shared_ptr<WorkerProcess> proc = TakeWorker(slot);
    // A crashed worker is reported by its own signal; any other is killed now.
    const std::string how = failure.kind == RuntimeEvent::Kind::kWorkerCrashed ? proc->ReapDying(kDyingGrace)
                                                                               : (proc->Kill(), proc->Reap());
    proc.reset();
    FlushStderr(slot, true);
    std::vector<RunningCall> calls;
    bool withdraw = false;
    {
      std::lock_guard lock(mu_);
      Disarm(slot.timer);
      slot.timer_armed = false;
      calls.swap(slot.running);
      slot.state = SlotState::kDown;
      withdraw = CountFailure();
    }
    const std::string detail = failure.detail + " (" + how + ")";
    std::string failing;
    for (const RunningCall& call : calls) failing += (failing.empty() ? "; failing request " : ", ") + call.request_id;
    spdlog::error("model {}: engine worker {} {}: {}{}", options_.label, slot.index, RuntimeEventName(failure.kind),
                  detail, failing);
    // The event before the requests' answers: whoever waits for an answer then
    // finds the event recorded.
    Emit(failure.kind, detail);
    for (RunningCall& call : calls) {
      Complete(call.done, failure.kind == RuntimeEvent::Kind::kWorkerTimedOut
                              ? Status::Unavailable("inference did not finish within " + Ms(options_.request_timeout))
                              : Status::Internal(PublicMessage(StatusCode::kInternal)));
    }
    if (withdraw) Withdraw();
    return withdraw;
  }

  // Under mu_: records a failure; true when it is one too many.
  bool CountFailure() {
    const auto now = Clock::now();
    ++failures_total_;
    failures_.push_back(now);
    while (!failures_.empty() && now - failures_.front() > options_.failure_window) failures_.pop_front();
    return static_cast<int>(failures_.size()) > options_.max_failures && !withdrawn_;
  }

  void Withdraw() {
    std::deque<PendingCall> queued;
    {
      std::lock_guard lock(mu_);
      if (withdrawn_) return;
      withdrawn_ = true;
      queued.swap(queue_);
    }
    spdlog::error("model {}: withdrawn after {} engine failures within {} s", options_.label, options_.max_failures + 1,
                  options_.failure_window.count());
    Emit(RuntimeEvent::Kind::kWithdrawn, std::to_string(options_.max_failures + 1) + " engine failures within " +
                                             std::to_string(options_.failure_window.count()) + " s");
    for (PendingCall& call : queued) Complete(call.done, Unusable());
    for (auto& slot : slots_) Fire(slot->wake);
  }

  // Waits `delay` unless the pool stops first. False when it stopped.
  bool Pause(Slot& slot, milliseconds delay) {
    const auto until = Clock::now() + delay;
    for (;;) {
      if (Stopping()) return false;
      const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now());
      if (left.count() <= 0) return true;
      pollfd fd{slot.wake.get(), POLLIN, 0};
      if (::poll(&fd, 1, static_cast<int>(left.count())) > 0) Drain(slot.wake.get());
    }
  }

  void ReportFirstStart(const Status& status) {
    std::lock_guard lock(mu_);
    if (!status.ok() && load_error_.ok()) load_error_ = status;
    ++first_starts_;
    loaded_cv_.notify_all();
  }

  void MarkUp(Slot& slot) {
    {
      std::lock_guard lock(mu_);
      slot.state = SlotState::kBusy;  // ReleaseSlot takes queued work or marks it idle
    }
    ReleaseSlot(slot);
  }

  void DriverLoop(Slot& slot) {
    milliseconds backoff = kFirstBackoff;
    bool first = true;
    while (!Stopping()) {
      Status started = StartWorker(slot);
      if (first) {
        first = false;
        ReportFirstStart(started);
        if (!started.ok()) break;
      } else if (!started.ok()) {
        spdlog::error("model {}: engine worker {} did not restart: {}", options_.label, slot.index, started.message());
        bool withdraw;
        {
          std::lock_guard lock(mu_);
          withdraw = !stopping_ && CountFailure();
        }
        if (withdraw) Withdraw();
        if (!Pause(slot, backoff)) break;
        backoff = std::min(backoff * 2, kMaxBackoff);
        continue;
      } else {
        {
          std::lock_guard lock(mu_);
          ++restarts_;
        }
        spdlog::info("model {}: engine worker {} restarted", options_.label, slot.index);
        Emit(RuntimeEvent::Kind::kWorkerRestarted, "instance " + std::to_string(slot.index));
      }
      const auto up_since = Clock::now();
      MarkUp(slot);
      std::optional<Failure> failure = Serve(slot);
      if (!failure) break;
      if (HandleFailure(slot, *failure)) break;
      if (Clock::now() - up_since > kStableUptime) backoff = kFirstBackoff;
      if (!Pause(slot, backoff)) break;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    StopSlot(slot);
  }

  // The pool stopped or the version was withdrawn: end the worker and fail
  // what the slot held.
  void StopSlot(Slot& slot) {
    if (std::shared_ptr<WorkerProcess> proc = TakeWorker(slot)) {
      // Here, without io_mu, although the response loop may still hold it.
      proc->Kill();
      proc->Reap();
    }
    std::vector<RunningCall> calls;
    {
      std::lock_guard lock(mu_);
      calls.swap(slot.running);
      slot.state = SlotState::kDown;
    }
    const Status unusable = Unusable();
    for (RunningCall& call : calls) Complete(call.done, unusable);
  }

  // The largest kResponse payload a stream worker may send.
  uint64_t StreamFrameLimit() const { return worker::kStreamHeaderBytes + options_.max_response_bytes; }

  const ModelFormat format_;
  const RuntimeOptions options_;
  bool stream_ = false;  // the worker speaks the stream transport (fixed at construction)
  const UniqueFd model_;
  WorkerLaunch launch_;
  std::vector<std::unique_ptr<Slot>> slots_;  // fixed after Start
  uint64_t idle_count_ = 0;                   // under mu_: orders the slots by when they went idle
  uint64_t alone_streak_ = 0;                 // under mu_: calls in a row that were the model's only one (AloneLocked)
  UniqueFd queue_timer_;                      // armed for the oldest queued call; slot 0's driver polls it

  mutable std::mutex mu_;
  std::condition_variable loaded_cv_;
  std::deque<PendingCall> queue_;
  // How long a request takes a worker (moving average), for batching.
  Clock::duration service_per_request_{};
  // When queue_timer_ fires; max() while it is disarmed.
  Clock::time_point queue_timer_due_ = Clock::time_point::max();
  int first_starts_ = 0;
  Status load_error_;
  bool stopping_ = false;
  Status stop_reason_;
  bool withdrawn_ = false;
  std::string platform_;
  ModelSignature signature_;
  std::string signature_json_;
  std::string confinement_;
  std::deque<Clock::time_point> failures_;
  uint64_t failures_total_ = 0;
  uint64_t restarts_ = 0;
  uint64_t violations_ = 0;
};

// The ModelInstances the registry holds: destroying it stops the pool.
class ConfinedInstances final : public ModelInstances {
 public:
  explicit ConfinedInstances(std::shared_ptr<Pool> pool) : pool_(std::move(pool)) {}
  ~ConfinedInstances() override { pool_->Shutdown(Status::Unavailable("the model version is no longer served")); }

  ModelFormat format() const override { return pool_->format(); }
  std::string_view platform() const override { return pool_->platform(); }
  const ModelSignature& signature() const override { return pool_->signature(); }
  void Submit(std::vector<Tensor> inputs, std::string request_id, InferenceDone done) override {
    pool_->Submit(std::move(inputs), std::move(request_id), std::move(done));
  }
  bool Ready() const override { return pool_->Ready(); }
  bool SubmitHandsOver() const override { return pool_->SubmitHandsOver(); }
  InstanceStats Stats() const override { return pool_->Stats(); }
  void Shutdown() override { pool_->Shutdown(Status::Unavailable("the server is shutting down")); }

 private:
  std::shared_ptr<Pool> pool_;
};

}  // namespace

std::vector<std::string> DefaultWorkerCommand() { return {"/proc/self/exe", "engine-worker"}; }

StatusOr<std::shared_ptr<ModelInstances>> LoadConfined(ModelFormat format, std::span<const uint8_t> model_bytes,
                                                       const RuntimeOptions& options) {
  AEGIS_ASSIGN_OR_RETURN(UniqueFd model, SealedModelFile(model_bytes));
  auto pool = std::make_shared<Pool>(format, options, std::move(model));
  AEGIS_RETURN_IF_ERROR(pool->Start());
  return std::shared_ptr<ModelInstances>(std::make_shared<ConfinedInstances>(std::move(pool)));
}

}  // namespace aegis::runtime::internal
