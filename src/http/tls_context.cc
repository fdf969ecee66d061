#include "tls_context.h"

#include <memory>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "aegis/common/file_util.h"

namespace aegis::http::internal {
namespace {

namespace ssl = boost::asio::ssl;

// Mozilla intermediate, TLS 1.2 part: forward secrecy and AEAD only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384";

// We speak HTTP/1.1 only; answering ALPN explicitly stops clients that offer h2
// first from guessing.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
               void*) {
  static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

Status Fail(const std::string& what) { return Status::InvalidArgument(what + ": " + TakeOpenSslError()); }

// Deep enough for root -> intermediate -> issuing CA -> leaf with room to spare;
// longer chains from clients are refused rather than walked.
constexpr int kClientChainDepth = 4;

// Mutual TLS: trust exactly the client CA bundle (the store starts empty; the
// system store is never added), advertise its subjects in CertificateRequest,
// and fail the handshake on any certificate that does not verify. No verify
// callback: OpenSSL's own verdict decides, so there is no path back to an
// anonymous connection once a bad certificate was sent.
Status ConfigureClientVerification(SSL_CTX* native, const TlsFiles& files) {
  const std::string ca = files.client_ca->string();
  if (SSL_CTX_load_verify_locations(native, ca.c_str(), nullptr) != 1) {
    return Fail("cannot load TLS client CA bundle '" + ca + "'");
  }
  // Also catches a file with only CRLs, which load_verify_locations accepts.
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str());
  if (names == nullptr || sk_X509_NAME_num(names) == 0) {
    if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
    ERR_clear_error();
    return Status::InvalidArgument("TLS client CA bundle '" + ca + "' holds no certificate");
  }
  SSL_CTX_set_client_CA_list(native, names);  // takes ownership
  if (SSL_CTX_set_purpose(native, X509_PURPOSE_SSL_CLIENT) != 1) return Fail("setting client certificate purpose");
  SSL_CTX_set_verify_depth(native, kClientChainDepth);
  // No SSL_VERIFY_POST_HANDSHAKE: the certificate is asked for in the handshake
  // (TLS 1.2 and 1.3 alike), never later on an established connection.
  int mode = SSL_VERIFY_PEER;
  if (files.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(native, mode, nullptr);
  return Status::Ok();
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};

// [tls] ca: the chain just loaded must verify to this CA, so a certificate
// renewed from another CA, or a chain that lost its intermediate, stops the
// server at start with the reason instead of failing every client's handshake.
Status CheckChainToServerCa(SSL_CTX* native, const TlsFiles& files) {
  const std::string ca = files.server_ca->string();
  auto pem = ReadFile(*files.server_ca, 1 << 20);
  if (!pem.ok()) return Status::InvalidArgument("cannot read TLS CA: " + pem.status().message());
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  if (!store || !bio) return Fail("reading TLS CA '" + ca + "'");
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    const int added = X509_STORE_add_cert(store.get(), cert);
    X509_free(cert);  // the store keeps its own reference
    if (added != 1) return Fail("TLS CA '" + ca + "'");
    ++count;
  }
  ERR_clear_error();  // the loop ends on "no start line" at the end of the file
  if (count == 0) return Status::InvalidArgument("TLS CA '" + ca + "' holds no PEM certificate");

  X509* leaf = SSL_CTX_get0_certificate(native);
  STACK_OF(X509)* intermediates = nullptr;
  SSL_CTX_get0_chain_certs(native, &intermediates);
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (leaf == nullptr || !ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf, intermediates) != 1 ||
      X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER) != 1) {
    return Fail("checking TLS certificate '" + files.certificate_chain.string() + "'");
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Status::InvalidArgument("TLS certificate '" + files.certificate_chain.string() +
                                   "' does not verify to the CA '" + ca + "': " + X509_verify_cert_error_string(error));
  }
  return Status::Ok();
}

}  // namespace

std::string TakeOpenSslError() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

StatusOr<std::shared_ptr<ssl::context>> MakeServerTlsContext(const TlsFiles& files) {
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION) != 1) {
    return Fail("setting TLS versions");
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Send exactly the configured chain: never complete it from the verify store,
  // which with mutual TLS holds the client CAs.
  SSL_CTX_set_mode(native, SSL_MODE_NO_AUTO_CHAIN);
  // Mozilla intermediate leaves the choice to the client (it knows whether it
  // has AES hardware).
  SSL_CTX_clear_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) return Fail("setting TLS 1.2 ciphers");
  if (SSL_CTX_set_ciphersuites(native, kTls13Suites) != 1) return Fail("setting TLS 1.3 suites");
  if (SSL_CTX_set1_groups_list(native, kGroups) != 1) return Fail("setting key exchange groups");
  // Resumption stays on with mutual TLS: OpenSSL stores the peer certificate
  // and its verify result in the session (cache and tickets alike), so a resumed
  // connection carries the certificate verified in the full handshake. Sessions
  // never cross listeners (each has its own cache and ticket keys), and the
  // session layer refuses a resumed certificate that has expired meanwhile.
  static constexpr unsigned char kSessionContext[] = "aegis";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(native, SelectAlpn, nullptr);

  const std::string chain = files.certificate_chain.string();
  const std::string key = files.private_key.string();
  if (SSL_CTX_use_certificate_chain_file(native, chain.c_str()) != 1) {
    return Fail("cannot load TLS certificate chain '" + chain + "'");
  }
  if (SSL_CTX_use_PrivateKey_file(native, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL already compares the key with the certificate while loading it.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      return Fail("TLS private key '" + key + "' does not match certificate '" + chain + "'");
    }
    return Fail("cannot load TLS private key '" + key + "'");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return Fail("TLS private key '" + key + "' does not match certificate '" + chain + "'");
  }
  if (files.server_ca) AEGIS_RETURN_IF_ERROR(CheckChainToServerCa(native, files));
  if (files.client_ca) {
    AEGIS_RETURN_IF_ERROR(ConfigureClientVerification(native, files));
  } else if (files.require_client_cert) {
    return Status::InvalidArgument("require_client_cert needs a client CA bundle (client_ca)");
  }
  return ctx;
}

}  // namespace aegis::http::internal
