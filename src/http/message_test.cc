#include "aegis/http/message.h"

#include <gtest/gtest.h>

namespace aegis::http {
namespace {

TEST(RequestHeadTest, HeaderFindsFirstByLowercaseName) {
  RequestHead head;
  head.headers = {{"content-type", "text/plain"}, {"x-a", "1"}, {"x-a", "2"}};
  EXPECT_EQ(head.Header("x-a"), "1");
  EXPECT_EQ(head.Header("content-type"), "text/plain");
  EXPECT_FALSE(head.Header("missing").has_value());
}

TEST(RequestHeadTest, QueryParamDecodes) {
  RequestHead head;
  head.query = "limit=10&name=a%20b+c&flag&empty=&bad=%zz&name=second";
  EXPECT_EQ(head.QueryParam("limit"), "10");
  EXPECT_EQ(head.QueryParam("name"), "a b c");
  EXPECT_EQ(head.QueryParam("flag"), "");
  EXPECT_EQ(head.QueryParam("empty"), "");
  EXPECT_FALSE(head.QueryParam("bad").has_value());
  EXPECT_FALSE(head.QueryParam("nope").has_value());
  EXPECT_FALSE(RequestHead{}.QueryParam("x").has_value());
}

TEST(ResponseTest, JsonKeepsBodyAndStatus) {
  const Response r = Response::Json(201, "{\"ok\": true}");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"ok\": true}");
}

TEST(ResponseTest, ErrorEscapesMessage) {
  EXPECT_EQ(Response::Error(400, "bad \"x\" \\ y\n\t").body, R"({"error": "bad \"x\" \\ y\n\t"})");
  EXPECT_EQ(Response::Error(400, std::string("a\x01"
                                             "b\x7f",
                                             4))
                .body,
            R"({"error": "a\u0001b\u007f"})");
  // Valid UTF-8 passes through; invalid bytes become U+FFFD.
  EXPECT_EQ(Response::Error(400, "caf\xc3\xa9").body, "{\"error\": \"caf\xc3\xa9\"}");
  EXPECT_EQ(Response::Error(400, "x\xff\xc3").body, R"({"error": "x\ufffd\ufffd"})");
  EXPECT_EQ(Response::Error(400, "\xed\xa0\x80").body, R"({"error": "\ufffd\ufffd\ufffd"})");  // surrogate
}

TEST(ResponseTest, ErrorFromStatusMapsCode) {
  const Response r = Response::Error(Status::NotFound("no model 'm'"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error": "no model 'm'"})");
  EXPECT_EQ(Response::Error(Status::TooLarge("big")).status, 413);
}

}  // namespace
}  // namespace aegis::http
