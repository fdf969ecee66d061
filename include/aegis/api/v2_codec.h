// KServe v2 (Open Inference Protocol) REST codec: inference requests in, inference
// responses out, including the binary tensor data extension.
//
// Parsing treats every byte as hostile: simdjson with the body size already
// bounded by the server; nesting of `data` bounded by the declared rank; the
// element count must equal the product of the shape (overflow-checked) before any
// allocation proportional to it; numbers must fit the datatype exactly (no silent
// truncation: 300 is not a UINT8, 1.5 is not an INT32); binary sections must
// exactly tile the bytes after the JSON header.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/runtime/tensor.h"

namespace aegis::api {

struct RequestedOutput {
  std::string name;
  bool binary_data = false;
};

struct InferRequest {
  std::optional<std::string> id;
  std::vector<runtime::Tensor> inputs;
  // Empty means "all outputs".
  std::vector<RequestedOutput> outputs;
  // parameters.binary_data_output: default for outputs not listed explicitly.
  bool binary_data_output = false;
};

// `body` is the whole HTTP body. `json_header_length` is the value of the
// Inference-Header-Content-Length header when present: the JSON part is the first
// that many bytes and the binary tensor sections follow. InvalidArgument with a
// precise message on anything malformed.
//
// Limits: JSON nesting <= 32 levels; rank <= 16; each dimension <= 2^31-1; for
// JSON data, at most one element per byte of JSON. `data` may be flat or nested
// exactly as the shape. Repeated known keys ("inputs", "shape", ...) and repeated
// input or output names are refused; unknown keys are ignored. Numbers must be
// strict JSON (no NaN/Infinity: send those as binary data). Binary BOOL bytes
// must be 0 or 1; binary BYTES sections must hold exactly the shape's element count.
StatusOr<InferRequest> ParseInferRequest(std::string_view body, std::optional<uint64_t> json_header_length);

struct EncodedResponse {
  std::string body;
  // Set when any output is sent as binary data: the length of the JSON part, to go
  // into the Inference-Header-Content-Length response header.
  std::optional<uint64_t> json_header_length;
  std::string content_type;  // "application/json" or "application/octet-stream"
};

// Builds the response for `outputs` (already filtered to the requested ones, in
// order). Outputs marked binary go as binary sections (parameters.binary_data_size).
// Floating-point values are written in the shortest form that round-trips exactly.
// JSON has no spelling for non-finite numbers; like Triton and Python's json module
// they are written as NaN, Infinity and -Infinity (clients that need strict JSON
// ask for binary outputs). `binary` is empty (all JSON) or one flag per output.
// An empty `model_version` is omitted (the protocol makes it optional). BYTES
// outputs sent as JSON have invalid UTF-8 replaced by U+FFFD; binary keeps the
// exact bytes. Internal if an output's data does not match its shape and datatype.
// TooLarge if the body would exceed `max_bytes`: encoding stops as soon as that
// is certain (before any allocation when the smallest possible encoding is
// already over), so the limit also bounds the memory spent finding out.
StatusOr<EncodedResponse> EncodeInferResponse(std::string_view model_name, std::string_view model_version,
                                              const std::optional<std::string>& id,
                                              std::span<const runtime::TensorView> outputs,
                                              const std::vector<bool>& binary, uint64_t max_bytes = UINT64_MAX);
inline StatusOr<EncodedResponse> EncodeInferResponse(std::string_view model_name, std::string_view model_version,
                                                     const std::optional<std::string>& id,
                                                     const std::vector<runtime::Tensor>& outputs,
                                                     const std::vector<bool>& binary, uint64_t max_bytes = UINT64_MAX) {
  return EncodeInferResponse(model_name, model_version, id, runtime::ViewsOf(outputs), binary, max_bytes);
}

// A JSON string literal (with quotes) for `s`; invalid UTF-8 is replaced by U+FFFD.
std::string JsonQuote(std::string_view s);

}  // namespace aegis::api
