#include "test_pki.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace aegis::http::testing {
namespace {

void Run(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("failed: " + command);
}

// Creates `name`.key/.pem: a CA when `issuer` is empty, else a server leaf.
void MakeCert(const std::filesystem::path& dir, const std::string& name, const std::string& issuer,
              const std::string& san) {
  const std::string d = dir.string() + "/";
  const std::string key = d + name + ".key", pem = d + name + ".pem";
  const std::string newkey = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key;
  if (issuer.empty()) {
    Run("openssl req -x509 " + newkey + " -out " + pem + " -days 2 -subj '/CN=" + name +
        "' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
    return;
  }
  const std::string ext = d + name + ".ext";
  std::ofstream(ext) << "subjectAltName=" << san << "\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n";
  Run("openssl req " + newkey + " -out " + d + name + ".csr -subj '/CN=" + name + "'");
  Run("openssl x509 -req -in " + d + name + ".csr -CA " + d + issuer + ".pem -CAkey " + d + issuer +
      ".key -CAcreateserial -out " + pem + " -days 2 -extfile " + ext);
}

TestPki Generate() {
  TestPki pki;
  std::string templ = (std::filesystem::temp_directory_path() / "aegis-http-pki-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  pki.dir = templ;
  const std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  MakeCert(pki.dir, "ca", "", "");
  MakeCert(pki.dir, "server", "ca", san);
  MakeCert(pki.dir, "other-ca", "", "");
  MakeCert(pki.dir, "other-server", "other-ca", san);
  MakeCert(pki.dir, "wrong-name", "ca", "DNS:other.example");
  pki.ca_cert = pki.dir / "ca.pem";
  pki.server_cert = pki.dir / "server.pem";
  pki.server_key = pki.dir / "server.key";
  pki.other_ca_server_cert = pki.dir / "other-server.pem";
  pki.other_ca_server_key = pki.dir / "other-server.key";
  pki.wrong_name_cert = pki.dir / "wrong-name.pem";
  pki.wrong_name_key = pki.dir / "wrong-name.key";
  return pki;
}

struct Cleanup {
  std::filesystem::path dir;
  ~Cleanup() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

const TestPki& TestPki::Get() {
  static const TestPki pki = Generate();
  static const Cleanup cleanup{pki.dir};
  return pki;
}

}  // namespace aegis::http::testing
