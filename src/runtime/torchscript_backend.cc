// TorchScript models on libtorch (platform "pytorch_libtorch").
//
// The only translation unit that includes libtorch (its headers take ~15 s to
// compile), built alone into the engine module libaegis_torchscript.so, which the
// runtime loads on first use (torchscript_module.h); aegis_torchscript_engine is
// all it exports. A TorchScript archive does not declare input dtypes or shapes, so the
// inputs are advertised as FP32 of unknown rank with datatype_fixed == false: any
// numeric datatype torch has is converted to the matching torch dtype.
#include <cstring>
#include <istream>
#include <mutex>
#include <streambuf>

#include <ATen/Parallel.h>
#include <torch/script.h>

#include "engines.h"
#include "torchscript_module.h"

namespace aegis::runtime {
namespace {

// A read-only, seekable std::streambuf over the caller's bytes, so that the model is
// parsed where it lies: no temporary file, no extra plaintext copy.
class SpanStreamBuf final : public std::streambuf {
 public:
  explicit SpanStreamBuf(std::span<const uint8_t> bytes) {
    char* begin = const_cast<char*>(reinterpret_cast<const char*>(bytes.data()));
    setg(begin, begin, begin + bytes.size());  // get area only: nothing writes through it
  }

 protected:
  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode which) override {
    if (!(which & std::ios_base::in)) return pos_type(off_type(-1));
    off_type base = dir == std::ios_base::beg ? 0 : dir == std::ios_base::cur ? gptr() - eback() : egptr() - eback();
    off_type target = base + off;
    if (target < 0 || target > egptr() - eback()) return pos_type(off_type(-1));
    setg(eback(), eback() + target, egptr());
    return pos_type(target);
  }
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
    return seekoff(off_type(pos), std::ios_base::beg, which);
  }
};

std::optional<c10::ScalarType> ToTorch(DataType type) {
  switch (type) {
    case DataType::kBool:
      return c10::ScalarType::Bool;
    case DataType::kUint8:
      return c10::ScalarType::Byte;
    case DataType::kInt8:
      return c10::ScalarType::Char;
    case DataType::kInt16:
      return c10::ScalarType::Short;
    case DataType::kInt32:
      return c10::ScalarType::Int;
    case DataType::kInt64:
      return c10::ScalarType::Long;
    case DataType::kFp16:
      return c10::ScalarType::Half;
    case DataType::kFp32:
      return c10::ScalarType::Float;
    case DataType::kFp64:
      return c10::ScalarType::Double;
    default:
      return std::nullopt;  // torch 1.13 has no uint16/32/64; BYTES is not a tensor
  }
}

std::optional<DataType> FromTorch(c10::ScalarType type) {
  for (DataType candidate : {DataType::kBool, DataType::kUint8, DataType::kInt8, DataType::kInt16, DataType::kInt32,
                             DataType::kInt64, DataType::kFp16, DataType::kFp32, DataType::kFp64}) {
    if (ToTorch(candidate) == type) return candidate;
  }
  return std::nullopt;
}

// c10::Error::what() carries a C++ backtrace; clients get the message alone.
std::string TorchMessage(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) return EngineMessage(error->what_without_backtrace());
  return EngineMessage(e.what());
}

// The interpreter prefixes a failure with a traceback quoting the model's serialized
// code — the model's source, which clients must never see. Keep the final line.
std::string InterpreterErrorLine(const std::exception& e) {
  std::string_view text = e.what();
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) text = error->what_without_backtrace();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  size_t nl = text.rfind('\n');
  return EngineMessage(nl == std::string_view::npos ? text : text.substr(nl + 1));
}

// Failures that say the input does not fit the model (the TorchScript signature has
// no shapes or dtypes to check beforehand): the client's error, so 400, not 500.
bool IsInputMismatch(std::string_view line) {
  for (std::string_view marker : {"shapes cannot be multiplied", "size mismatch", "must match the size",
                                  "expected scalar type", "must have the same dtype", "Expected", "dimension"}) {
    if (line.find(marker) != std::string_view::npos) return true;
  }
  return false;
}

