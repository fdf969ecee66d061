// Test-only PKI, generated once per test process with the openssl CLI:
//  - a CA, a server certificate for localhost/127.0.0.1/::1 signed by it, a
//    server certificate from an unrelated CA, and one signed by the right CA for
//    the wrong name;
//  - for mutual TLS, a separate client CA and client certificates issued by it
//    (a good one, one via an intermediate, an expired one, one for serverAuth
//    only), and a "foreign" CA that issues a look-alike of the good one.
// Shared by the http tests and the audit sinks' TLS tests.
//
// Thread-safety: Get() is safe to call from any thread (a function-local
// static); the files are removed when the process exits.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace aegis::testing {

struct TestPki {
  std::filesystem::path dir;
  std::filesystem::path ca_cert;
  std::filesystem::path server_cert, server_key;
  std::filesystem::path other_ca_server_cert, other_ca_server_key;  // signed by another CA
  std::filesystem::path wrong_name_cert, wrong_name_key;            // SAN: other.example only

  // Mutual TLS. Every client leaf has kClientSubject and kClientSans unless noted.
  std::filesystem::path client_ca_cert;                                   // the bundle a server trusts for clients
  std::filesystem::path client_cert, client_key;                          // clientAuth, from client_ca_cert
  std::filesystem::path chained_client_cert, chained_client_key;          // leaf + intermediate, under client_ca
  std::filesystem::path expired_client_cert, expired_client_key;          // expired yesterday
  std::filesystem::path server_auth_client_cert, server_auth_client_key;  // EKU serverAuth only
  std::filesystem::path foreign_ca_cert;                                  // an independent CA
  std::filesystem::path foreign_client_cert, foreign_client_key;          // same names, from foreign_ca_cert

  static constexpr const char* kClientSubject = "CN=scorer,O=Acme";  // RFC 2253
  static const std::vector<std::string>& ClientSans();               // as the server reports them

  static const TestPki& Get();
};

}  // namespace aegis::testing
