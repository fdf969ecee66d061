// The engine worker protocol: how the server and a confined engine worker process
// talk (internal to the runtime module; docs/worker-protocol.md is the reference
// for implementing a worker in another language).
//
// A worker is started with exactly these file descriptors and nothing else:
//   3  control socket (AF_UNIX, SOCK_STREAM): framed JSON messages, both ways
//   4  model memfd: the decrypted artifact, sealed (no write, no resize)
//   5  arena memfd: shared memory for tensors, sealed against resizing
//   6  request eventfd: the server adds 1 when a request is in the arena
//   7  response eventfd: the worker adds 1 when the response is in the arena
// and stdin/stdout on /dev/null, stderr on a pipe the server logs from.
//
// Control frames are a 4-byte little-endian length, a 1-byte type and that many
// minus one bytes of UTF-8 JSON. Requests and responses never travel on the
// socket: they are written in the arena, whose layout is fixed below, and
// announced with the eventfds, so tensor bytes cross the process boundary once.
//
// The stream transport (for workers that cannot map memory or wait on an
// eventfd, such as the ONNX Runtime worker in node): after `ready`, requests and
// responses travel on the control socket as kRequest/kResponse frames whose
// payload is a 64-byte header (u64 sequence number, zero padding) and then the
// same tensor list or response the arena would hold. Descriptors 5-7 are
// absent. The limits are the arena's capacities.
//
// Everything a worker writes is untrusted: the server copies every header field
// out of shared memory once, then checks it against the arena's bounds, and
// never trusts a length twice (the worker could change it in between).
//
// Thread-safety: pure functions and value types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/runtime/tensor.h"

namespace aegis::runtime::worker {

inline constexpr uint32_t kProtocolVersion = 1;

// The descriptor numbers a worker finds at start.
inline constexpr int kControlFd = 3;
inline constexpr int kModelFd = 4;
inline constexpr int kArenaFd = 5;
inline constexpr int kRequestEventFd = 6;
inline constexpr int kResponseEventFd = 7;
inline constexpr int kFirstUnusedFd = 8;

// ---------------------------------------------------------------------------
// Control frames

enum class MessageType : uint8_t {
  kHello = 1,       // worker → server, first: {"protocol", "pid", "engine"}
  kLoaded = 2,      // worker → server: the model's signature (see SignatureJson)
  kLoadFailed = 3,  // worker → server: {"error": public, "detail": private}
  kReady = 4,       // worker → server: {"confinement": {...}}; requests may follow
  kViolation = 5,   // worker → server: {"syscall": N} a refused system call
  kLog = 6,         // worker → server: {"level", "message"} (engine warnings)
  kRequest = 7,     // server → worker (stream transport): seq header + tensor list
  kResponse = 8,    // worker → server (stream transport): seq header + response
};

// The stream transport's payload header: u64 sequence number, 56 zero bytes.
inline constexpr size_t kStreamHeaderBytes = 64;

inline constexpr size_t kFrameHeaderBytes = 5;
// A control message never needs more; a bigger frame is a protocol violation.
inline constexpr uint32_t kMaxFramePayload = 256 * 1024;

// Appends one frame (header + payload) to `out`.
void AppendFrame(MessageType type, std::string_view payload, std::string& out);

// Incremental reader for the control stream: Feed bytes, then Next until empty.
// Control messages are at most kMaxFramePayload; kRequest/kResponse frames (the
// stream transport) at most `max_tensor_payload`, and refused when it is 0.
class FrameReader {
 public:
  explicit FrameReader(uint64_t max_tensor_payload = 0) : max_tensor_payload_(max_tensor_payload) {}
  struct Frame {
    MessageType type;
    std::string payload;
  };
  void Feed(std::span<const uint8_t> bytes);
  // A complete frame, nullopt when more bytes are needed; an error when the stream
  // cannot be a valid frame sequence (then the worker is treated as hostile).
  StatusOr<std::optional<Frame>> Next();
  size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  uint64_t max_tensor_payload_;
  std::string buffer_;
  size_t consumed_ = 0;
};

// ---------------------------------------------------------------------------
// The arena: [header page][request area][response area]
//
// The header holds two sequence numbers, each on its own cache line: the server
// writes `request_seq` after the request bytes, then signals the request eventfd;
// the worker writes `response_seq` (equal to the request's) after the response
// bytes, then signals the response eventfd.
//
// Before `response_seq` the worker writes `response_violations`, how many
// sandbox violations it has reported on the control socket so far: the server
// records them before it answers the request that caused them, although the
// control socket and the response eventfd may be read on different threads.
//
// `request_poll` (written with `request_count`, before `request_seq`) is a hint
// the worker may ignore; it is never needed for correctness, since every
// request is also signalled on the eventfd.
//
// Batches: a worker whose hello says {"batch": N} may be given up to N requests
// at once. The server writes `request_count` (1 otherwise) before `request_seq`;
// request i of a batch of n is a tensor list at BatchShare(request area, n, i),
// and its response goes at BatchShare(response area, n, i). A worker that does
// not announce batches always gets one request, in the whole area. The stream
// transport has no batches: one request at a time, whatever the hello says.

inline constexpr uint64_t kArenaMagic = 0x3152414749454741ull;  // "AEGIAR1" + 0x31, little-endian
inline constexpr size_t kArenaHeaderBytes = 4096;
inline constexpr size_t kTensorAlignment = 64;

struct ArenaHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t reserved0;
  uint64_t arena_bytes;
  uint64_t request_offset;
  uint64_t request_capacity;
  uint64_t response_offset;
  uint64_t response_capacity;
  alignas(64) uint64_t request_seq;  // offset 64
  uint64_t request_count;            // offset 72: requests in this batch
  // offset 80: 1 when this request (and the few before it) was the only one
  // the server had for the model (none queued, no other instance busy; see
  // Pool::AloneLocked in confined_instances.cc), as with a client that waits
  // for each answer before it asks again: the worker may then watch
  // request_seq for a moment after answering before it sleeps on the eventfd.
  // 0 under load, when watching would only take a core from the server.
  uint64_t request_poll;
  alignas(64) uint64_t response_seq;  // offset 128
  // offset 136: violation reports the worker had sent on the control socket
  // when it published the response (written before response_seq). A server
  // that has read fewer reads them before it hands the response over.
  uint64_t response_violations;
};
static_assert(sizeof(ArenaHeader) <= kArenaHeaderBytes);

