// ONNX models on OpenCV DNN (platform "onnx_opencv").
//
// The graph's declared inputs and outputs come from our own wire-format reader
// (onnx_graph_info.h): OpenCV 4.6 does not expose them. OpenCV computes in FP32, so
// numeric inputs are converted to FP32 on the way in, and outputs are converted to
// the datatype the graph declares on the way out.
#include <climits>
#include <cmath>
#include <cstring>
#include <mutex>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include "engines.h"
#include "onnx_graph_info.h"

namespace aegis::runtime {
namespace {

std::optional<DataType> FromOnnx(int32_t elem_type) {
  switch (elem_type) {
    case kOnnxFloat:
      return DataType::kFp32;
    case kOnnxUint8:
      return DataType::kUint8;
    case kOnnxInt8:
      return DataType::kInt8;
    case kOnnxUint16:
      return DataType::kUint16;
    case kOnnxInt16:
      return DataType::kInt16;
    case kOnnxInt32:
      return DataType::kInt32;
    case kOnnxInt64:
      return DataType::kInt64;
    case kOnnxBool:
      return DataType::kBool;
    case kOnnxFloat16:
      return DataType::kFp16;
    case kOnnxDouble:
      return DataType::kFp64;
    case kOnnxUint32:
      return DataType::kUint32;
    case kOnnxUint64:
      return DataType::kUint64;
    default:
      return std::nullopt;  // STRING, complex, bfloat16: nothing OpenCV can feed
  }
}

StatusOr<TensorSpec> ToSpec(const OnnxValueInfo& value, std::string_view role) {
  std::string where = std::string(role) + " '" + value.name + "'";
  if (!value.is_tensor) return Status::Unprocessable(where + " is not a tensor");
  TensorSpec spec;
  spec.name = value.name;
  if (value.elem_type == kOnnxUndefined && role == "output") {
    spec.datatype = DataType::kFp32;  // undeclared: report what OpenCV computes
  } else {
    std::optional<DataType> type = FromOnnx(value.elem_type);
    if (!type) {
      return Status::Unprocessable(where + " has ONNX type " + OnnxElemTypeName(value.elem_type) +
                                   ", which the OpenCV engine does not support");
    }
    spec.datatype = *type;
  }
  spec.rank_known = value.has_shape;
  spec.shape = value.dims;
  return spec;
}

// The cv::Mat depth whose element layout equals `type`, or -1 if none does.
int CvDepthOf(DataType type) {
  switch (type) {
    case DataType::kBool:
    case DataType::kUint8:
      return CV_8U;
    case DataType::kInt8:
      return CV_8S;
    case DataType::kUint16:
      return CV_16U;
    case DataType::kInt16:
      return CV_16S;
    case DataType::kInt32:
      return CV_32S;
    case DataType::kFp16:
      return CV_16F;
    case DataType::kFp32:
      return CV_32F;
    case DataType::kFp64:
      return CV_64F;
    default:
      return -1;
  }
}

template <typename From>
void WidenToFloat(const uint8_t* src, float* dst, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    From v;
    std::memcpy(&v, src + i * sizeof(From), sizeof(From));
    dst[i] = static_cast<float>(v);
  }
}

StatusOr<cv::Mat> ToBlob(const TensorView& tensor) {
  if (tensor.datatype == DataType::kBytes) {
    return Status::InvalidArgument("datatype BYTES is not supported by the OpenCV ONNX engine");
  }
  AEGIS_ASSIGN_OR_RETURN(uint64_t count, DenseElementCount(tensor));
  if (count == 0)
    return Status::InvalidArgument("input '" + std::string(tensor.name) + "' is empty; the OpenCV engine needs data");
  std::vector<int> sizes;
  for (int64_t dim : tensor.shape) {
    if (dim > INT_MAX)
      return Status::InvalidArgument("input '" + std::string(tensor.name) + "' has a dimension above INT_MAX");
    sizes.push_back(static_cast<int>(dim));
  }
  if (sizes.empty()) sizes.push_back(1);  // a scalar: cv::Mat has no rank 0
  cv::Mat blob(static_cast<int>(sizes.size()), sizes.data(), CV_32F);
  float* out = blob.ptr<float>();
  const uint8_t* in = tensor.data.data();
  int depth = CvDepthOf(tensor.datatype);
  if (depth >= 0) {
    // A header over the caller's bytes; convertTo writes into `blob` only.
    cv::Mat view(static_cast<int>(sizes.size()), sizes.data(), CV_MAKETYPE(depth, 1), const_cast<uint8_t*>(in));
    view.convertTo(blob, CV_32F);
  } else if (tensor.datatype == DataType::kInt64) {
    WidenToFloat<int64_t>(in, out, count);
  } else if (tensor.datatype == DataType::kUint32) {
    WidenToFloat<uint32_t>(in, out, count);
  } else {
    WidenToFloat<uint64_t>(in, out, count);
  }
  return blob;
}

template <typename To>
void NarrowFromDouble(const cv::Mat& values, uint8_t* dst, size_t count, bool is_bool = false) {
  const double* src = values.ptr<double>();
  for (size_t i = 0; i < count; ++i) {
    To v = is_bool ? static_cast<To>(src[i] != 0) : cv::saturate_cast<To>(src[i]);
    std::memcpy(dst + i * sizeof(To), &v, sizeof(To));
  }
}

template <>
void NarrowFromDouble<uint64_t>(const cv::Mat& values, uint8_t* dst, size_t count, bool) {
  const double* src = values.ptr<double>();
  for (size_t i = 0; i < count; ++i) {
    double d = src[i];
    uint64_t v = !(d > 0) ? 0 : d >= 18446744073709551615.0 ? UINT64_MAX : static_cast<uint64_t>(std::round(d));
    std::memcpy(dst + i * sizeof(uint64_t), &v, sizeof(uint64_t));
  }
}

Tensor FromBlob(const cv::Mat& blob, const TensorSpec& spec) {
  Tensor tensor;
  tensor.name = spec.name;
  tensor.datatype = spec.datatype;
  for (int i = 0; i < blob.dims; ++i) tensor.shape.push_back(blob.size[i]);
  cv::Mat dense = blob.isContinuous() ? blob : blob.clone();
  size_t count = dense.total();
  tensor.data.resize(count * DataTypeSize(spec.datatype));
  int depth = spec.datatype == DataType::kBool ? -1 : CvDepthOf(spec.datatype);
  if (depth == dense.depth()) {
    std::memcpy(tensor.data.data(), dense.data, tensor.data.size());
    return tensor;
  }
  cv::Mat converted;
  if (depth >= 0) {
    dense.convertTo(converted, CV_MAKETYPE(depth, 1));
    std::memcpy(tensor.data.data(), converted.data, tensor.data.size());
    return tensor;
  }
  dense.convertTo(converted, CV_64F);
  switch (spec.datatype) {
    case DataType::kBool:
      NarrowFromDouble<uint8_t>(converted, tensor.data.data(), count, true);
      break;
    case DataType::kInt64:
      NarrowFromDouble<int64_t>(converted, tensor.data.data(), count);
      break;
    case DataType::kUint32:
      NarrowFromDouble<uint32_t>(converted, tensor.data.data(), count);
      break;
    default:
      NarrowFromDouble<uint64_t>(converted, tensor.data.data(), count);
      break;
  }
  return tensor;
}

class OnnxBackend final : public Backend {
 public:
  // cv::dnn::Net is a shared handle: a copy is cheap and it has no move constructor.
  OnnxBackend(const cv::dnn::Net& net, ModelSignature signature) : net_(net), signature_(std::move(signature)) {
    for (const TensorSpec& output : signature_.outputs) output_names_.push_back(output.name);
  }
  std::string_view platform() const override { return "onnx_opencv"; }
  const ModelSignature& signature() const override { return signature_; }

