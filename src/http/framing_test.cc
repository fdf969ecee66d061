#include "http/internal/framing.h"

#include <string>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <gtest/gtest.h>

namespace aegis::http::internal {
namespace {

namespace bhttp = boost::beast::http;

// The server's order: raw head bytes, then Beast, then the parsed fields.
// 0 means accepted; a Beast parse error counts as 400 (the server's answer).
int Judge(const std::string& request) {
  const size_t end = FindHeadEnd(request, 0);
  if (end == std::string::npos) return -1;
  if (const auto bad = CheckHeadBytes(std::string_view(request).substr(0, end))) return bad->status;
  bhttp::request_parser<bhttp::empty_body> parser;
  parser.eager(false);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(request.data(), end), ec);
  if (ec || !parser.is_header_done()) return 400;
  if (const auto bad = CheckFraming(parser.get())) return bad->status;
  return 0;
}

std::string Post(std::string_view fields, std::string_view version = "HTTP/1.1") {
  return "POST /v2/models/m/infer " + std::string(version) + "\r\nHost: h\r\n" + std::string(fields) + "\r\n";
}

TEST(FramingTest, FindHeadEndResumes) {
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\n\r\nrest", 0), 18u);
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\n\r", 0), std::string_view::npos);
  // A terminator split across reads is found when the search resumes.
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\n\r\n", 17), 18u);
  EXPECT_EQ(FindHeadEnd("\r\n\r\n", 2), 4u);
}

// Garbage is refused as soon as Beast sees it, without waiting for a head end
// that may never come; a valid partial head is waited for.
TEST(FramingTest, MalformedPartialHeadIsRefusedEarly) {
  for (const char* partial : {"GET /\r\n", "GET /v2 HTTP/1.1\nHost: x\n\n", "\xff\x13\x37", "G@T / HTTP/1.1\r\n"}) {
    EXPECT_TRUE(RefusedBeforeHeadEnd(partial)) << partial;
  }
  for (const char* partial : {"G", "GET /v2 HTTP/1.1\r\n", "GET /v2 HTTP/1.1\r\nHost: x\r\nX-A: a\r\n"}) {
    EXPECT_FALSE(RefusedBeforeHeadEnd(partial)) << partial;
  }
}

TEST(FramingTest, PlainChunkedAndContentLengthPass) {
  EXPECT_EQ(Judge(Post("Transfer-Encoding: chunked\r\n")), 0);
  // Coding names are case-insensitive and OWS around the value is allowed (RFC 9110 §5.5).
  EXPECT_EQ(Judge(Post("Transfer-Encoding: CHUNKED\r\n")), 0);
  EXPECT_EQ(Judge(Post("Transfer-Encoding:\tchunked \r\n")), 0);
  EXPECT_EQ(Judge(Post("Content-Length: 10\r\n")), 0);
  EXPECT_EQ(Judge(Post("Content-Length: 0\r\nAuthorization: Bearer x\r\nContent-Type: a/b\r\n"
                       "Inference-Header-Content-Length: 5\r\n")),
            0);
  EXPECT_EQ(Judge(Post("", "HTTP/1.0")), 0);
}

TEST(FramingTest, TransferEncodingThatIsNotExactlyChunkedIsRefused) {
  for (const char* te : {"xchunked", "chunkedx", "chunked, identity", "identity", "gzip", "", "chunked, chunked",
                         "\"chunked\"", "chunked;q=1", "chunked,", ", chunked", "chunked ,, chunked", "x chunked"}) {
    EXPECT_EQ(Judge(Post("Transfer-Encoding: " + std::string(te) + "\r\n")), 400) << te;
  }
  // Well formed, but a coding we do not implement in front of chunked.
  EXPECT_EQ(Judge(Post("Transfer-Encoding: gzip, chunked\r\n")), 501);
  EXPECT_EQ(Judge(Post("Transfer-Encoding: gzip,chunked\r\n")), 501);
}

TEST(FramingTest, TransferEncodingInHttp10IsRefused) {
  EXPECT_EQ(Judge(Post("Transfer-Encoding: chunked\r\n", "HTTP/1.0")), 400);
}

TEST(FramingTest, ContentLengthWithTransferEncodingIsRefusedInEitherOrder) {
  EXPECT_EQ(Judge(Post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n")), 400);
  EXPECT_EQ(Judge(Post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n")), 400);
  // Beast itself lets these two through: the coding is not chunked.
  EXPECT_EQ(Judge(Post("Transfer-Encoding: gzip\r\nContent-Length: 4\r\n")), 400);
  EXPECT_EQ(Judge(Post("Content-Length: 4\r\nTransfer-Encoding: xchunked\r\n")), 400);
}

TEST(FramingTest, DuplicateFieldsAreRefusedEvenWithEqualValues) {
  for (const char* field : {"Host: h", "Content-Length: 5", "Transfer-Encoding: chunked", "Authorization: Bearer a",
                            "Content-Type: application/json", "Inference-Header-Content-Length: 5",
                            "content-type: application/json", "AUTHORIZATION: Bearer a"}) {
    EXPECT_EQ(Judge(Post(std::string(field) + "\r\n" + field + "\r\n")), 400) << field;
  }
  EXPECT_EQ(Judge(Post("Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n")), 400);
  EXPECT_EQ(Judge(Post("Authorization: Bearer a\r\nAuthorization: Bearer b\r\n")), 400);
  // Other fields may repeat (lists, X- headers).
  EXPECT_EQ(Judge(Post("Accept: a/b\r\nAccept: c/d\r\nX-A: 1\r\nX-A: 1\r\n")), 0);
}

TEST(FramingTest, ContentLengthMustBeOneNumber) {
  for (const char* cl : {"5, 5", "5,5", "5,", "+5", "-1", "0x10", "5 5", ""}) {
    EXPECT_EQ(Judge(Post("Content-Length: " + std::string(cl) + "\r\n")), 400) << cl;
  }
}

// PortSwigger's Transfer-Encoding obfuscations, each beside a Content-Length.
TEST(FramingTest, ObfuscatedTransferEncodingIsRefused) {
  for (const char* te :
       {"Transfer-Encoding: xchunked", "Transfer-Encoding : chunked", "Transfer-Encoding:\tchunked",
        "Transfer-Encoding:  chunked", "X: X\nTransfer-Encoding: chunked", "Transfer-Encoding\n : chunked",
        "Transfer-Encoding:\r\n chunked", "X: X\r\n Transfer-Encoding: chunked", "X: X\r\n\tTransfer-Encoding: chunked",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: x", "Transfer-Encoding: x\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: \vchunked", "Transfer-Encoding: chunked\r",
        "Transfer_Encoding: chunked\r\nTransfer-Encoding: chunked"}) {
    EXPECT_EQ(Judge(Post("Content-Length: 4\r\n" + std::string(te) + "\r\n")), 400) << te;
  }
  // Folding is refused even where it would be harmless.
  EXPECT_EQ(Judge(Post("X-A: a\r\n b\r\n")), 400);
  EXPECT_EQ(Judge("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400);
}

}  // namespace
}  // namespace aegis::http::internal
