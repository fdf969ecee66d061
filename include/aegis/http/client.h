// HttpsClient: a small blocking HTTPS/1.1 client. Verifies the server
// certificate against a CA file (or the system store) and the host name; never
// offers a way to skip verification. Used by the CLI's client commands, and in
// the server by the webhook audit sink (on its delivery thread) and the JWKS
// fetch of [auth.jwt] jwks_url; blocking is why neither runs on an I/O thread.
//
// Thread-safety: one client per thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::http {

struct ClientResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
};

struct ClientOptions {
  std::string server;                            // "https://host:port"
  std::optional<std::filesystem::path> ca_file;  // PEM bundle; system store when unset
  std::optional<std::string> bearer_token;
  // Mutual TLS: a client certificate chain and its private key (PEM), both or neither.
  std::optional<std::filesystem::path> client_cert;
  std::optional<std::filesystem::path> client_key;
  int timeout_seconds = 300;
  // Larger response bodies fail the request (a peer must not make us buffer gigabytes).
  uint64_t max_response_bytes = 1ull << 30;
};

class HttpsClient {
 public:
  static StatusOr<std::unique_ptr<HttpsClient>> Connect(const ClientOptions& options);
  ~HttpsClient();

  StatusOr<ClientResponse> Request(const std::string& method, const std::string& target, const std::string& body = "",
                                   const std::string& content_type = "application/json");
  // Streams a file as the request body (Content-Length from the file size), in
  // chunks, without reading it whole into memory. `progress(sent, total)` is optional;
  // `headers` are added to the request (e.g. the signature bundle of a push).
  StatusOr<ClientResponse> Upload(const std::string& method, const std::string& target,
                                  const std::filesystem::path& file,
                                  const std::function<void(uint64_t, uint64_t)>& progress = {},
                                  const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  HttpsClient();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::http
