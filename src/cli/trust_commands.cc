// `aegis trust add|list|remove`: the server's trust store of model publisher keys.
#include <cstdio>
#include <iostream>

#include "aegis/common/file_util.h"
#include "client_options.h"
#include "commands.h"

namespace aegis::cli {
namespace {

constexpr size_t kMaxPublicKeyFile = size_t{64} * 1024;

struct TrustOptions {
  ClientFlags client;
  std::string name, public_key, models = "*";
  bool json = false;
};

std::string KeyTarget(const std::string& name) { return "/v1/trust/" + EncodePathSegment(name); }

void RunAdd(const TrustOptions& o) {
  auto pem = Check(ReadFile(o.public_key, kMaxPublicKeyFile), "reading the public key");
  nlohmann::json request = {{"public_key", pem}, {"models", o.models}};
  auto client = ConnectClient(o.client);
  auto body = ExpectJson(Check(client->Request("PUT", KeyTarget(o.name), request.dump()), "trust add failed"));
  if (o.json) {
    std::cout << body.dump() << std::endl;
    return;
  }
  std::cout << "trusted " << body.value("name", "") << " (" << body.value("key_type", "") << ", sha256 "
            << body.value("fingerprint", "") << ") to sign models '" << body.value("models", "") << "'" << std::endl;
}

void RunList(const TrustOptions& o) {
  auto client = ConnectClient(o.client);
  auto body = ExpectJson(Check(client->Request("GET", "/v1/trust"), "trust list failed"));
  if (o.json) {
    std::cout << body.dump() << std::endl;
    return;
  }
  std::printf("%-20s %-11s %-20s %-17s %s\n", "NAME", "TYPE", "MODELS", "FINGERPRINT", "ADDED");
  for (const auto& k : body.value("keys", nlohmann::json::array())) {
    std::printf("%-20s %-11s %-20s %-17s %s by %s\n", k.value("name", "").c_str(), k.value("key_type", "").c_str(),
                k.value("models", "").c_str(), k.value("fingerprint", "").substr(0, 16).c_str(),
                k.value("created_at", "").c_str(), k.value("created_by", "").c_str());
  }
}

void RunRemove(const TrustOptions& o) {
  auto client = ConnectClient(o.client);
  auto body = ExpectJson(Check(client->Request("DELETE", KeyTarget(o.name)), "trust remove failed"));
  if (o.json) {
    std::cout << body.dump() << std::endl;
    return;
  }
  auto withdrawn = body.value("withdrawn_versions", nlohmann::json::array());
  std::cout << "removed trusted key " << o.name << "; " << withdrawn.size() << " version(s) it signed withdrawn";
  for (const auto& v : withdrawn) std::cout << " " << v.get<std::string>();
  std::cout << std::endl;
}

}  // namespace

void RegisterTrustCommands(CLI::App& app) {
  CLI::App* trust = app.add_subcommand("trust", "Manage the publisher keys trusted to sign models (admin)");
  trust->require_subcommand(1);

  auto add = std::make_shared<TrustOptions>();
  CLI::App* a = trust->add_subcommand("add", "Trust a public key to sign models whose names match --models");
  a->add_option("name", add->name, "A name for the key (shown as the signer of its models)")->required();
  a->add_option("--public-key", add->public_key, "PEM public key (ECDSA P-256/P-384 or Ed25519)")
      ->required()
      ->check(CLI::ExistingFile);
  a->add_option("--models", add->models, "Glob over model names this key may sign (default: *)");
  AddJsonFlag(a, add->json);
  AddClientFlags(a, add->client);
  a->callback([add] { RunAdd(*add); });

  auto list = std::make_shared<TrustOptions>();
  CLI::App* l = trust->add_subcommand("list", "List trusted keys");
  AddJsonFlag(l, list->json);
  AddClientFlags(l, list->client);
  l->callback([list] { RunList(*list); });

  auto remove = std::make_shared<TrustOptions>();
  CLI::App* r = trust->add_subcommand("remove", "Stop trusting a key; versions it signed stop serving at once");
  r->add_option("name", remove->name, "Key name")->required();
  AddJsonFlag(r, remove->json);
  AddClientFlags(r, remove->client);
  r->callback([remove] { RunRemove(*remove); });
}

}  // namespace aegis::cli
