// Fuzzes what the server reads from an engine worker: control frames, the
// worker's signature, and responses (tensor lists) in shared memory or, in
// the stream transport, in kResponse frames. A hostile
// worker writes these; any crash or sanitizer report here is a server bug.
#include "worker_protocol.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

using namespace aegis::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  // A stream-transport reader (kResponse frames allowed, up to 1 MiB).
  worker::FrameReader reader(1 << 20);
  reader.Feed(bytes);
  for (int i = 0; i < 64; ++i) {
    auto frame = reader.Next();
    if (!frame.ok() || !frame->has_value()) break;
    (void)worker::ParseSignatureJson((*frame)->payload);
    const std::string& payload = (*frame)->payload;
    (void)worker::DecodeStreamResponse({reinterpret_cast<const uint8_t*>(payload.data()), payload.size()});
  }
  auto response = worker::DecodeResponse(bytes);
  if (response.ok()) {
    // What the server does with decoded outputs: read every byte of each.
    uint64_t sum = 0;
    for (const TensorView& v : response->outputs.views) {
      for (uint8_t b : v.data) sum += b;
      for (char c : v.name) sum += static_cast<uint8_t>(c);
    }
    if (sum == 0xFFFFFFFFFFFFFFFFull) return 1;
  }
  (void)worker::DecodeTensorList(bytes);
  return 0;
}
