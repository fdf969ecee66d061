// `aegis model push|list|remove|baseline`: registry management over the control plane.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "aegis/common/file_util.h"
#include "aegis/crypto/encoding.h"
#include "aegis/runtime/backend.h"
#include "client_options.h"
#include "commands.h"

namespace aegis::cli {
namespace {

struct PushOptions {
  ClientFlags client;
  std::string name, version, file, format, signature;
  bool json = false;
};

// A bundle is small (one resource for a single-file model); anything bigger is
// not a bundle for a push.
constexpr uint64_t kMaxPushBundleBytes = uint64_t{8} * 1024;

// A progress bar on stderr, only when stderr is a terminal.
std::function<void(uint64_t, uint64_t)> ProgressBar() {
  if (!::isatty(STDERR_FILENO)) return {};
  return [](uint64_t sent, uint64_t total) {
    const int width = 40;
    int filled = total ? static_cast<int>(width * sent / total) : width;
    std::fprintf(stderr, "\r[%.*s%*s] %3d%% %llu MiB", filled,
                 "========================================", width - filled, "",
                 total ? static_cast<int>(100 * sent / total) : 100, static_cast<unsigned long long>(sent >> 20));
    if (sent == total) std::fprintf(stderr, "\n");
  };
}

// The trusted key that signed a version, or "unsigned".
std::string SignerOf(const nlohmann::json& model) {
  auto it = model.find("signature");
  if (it == model.end() || !it->is_object()) return "unsigned";
  return it->value("signer", "?");
}

void RunPush(const PushOptions& o) {
  if (!runtime::ParseModelFormat(o.format)) throw CommandError("--format must be onnx, torchscript or xgboost");
  std::vector<std::pair<std::string, std::string>> headers;
  if (!o.signature.empty()) {
    auto bundle = Check(ReadFile(o.signature, kMaxPushBundleBytes), "reading the signature bundle");
    headers.emplace_back("Aegis-Signature-Bundle",
                         crypto::Base64Encode({reinterpret_cast<const uint8_t*>(bundle.data()), bundle.size()}));
  }
  auto client = ConnectClient(o.client);
  const std::string target =
      "/v1/models/" + EncodePathSegment(o.name) + "/versions/" + EncodePathSegment(o.version) + "?format=" + o.format;
  auto response = Check(client->Upload("PUT", target, o.file, ProgressBar(), headers), "push failed");
  auto body = ExpectJson(response);
  if (o.json) {
    std::cout << body.dump() << std::endl;
  } else {
    std::cout << "pushed " << body.value("name", "") << " version " << body.value("version", "") << " ("
              << body.value("size_bytes", 0) << " bytes, sha256 " << body.value("sha256", "") << ", signed by "
              << SignerOf(body) << ")" << std::endl;
  }
}

void RunList(const ClientFlags& flags, bool json) {
  auto client = ConnectClient(flags);
  auto body = ExpectJson(Check(client->Request("GET", "/v1/models"), "list failed"));
  if (json) {
    std::cout << body.dump() << std::endl;
    return;
  }
  std::printf("%-24s %-10s %-12s %-11s %12s  %-17s %-16s %-20s %s\n", "NAME", "VERSION", "FORMAT", "STATE", "BYTES",
              "SHA256", "SIGNED BY", "PUSHED BY", "CREATED");
  for (const auto& m : body.value("models", nlohmann::json::array())) {
    std::printf("%-24s %-10s %-12s %-11s %12llu  %-17s %-16s %-20s %s\n", m.value("name", "").c_str(),
                m.value("version", "").c_str(), m.value("format", "").c_str(), m.value("state", "?").c_str(),
                static_cast<unsigned long long>(m.value("size_bytes", 0ull)),
                m.value("sha256", "").substr(0, 16).c_str(), SignerOf(m).c_str(), m.value("created_by", "").c_str(),
                m.value("created_at", "").c_str());
  }
}

void RunRemove(const ClientFlags& flags, const std::string& name, const std::string& version) {
  auto client = ConnectClient(flags);
  const std::string target = "/v1/models/" + EncodePathSegment(name) + "/versions/" + EncodePathSegment(version);
  ExpectJson(Check(client->Request("DELETE", target), "remove failed"));
  std::cout << "removed " << name << " version " << version << std::endl;
}

struct BaselineOptions {
  ClientFlags client;
  std::string name, version, data, input;
  bool show = false;
  bool json = false;
};

// `aegis model baseline NAME --version V --data FILE` uploads a sample (a v2
// JSON request body with many rows, or a .npy array); `--show` prints the
// stored summary.
void RunBaseline(const BaselineOptions& o) {
  if (o.show == !o.data.empty()) throw CommandError("give either --data FILE or --show");
  auto client = ConnectClient(o.client);
  std::string target =
      "/v1/models/" + EncodePathSegment(o.name) + "/versions/" + EncodePathSegment(o.version) + "/baseline";
  nlohmann::json body;
  if (o.show) {
    body = ExpectJson(Check(client->Request("GET", target), "reading the baseline failed"));
  } else {
    if (!o.input.empty()) target += "?input=" + EncodePathSegment(o.input);
    body = ExpectJson(Check(client->Upload("PUT", target, o.data, ProgressBar(), {}), "baseline upload failed"));
  }
  if (o.json) {
    std::cout << body.dump() << std::endl;
    return;
  }
  std::cout << (o.show ? "baseline of "
                       : (body.value("replaced", false) ? "replaced the baseline of " : "set the baseline of "))
            << body.value("model", "") << " version " << body.value("version", "") << ": " << body.value("rows", 0ull)
            << " rows (" << body.value("created_by", "") << ", " << body.value("created_at", "") << "); screening "
            << body.value("screening", nlohmann::json::object()).value("mode", "") << std::endl;
  for (const auto& in : body.value("inputs", nlohmann::json::array())) {
    const auto mv = in.value("multivariate", nlohmann::json::object());
    std::cout << "  input " << in.value("name", "") << ": " << in.value("features", 0ull) << " features, "
              << mv.value("components", 0ull) << " principal components, score threshold " << mv.value("threshold", 0.0)
              << std::endl;
  }
}

}  // namespace

void RegisterModelCommands(CLI::App& app) {
  CLI::App* model = app.add_subcommand(
      "model",
      "Models: push, list, remove and baseline on a running server; sign, verify and keygen offline, no server needed");
  model->require_subcommand(1);
  RegisterModelSigningCommands(*model);

  auto push = std::make_shared<PushOptions>();
  CLI::App* p = model->add_subcommand("push", "Upload a model version (encrypted at rest by the server)");
  p->footer(
      "Examples:\n"
      "  aegis model push mlp --version 1 --file mlp.onnx --format onnx --signature mlp.sig.json\n"
      "  AEGIS_CACERT=/srv/aegis/tls/ca.crt aegis model push fraud --version 2024-06 --file fraud.pt \\\n"
      "      --format torchscript --signature fraud.sig.json --json");
  p->add_option("name", push->name, "Model name")->required();
  p->add_option("--version", push->version, "Version label")->required();
  p->add_option("--file", push->file, "Model file")->required()->check(CLI::ExistingFile);
  p->add_option("--format", push->format, "onnx | torchscript | xgboost")->required();
  p->add_option("--signature", push->signature,
                "Sigstore bundle from `aegis model sign` (required unless registry.require_signature = false)")
      ->check(CLI::ExistingFile);
  AddJsonFlag(p, push->json);
  AddClientFlags(p, push->client);
  p->callback([push] { RunPush(*push); });

  auto list_flags = std::make_shared<ClientFlags>();
  auto list_json = std::make_shared<bool>(false);
  CLI::App* l = model->add_subcommand("list", "List model versions");
  AddJsonFlag(l, *list_json);
  AddClientFlags(l, *list_flags);
  l->callback([list_flags, list_json] { RunList(*list_flags, *list_json); });

  auto rm_flags = std::make_shared<ClientFlags>();
  auto rm_name = std::make_shared<std::string>();
  auto rm_version = std::make_shared<std::string>();
  CLI::App* r = model->add_subcommand("remove", "Remove a model version and its encrypted artifact");
  r->add_option("name", *rm_name, "Model name")->required();
  r->add_option("--version", *rm_version, "Version label")->required();
  AddClientFlags(r, *rm_flags);
  r->callback([rm_flags, rm_name, rm_version] { RunRemove(*rm_flags, *rm_name, *rm_version); });

  auto baseline = std::make_shared<BaselineOptions>();
  CLI::App* b = model->add_subcommand(
      "baseline", "Set a version's input baseline from a sample (v2 JSON body or .npy), or --show it");
  b->add_option("name", baseline->name, "Model name")->required();
  b->add_option("--version", baseline->version, "Version label")->required();
  b->add_option("--data", baseline->data, "Sample: a KServe v2 JSON request body with many rows, or a .npy array")
      ->check(CLI::ExistingFile);
  b->add_option("--input", baseline->input, "The model input a .npy file is for (when the model has several)");
  b->add_flag("--show", baseline->show, "Print the stored baseline's summary");
  AddJsonFlag(b, baseline->json);
  AddClientFlags(b, baseline->client);
  b->callback([baseline] { RunBaseline(*baseline); });
}

}  // namespace aegis::cli
