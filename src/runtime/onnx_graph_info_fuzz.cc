// libFuzzer target: the ONNX graph reader sees uploaded model bytes before any
// engine does. Beyond "no crash": every name it returns lies inside the input.
#include "onnx_graph_info.h"

#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto info = aegis::runtime::ReadOnnxGraphInfo(std::span<const uint8_t>(data, size));
  if (info.ok()) {
    for (const auto& v : info->inputs) {
      if (v.name.size() > size) std::abort();
    }
  }
  return 0;
}
