#include "runtime_config.h"

#include <sstream>

#include "aegis/guard/output_policy.h"
#include "aegis/guard/screening.h"
#include "aegis/registry/registry.h"
#include "config_schema.h"
#include "toml_table.h"

namespace aegis::cli::internal {
namespace {

constexpr int64_t kMiB = 1 << 20;

Status Milliseconds(const TableReader& r, const std::string& key, std::chrono::milliseconds& out, int64_t min,
                    int64_t max) {
  int64_t v = out.count();
  AEGIS_RETURN_IF_ERROR(r.Integer(key, v, min, max));
  out = std::chrono::milliseconds(v);
  return Status::Ok();
}

// An ONNX engine name: "onnxruntime" (the default) or "opencv".
Status Engine(const TableReader& r, const std::string& key, runtime::OnnxEngine& out) {
  std::string name(runtime::OnnxEngineName(out));
  AEGIS_RETURN_IF_ERROR(r.String(key, name));
  std::optional<runtime::OnnxEngine> engine = runtime::ParseOnnxEngine(name);
  if (!engine) return r.Error(key, "must be \"onnxruntime\" (ONNX Runtime) or \"opencv\" (OpenCV DNN)");
  out = *engine;
  return Status::Ok();
}

// `text` for a one-line message: printable ASCII as is, other bytes as \xNN,
// at most 40 characters (a TOML string may hold newlines and escapes).
std::string Shown(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text.substr(0, 40)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
  }
  return out + (text.size() > 40 ? "...\"" : "\"");
}

// An output policy (guard/output_policy.h); a bad one names itself in the error.
Status ReadOutputPolicy(const TableReader& r, const std::string& key, guard::OutputPolicy& out) {
  std::string text = guard::OutputPolicyName(out);
  AEGIS_RETURN_IF_ERROR(r.String(key, text));
  auto policy = guard::ParseOutputPolicy(text);
  if (!policy.ok()) return r.Error(key, Shown(text) + ": " + policy.status().message());
  out = *policy;
  return Status::Ok();
}

// Input screening against the model's baseline (guard/screening.h).
Status ReadScreening(const TableReader& r, guard::ScreeningSettings& out) {
  std::string mode(guard::ScreeningModeName(out.mode));
  AEGIS_RETURN_IF_ERROR(r.String("screening", mode));
  auto parsed = guard::ParseScreeningMode(mode);
  if (!parsed.ok()) return r.Error("screening", Shown(mode) + ": " + parsed.status().message());
  out.mode = *parsed;
  AEGIS_RETURN_IF_ERROR(r.Number("screening_sigma", out.sigma, 0.5, 1000));
  AEGIS_RETURN_IF_ERROR(r.Number("screening_range_margin", out.range_margin, 0, 100));
  return r.Number("screening_score", out.score_multiplier, 1, 1000);
}

Status LoadDefaults(const toml::table& table, const std::string& file, runtime::RuntimeOptions& o) {
  TableReader r(table, "runtime.", file);
  AEGIS_RETURN_IF_ERROR(r.OnlyKeys(KeysOf("runtime")));
  std::string isolation = std::string(runtime::IsolationName(o.isolation));
  AEGIS_RETURN_IF_ERROR(r.String("isolation", isolation));
  if (isolation == "process") {
    o.isolation = runtime::Isolation::kProcess;
  } else if (isolation == "none") {
    o.isolation = runtime::Isolation::kNone;
  } else {
    return r.Error("isolation", "must be \"process\" (confined engine workers) or \"none\" (in process)");
  }
  AEGIS_RETURN_IF_ERROR(r.Integer("instances_per_model", o.instances, 1, 64));
  int64_t memory_mb = static_cast<int64_t>(o.memory_limit_bytes / kMiB);
  AEGIS_RETURN_IF_ERROR(r.Integer("memory_limit_mb", memory_mb, 256, 1 << 20));
  o.memory_limit_bytes = static_cast<uint64_t>(memory_mb) * kMiB;
  AEGIS_RETURN_IF_ERROR(Milliseconds(r, "request_timeout_ms", o.request_timeout, 10, int64_t{3600} * 1000));
  AEGIS_RETURN_IF_ERROR(Milliseconds(r, "queue_timeout_ms", o.queue_timeout, 10, int64_t{3600} * 1000));
  AEGIS_RETURN_IF_ERROR(r.Integer("max_queued", o.max_queued, 1, 1000000));
  AEGIS_RETURN_IF_ERROR(r.Integer("max_request_bytes", o.max_request_bytes, 4096, 1ll << 34));
  AEGIS_RETURN_IF_ERROR(r.Integer("max_response_bytes", o.max_response_bytes, 4096, 1ll << 34));
  std::chrono::seconds load_timeout = std::chrono::duration_cast<std::chrono::seconds>(o.load_timeout);
  AEGIS_RETURN_IF_ERROR(r.Seconds("load_timeout_seconds", load_timeout, 1, 3600));
  o.load_timeout = load_timeout;
  AEGIS_RETURN_IF_ERROR(r.Integer("max_failures", o.max_failures, 0, 1000));
  AEGIS_RETURN_IF_ERROR(r.Seconds("failure_window_seconds", o.failure_window, 10, int64_t{7} * 86400));
  AEGIS_RETURN_IF_ERROR(Engine(r, "onnx_engine", o.onnx_engine));
  AEGIS_RETURN_IF_ERROR(r.String("onnxruntime_dir", o.onnxruntime_dir));
  if (o.onnxruntime_dir.empty() || o.onnxruntime_dir[0] != '/') {
    return r.Error("onnxruntime_dir", "must be an absolute path (the folder of worker.js and its node_modules)");
  }
  return Status::Ok();
}

Status LoadModel(const std::string& name, const toml::table& table, const std::string& file, Config& config) {
  TableReader r(table, "models.\"" + name + "\".", file);
  if (!registry::IsValidModelName(name)) {
    return Status::InvalidArgument(file + ": models.\"" + name +
                                   "\": not a valid model name ([A-Za-z0-9][A-Za-z0-9._-]*, at most 128 characters)");
  }
  AEGIS_RETURN_IF_ERROR(r.OnlyKeys(KeysOf("models.*")));
  registry::ModelRuntimeOverrides o;
  if (table.contains("instances")) {
    int instances = 0;
    AEGIS_RETURN_IF_ERROR(r.Integer("instances", instances, 1, 64));
    o.instances = instances;
  }
  if (table.contains("memory_limit_mb")) {
    int64_t mb = 0;
    AEGIS_RETURN_IF_ERROR(r.Integer("memory_limit_mb", mb, 256, 1 << 20));
    o.memory_limit_bytes = static_cast<uint64_t>(mb) * kMiB;
  }
  if (table.contains("request_timeout_ms")) {
    std::chrono::milliseconds timeout{0};
    AEGIS_RETURN_IF_ERROR(Milliseconds(r, "request_timeout_ms", timeout, 10, int64_t{3600} * 1000));
    o.request_timeout = timeout;
  }
  if (table.contains("max_response_body_bytes")) {
    uint64_t bytes = 0;
    AEGIS_RETURN_IF_ERROR(r.Integer("max_response_body_bytes", bytes, 4096, 1ll << 34));
    config.api_limits.models[name].max_response_body_bytes = bytes;
  }
  AEGIS_RETURN_IF_ERROR(ReadOutputPolicy(r, "output_policy", config.api_limits.models[name].output_policy));
  AEGIS_RETURN_IF_ERROR(ReadScreening(r, config.api_limits.models[name].screening));
  if (table.contains("engine")) {
    runtime::OnnxEngine engine = runtime::OnnxEngine::kOnnxRuntime;
    AEGIS_RETURN_IF_ERROR(Engine(r, "engine", engine));
    o.onnx_engine = engine;
  }
  config.models[name] = o;
  return Status::Ok();
}

}  // namespace

