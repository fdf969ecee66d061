// JSON `data` -> tensor bytes; see v2_json_data.h for the rules.
#include "v2_json_data.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

#include "aegis/runtime/fp16.h"
#include "v2_bytes.h"

namespace aegis::api::internal {
namespace {

static_assert(std::endian::native == std::endian::little, "tensor data is little-endian; add byte swaps");

using runtime::DataType;
using simdjson::dom::element;
using simdjson::dom::element_type;

enum class ElementError : uint8_t { kOk, kWrongType, kNotInteger, kOutOfRange };

template <typename T>
void Store(uint8_t* out, uint64_t index, T value) {
  std::memcpy(out + index * sizeof(T), &value, sizeof(T));
}

template <typename T>
struct IntegerWriter {
  uint8_t* out;
  ElementError operator()(element e, uint64_t index) const {
    using Limits = std::numeric_limits<T>;
    if (e.type() == element_type::INT64) {
      const int64_t v = e.get_int64().value_unsafe();
      if constexpr (Limits::is_signed) {
        if (v < static_cast<int64_t>(Limits::min()) || v > static_cast<int64_t>(Limits::max())) {
          return ElementError::kOutOfRange;
        }
      } else {
        if (v < 0 || static_cast<uint64_t>(v) > static_cast<uint64_t>(Limits::max())) return ElementError::kOutOfRange;
      }
      Store(out, index, static_cast<T>(v));
      return ElementError::kOk;
    }
    if (e.type() == element_type::UINT64) {  // simdjson uses UINT64 only above INT64_MAX.
      const uint64_t v = e.get_uint64().value_unsafe();
      if (Limits::is_signed || v > static_cast<uint64_t>(Limits::max())) return ElementError::kOutOfRange;
      Store(out, index, static_cast<T>(v));
      return ElementError::kOk;
    }
    return e.type() == element_type::DOUBLE ? ElementError::kNotInteger : ElementError::kWrongType;
  }
};

// Any JSON number as a double; false for non-numbers. Integers beyond 2^53 round
// to nearest, as any JSON reader would.
bool NumberAsDouble(element e, double* out) {
  switch (e.type()) {
    case element_type::DOUBLE:
      *out = e.get_double().value_unsafe();
      return true;
    case element_type::INT64:
      *out = static_cast<double>(e.get_int64().value_unsafe());
      return true;
    case element_type::UINT64:
      *out = static_cast<double>(e.get_uint64().value_unsafe());
      return true;
    default:
      return false;
  }
}

struct Fp64Writer {
  uint8_t* out;
  ElementError operator()(element e, uint64_t index) const {
    double v;
    if (!NumberAsDouble(e, &v)) return ElementError::kWrongType;
    Store(out, index, v);
    return ElementError::kOk;
  }
};

struct Fp32Writer {
  uint8_t* out;
  ElementError operator()(element e, uint64_t index) const {
    // Integers convert directly: going through double would round twice.
    if (e.type() == element_type::INT64) {
      Store(out, index, static_cast<float>(e.get_int64().value_unsafe()));
      return ElementError::kOk;
    }
    if (e.type() == element_type::UINT64) {
      Store(out, index, static_cast<float>(e.get_uint64().value_unsafe()));
      return ElementError::kOk;
    }
    double v;
    if (!NumberAsDouble(e, &v)) return ElementError::kWrongType;
    // FLT_MAX plus half an ulp: from there on, rounding to float gives infinity
    // (and converting an out-of-range double to float is undefined behaviour).
    constexpr double kFloatOverflow = 0x1.ffffffp127;
    if (std::fabs(v) >= kFloatOverflow) return ElementError::kOutOfRange;
    Store(out, index, static_cast<float>(v));
    return ElementError::kOk;
  }
};

struct Fp16Writer {
  uint8_t* out;
  ElementError operator()(element e, uint64_t index) const {
    double v;
    if (!NumberAsDouble(e, &v)) return ElementError::kWrongType;
    const std::optional<uint16_t> half = runtime::DoubleToHalf(v);
    if (!half) return ElementError::kOutOfRange;
    Store(out, index, *half);
    return ElementError::kOk;
  }
};

struct BoolWriter {
  uint8_t* out;
  ElementError operator()(element e, uint64_t index) const {
    if (e.type() != element_type::BOOL) return ElementError::kWrongType;
    out[index] = e.get_bool().value_unsafe() ? 1 : 0;
    return ElementError::kOk;
  }
};

struct BytesWriter {
  std::vector<uint8_t>* out;
  ElementError operator()(element e, uint64_t /*index*/) const {
    if (e.type() != element_type::STRING) return ElementError::kWrongType;
    const std::string_view s = e.get_string().value_unsafe();
    if (s.size() > std::numeric_limits<uint32_t>::max()) return ElementError::kOutOfRange;
    AppendBytesElement(*out, s);
    return ElementError::kOk;
  }
};

std::string_view JsonTypeName(element e) {
  switch (e.type()) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
    default:
      return "a number";
  }
}

std::string_view Expectation(DataType type) {
  switch (type) {
    case DataType::kBool:
      return "true or false";
    case DataType::kFp16:
    case DataType::kFp32:
    case DataType::kFp64:
      return "a number";
    case DataType::kBytes:
      return "a string";
    default:
      return "an integer";
  }
}

// The element's JSON text for an error message, cut short: it is client data.
std::string ElementText(element e) {
  std::string text = simdjson::to_string(e);
  constexpr size_t kMaxShown = 40;
  if (text.size() > kMaxShown) text = text.substr(0, kMaxShown) + "...";
  return text;
}

template <typename Writer>
class DataWalker {
 public:
  DataWalker(const runtime::Tensor& tensor, uint64_t count, Writer writer)
      : tensor_(tensor), count_(count), writer_(writer) {}

