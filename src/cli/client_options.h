// Connection options shared by the client subcommands: --server, --token,
// --cacert, --cert, --key, falling back to AEGIS_SERVER, AEGIS_TOKEN,
// AEGIS_CACERT, AEGIS_CERT, AEGIS_KEY. Without a token, the session saved by
// `aegis login` for the same server is used; a client certificate alone
// (mutual TLS) is also a credential. Failures say what to do (a CA file that
// is missing, a certificate that is not trusted).
//
// Thread-safety: functions of the command's one thread.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "aegis/http/client.h"

namespace aegis::cli {

struct ClientFlags {
  std::string server;
  std::string token;
  std::string cacert;
  std::string cert;
  std::string key;
};

// Adds --server/--token/--cacert/--cert/--key to `cmd`.
void AddClientFlags(CLI::App* cmd, ClientFlags& flags);

// The control-plane URL (flag, then environment, then https://127.0.0.1:9443).
std::string ServerUrl(const ClientFlags& flags);

enum class Credential {
  kRequired,  // a token, a saved session or a client certificate
  kNone,      // aegis login: no credential is sent
};

// Connects to ServerUrl(flags).
std::unique_ptr<http::HttpsClient> ConnectClient(const ClientFlags& flags,
                                                 Credential credential = Credential::kRequired);

// `message` (a failed connection) with what to do about it: a certificate the
// client does not trust names --cacert, AEGIS_CACERT and the installation's
// tls/ca.crt; one that does not name the host says which names it has.
std::string ExplainConnectFailure(const std::string& message, bool ca_given_nowhere);

// Throws CommandError naming `path` and where it came from (`origin`: the flag
// or the variable) unless it is a readable file.
void CheckCaFile(const std::string& path, const char* origin);

// Percent-encodes one path segment or query value (everything but RFC 3986's
// unreserved characters).
std::string EncodePathSegment(const std::string& segment);

// Parses a 2xx response as JSON, or throws CommandError with the server's error.
nlohmann::json ExpectJson(const http::ClientResponse& response);

}  // namespace aegis::cli