  StatusOr<std::vector<Tensor>> Infer(std::span<const TensorView> inputs) override {
    try {
      for (const TensorSpec& spec : signature_.inputs) {
        const TensorView* tensor = nullptr;
        for (const TensorView& t : inputs) tensor = t.name == spec.name ? &t : tensor;
        if (!tensor) return Status::InvalidArgument("missing input '" + spec.name + "'");
        AEGIS_ASSIGN_OR_RETURN(cv::Mat blob, ToBlob(*tensor));
        net_.setInput(blob, spec.name);
      }
      std::vector<cv::Mat> blobs;
      net_.forward(blobs, output_names_);
      if (blobs.size() != signature_.outputs.size()) return Status::Internal("OpenCV returned the wrong output count");
      std::vector<Tensor> outputs;
      for (size_t i = 0; i < blobs.size(); ++i) outputs.push_back(FromBlob(blobs[i], signature_.outputs[i]));
      return outputs;
    } catch (const std::exception& e) {
      return Status::Internal("OpenCV inference failed: " + EngineMessage(e.what()));
    }
  }

 private:
  cv::dnn::Net net_;
  ModelSignature signature_;
  std::vector<std::string> output_names_;
};

}  // namespace

void PrepareOnnxEngine() {
  // OpenCV's thread count is process-wide; parallelism comes from instances instead.
  static std::once_flag single_threaded;
  std::call_once(single_threaded, [] {
    cv::setNumThreads(1);
    (void)cv::getNumberOfCPUs();
  });
}

StatusOr<std::unique_ptr<Backend>> LoadOnnxBackend(std::span<const uint8_t> model_bytes, const EngineOptions&) {
  PrepareOnnxEngine();

  // Our own bounds-checked reader goes first, so malformed bytes are refused before
  // OpenCV's parser sees them.
  AEGIS_ASSIGN_OR_RETURN(OnnxGraphInfo graph, ReadOnnxGraphInfo(model_bytes));
  ModelSignature signature;
  for (const OnnxValueInfo& value : graph.inputs) {
    AEGIS_ASSIGN_OR_RETURN(TensorSpec spec, ToSpec(value, "input"));
    signature.inputs.push_back(std::move(spec));
  }
  for (const OnnxValueInfo& value : graph.outputs) {
    AEGIS_ASSIGN_OR_RETURN(TensorSpec spec, ToSpec(value, "output"));
    signature.outputs.push_back(std::move(spec));
  }
  if (signature.outputs.empty()) return Status::Unprocessable("the ONNX graph declares no outputs");
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(reinterpret_cast<const char*>(model_bytes.data()), model_bytes.size());
    if (net.empty()) return Status::Unprocessable("OpenCV refused the ONNX model: empty network");
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return std::unique_ptr<Backend>(new OnnxBackend(net, std::move(signature)));
  } catch (const std::exception& e) {
    return Status::Unprocessable("OpenCV refused the ONNX model: " + EngineMessage(e.what()));
  }
}

}  // namespace aegis::runtime