// The most requests a batch may hold.
inline constexpr uint64_t kMaxBatch = 64;

// Bytes of one request's (or response's) share of an area of `capacity` bytes
// in a batch of `count`: equal shares, each a multiple of kTensorAlignment.
inline uint64_t BatchShareBytes(uint64_t capacity, uint64_t count) {
  return count <= 1 ? capacity : capacity / count / 64 * 64;
}
// Share `i` of `area` in a batch of `count` (i < count).
template <typename T>
std::span<T> BatchShare(std::span<T> area, uint64_t count, uint64_t i) {
  const uint64_t share = BatchShareBytes(area.size(), count);
  return area.subspan(i * share, share);
}

// The layout for areas of the given capacities (each rounded up to a page).
ArenaHeader ArenaLayout(uint64_t request_capacity, uint64_t response_capacity);
// Checks a header read from shared memory against the mapping's size.
Status CheckArenaLayout(const ArenaHeader& header, uint64_t mapped_bytes);

// ---------------------------------------------------------------------------
// Tensor lists (request inputs, response outputs)
//
//   u32 count, u32 reserved (0)
//   count entries, each:
//     u16 name_bytes, u8 datatype (DataTypeCode), u8 rank, u32 reserved (0)
//     u64 data_offset (from the list start, a multiple of 64), u64 data_bytes
//     i64 dims[rank]
//     name bytes, zero-padded to a multiple of 8
//   data blocks at their offsets
//
// Datatype codes are the KServe v2 datatypes in this fixed order (0 is invalid):
// BOOL=1 UINT8=2 UINT16=3 UINT32=4 UINT64=5 INT8=6 INT16=7 INT32=8 INT64=9
// FP16=10 FP32=11 FP64=12 BYTES=13. BYTES data uses the tensor.h layout.