TensorSpec UnknownSpec(std::string name) {
  TensorSpec spec;
  spec.name = std::move(name);
  spec.datatype = DataType::kFp32;
  spec.rank_known = false;
  spec.datatype_fixed = false;
  return spec;
}

StatusOr<Tensor> ToTensor(const at::Tensor& value, std::string name) {
  std::optional<DataType> type = FromTorch(value.scalar_type());
  if (!type) {
    return Status::Internal("output '" + name + "' has dtype " + std::string(c10::toString(value.scalar_type())) +
                            ", which Aegis cannot return");
  }
  at::Tensor dense = value.contiguous();
  Tensor tensor;
  tensor.name = std::move(name);
  tensor.datatype = *type;
  tensor.shape = dense.sizes().vec();
  tensor.data.resize(dense.numel() * dense.element_size());
  if (!tensor.data.empty()) std::memcpy(tensor.data.data(), dense.data_ptr(), tensor.data.size());
  return tensor;
}

class TorchScriptBackend final : public Backend {
 public:
  // torch::jit::Module is a shared handle: a copy is cheap and it has no move constructor.
  TorchScriptBackend(const torch::jit::Module& module, ModelSignature signature, bool tuple_output,
                     EngineOptions options)
      : module_(module), signature_(std::move(signature)), tuple_output_(tuple_output), options_(options) {}
  std::string_view platform() const override { return "pytorch_libtorch"; }
  const ModelSignature& signature() const override { return signature_; }

  StatusOr<std::vector<Tensor>> Infer(std::span<const TensorView> inputs) override {
    try {
      c10::InferenceMode inference_mode;
      torch::NoGradGuard no_grad;
      std::vector<c10::IValue> arguments;
      for (const TensorSpec& spec : signature_.inputs) {
        const TensorView* tensor = nullptr;
        for (const TensorView& t : inputs) tensor = t.name == spec.name ? &t : tensor;
        if (!tensor) return Status::InvalidArgument("missing input '" + spec.name + "'");
        std::optional<c10::ScalarType> dtype = ToTorch(tensor->datatype);
        if (!dtype) {
          return Status::InvalidArgument("datatype " + std::string(DataTypeName(tensor->datatype)) +
                                         " is not supported by the TorchScript engine");
        }
        AEGIS_RETURN_IF_ERROR(DenseElementCount(*tensor).status());
        const auto options = torch::TensorOptions().dtype(*dtype);
        if (options_.may_borrow_inputs && !tensor->data.empty()) {
          // A worker's shared memory: the bytes stay mapped and are the model's to
          // change, so the engine reads them where they are.
          arguments.emplace_back(torch::from_blob(const_cast<uint8_t*>(tensor->data.data()), tensor->shape, options));
          continue;
        }
        // A copy the model owns: a model that writes into its input, or keeps it,
        // must not reach the caller's buffer.
        at::Tensor value = torch::empty(tensor->shape, options);
        if (!tensor->data.empty()) std::memcpy(value.data_ptr(), tensor->data.data(), tensor->data.size());
        arguments.emplace_back(std::move(value));
      }
      c10::IValue result = module_.forward(std::move(arguments));
      return Unpack(result);
    } catch (const std::exception& e) {
      std::string line = InterpreterErrorLine(e);
      if (IsInputMismatch(line)) return Status::InvalidArgument("the model cannot run on this input: " + line);
      return Status::Internal("TorchScript inference failed: " + line);
    }
  }

 private:
  StatusOr<std::vector<Tensor>> Unpack(const c10::IValue& result) {
    std::vector<Tensor> outputs;
    if (result.isTensor() && !tuple_output_) {
      AEGIS_ASSIGN_OR_RETURN(Tensor tensor, ToTensor(result.toTensor(), "output"));
      outputs.push_back(std::move(tensor));
      return outputs;
    }
    std::vector<c10::IValue> elements;
    if (result.isTuple()) {
      elements = result.toTupleRef().elements().vec();
    } else if (result.isList()) {
      elements = result.toListRef().vec();
    } else {
      return Status::Internal("the model returned " + result.tagKind() + ", not tensors");
    }
    for (size_t i = 0; i < elements.size(); ++i) {
      if (!elements[i].isTensor()) return Status::Internal("output " + std::to_string(i) + " is not a tensor");
      AEGIS_ASSIGN_OR_RETURN(Tensor tensor, ToTensor(elements[i].toTensor(), "output_" + std::to_string(i)));
      outputs.push_back(std::move(tensor));
    }
    return outputs;
  }

