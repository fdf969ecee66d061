// Test-only PKI: a CA, a server certificate for localhost/127.0.0.1/::1 signed by
// it, a server certificate from an unrelated CA, and one signed by the right CA
// for the wrong name. Generated once per test process with the openssl CLI.
#pragma once

#include <filesystem>

namespace aegis::http::testing {

struct TestPki {
  std::filesystem::path dir;
  std::filesystem::path ca_cert;
  std::filesystem::path server_cert, server_key;
  std::filesystem::path other_ca_server_cert, other_ca_server_key;  // signed by another CA
  std::filesystem::path wrong_name_cert, wrong_name_key;            // SAN: other.example only

  static const TestPki& Get();
};

}  // namespace aegis::http::testing
