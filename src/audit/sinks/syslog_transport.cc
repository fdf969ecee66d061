#include "syslog_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "aegis/http/host_port.h"
#include "syslog_format.h"

namespace aegis::audit::internal {
namespace {

bool IsLoopbackAddress(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
  }
  return false;
}

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string Where(const TransportOptions& o) {
  const bool v6 = o.host.find(':') != std::string::npos;
  return (v6 ? "[" + o.host + "]" : o.host) + ":" + std::to_string(o.port);
}

void SetTimeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// A connected blocking socket (with send/receive timeouts) to the first address
// of `o.host` that accepts.
StatusOr<int> ConnectSocket(const TransportOptions& o, int socktype) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(o.port);
  if (int rc = ::getaddrinfo(o.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Status::Unavailable("cannot resolve " + o.host + ": " + ::gai_strerror(rc));
  }
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    if (o.require_loopback && !IsLoopbackAddress(ai->ai_addr)) {
      why = o.host + " resolves to a non-loopback address: plaintext syslog needs allow_plaintext";
      continue;
    }
    int s = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (s < 0) {
      why = Errno("socket");
      continue;
    }
    int rc = ::connect(s, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(o.timeout.count()));
      if (rc == 0) {
        errno = ETIMEDOUT;
        rc = -1;
      } else if (rc > 0) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err;
        rc = err == 0 ? 0 : -1;
      }
    }
    if (rc != 0) {
      why = Errno("connect");
      ::close(s);
      continue;
    }
    ::fcntl(s, F_SETFL, ::fcntl(s, F_GETFL) & ~O_NONBLOCK);
    SetTimeouts(s, o.timeout);
    fd = s;
  }
  ::freeaddrinfo(found);
  if (fd < 0) return Status::Unavailable("cannot connect to " + Where(o) + ": " + why);
  return fd;
}

Status SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Status::Unavailable(errno == EAGAIN ? std::string("send: timed out") : Errno("send"));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// The readable/hung-up state of an idle stream socket: a collector never talks
// back, so readability means it closed (or sent something we discard).
short PollNow(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return 0;
  return p.revents;
}

class UdpTransport final : public SyslogTransport {
 public:
  explicit UdpTransport(TransportOptions o) : o_(std::move(o)) {}
  ~UdpTransport() override { Close(); }

  Status Send(std::string_view message) override {
    if (fd_ < 0) {
      AEGIS_ASSIGN_OR_RETURN(fd_, ConnectSocket(o_, SOCK_DGRAM));
    }
    // One datagram per message (RFC 5426); a refused earlier datagram shows up here
    // as ECONNREFUSED from the ICMP error.
    const ssize_t n = ::send(fd_, message.data(), message.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(message.size())) {
      return Status::Unavailable("syslog to udp " + Where(o_) + ": " + (n < 0 ? Errno("send") : "short send"));
    }
    return Status::Ok();
  }

  void Close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  const TransportOptions o_;
  int fd_ = -1;
};

class TcpTransport final : public SyslogTransport {
 public:
  explicit TcpTransport(TransportOptions o) : o_(std::move(o)) {}
  ~TcpTransport() override { Close(); }

  Status Send(std::string_view message) override {
    if (fd_ >= 0 && PeerClosed()) Close();
    if (fd_ < 0) {
      AEGIS_ASSIGN_OR_RETURN(fd_, ConnectSocket(o_, SOCK_STREAM));
    }
    Status s = SendAll(fd_, OctetCountingFrame(message));
    if (!s.ok()) {
      Close();
      return s.WithContext("syslog to tcp " + Where(o_));
    }
    return Status::Ok();
  }

  void Close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  bool PeerClosed() {
    const short ev = PollNow(fd_);
    if (ev & (POLLHUP | POLLERR | POLLRDHUP)) return true;
    if (!(ev & POLLIN)) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
  }

  const TransportOptions o_;
  int fd_ = -1;
};

std::string TakeSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

constexpr int kPostHandshakeWaitMs = 200;

class TlsTransport final : public SyslogTransport {
 public:
  TlsTransport(TransportOptions o, SSL_CTX* ctx) : o_(std::move(o)), ctx_(ctx) {}
  ~TlsTransport() override {
    Close();
    SSL_CTX_free(ctx_);
  }

  Status Send(std::string_view message) override {
    if (ssl_ != nullptr && PeerClosed()) Close();
    if (ssl_ == nullptr) AEGIS_RETURN_IF_ERROR(Connect());
    const std::string frame = OctetCountingFrame(message);
    ERR_clear_error();
    // SSL_write without partial writes: all of the frame or an error.
    if (SSL_write(ssl_, frame.data(), static_cast<int>(frame.size())) <= 0) {
      const std::string why = TakeSslError();
      Close();
      return Status::Unavailable("syslog to tls " + Where(o_) + ": write failed: " + why);
    }
    return Status::Ok();
  }

