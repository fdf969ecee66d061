// ParseInferRequest: KServe v2 REST inference request (JSON plus the binary tensor
// data extension) -> InferRequest. See v2_codec.h for the contract.
//
// Limits, all checked before any allocation proportional to them:
//   JSON nesting   <= kMaxJsonDepth (simdjson refuses deeper documents; the
//                     deepest legitimate request is a rank-16 nested `data`, depth 19)
//   rank           <= kMaxRank
//   dimension      <= kMaxDimension (no accepted body could back a larger one)
//   element count  product of the shape without overflow, and for JSON data at
//                  most one element per byte of JSON (each needs >= 1 byte).
// Duplicate known keys ("inputs" twice, "shape" twice...) are refused rather than
// resolved: a proxy that reads the first and a server that reads the last would
// disagree about what was asked. Unknown keys are ignored, as the protocol's
// extensions (e.g. "parameters" entries) rely on that.
#include <algorithm>
#include <limits>

#include <simdjson.h>

#include "aegis/api/v2_codec.h"
#include "v2_bytes.h"
#include "v2_json_data.h"

namespace aegis::api {
namespace {

using runtime::DataType;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

constexpr size_t kMaxJsonDepth = 32;
constexpr size_t kMaxRank = 16;
constexpr int64_t kMaxDimension = std::numeric_limits<int32_t>::max();
// Parsers keep their buffers between requests on a thread; a request bigger than
// this gets a parser of its own so one large body does not pin memory per thread.
constexpr size_t kKeepParserBytes = size_t{1} << 20;

Status Invalid(std::string message) { return Status::InvalidArgument(std::move(message)); }

// Tracks which known keys of one object were seen, to refuse duplicates.
class SeenKeys {
 public:
  // True the first time `bit` is marked.
  bool First(unsigned bit) {
    const bool first = (mask_ & (1u << bit)) == 0;
    mask_ |= 1u << bit;
    return first;
  }

 private:
  unsigned mask_ = 0;
};

// Names an input or output in error messages: "input 0" until its name is known,
// then "input 'x'". The text is only built when a message is, keeping string
// allocations off the success path.
class Where {
 public:
  Where(const char* kind, size_t index) : kind_(kind), index_(index) {}
  void SetName(std::string_view name) { name_ = name; }
  std::string str() const {
    if (name_.empty()) return std::string(kind_) + " " + std::to_string(index_);
    constexpr size_t kMaxShown = 64;  // Client-chosen names can be long.
    return std::string(kind_) + " '" + std::string(name_.substr(0, kMaxShown)) +
           (name_.size() > kMaxShown ? "...'" : "'");
  }
  friend std::string operator+(const Where& where, std::string_view text) { return where.str().append(text); }

