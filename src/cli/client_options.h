// Connection options shared by the client subcommands: --server, --token, --cacert,
// falling back to AEGIS_SERVER, AEGIS_TOKEN, AEGIS_CACERT.
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
};

// Adds --server/--token/--cacert to `cmd`.
void AddClientFlags(CLI::App* cmd, ClientFlags& flags);

// Connects (flags first, then environment, then https://127.0.0.1:9443).
std::unique_ptr<http::HttpsClient> ConnectClient(const ClientFlags& flags);

// Percent-encodes one path segment.
std::string EncodePathSegment(const std::string& segment);

// Parses a 2xx response as JSON, or throws CommandError with the server's error.
nlohmann::json ExpectJson(const http::ClientResponse& response);

}  // namespace aegis::cli
