#include "common/testing/test_pki.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace aegis::testing {
namespace {

void Run(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("failed: " + command);
}

constexpr const char* kNewKey = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ";

// A leaf (or, with `extensions` saying CA:TRUE, an intermediate) issued by `issuer`.
struct Issue {
  std::string subject;     // openssl -subj form, e.g. "/O=Acme/CN=scorer"
  std::string extensions;  // extfile lines
  int days = 2;            // negative: already expired
};

// Creates `name`.key/.pem as a self-signed CA.
void MakeCa(const std::filesystem::path& dir, const std::string& name) {
  const std::string d = dir.string() + "/";
  Run("openssl req -x509 " + std::string(kNewKey) + d + name + ".key -out " + d + name + ".pem -days 2 -subj '/CN=" +
      name + "' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
}

// Creates `name`.key/.pem signed by `issuer`.key/.pem.
void MakeIssued(const std::filesystem::path& dir, const std::string& name, const std::string& issuer,
                const Issue& spec) {
  const std::string d = dir.string() + "/";
  const std::string ext = d + name + ".ext";
  std::ofstream(ext) << spec.extensions;
  Run("openssl req " + std::string(kNewKey) + d + name + ".key -out " + d + name + ".csr -subj '" + spec.subject + "'");
  Run("openssl x509 -req -in " + d + name + ".csr -CA " + d + issuer + ".pem -CAkey " + d + issuer +
      ".key -CAcreateserial -out " + d + name + ".pem -days " + std::to_string(spec.days) + " -extfile " + ext);
}

void MakeServer(const std::filesystem::path& dir, const std::string& name, const std::string& issuer,
                const std::string& san) {
  MakeIssued(dir, name, issuer,
             {"/CN=" + name, "subjectAltName=" + san + "\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"});
}

// A client leaf with the standard test names; `eku` is its extendedKeyUsage.
void MakeClient(const std::filesystem::path& dir, const std::string& name, const std::string& issuer,
                const std::string& eku = "clientAuth", int days = 2) {
  const std::string san =
      "DNS:scorer.internal,URI:spiffe://acme.example/scorer,email:scorer@acme.example,"
      "IP:10.0.0.1,IP:fd00::1";
  MakeIssued(dir, name, issuer,
             {"/O=Acme/CN=scorer",
              "subjectAltName=" + san + "\nextendedKeyUsage=" + eku +
                  "\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n",
              days});
}

void Concatenate(const std::filesystem::path& out, const std::vector<std::filesystem::path>& parts) {
  std::ofstream o(out, std::ios::binary);
  for (const auto& part : parts) o << std::ifstream(part, std::ios::binary).rdbuf();
  if (!o) throw std::runtime_error("cannot write " + out.string());
}

TestPki Generate() {
  TestPki pki;
  std::string templ = (std::filesystem::temp_directory_path() / "aegis-test-pki-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  pki.dir = templ;
  const auto& dir = pki.dir;
  const std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  MakeCa(dir, "ca");
  MakeServer(dir, "server", "ca", san);
  MakeCa(dir, "other-ca");
  MakeServer(dir, "other-server", "other-ca", san);
  MakeServer(dir, "wrong-name", "ca", "DNS:other.example");
  pki.ca_cert = dir / "ca.pem";
  pki.server_cert = dir / "server.pem";
  pki.server_key = dir / "server.key";
  pki.other_ca_server_cert = dir / "other-server.pem";
  pki.other_ca_server_key = dir / "other-server.key";
  pki.wrong_name_cert = dir / "wrong-name.pem";
  pki.wrong_name_key = dir / "wrong-name.key";

  MakeCa(dir, "client-ca");
  MakeClient(dir, "client", "client-ca");
  MakeIssued(dir, "client-intermediate", "client-ca",
             {"/CN=client-intermediate",
              "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"});
  MakeClient(dir, "chained-client-leaf", "client-intermediate");
  Concatenate(dir / "chained-client.pem", {dir / "chained-client-leaf.pem", dir / "client-intermediate.pem"});
  MakeClient(dir, "expired-client", "client-ca", "clientAuth", -1);
  MakeClient(dir, "server-auth-client", "client-ca", "serverAuth");
  MakeCa(dir, "foreign-ca");
  MakeClient(dir, "foreign-client", "foreign-ca");
  pki.client_ca_cert = dir / "client-ca.pem";
  pki.client_cert = dir / "client.pem";
  pki.client_key = dir / "client.key";
  pki.chained_client_cert = dir / "chained-client.pem";
  pki.chained_client_key = dir / "chained-client-leaf.key";
  pki.expired_client_cert = dir / "expired-client.pem";
  pki.expired_client_key = dir / "expired-client.key";
  pki.server_auth_client_cert = dir / "server-auth-client.pem";
  pki.server_auth_client_key = dir / "server-auth-client.key";
  pki.foreign_ca_cert = dir / "foreign-ca.pem";
  pki.foreign_client_cert = dir / "foreign-client.pem";
  pki.foreign_client_key = dir / "foreign-client.key";
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

const std::vector<std::string>& TestPki::ClientSans() {
  static const std::vector<std::string> sans = {"DNS:scorer.internal", "URI:spiffe://acme.example/scorer",
                                                "email:scorer@acme.example", "IP:10.0.0.1", "IP:fd00::1"};
  return sans;
}

const TestPki& TestPki::Get() {
  static const TestPki pki = Generate();
  static const Cleanup cleanup{pki.dir};
  return pki;
}

}  // namespace aegis::testing
