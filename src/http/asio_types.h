// Namespace aliases and stream types shared by the server's internals. Only
// src/http includes Boost; public headers stay Boost-free.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace aegis::http::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

// beast::tcp_stream gives every operation a deadline; the TLS layer sits on top.
using TlsStream = ssl::stream<beast::tcp_stream>;

}  // namespace aegis::http::internal