  void Close() override {
    if (ssl_ != nullptr) {
      if (healthy_) SSL_shutdown(ssl_);  // one close_notify, no waiting for the answer
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    healthy_ = false;
    ERR_clear_error();
  }

 private:
  Status Connect() {
    AEGIS_ASSIGN_OR_RETURN(fd_, ConnectSocket(o_, SOCK_STREAM));
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr) {
      Close();
      return Status::Internal("SSL_new: " + TakeSslError());
    }
    SSL_set_fd(ssl_, fd_);
    unsigned char ip[16];
    if (inet_pton(AF_INET, o_.host.c_str(), ip) == 1 || inet_pton(AF_INET6, o_.host.c_str(), ip) == 1) {
      // SNI carries names only (RFC 6066); an IP is matched against the IP SANs.
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), o_.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_, o_.host.c_str());
      SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl_, o_.host.c_str());
    }
    ERR_clear_error();
    if (SSL_connect(ssl_) != 1) {
      std::string why = TakeSslError();
      const long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      Close();
      return Status::Unavailable("TLS handshake with syslog collector " + Where(o_) + " failed: " + why);
    }
    healthy_ = true;
    if (SSL_version(ssl_) == TLS1_3_VERSION) {
      // TLS 1.3 completes the client's side of the handshake before the collector
      // has judged our certificate; a refusal arrives as an alert just after. Wait
      // briefly for its first post-handshake record (a session ticket, or that
      // alert) so that a refused connection is not taken for a working one.
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, kPostHandshakeWaitMs) > 0 && PeerClosed()) {
        Close();
        return Status::Unavailable("syslog collector " + Where(o_) +
                                   " closed the TLS connection after the handshake (client certificate refused?)");
      }
    }
    return Status::Ok();
  }

  // A TLS 1.3 collector sends session tickets after the handshake, so readable
  // does not mean closed: read what is there without blocking and decide.
  bool PeerClosed() {
    const short ev = PollNow(fd_);
    if (ev & (POLLHUP | POLLERR)) return true;
    if (!(ev & (POLLIN | POLLRDHUP))) return false;
    const int flags = ::fcntl(fd_, F_GETFL);
    ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    bool closed = false;
    char buf[4096];
    for (;;) {
      ERR_clear_error();
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) continue;  // unexpected application data: discarded
      const int err = SSL_get_error(ssl_, n);
      closed = err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE;
      break;
    }
    ::fcntl(fd_, F_SETFL, flags);
    if (closed) healthy_ = false;
    return closed;
  }

  const TransportOptions o_;
  SSL_CTX* const ctx_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool healthy_ = false;  // handshake done and no error since: worth a close_notify
};

}  // namespace

StatusOr<std::pair<std::string, uint16_t>> ParseEndpoint(std::string_view s) {
  AEGIS_ASSIGN_OR_RETURN(http::HostPort hp, http::ParseHostPort(s));
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("bad address '" + std::string(s) + "': " + why);
  };
  // A listener may bind port 0; a collector is never there.
  if (hp.port == 0) return bad("the port must be 1..65535");
  if (!http::IsIpLiteral(hp.host)) {
    for (const char c : hp.host) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '-' || c == '_';
      if (!ok) return bad("the host may hold letters, digits, '.', '-' and '_' only");
    }
  }
  return std::make_pair(std::move(hp.host), hp.port);
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  const std::string h(host);
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET, h.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    return IsLoopbackAddress(reinterpret_cast<const sockaddr*>(&v4));
  }
  if (inet_pton(AF_INET6, h.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    return IsLoopbackAddress(reinterpret_cast<const sockaddr*>(&v6));
  }
  return false;
}

std::unique_ptr<SyslogTransport> MakeUdpTransport(const TransportOptions& options) {
  return std::make_unique<UdpTransport>(options);
}

std::unique_ptr<SyslogTransport> MakeTcpTransport(const TransportOptions& options) {
  return std::make_unique<TcpTransport>(options);
}

StatusOr<std::unique_ptr<SyslogTransport>> MakeTlsTransport(const TransportOptions& options,
                                                            const std::filesystem::path& ca_file,
                                                            const std::filesystem::path& cert_file,
                                                            const std::filesystem::path& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return Status::InvalidArgument("a client certificate and its key go together: set both cert and key or neither");
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return Status::Internal("SSL_CTX_new: " + TakeSslError());
  auto fail = [&](const std::string& why) {
    SSL_CTX_free(ctx);
    return Status::InvalidArgument(why + ": " + TakeSslError());
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
      return fail("cannot load CA file '" + ca_file.string() + "'");
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return fail("cannot load the system CA store");
  }
  if (!cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
      return fail("cannot load client certificate '" + cert_file.string() + "'");
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      return fail("cannot load client key '" + key_file.string() + "' (or it does not match the certificate)");
    }
  }
  return std::unique_ptr<SyslogTransport>(std::make_unique<TlsTransport>(options, ctx));
}

}  // namespace aegis::audit::internal