  torch::jit::Module module_;
  ModelSignature signature_;
  bool tuple_output_;
  EngineOptions options_;
};

// Output names from forward's declared return type: `output` for a Tensor,
// output_0.. for a tuple of tensors. A List[Tensor]'s length is known only at run
// time, so such a model declares no outputs up front.
StatusOr<std::vector<TensorSpec>> OutputSpecs(const c10::FunctionSchema& schema, bool* tuple_output) {
  *tuple_output = false;
  if (schema.returns().size() != 1) return Status::Unprocessable("forward must return one value");
  const c10::TypePtr& type = schema.returns()[0].type();
  std::vector<TensorSpec> specs;
  if (type->kind() == c10::TypeKind::TensorType) {
    specs.push_back(UnknownSpec("output"));
  } else if (auto tuple = type->cast<c10::TupleType>()) {
    *tuple_output = true;
    for (size_t i = 0; i < tuple->elements().size(); ++i) {
      if (tuple->elements()[i]->kind() != c10::TypeKind::TensorType) {
        return Status::Unprocessable("forward returns a tuple whose element " + std::to_string(i) + " is not a Tensor");
      }
      specs.push_back(UnknownSpec("output_" + std::to_string(i)));
    }
  } else if (auto list = type->cast<c10::ListType>();
             !list || list->getElementType()->kind() != c10::TypeKind::TensorType) {
    return Status::Unprocessable("forward returns " + type->str() + "; Aegis serves Tensor, tuple or list of Tensors");
  }
  return specs;
}

void Prepare() {
  // Intra-op threads are process-wide in libtorch; parallelism comes from
  // instances. Setting them initialises cpuinfo, which reads /proc/cpuinfo.
  static std::once_flag single_threaded;
  std::call_once(single_threaded, [] {
    at::set_num_threads(1);
    at::set_num_interop_threads(1);
    (void)at::get_num_threads();
  });
}

StatusOr<std::unique_ptr<Backend>> Load(std::span<const uint8_t> model_bytes, const EngineOptions& options) {
  Prepare();
  try {
    SpanStreamBuf buffer(model_bytes);
    std::istream stream(&buffer);
    torch::jit::Module module = torch::jit::load(stream, c10::Device(c10::kCPU));
    module.eval();
    auto forward = module.find_method("forward");
    if (!forward) return Status::Unprocessable("the TorchScript module has no forward method");
    const c10::FunctionSchema& schema = forward->function().getSchema();
    ModelSignature signature;
    for (size_t i = 1; i < schema.arguments().size(); ++i) {  // 0 is `self`
      const c10::Argument& argument = schema.arguments()[i];
      if (argument.type()->kind() != c10::TypeKind::TensorType) {
        return Status::Unprocessable("forward argument '" + argument.name() + "' has type " + argument.type()->str() +
                                     "; Aegis feeds Tensor arguments only");
      }
      signature.inputs.push_back(UnknownSpec(argument.name()));
    }
    bool tuple_output = false;
    AEGIS_ASSIGN_OR_RETURN(signature.outputs, OutputSpecs(schema, &tuple_output));
    return std::unique_ptr<Backend>(new TorchScriptBackend(module, std::move(signature), tuple_output, options));
  } catch (const std::exception& e) {
    return Status::Unprocessable("libtorch refused the TorchScript model: " + TorchMessage(e));
  }
}

}  // namespace
}  // namespace aegis::runtime

extern "C" __attribute__((visibility("default"))) const aegis::runtime::torchscript::ModuleEntry*
aegis_torchscript_engine() {
  static constexpr aegis::runtime::torchscript::ModuleEntry kEntry = [] {
    aegis::runtime::torchscript::ModuleEntry entry = aegis::runtime::torchscript::ExpectedLayout();
    entry.prepare = &aegis::runtime::Prepare;
    entry.load = &aegis::runtime::Load;
    return entry;
  }();
  return &kEntry;
}
