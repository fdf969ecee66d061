// aegis_run_model: a test harness that runs one model file through
// ModelInstances exactly as the server does after its checks, but without them:
// no signature, no scanner. The confinement tests use it to show that a hostile
// model the checks would have refused is still contained when it runs.
//
//   aegis_run_model --format F --model FILE [--request FILE] [--isolation process|none]
//                   [--timeout-ms N] [--memory-limit-mb N] [--repeat N]
//
// Prints one JSON object: {"load": {"ok", "error"}, "platform", "results": [{"ok",
// "status", "error", "outputs": [{"name", "datatype", "shape", "hex"}],
// "events_before", "on_loop"}], "events": [{"kind", "detail"}], "confinement",
// "stats"}. Exit 0 when it ran, 2 on bad arguments. Also the worker:
// `aegis_run_model engine-worker ...`.
//
// Requests are submitted as the server submits small ones: from an event-loop
// thread that also watches the workers' responses (RuntimeOptions::response_loop).
// A result's "events_before" counts the runtime events recorded when its answer
// came, "on_loop" says whether the loop thread gave it.
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "aegis/api/v2_codec.h"
#include "aegis/runtime/model_instances.h"
#include "common/testing/poll_event_loop.h"

namespace {

using namespace aegis;
using nlohmann::json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string Hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes.first(std::min<size_t>(bytes.size(), 1 << 20))) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

int Usage() {
  std::fprintf(stderr,
               "usage: aegis_run_model --format onnx|torchscript|xgboost --model FILE [--engine onnxruntime|opencv] "
               "[--request FILE] "
               "[--isolation process|none] [--timeout-ms N] [--memory-limit-mb N] [--repeat N]\n");
  return 2;
}

}  // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): an exception aborts the harness, which its tests report as a failure
int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "engine-worker") == 0) {
    return runtime::RunEngineWorker(std::span<char* const>(argv + 2, static_cast<size_t>(argc - 2)));
  }
  std::string format_name, model_path, request_path;
  runtime::RuntimeOptions options;
  options.label = "probe/1";
  int repeat = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    long long n = 0;
    const bool numeric = std::from_chars(value.data(), value.data() + value.size(), n).ec == std::errc();
    if (key == "--format") {
      format_name = value;
    } else if (key == "--model") {
      model_path = value;
    } else if (key == "--request") {
      request_path = value;
    } else if (key == "--isolation" && (value == "process" || value == "none")) {
      options.isolation = value == "none" ? runtime::Isolation::kNone : runtime::Isolation::kProcess;
    } else if (key == "--timeout-ms" && numeric && n > 0) {
      options.request_timeout = std::chrono::milliseconds(n);
    } else if (key == "--memory-limit-mb" && numeric && n > 0) {
      options.memory_limit_bytes = static_cast<uint64_t>(n) << 20;
    } else if (key == "--engine" && runtime::ParseOnnxEngine(value)) {
      options.onnx_engine = *runtime::ParseOnnxEngine(value);
    } else if (key == "--repeat" && numeric && n > 0 && n <= 1000) {
      repeat = static_cast<int>(n);
    } else {
      return Usage();
    }
  }
  const auto format = runtime::ParseModelFormat(format_name);
  if (!format || model_path.empty()) return Usage();
  spdlog::set_default_logger(spdlog::stderr_logger_mt("aegis_run_model"));  // stdout is the JSON

  std::mutex events_mu;
  json events = json::array();
  options.on_event = [&](const runtime::RuntimeEvent& event) {
    std::lock_guard lock(events_mu);
    events.push_back({{"kind", std::string(runtime::RuntimeEventName(event.kind))}, {"detail", event.detail}});
  };
  // Declared before the instances: their watches end before the loop does.
  auto loop = std::make_shared<testing::PollEventLoop>();
  options.response_loop = loop;
  const std::string model = ReadAll(model_path);
  json out;
  auto instances =
      runtime::ModelInstances::Load(*format, {reinterpret_cast<const uint8_t*>(model.data()), model.size()}, options);
  out["load"] = {{"ok", instances.ok()}, {"error", instances.ok() ? "" : instances.status().message()}};
  out["results"] = json::array();
  if (instances.ok()) {
    out["platform"] = std::string((*instances)->platform());
    if (!request_path.empty()) {
      auto request = api::ParseInferRequest(ReadAll(request_path), std::nullopt);
      if (!request.ok()) {
        std::fprintf(stderr, "aegis_run_model: %s\n", request.status().message().c_str());
        return 2;
      }
      for (int i = 0; i < repeat; ++i) {
        struct Answer {
          StatusOr<std::vector<runtime::Tensor>> outputs = Status::Internal("no answer");
          size_t events_before = 0;
          bool on_loop = false;
        };
        std::promise<Answer> answered;
        loop->Post([&] {
          (*instances)
              ->Submit(request->inputs, "probe-" + std::to_string(i), [&](const runtime::InferenceResult& done) {
                Answer answer;
                if (done.status.ok()) {
                  std::vector<runtime::Tensor> copies;
                  for (const runtime::TensorView& v : done.outputs) {
                    copies.push_back(runtime::Tensor{.name = std::string(v.name),
                                                     .datatype = v.datatype,
                                                     .shape = v.shape,
                                                     .data = {v.data.begin(), v.data.end()}});
                  }
                  answer.outputs = std::move(copies);
                } else {
                  answer.outputs = done.status;
                }
                {
                  std::lock_guard lock(events_mu);
                  answer.events_before = events.size();
                }
                answer.on_loop = loop->InLoopThread();
                answered.set_value(std::move(answer));
              });
        });
        Answer answer = answered.get_future().get();
        auto& result = answer.outputs;
        json r = {{"ok", result.ok()},
                  {"status", aegis::StatusCodeName(result.status().code())},
                  {"error", result.ok() ? "" : result.status().message()},
                  {"outputs", json::array()},
                  {"events_before", answer.events_before},
                  {"on_loop", answer.on_loop}};
        if (result.ok()) {
          for (const runtime::Tensor& t : *result) {
            r["outputs"].push_back({{"name", t.name},
                                    {"datatype", std::string(runtime::DataTypeName(t.datatype))},
                                    {"shape", t.shape},
                                    {"hex", Hex(t.data)}});
          }
        }
        out["results"].push_back(std::move(r));
      }
    }
    const runtime::InstanceStats stats = (*instances)->Stats();
    out["stats"] = {{"up", stats.up},
                    {"failures", stats.failures},
                    {"restarts", stats.restarts},
                    {"sandbox_violations", stats.sandbox_violations},
                    {"withdrawn", stats.withdrawn}};
    out["confinement"] = stats.confinement.empty() ? json() : json::parse(stats.confinement, nullptr, false);
  }
  {
    std::lock_guard lock(events_mu);
    out["events"] = events;
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
