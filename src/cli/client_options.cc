#include "client_options.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "commands.h"
#include "session_file.h"

namespace aegis::cli {
namespace {

std::string FromEnv(const std::string& flag, const char* env, const std::string& fallback) {
  if (!flag.empty()) return flag;
  const char* v = std::getenv(env);
  return (v && *v) ? std::string(v) : fallback;
}

}  // namespace

void AddClientFlags(CLI::App* cmd, ClientFlags& flags) {
  cmd->add_option("--server", flags.server, "Control plane URL (env AEGIS_SERVER; default https://127.0.0.1:9443)")
      ->group(kConnectionGroup);
  cmd->add_option("--token", flags.token,
                  "Bearer token (env AEGIS_TOKEN, preferred: arguments are visible in ps); "
                  "default: the session saved by aegis login")
      ->group(kConnectionGroup);
  cmd->add_option("--cacert", flags.cacert,
                  "CA certificate to verify the server (env AEGIS_CACERT; the installation's DIR/tls/ca.crt)")
      ->group(kConnectionGroup);
  cmd->add_option("--cert", flags.cert, "Client certificate for mutual TLS, PEM (env AEGIS_CERT)")
      ->group(kConnectionGroup);
  cmd->add_option("--key", flags.key, "Private key of --cert, PEM (env AEGIS_KEY)")->group(kConnectionGroup);
}

std::string ServerUrl(const ClientFlags& flags) {
  return FromEnv(flags.server, "AEGIS_SERVER", "https://127.0.0.1:9443");
}

std::unique_ptr<http::HttpsClient> ConnectClient(const ClientFlags& flags, Credential credential) {
  http::ClientOptions options;
  options.server = ServerUrl(flags);
  std::string ca = FromEnv(flags.cacert, "AEGIS_CACERT", "");
  if (!ca.empty()) {
    CheckCaFile(ca, flags.cacert.empty() ? "AEGIS_CACERT" : "--cacert");
    options.ca_file = ca;
  }
  const std::string cert = FromEnv(flags.cert, "AEGIS_CERT", "");
  const std::string key = FromEnv(flags.key, "AEGIS_KEY", "");
  if (cert.empty() != key.empty()) throw CommandError("--cert and --key go together");
  if (!cert.empty()) {
    options.client_cert = cert;
    options.client_key = key;
  }
  if (credential == Credential::kRequired) {
    std::string token = FromEnv(flags.token, "AEGIS_TOKEN", "");
    if (token.empty()) {
      // A saved session is only ever sent to the server that issued it.
      if (auto saved = LoadSession(SessionFilePath()); saved && saved->server == options.server) {
        token = saved->session;
      }
    }
    if (!token.empty()) {
      options.bearer_token = token;
    } else if (cert.empty()) {
      throw CommandError("no credential: pass --token, set AEGIS_TOKEN, run aegis login, or use --cert/--key");
    }
  }
  auto client = http::HttpsClient::Connect(options);
  if (!client.ok()) throw CommandError(ExplainConnectFailure(client.status().message(), ca.empty()));
  return std::move(client).value();
}

std::string ExplainConnectFailure(const std::string& message, bool ca_given_nowhere) {
  const auto has = [&message](std::string_view what) { return message.find(what) != std::string::npos; };
  if (has("TLS handshake") && has("certificate verify failed")) {
    if (has("ostname mismatch")) {
      return message +
             "; the server's certificate does not name the host in --server: use a name it has (localhost, "
             "127.0.0.1 and ::1 unless aegis init was given --san NAME)";
    }
    return message +
           "; the server's certificate is not trusted: pass --cacert (or set AEGIS_CACERT) to the CA of "
           "the installation, DIR/tls/ca.crt" +
           (ca_given_nowhere ? " (no CA was given, so only the system's CAs were tried)" : "");
  }
  return message;
}

void CheckCaFile(const std::string& path, const char* origin) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    throw CommandError("the CA file '" + path + "' given by " + origin + " does not exist");
  }
  if (std::filesystem::is_directory(status)) {
    throw CommandError("the CA file '" + path + "' given by " + origin + " is a folder, not a PEM file");
  }
  std::ifstream file(path);
  if (!file) {
    throw CommandError("the CA file '" + path + "' given by " + origin + " cannot be read: " + std::strerror(errno));
  }
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
