// Helpers every engine shares (declared in engines.h). Built into the runtime and,
// separately, into the TorchScript engine module, which links only the tensor type.
#include "engines.h"

namespace aegis::runtime {

StatusOr<uint64_t> DenseElementCount(const TensorView& tensor) {
  size_t element_size = DataTypeSize(tensor.datatype);
  std::optional<uint64_t> count = tensor.ElementCount();
  if (element_size == 0 || !count || *count > tensor.data.size() / element_size ||
      *count * element_size != tensor.data.size()) {
    return Status::InvalidArgument("input '" + std::string(tensor.name) + "' does not match its shape and datatype");
  }
  return *count;
}

std::string EngineMessage(std::string_view message) {
  constexpr size_t kMaxLength = 512;
  std::string out;
  for (char c : message.substr(0, kMaxLength)) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (message.size() > kMaxLength) out += "...";
  return out.empty() ? "(no message from the engine)" : out;
}

}  // namespace aegis::runtime
