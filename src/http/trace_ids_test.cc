#include "trace_ids.h"

#include <string>

#include <gtest/gtest.h>

namespace aegis::http::internal {
namespace {

constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceIdsTest, ClientRequestIdsOfTheSafeAlphabetOnly) {
  for (const std::string& id :
       {std::string("a"), std::string("req-1"), std::string("9f2c1e0b-7a1d-4c3e-9a3b-1c2d3e4f5a6b"),
        std::string("A.b_c:d-9"), std::string(kMaxClientRequestIdLength, 'x')}) {
    EXPECT_TRUE(IsValidClientRequestId(id)) << id;
  }
  for (const std::string& id : {std::string(), std::string(kMaxClientRequestIdLength + 1, 'x'), std::string("a b"),
                                std::string("a\r\nX-Evil: 1"), std::string("a\0b", 3), std::string("caf\xc3\xa9"),
                                std::string("a/b"), std::string("a\"b"), std::string("a=b"), std::string("{}")}) {
    EXPECT_FALSE(IsValidClientRequestId(id)) << id;
  }
}

TEST(TraceIdsTest, TraceparentFollowsTheW3cGrammarForVersion00) {
  EXPECT_TRUE(IsValidTraceparent(kValid));
  EXPECT_TRUE(IsValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
  EXPECT_TRUE(IsValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff"));
  const std::string valid(kValid);
  const auto with = [&](size_t at, std::string_view replacement) {
    std::string s = valid;
    s.replace(at, replacement.size(), replacement);
    return s;
  };
  for (const std::string& bad : {
           with(0, "01"),                                // a version this parser does not know
           with(0, "ff"),                                // forbidden version
           with(3, "00000000000000000000000000000000"),  // all-zero trace id
           with(36, "0000000000000000"),                 // all-zero parent id
           with(3, "4BF92F3577B34DA6A3CE929D0E0E4736"),  // upper-case hex
           with(36, "00F067AA0BA902B7"),                 // upper-case hex
           with(53, "0g"),                               // flags not hex
           with(2, "_"),                                 // wrong separator
           valid + "-extra",                             // more fields (version 00 has exactly four)
           valid.substr(0, 54),                          // truncated
           " " + valid,                                  // padding
           std::string(),
       }) {
    EXPECT_FALSE(IsValidTraceparent(bad)) << bad;
  }
}

TEST(TraceIdsTest, AdoptsOneValidValueAndIgnoresTheRest) {
  RequestHead head;
  head.request_id = "0123456789abcdef";
  head.headers = {{"x-request-id", "client-42"}, {"traceparent", std::string(kValid)}};
  AdoptClientIds(head);
  EXPECT_EQ(head.request_id, "client-42");
  EXPECT_TRUE(head.request_id_from_client);
  EXPECT_EQ(head.traceparent, kValid);

  RequestHead bad;
  bad.request_id = "0123456789abcdef";
  bad.headers = {{"x-request-id", "evil\"id"}, {"traceparent", "00-xyz"}};
  AdoptClientIds(bad);
  EXPECT_EQ(bad.request_id, "0123456789abcdef");
  EXPECT_FALSE(bad.request_id_from_client);
  EXPECT_TRUE(bad.traceparent.empty());

  RequestHead twice;  // two values: which one would the client's logs hold?
  twice.request_id = "0123456789abcdef";
  twice.headers = {{"x-request-id", "one"},
                   {"x-request-id", "two"},
                   {"traceparent", std::string(kValid)},
                   {"traceparent", std::string(kValid)}};
  AdoptClientIds(twice);
  EXPECT_EQ(twice.request_id, "0123456789abcdef");
  EXPECT_TRUE(twice.traceparent.empty());
}

}  // namespace
}  // namespace aegis::http::internal
