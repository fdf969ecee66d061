// libFuzzer target for the KServe v2 codec: arbitrary bytes as a request body,
// with and without Inference-Header-Content-Length. Checks, beyond "no crash":
//   - whatever parses re-encodes without error (parsed tensors are consistent);
//   - an all-binary response parses back to the very same tensors;
//   - JsonQuote always yields valid JSON.
//
// Input layout: byte 0 = flags (bit 0: a header length follows in bytes 1..4,
// little-endian, taken modulo body size + 2 so that "too long" is reachable);
// the rest is the body. Build: see CMakeLists.codec.cmake (AEGIS_FUZZ).
#include "aegis/api/v2_codec.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckEncodeRoundTrip(const aegis::api::InferRequest& request) {
  const std::vector<bool> all_binary(request.inputs.size(), true);
  const auto encoded = aegis::api::EncodeInferResponse("m", "1", std::nullopt, request.inputs, all_binary);
  Check(encoded.ok());
  std::string body = encoded->body;
  const size_t at = body.find("\"outputs\"");
  Check(at != std::string::npos);
  // Outputs and inputs share their layout. No id, so the first match is the key.
  body.replace(at, 9, "\"inputs\" ");
  const auto again = aegis::api::ParseInferRequest(body, encoded->json_header_length);
  Check(again.ok());
  Check(again->inputs.size() == request.inputs.size());
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const auto& a = request.inputs[i];
    const auto& b = again->inputs[i];
    Check(a.name == b.name && a.datatype == b.datatype && a.shape == b.shape && a.data == b.data);
  }
  // JSON outputs too (non-finite floats make it non-strict JSON, so only no-crash).
  Check(aegis::api::EncodeInferResponse("m", "", std::nullopt, request.inputs, {}).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::optional<uint64_t> header;
  if ((flags & 1) != 0) {
    if (rest.size() < 4) return 0;
    const uint32_t raw = uint32_t{static_cast<uint8_t>(rest[0])} | (uint32_t{static_cast<uint8_t>(rest[1])} << 8) |
                         (uint32_t{static_cast<uint8_t>(rest[2])} << 16) |
                         (uint32_t{static_cast<uint8_t>(rest[3])} << 24);
    rest.remove_prefix(4);
    header = raw % (rest.size() + 2);
  }
  // A copy of exactly the body, so that any read past it is caught by ASan.
  const std::string body(rest);
  const auto request = aegis::api::ParseInferRequest(body, header);
  if (request.ok()) CheckEncodeRoundTrip(*request);

  const std::string quoted = "[" + aegis::api::JsonQuote(body) + "]";
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  Check(parser.parse(quoted).get(element) == simdjson::SUCCESS);
  return 0;
}
