// Server TLS configuration: Mozilla "intermediate" (TLS 1.2 with ECDHE AEAD
// suites only, TLS 1.3 defaults), no compression, no renegotiation. This is the
// only place that decides what the server offers; testssl.sh should rate it A.
//
// Thread-safety: the returned context is shared, read-only, by all sessions of a
// listener once built.
#pragma once

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "aegis/common/status.h"
#include "aegis/http/server.h"

namespace aegis::http::internal {

// Loads the PEM chain and key and checks that they belong together. Errors
// name the file and carry OpenSSL's reason.
StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const TlsFiles& files);

// The newest OpenSSL error on this thread as text (and clears the queue).
std::string TakeOpenSslError();

}  // namespace aegis::http::internal