  Status Run(element data) {
    simdjson::dom::array top;
    if (data.get_array().get(top) != simdjson::SUCCESS) return Error("'data' must be an array");
    // Nested when the first element is an array; a flat array holds scalars only
    // (the writers refuse an array in a flat list).
    const bool nested = top.begin() != top.end() && (*top.begin()).is_array();
    if (!nested) {
      const size_t got = top.size();
      if (got != count_) {
        return Error("expected " + std::to_string(count_) + " elements for shape " + ShapeString(tensor_.shape) +
                     ", got " + std::to_string(got));
      }
      for (element e : top) AEGIS_RETURN_IF_ERROR(Leaf(e));
      return Status::Ok();
    }
    if (tensor_.shape.size() < 2) return Error("data is nested deeper than shape " + ShapeString(tensor_.shape));
    return Nested(top, 0);
  }

 private:
  // Depth is bounded by the rank (capped by the parser), not by the input.
  Status Nested(simdjson::dom::array level_array, size_t depth) {
    const size_t got = level_array.size();
    const auto want = static_cast<uint64_t>(tensor_.shape[depth]);
    if (got != want) {
      return Error("nested data has " + std::to_string(got) + " elements at depth " + std::to_string(depth) +
                   ", shape " + ShapeString(tensor_.shape) + " needs " + std::to_string(want));
    }
    const bool last = depth + 1 == tensor_.shape.size();
    for (element e : level_array) {
      if (last) {
        AEGIS_RETURN_IF_ERROR(Leaf(e));
        continue;
      }
      simdjson::dom::array inner;
      if (e.get_array().get(inner) != simdjson::SUCCESS) {
        return Error("nested data must be arrays down to depth " + std::to_string(tensor_.shape.size() - 1) +
                     " for shape " + ShapeString(tensor_.shape) + ", found " + std::string(JsonTypeName(e)) +
                     " at depth " + std::to_string(depth + 1));
      }
      AEGIS_RETURN_IF_ERROR(Nested(inner, depth + 1));
    }
    return Status::Ok();
  }

  Status Leaf(element e) {
    if (index_ >= count_) return Error("more elements than the shape holds");  // Unreachable; keeps writes in bounds.
    const ElementError err = writer_(e, index_);
    if (err != ElementError::kOk) return ElementFailure(err, e);
    ++index_;
    return Status::Ok();
  }

  Status ElementFailure(ElementError err, element e) const {
    const std::string where = "element " + std::to_string(index_) + " ";
    const std::string type_name(runtime::DataTypeName(tensor_.datatype));
    switch (err) {
      case ElementError::kNotInteger:
        return Error(where + "must be an integer for " + type_name + ", got " + ElementText(e));
      case ElementError::kOutOfRange:
        return Error(where + "is out of range for " + type_name + ": " + ElementText(e));
      default:
        return Error(where + "must be " + std::string(Expectation(tensor_.datatype)) + " for " + type_name + ", got " +
                     std::string(JsonTypeName(e)));
    }
  }

  Status Error(const std::string& what) const {
    return Status::InvalidArgument(InputLabel(tensor_.name) + ": " + what);
  }

  const runtime::Tensor& tensor_;
  const uint64_t count_;
  Writer writer_;
  uint64_t index_ = 0;
};

template <typename Writer>
Status Walk(element data, uint64_t count, runtime::Tensor& tensor, Writer writer) {
  return DataWalker<Writer>(tensor, count, writer).Run(data);
}

}  // namespace

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) out += ',';
    out += std::to_string(shape[i]);
  }
  out += ']';
  return out;
}

std::string InputLabel(std::string_view name) {
  constexpr size_t kMaxShown = 64;
  if (name.size() <= kMaxShown) return "input '" + std::string(name) + "'";
  return "input '" + std::string(name.substr(0, kMaxShown)) + "...'";
}

Status DecodeJsonData(element data, uint64_t count, runtime::Tensor& tensor) {
  if (tensor.datatype == DataType::kBytes) {
    tensor.data.clear();
    return Walk(data, count, tensor, BytesWriter{&tensor.data});
  }
  // The caller has bounded `count` by the request size, so this allocation is
  // proportional to bytes the client actually sent.
  tensor.data.assign(count * runtime::DataTypeSize(tensor.datatype), 0);
  uint8_t* out = tensor.data.data();
  switch (tensor.datatype) {
    case DataType::kBool:
      return Walk(data, count, tensor, BoolWriter{out});
    case DataType::kUint8:
      return Walk(data, count, tensor, IntegerWriter<uint8_t>{out});
    case DataType::kUint16:
      return Walk(data, count, tensor, IntegerWriter<uint16_t>{out});
    case DataType::kUint32:
      return Walk(data, count, tensor, IntegerWriter<uint32_t>{out});
    case DataType::kUint64:
      return Walk(data, count, tensor, IntegerWriter<uint64_t>{out});
    case DataType::kInt8:
      return Walk(data, count, tensor, IntegerWriter<int8_t>{out});
    case DataType::kInt16:
      return Walk(data, count, tensor, IntegerWriter<int16_t>{out});
    case DataType::kInt32:
      return Walk(data, count, tensor, IntegerWriter<int32_t>{out});
    case DataType::kInt64:
      return Walk(data, count, tensor, IntegerWriter<int64_t>{out});
    case DataType::kFp16:
      return Walk(data, count, tensor, Fp16Writer{out});
    case DataType::kFp32:
      return Walk(data, count, tensor, Fp32Writer{out});
    case DataType::kFp64:
      return Walk(data, count, tensor, Fp64Writer{out});
    case DataType::kBytes:
      break;  // Handled above.
  }
  return Status::Internal("unhandled datatype");
}

}  // namespace aegis::api::internal