Status LoadRuntimeConfig(const toml::table& root, const std::string& file, Config& config) {
  if (const toml::table* runtime = root["runtime"].as_table()) {
    AEGIS_RETURN_IF_ERROR(LoadDefaults(*runtime, file, config.runtime));
  }
  const toml::node* models = root.get("models");
  if (models == nullptr) return Status::Ok();
  if (!models->is_table())
    return Status::InvalidArgument(file + ": models: must be a table of [models.\"NAME\"] tables");
  for (const auto& [key, node] : *models->as_table()) {
    const std::string name(key.str());
    if (!node.is_table()) {
      return Status::InvalidArgument(file + ": models.\"" + name + "\": must be a table ([models.\"" + name + "\"])");
    }
    AEGIS_RETURN_IF_ERROR(LoadModel(name, *node.as_table(), file, config));
  }
  return Status::Ok();
}

std::string RenderRuntimeConfig() {
  const runtime::RuntimeOptions d;
  const Config c;
  std::ostringstream out;
  out << "[runtime]\n"
      << "# Model code runs only in confined engine worker processes (docs/confinement.md).\n"
      << "# \"none\" runs engines inside the server: for trusted models on machines without\n"
      << "# seccomp only; the server then warns and reports it in /metrics.\n"
      << "isolation = \"process\"\n"
      << "instances_per_model = " << c.runtime.instances << "        # worker processes per model version\n"
      << "memory_limit_mb = " << d.memory_limit_bytes / kMiB << "         # address space per worker\n"
      << "request_timeout_ms = " << d.request_timeout.count() << "       # a longer inference kills its worker\n"
      << "queue_timeout_ms = " << d.queue_timeout.count() << "         # wait for a free worker, then 503\n"
      << "max_queued = " << d.max_queued << "               # requests waiting per model, then 503\n"
      << "max_request_bytes = " << d.max_request_bytes << "  # decoded input tensors per request\n"
      << "max_response_bytes = " << d.max_response_bytes << " # output tensors per response\n"
      << "load_timeout_seconds = " << std::chrono::duration_cast<std::chrono::seconds>(d.load_timeout).count() << "\n"
      << "max_failures = " << d.max_failures << "               # crashes or timeouts tolerated per window;\n"
      << "failure_window_seconds = " << d.failure_window.count() << "   # one more withdraws the version (503)\n"
      << "onnx_engine = \"" << runtime::OnnxEngineName(d.onnx_engine) << "\"     # or \"opencv\" (OpenCV DNN)\n"
      << "onnxruntime_dir = \"" << d.onnxruntime_dir << "\"  # worker.js and its node_modules (make onnxruntime)\n\n"
      << "# Per model name, overriding [runtime]:\n"
      << "# [models.\"fraud-scorer\"]\n"
      << "# instances = 4\n"
      << "# memory_limit_mb = 8192\n"
      << "# request_timeout_ms = 20000\n"
      << "# max_response_body_bytes = 268435456   # overrides [limits] for this model\n"
      << "# engine = \"opencv\"            # ONNX models of this name on OpenCV DNN\n"
      << "# output_policy = \"top_k:3\"     # or \"full\" (default), \"label\", \"round:2\" "
         "(docs/threat-detection.md)\n"
      << "# screening = \"refuse\"          # inputs outside the baseline: \"flag\" (default), \"refuse\", \"off\"\n"
      << "# screening_sigma = 6             # std devs beyond the observed range that flag a value\n"
      << "# screening_range_margin = 0.1    # share of the observed range allowed beyond it\n"
      << "# screening_score = 2             # multiple of the baseline's multivariate threshold\n";
  return out.str();
}

}  // namespace aegis::cli::internal