inline constexpr uint32_t kMaxTensors = 1024;
inline constexpr size_t kMaxTensorName = 256;
inline constexpr size_t kMaxRank = 16;

uint8_t DataTypeCode(DataType type);
std::optional<DataType> DataTypeFromCode(uint8_t code);

// Bytes EncodeTensorList needs for `tensors`; nullopt on overflow.
std::optional<uint64_t> EncodedTensorListSize(std::span<const TensorView> tensors);
// Writes the list into `out` (at least EncodedTensorListSize bytes, 64-aligned).
// Returns the bytes written; OutOfRange-like TooLarge when it does not fit.
StatusOr<uint64_t> EncodeTensorList(std::span<const TensorView> tensors, std::span<uint8_t> out);
// Tensors parsed out of shared memory. Names and BYTES data are copied into
// `owned` (they are checked, and must not change after the check); the bytes of
// fixed-size datatypes stay where they are: a peer that rewrites them can only
// change the numbers, never a length. Move-only: the views point into `owned`.
struct DecodedTensors {
  std::vector<TensorView> views;
  std::deque<std::string> owned;

  DecodedTensors() = default;
  DecodedTensors(DecodedTensors&&) = default;
  DecodedTensors& operator=(DecodedTensors&&) = default;
  DecodedTensors(const DecodedTensors&) = delete;
  DecodedTensors& operator=(const DecodedTensors&) = delete;
};

// Parses a list in `in` (which may be shared memory a hostile peer can change:
// every field is read once). Checks bounds, datatypes, ranks, names (UTF-8,
// unique) and that each data block has exactly the bytes its shape and datatype
// need (BYTES: well-formed length prefixes).
StatusOr<DecodedTensors> DecodeTensorList(std::span<const uint8_t> in);

// ---------------------------------------------------------------------------
// Responses: a fixed header, then either a message (failure) or a tensor list.
//   u32 status (ResponseStatus), u32 public_bytes, u32 detail_bytes, u32 reserved
//   u64 list_offset (from the response start, 64-aligned; 0 on failure)
//   public message, detail (UTF-8)

enum class ResponseStatus : uint32_t {
  kOk = 0,
  kInvalidInput = 1,    // the input does not fit the model (client's error: 400)
  kEngineError = 2,     // the engine failed (500)
  kOutputTooLarge = 3,  // outputs do not fit the response area (500, says so)
};

inline constexpr size_t kResponseHeaderBytes = 24;
inline constexpr size_t kMaxResponseMessage = 4096;

struct DecodedResponse {
  ResponseStatus status = ResponseStatus::kOk;
  std::string public_message;  // safe for a client
  std::string detail;          // the engine's own words: for the server log only
  DecodedTensors outputs;
};

// Writes a failure response; returns its size.
uint64_t EncodeFailure(ResponseStatus status, std::string_view public_message, std::string_view detail,
                       std::span<uint8_t> out);
// Writes a success response holding `outputs`; TooLarge when they do not fit.
StatusOr<uint64_t> EncodeSuccess(std::span<const TensorView> outputs, std::span<uint8_t> out);
StatusOr<DecodedResponse> DecodeResponse(std::span<const uint8_t> in);

// The stream transport. A kRequest frame (header and payload) for `inputs`,
// appended to `out`; TooLarge when the tensor list exceeds `capacity`.
Status AppendStreamRequest(uint64_t seq, std::span<const TensorView> inputs, uint64_t capacity, std::string& out);
// A kResponse payload: its sequence number and the response (views into `in`).
struct StreamResponse {
  uint64_t seq = 0;
  DecodedResponse response;
};
StatusOr<StreamResponse> DecodeStreamResponse(std::span<const uint8_t> in);

// ---------------------------------------------------------------------------
// Signatures in kLoaded messages:
// {"platform": "...", "inputs": [spec...], "outputs": [spec...]}, spec =
// {"name", "datatype" (KServe name), "shape" ([-1 for variable]), "rank_known",
// "datatype_fixed"}.

struct LoadedModel {
  std::string platform;
  ModelSignature signature;
};

std::string SignatureJson(const LoadedModel& model);
StatusOr<LoadedModel> ParseSignatureJson(std::string_view text);

}  // namespace aegis::runtime::worker
