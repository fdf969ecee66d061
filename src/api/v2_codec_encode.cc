// EncodeInferResponse: output tensors -> KServe v2 REST inference response, with
// binary sections for outputs that asked for them. See v2_codec.h.
//
// BYTES outputs sent as JSON go through the same escaping as every string: bytes
// that are not valid UTF-8 become U+FFFD. The response stays valid JSON; a client
// that needs the exact bytes of a non-text BYTES output asks for binary_data,
// which carries them untouched. (Switching such outputs to binary on our own
// would hand a client a format it did not ask for and may not read.)
#include <algorithm>
#include <cstring>

#include "aegis/api/v2_codec.h"
#include "aegis/runtime/fp16.h"
#include "json_writer.h"
#include "v2_bytes.h"
#include "v2_json_data.h"

namespace aegis::api {
namespace {

using internal::kMaxNumberChars;
using runtime::DataType;

std::string OutputLabel(const runtime::TensorView& t) { return "output '" + std::string(t.name.substr(0, 64)) + "'"; }

// Engines produce outputs, so an inconsistent tensor is our bug or the engine's,
// not the client's: Internal.
Status CheckOutput(const runtime::TensorView& t, uint64_t* count) {
  const std::optional<uint64_t> n = t.ElementCount();
  if (!n) return Status::Internal(OutputLabel(t) + ": invalid shape " + internal::ShapeString(t.shape));
  *count = *n;
  const size_t element_size = runtime::DataTypeSize(t.datatype);
  if (element_size == 0) {
    const std::string_view bytes(reinterpret_cast<const char*>(t.data.data()), t.data.size());
    const std::optional<uint64_t> got = internal::CountBytesElements(bytes);
    if (!got || *got != *n) {
      return Status::Internal(OutputLabel(t) + ": BYTES data does not hold " + std::to_string(*n) + " elements");
    }
    return Status::Ok();
  }
  if (*n > t.data.size() / element_size || *n * element_size != t.data.size()) {
    return Status::Internal(OutputLabel(t) + ": " + std::to_string(t.data.size()) + " bytes of data do not fit shape " +
                            internal::ShapeString(t.shape) + " of " + std::string(runtime::DataTypeName(t.datatype)));
  }
  return Status::Ok();
}

// Appends `[v0,v1,...]`. Writes straight into the string a chunk at a time: each
// chunk is sized for the longest number, then trimmed, which keeps per-element
// work to one to_chars call without over-allocating for big tensors.
// Stops (returns false) once `out` is longer than `max`, checked per chunk, so
// an oversized response costs at most one chunk past the limit.
template <typename T, typename Format>
bool AppendNumbers(std::string& out, const uint8_t* data, uint64_t count, uint64_t max, Format format) {
  out.push_back('[');
  constexpr uint64_t kChunk = 1024;
  for (uint64_t i = 0; i < count;) {
    if (out.size() > max) return false;
    const uint64_t n = std::min(kChunk, count - i);
    const size_t old = out.size();
    out.resize(old + n * (kMaxNumberChars + 1));
    char* p = out.data() + old;
    for (uint64_t end = i + n; i < end; ++i) {
      T v;
      std::memcpy(&v, data + i * sizeof(T), sizeof(T));
      p = format(p, v);
      *p++ = ',';
    }
    out.resize(static_cast<size_t>(p - out.data()));
  }
  if (count != 0) {
    out.back() = ']';  // Replaces the trailing comma.
  } else {
    out.push_back(']');
  }
  return out.size() <= max;
}

bool AppendJsonData(std::string& out, const runtime::TensorView& t, uint64_t count, uint64_t max) {
  const uint8_t* d = t.data.data();
  const auto as_int = [](char* p, auto v) { return internal::WriteInt(p, static_cast<int64_t>(v)); };
  switch (t.datatype) {
    case DataType::kBool:
      return AppendNumbers<uint8_t>(out, d, count, max, [](char* p, uint8_t v) {
        const std::string_view s = v != 0 ? "true" : "false";
        std::memcpy(p, s.data(), s.size());
        return p + s.size();
      });
    case DataType::kUint8:
      return AppendNumbers<uint8_t>(out, d, count, max, as_int);
    case DataType::kUint16:
      return AppendNumbers<uint16_t>(out, d, count, max, as_int);
    case DataType::kUint32:
      return AppendNumbers<uint32_t>(out, d, count, max, as_int);
    case DataType::kUint64:
      return AppendNumbers<uint64_t>(out, d, count, max, internal::WriteUint);
    case DataType::kInt8:
      return AppendNumbers<int8_t>(out, d, count, max, as_int);
    case DataType::kInt16:
      return AppendNumbers<int16_t>(out, d, count, max, as_int);
    case DataType::kInt32:
      return AppendNumbers<int32_t>(out, d, count, max, as_int);
    case DataType::kInt64:
      return AppendNumbers<int64_t>(out, d, count, max, internal::WriteInt);
    case DataType::kFp16:
      return AppendNumbers<uint16_t>(
          out, d, count, max, [](char* p, uint16_t v) { return internal::WriteFloat(p, runtime::HalfToFloat(v)); });
    case DataType::kFp32:
      return AppendNumbers<float>(out, d, count, max, internal::WriteFloat);
    case DataType::kFp64:
      return AppendNumbers<double>(out, d, count, max, internal::WriteDouble);
    case DataType::kBytes: {
      out.push_back('[');
      bool first = true;
      const std::string_view bytes(reinterpret_cast<const char*>(d), t.data.size());
      internal::ForEachBytesElement(bytes, [&](std::string_view element) {
        if (out.size() > max) return;  // over: skip the rest
        if (!first) out.push_back(',');
        first = false;
        internal::AppendJsonString(out, element);
      });
      out.push_back(']');
      return out.size() <= max;
    }
  }
  return false;
}

Status ResponseTooLarge(uint64_t max) {
  return Status::TooLarge("the response is larger than " + std::to_string(max) + " bytes");
}

void AppendUint(std::string& out, uint64_t v) {
  char buf[kMaxNumberChars];
  out.append(buf, internal::WriteUint(buf, v));
}

}  // namespace

StatusOr<EncodedResponse> EncodeInferResponse(std::string_view model_name, std::string_view model_version,
                                              const std::optional<std::string>& id,
                                              std::span<const runtime::TensorView> outputs,
                                              const std::vector<bool>& binary, uint64_t max_bytes) {
  if (!binary.empty() && binary.size() != outputs.size()) {
    return Status::Internal("binary flags for " + std::to_string(binary.size()) + " outputs, but " +
                            std::to_string(outputs.size()) + " outputs");
  }
  const auto is_binary = [&](size_t i) { return !binary.empty() && binary[i]; };

  size_t estimate = 128 + model_name.size() + model_version.size() + (id ? id->size() : 0);
  // The smallest body these outputs can make: binary sections exactly, and at
  // least one character and a comma per JSON element.
  uint64_t at_least = 0;
  for (size_t i = 0; i < outputs.size(); ++i) {
    uint64_t count = 0;
    AEGIS_RETURN_IF_ERROR(CheckOutput(outputs[i], &count));
    estimate += 96 + outputs[i].name.size() + outputs[i].shape.size() * 8;
    // Binary sections are copied as they are; JSON numbers average well under 16 chars.
    estimate += is_binary(i) ? outputs[i].data.size() : std::min<uint64_t>(count, 4096) * 16;
    at_least += is_binary(i) ? outputs[i].data.size() : 2 * count;
  }
  if (at_least > max_bytes) return ResponseTooLarge(max_bytes);
  estimate = static_cast<size_t>(std::min<uint64_t>(estimate, max_bytes));

  EncodedResponse response;
  std::string& out = response.body;
  out.reserve(estimate);
  out += "{\"model_name\":";
  internal::AppendJsonString(out, model_name);
  // The protocol makes model_version optional; an unversioned model omits it.
  if (!model_version.empty()) {
    out += ",\"model_version\":";
    internal::AppendJsonString(out, model_version);
  }
  if (id) {
    out += ",\"id\":";
    internal::AppendJsonString(out, *id);
  }
  out += ",\"outputs\":[";
  bool any_binary = false;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const runtime::TensorView& t = outputs[i];
    if (i != 0) out.push_back(',');
    out += "{\"name\":";
    internal::AppendJsonString(out, t.name);
    out += ",\"datatype\":\"";
    out += runtime::DataTypeName(t.datatype);
    out += "\",\"shape\":[";
    for (size_t k = 0; k < t.shape.size(); ++k) {
      if (k != 0) out.push_back(',');
      char buf[kMaxNumberChars];
      out.append(buf, internal::WriteInt(buf, t.shape[k]));
    }
    out.push_back(']');
    if (is_binary(i)) {
      any_binary = true;
      out += ",\"parameters\":{\"binary_data_size\":";
      AppendUint(out, t.data.size());
      out += "}}";
    } else {
      out += ",\"data\":";
      if (!AppendJsonData(out, t, *t.ElementCount(), max_bytes))
        return ResponseTooLarge(max_bytes);  // Count checked above.
      out.push_back('}');
    }
  }
  out += "]}";
  uint64_t total = out.size();
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (is_binary(i)) total += outputs[i].data.size();
  }
  if (total > max_bytes) return ResponseTooLarge(max_bytes);

  if (!any_binary) {
    response.content_type = "application/json";
    return response;
  }
  response.json_header_length = out.size();
  response.content_type = "application/octet-stream";
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (is_binary(i)) out.append(reinterpret_cast<const char*>(outputs[i].data.data()), outputs[i].data.size());
  }
  return response;
}

}  // namespace aegis::api