 private:
  const char* kind_;
  size_t index_;
  std::string_view name_;
};

Status DuplicateKey(std::string_view where, std::string_view key) {
  return Invalid(std::string(where) + ": duplicate key '" + std::string(key) + "'");
}
Status DuplicateKey(const Where& where, std::string_view key) { return DuplicateKey(where.str(), key); }

// Binary sections after the JSON header, consumed in input order.
struct BinaryCursor {
  bool present = false;  // Inference-Header-Content-Length was given.
  std::string_view bytes;
  size_t offset = 0;
};

// A non-negative JSON integer.
bool GetSize(element e, uint64_t* out) {
  if (e.type() == element_type::UINT64) {
    *out = e.get_uint64().value_unsafe();
    return true;
  }
  if (e.type() == element_type::INT64 && e.get_int64().value_unsafe() >= 0) {
    *out = static_cast<uint64_t>(e.get_int64().value_unsafe());
    return true;
  }
  return false;
}

Status ParseShape(element e, const Where& label, std::vector<int64_t>& shape) {
  simdjson::dom::array dims;
  if (e.get_array().get(dims) != simdjson::SUCCESS) return Invalid(label + ": 'shape' must be an array of integers");
  const size_t rank = dims.size();
  if (rank > kMaxRank) {
    return Invalid(label + ": rank " + std::to_string(rank) + " exceeds the maximum of " + std::to_string(kMaxRank));
  }
  shape.reserve(rank);
  for (element d : dims) {
    const auto which = [&] { return label + ": dimension " + std::to_string(shape.size()); };
    if (d.type() == element_type::UINT64) return Invalid(which() + " exceeds " + std::to_string(kMaxDimension));
    if (d.type() != element_type::INT64) return Invalid(which() + " must be an integer");
    const int64_t v = d.get_int64().value_unsafe();
    if (v < 0) return Invalid(which() + " is " + std::to_string(v) + "; dimensions must be non-negative");
    if (v > kMaxDimension) return Invalid(which() + " exceeds " + std::to_string(kMaxDimension));
    shape.push_back(v);
  }
  return Status::Ok();
}

// Takes `size` bytes of binary data for `tensor` and checks they fit its shape.
Status TakeBinaryData(BinaryCursor& binary, uint64_t size, uint64_t count, const Where& label,
                      runtime::Tensor& tensor) {
  const size_t left = binary.bytes.size() - binary.offset;
  if (size > left) {
    return Invalid(label + ": binary_data_size " + std::to_string(size) + " exceeds the " + std::to_string(left) +
                   " bytes of binary data left");
  }
  const std::string_view section = binary.bytes.substr(binary.offset, size);
  binary.offset += size;

  const size_t element_size = runtime::DataTypeSize(tensor.datatype);
  if (element_size == 0) {  // BYTES: the section must be exactly `count` length-prefixed elements.
    const std::optional<uint64_t> got = internal::CountBytesElements(section);
    if (!got) return Invalid(label + ": binary BYTES data has a length prefix that runs past its section");
    if (*got != count) {
      return Invalid(label + ": binary BYTES data holds " + std::to_string(*got) + " elements, shape " +
                     internal::ShapeString(tensor.shape) + " needs " + std::to_string(count));
    }
  } else if (count > size / element_size || count * element_size != size) {
    return Invalid(label + ": binary_data_size " + std::to_string(size) + " does not match shape " +
                   internal::ShapeString(tensor.shape) + " of " + std::string(runtime::DataTypeName(tensor.datatype)) +
                   " (" + (count > size ? std::string("more") : std::to_string(count * element_size)) + " bytes)");
  }
  if (tensor.datatype == DataType::kBool) {
    for (size_t i = 0; i < section.size(); ++i) {
      const auto b = static_cast<unsigned char>(section[i]);
      if (b > 1)
        return Invalid(label + ": BOOL element " + std::to_string(i) + " is " + std::to_string(b) + ", not 0 or 1");
    }
  }
  tensor.data.assign(section.begin(), section.end());
  return Status::Ok();
}

Status ParseInput(element e, size_t index, std::string_view json, BinaryCursor& binary, runtime::Tensor& tensor) {
  Where label("input", index);
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) return Invalid(label + " must be an object");

  // Known keys in a fixed order; fields[i] holds the value of kKeys[i].
  static constexpr std::string_view kKeys[] = {"name", "datatype", "shape", "data", "parameters"};
  std::optional<element> fields[std::size(kKeys)];
  SeenKeys seen;
  for (const auto field : obj) {
    const auto* known = std::find(std::begin(kKeys), std::end(kKeys), field.key);
    if (known == std::end(kKeys)) continue;
    const auto slot = static_cast<unsigned>(known - std::begin(kKeys));
    if (!seen.First(slot)) return DuplicateKey(label, field.key);
    fields[slot] = field.value;
  }
  const auto& [name, datatype, shape, data, parameters] = fields;

  std::string_view name_value;
  if (!name || name->get_string().get(name_value) != simdjson::SUCCESS || name_value.empty()) {
    return Invalid(label + ": 'name' must be a non-empty string");
  }
  tensor.name = std::string(name_value);
  label.SetName(name_value);

  std::string_view datatype_name;
  if (!datatype || datatype->get_string().get(datatype_name) != simdjson::SUCCESS) {
    return Invalid(label + ": 'datatype' must be a string");
  }
  const std::optional<DataType> type = runtime::ParseDataType(datatype_name);
  if (!type) return Invalid(label + ": unknown datatype '" + std::string(datatype_name.substr(0, 32)) + "'");
  tensor.datatype = *type;

  if (!shape) return Invalid(label + ": missing 'shape'");
  AEGIS_RETURN_IF_ERROR(ParseShape(*shape, label, tensor.shape));
  const std::optional<uint64_t> count = tensor.ElementCount();
  if (!count) return Invalid(label + ": element count of shape " + internal::ShapeString(tensor.shape) + " overflows");

