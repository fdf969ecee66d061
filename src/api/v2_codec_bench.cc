// Micro-benchmark for the KServe v2 codec hot path: parse a 4-float request and
// encode a 3-float response; plus the simdjson DOM vs On-Demand comparison that
// chose DOM for the parser. Prints medians of per-call CPU times over many batches.
//
//   ninja aegis_api_codec_bench && ./aegis_api_codec_bench
#include "aegis/api/v2_codec.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <vector>

#include <simdjson.h>

namespace {

constexpr const char* kRequest =
    R"({"id":"42","inputs":[{"name":"input0","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]})";

// This thread's CPU time, so that a busy machine's preemptions do not count.
double ThreadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

template <typename F>
double MedianNanos(F&& f) {
  constexpr int kBatches = 101, kPerBatch = 2000;
  std::vector<double> samples;
  for (int b = 0; b < kBatches; ++b) {
    const double start = ThreadCpuNanos();
    for (int i = 0; i < kPerBatch; ++i) f();
    samples.push_back((ThreadCpuNanos() - start) / kPerBatch);
  }
  std::nth_element(samples.begin(), samples.begin() + kBatches / 2, samples.end());
  return samples[kBatches / 2];
}

volatile double g_sink;

// The same walk the codec does, with each API; errors are ignored (valid input).
void DomWalk(simdjson::dom::parser& parser, std::string_view json) {
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size(), true).get(root)) return;
  double sum = 0;
  for (simdjson::dom::element input : root["inputs"].get_array()) {
    std::string_view name = input["name"].get_string();
    std::string_view type = input["datatype"].get_string();
    for (simdjson::dom::element d : input["shape"].get_array()) sum += static_cast<double>(int64_t(d));
    for (simdjson::dom::element v : input["data"].get_array()) sum += double(v);
    sum += static_cast<double>(name.size() + type.size());
  }
  g_sink = sum;
}

void OnDemandWalk(simdjson::ondemand::parser& parser, std::vector<char>& buffer, std::string_view json) {
  // On-Demand needs padding after the input: copy into a reused buffer, as DOM does.
  buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(buffer.data(), json.data(), json.size());
  simdjson::ondemand::document doc;
  if (parser.iterate(buffer.data(), json.size(), buffer.size()).get(doc)) return;
  double sum = 0;
  for (auto input : doc["inputs"].get_array()) {
    for (auto field : input.get_object()) {
      std::string_view key = field.unescaped_key().value();
      if (key == "name" || key == "datatype") {
        sum += static_cast<double>(std::string_view(field.value().get_string()).size());
      } else if (key == "shape") {
        for (auto d : field.value().get_array()) sum += static_cast<double>(int64_t(d.get_int64()));
      } else if (key == "data") {
        for (auto v : field.value().get_array()) sum += double(v.get_double());
      }
    }
  }
  g_sink = sum;
}

}  // namespace

// An exception (simdjson, allocation) ends the run with its message and exit 1.
int main() try {
  const std::vector<aegis::runtime::Tensor> outputs = [] {
    aegis::runtime::Tensor t{"output0", aegis::runtime::DataType::kFp32, {1, 3}, {}};
    const float values[3] = {0.0245f, 0.9123f, 0.0632f};
    t.data.assign(reinterpret_cast<const uint8_t*>(values), reinterpret_cast<const uint8_t*>(values) + 12);
    return std::vector<aegis::runtime::Tensor>{t};
  }();
  const std::vector<bool> json_only(1, false);

  const double parse = MedianNanos([] { g_sink = aegis::api::ParseInferRequest(kRequest, std::nullopt).ok(); });
  const double encode = MedianNanos(
      [&] { g_sink = aegis::api::EncodeInferResponse("iris", "1", std::string("42"), outputs, json_only).ok(); });
  const double both = MedianNanos([&] {
    auto request = aegis::api::ParseInferRequest(kRequest, std::nullopt);
    g_sink = aegis::api::EncodeInferResponse("iris", "1", request->id, outputs, json_only).ok();
  });

  simdjson::dom::parser dom;
  simdjson::ondemand::parser ondemand;
  std::vector<char> buffer;
  const double dom_walk = MedianNanos([&] { DomWalk(dom, kRequest); });
  const double ondemand_walk = MedianNanos([&] { OnDemandWalk(ondemand, buffer, kRequest); });

  std::printf("ParseInferRequest (4 x FP32)          %7.0f ns\n", parse);
  std::printf("EncodeInferResponse (3 x FP32)        %7.0f ns\n", encode);
  std::printf("parse + encode                        %7.0f ns\n", both);
  std::printf("raw simdjson walk, DOM                %7.0f ns\n", dom_walk);
  std::printf("raw simdjson walk, On-Demand          %7.0f ns\n", ondemand_walk);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "v2_codec_bench: %s\n", e.what());
  return 1;
}
