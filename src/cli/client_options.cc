#include "client_options.h"

#include <cctype>
#include <cstdlib>

#include "commands.h"

namespace aegis::cli {
namespace {

std::string FromEnv(const std::string& flag, const char* env, const std::string& fallback) {
  if (!flag.empty()) return flag;
  const char* v = std::getenv(env);
  return (v && *v) ? std::string(v) : fallback;
}

}  // namespace

void AddClientFlags(CLI::App* cmd, ClientFlags& flags) {
  cmd->add_option("--server", flags.server, "Control plane URL (env AEGIS_SERVER; default https://127.0.0.1:9443)");
  cmd->add_option("--token", flags.token, "Bearer token (env AEGIS_TOKEN, preferred: arguments are visible in ps)");
  cmd->add_option("--cacert", flags.cacert, "CA certificate to verify the server (env AEGIS_CACERT)");
}

std::unique_ptr<http::HttpsClient> ConnectClient(const ClientFlags& flags) {
  http::ClientOptions options;
  options.server = FromEnv(flags.server, "AEGIS_SERVER", "https://127.0.0.1:9443");
  std::string token = FromEnv(flags.token, "AEGIS_TOKEN", "");
  if (token.empty()) throw CommandError("no token: pass --token or set AEGIS_TOKEN");
  options.bearer_token = token;
  std::string ca = FromEnv(flags.cacert, "AEGIS_CACERT", "");
  if (!ca.empty()) options.ca_file = ca;
  return Check(http::HttpsClient::Connect(options));
}

std::string EncodePathSegment(const std::string& segment) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

nlohmann::json ExpectJson(const http::ClientResponse& response) {
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (response.status < 200 || response.status >= 300) {
    std::string message = body.is_object() && body.contains("error") && body["error"].is_string()
                              ? body["error"].get<std::string>()
                              : "HTTP " + std::to_string(response.status);
    throw CommandError("server refused (" + std::to_string(response.status) + "): " + message);
  }
  if (body.is_discarded()) throw CommandError("server sent a response that is not JSON");
  return body;
}

}  // namespace aegis::cli