  std::optional<uint64_t> binary_size;
  if (parameters) {
    object params;
    if (parameters->get_object().get(params) != simdjson::SUCCESS)
      return Invalid(label + ": 'parameters' must be an object");
    bool seen_size = false;
    for (const auto field : params) {
      if (field.key != "binary_data_size") continue;
      if (seen_size) return DuplicateKey(label + " parameters", field.key);
      seen_size = true;
      uint64_t size;
      if (!GetSize(field.value, &size)) return Invalid(label + ": binary_data_size must be a non-negative integer");
      binary_size = size;
    }
  }

  if (binary_size) {
    if (!binary.present)
      return Invalid(label + ": binary_data_size requires the Inference-Header-Content-Length header");
    if (data) return Invalid(label + ": has both 'data' and binary_data_size");
    return TakeBinaryData(binary, *binary_size, *count, label, tensor);
  }
  if (!data) return Invalid(label + ": missing 'data'");
  if (*count > json.size()) {
    return Invalid(label + ": shape " + internal::ShapeString(tensor.shape) + " declares " + std::to_string(*count) +
                   " elements, more than a " + std::to_string(json.size()) + "-byte JSON request can hold");
  }
  return internal::DecodeJsonData(*data, *count, tensor);
}

Status ParseOutputs(element e, std::vector<RequestedOutput>& outputs) {
  simdjson::dom::array list;
  if (e.get_array().get(list) != simdjson::SUCCESS) return Invalid("'outputs' must be an array");
  for (element item : list) {
    const Where label("output", outputs.size());
    object obj;
    if (item.get_object().get(obj) != simdjson::SUCCESS) return Invalid(label + " must be an object");
    RequestedOutput out;
    bool seen_name = false, seen_parameters = false;
    for (const auto field : obj) {
      if (field.key == "name") {
        if (seen_name) return DuplicateKey(label, field.key);
        seen_name = true;
        std::string_view name;
        if (field.value.get_string().get(name) != simdjson::SUCCESS || name.empty()) {
          return Invalid(label + ": 'name' must be a non-empty string");
        }
        out.name = std::string(name);
      } else if (field.key == "parameters") {
        if (seen_parameters) return DuplicateKey(label, field.key);
        seen_parameters = true;
        object params;
        if (field.value.get_object().get(params) != simdjson::SUCCESS) {
          return Invalid(label + ": 'parameters' must be an object");
        }
        bool seen_binary = false;
        for (const auto param : params) {
          if (param.key != "binary_data") continue;
          if (seen_binary) return DuplicateKey(label + " parameters", param.key);
          seen_binary = true;
          if (param.value.get_bool().get(out.binary_data) != simdjson::SUCCESS) {
            return Invalid(label + ": binary_data must be true or false");
          }
        }
      }
    }
    if (!seen_name) return Invalid(label + ": 'name' must be a non-empty string");
    outputs.push_back(std::move(out));
  }
  return Status::Ok();
}

// Refuses repeated names. A handful (the usual case) are compared pairwise without
// allocating; beyond that sort, so that many inputs cannot make this quadratic.
template <typename T>
Status CheckUniqueNames(const std::vector<T>& items, std::string_view what) {
  const auto duplicate = [&](std::string_view name) {
    return Invalid("duplicate " + std::string(what) + " name '" + std::string(name.substr(0, 64)) + "'");
  };
  constexpr size_t kPairwiseLimit = 8;
  if (items.size() <= kPairwiseLimit) {
    for (size_t i = 0; i < items.size(); ++i) {
      for (size_t k = i + 1; k < items.size(); ++k) {
        if (items[i].name == items[k].name) return duplicate(items[i].name);
      }
    }
    return Status::Ok();
  }
  std::vector<std::string_view> names;
  names.reserve(items.size());
  for (const T& item : items) names.push_back(item.name);
  std::sort(names.begin(), names.end());
  const auto dup = std::adjacent_find(names.begin(), names.end());
  if (dup != names.end()) return duplicate(*dup);
  return Status::Ok();
}

Status ParseRoot(element root, std::string_view json, BinaryCursor& binary, InferRequest& request) {
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return Invalid("request must be a JSON object");
  enum : unsigned { kId, kInputs, kOutputs, kParameters };
  SeenKeys seen;
  std::optional<element> inputs;
  for (const auto field : obj) {
    const std::string_view key = field.key;
    if (key == "id") {
      if (!seen.First(kId)) return DuplicateKey("request", key);
      std::string_view id;
      if (field.value.get_string().get(id) != simdjson::SUCCESS) return Invalid("'id' must be a string");
      request.id = std::string(id);
    } else if (key == "inputs") {
      if (!seen.First(kInputs)) return DuplicateKey("request", key);
      inputs = field.value;
    } else if (key == "outputs") {
      if (!seen.First(kOutputs)) return DuplicateKey("request", key);
      AEGIS_RETURN_IF_ERROR(ParseOutputs(field.value, request.outputs));
    } else if (key == "parameters") {
      if (!seen.First(kParameters)) return DuplicateKey("request", key);
      object params;
      if (field.value.get_object().get(params) != simdjson::SUCCESS) return Invalid("'parameters' must be an object");
      bool seen_binary = false;
      for (const auto param : params) {
        if (param.key != "binary_data_output") continue;
        if (seen_binary) return DuplicateKey("request parameters", param.key);
        seen_binary = true;
        if (param.value.get_bool().get(request.binary_data_output) != simdjson::SUCCESS) {
          return Invalid("binary_data_output must be true or false");
        }
      }
    }
  }

  simdjson::dom::array list;
  if (!inputs) return Invalid("missing 'inputs'");
  if (inputs->get_array().get(list) != simdjson::SUCCESS) return Invalid("'inputs' must be an array");
  request.inputs.reserve(std::min<size_t>(list.size(), 64));
  for (element item : list) {
    runtime::Tensor& tensor = request.inputs.emplace_back();
    AEGIS_RETURN_IF_ERROR(ParseInput(item, request.inputs.size() - 1, json, binary, tensor));
  }
  if (binary.offset != binary.bytes.size()) {
    return Invalid("binary data after the JSON header is " + std::to_string(binary.bytes.size()) +
                   " bytes but the inputs' binary_data_size add up to " + std::to_string(binary.offset));
  }
  AEGIS_RETURN_IF_ERROR(CheckUniqueNames(request.inputs, "input"));
  return CheckUniqueNames(request.outputs, "output");
}

bool PrepareParser(simdjson::dom::parser& parser, size_t capacity) {
  return parser.allocate(std::max<size_t>(capacity, 4096), kMaxJsonDepth) == simdjson::SUCCESS;
}

StatusOr<InferRequest> ParseWith(simdjson::dom::parser& parser, std::string_view json, BinaryCursor& binary) {
  element root;
  // realloc_if_needed: simdjson reads a little past the end of its input, and
  // `json` has no padding of ours, so it copies into its own padded buffer.
  const simdjson::error_code error = parser.parse(json.data(), json.size(), true).get(root);
  if (error == simdjson::DEPTH_ERROR) {
    return Invalid("invalid JSON: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  if (error != simdjson::SUCCESS) return Invalid(std::string("invalid JSON: ") + simdjson::error_message(error));
  InferRequest request;
  AEGIS_RETURN_IF_ERROR(ParseRoot(root, json, binary, request));
  return request;
}

}  // namespace

StatusOr<InferRequest> ParseInferRequest(std::string_view body, std::optional<uint64_t> json_header_length) {
  std::string_view json = body;
  BinaryCursor binary;
  if (json_header_length) {
    if (*json_header_length == 0) return Invalid("Inference-Header-Content-Length must be positive");
    if (*json_header_length > body.size()) {
      return Invalid("Inference-Header-Content-Length " + std::to_string(*json_header_length) +
                     " exceeds the body length " + std::to_string(body.size()));
    }
    json = body.substr(0, *json_header_length);
    binary.present = true;
    binary.bytes = body.substr(*json_header_length);
  }

  if (json.size() > kKeepParserBytes) {
    simdjson::dom::parser parser;
    if (!PrepareParser(parser, json.size())) return Status::TooLarge("request JSON too large to parse");
    return ParseWith(parser, json, binary);
  }
  thread_local simdjson::dom::parser parser;
  thread_local bool prepared = false;
  if (!prepared) {
    if (!PrepareParser(parser, 0)) return Status::Internal("cannot allocate the JSON parser");
    prepared = true;
  }
  return ParseWith(parser, json, binary);
}

}  // namespace aegis::api
