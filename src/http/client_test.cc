// HttpsClient: refuses what it cannot verify, and works against our server.
#include "aegis/http/client.h"

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "common/testing/test_pki.h"
#include "test_server.h"

namespace aegis::http::testing {

using ::aegis::testing::TestPki;
namespace {

TEST(ClientTest, RefusesPlainHttpAndBadUrls) {
  ClientOptions options;
  options.server = "http://127.0.0.1:8443";
  auto c = HttpsClient::Connect(options);
  ASSERT_FALSE(c.ok());
  EXPECT_STATUS_IS(c, StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("https://"), std::string::npos);
  options.server = "https://127.0.0.1:8443/path";
  EXPECT_FALSE(HttpsClient::Connect(options).ok());
}

TEST(ClientTest, RefusesServerSignedByAnotherCa) {
  TestServer ts(TestLimits(), std::chrono::seconds(5), /*other_ca_cert=*/true);
  auto c = HttpsClient::Connect(ts.client_options());
  ASSERT_FALSE(c.ok());
  EXPECT_STATUS_IS(c, StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("certificate verify failed"), std::string::npos) << c.status().message();
  EXPECT_TRUE(ts.dispatcher.completions().empty());
}

TEST(ClientTest, RefusesHostnameMismatch) {
  TestServer ts(TestLimits(), std::chrono::seconds(5), false, /*wrong_name_cert=*/true);
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    ClientOptions options = ts.client_options();
    options.server = "https://" + host + ":" + std::to_string(ts.port());
    auto c = HttpsClient::Connect(options);
    ASSERT_FALSE(c.ok()) << host;
    EXPECT_NE(c.status().message().find("certificate verify failed"), std::string::npos) << c.status().message();
  }
}

TEST(ClientTest, RefusesMissingCaFileAndSystemStoreDoesNotTrustTestCa) {
  TestServer ts;
  ClientOptions options = ts.client_options();
  options.ca_file = TestPki::Get().dir / "missing.pem";
  auto c = HttpsClient::Connect(options);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("CA file"), std::string::npos) << c.status().message();
  options.ca_file.reset();
  EXPECT_FALSE(HttpsClient::Connect(options).ok());
}

TEST(ClientTest, ConnectsByHostNameWithSni) {
  TestServer ts;
  ClientOptions options = ts.client_options();
  options.server = "https://localhost:" + std::to_string(ts.port());
  auto c = HttpsClient::Connect(options);
  if (!c.ok() && c.status().message().find("connect") != std::string::npos) {
    GTEST_SKIP() << "localhost does not resolve to 127.0.0.1 here: " << c.status().message();
  }
  ASSERT_OK(c);
  auto r = (*c)->Request("GET", "/echo");
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ClientTest, RefusesBadTargetsAndMissingUploadFile) {
  TestServer ts;
  auto c = HttpsClient::Connect(ts.client_options());
  ASSERT_OK(c);
  EXPECT_FALSE((*c)->Request("GET", "echo").ok());
  EXPECT_FALSE((*c)->Request("GET", "/a b").ok());
  EXPECT_FALSE((*c)->Request("GET /x HTTP/1.1\r\nX:", "/").ok());
  auto up = (*c)->Upload("POST", "/upload", TestPki::Get().dir / "no-such-file");
  EXPECT_STATUS_IS(up, StatusCode::kNotFound);
}

TEST(ClientTest, ReportsServerGone) {
  auto ts = std::make_unique<TestServer>();
  auto c = HttpsClient::Connect(ts->client_options());
  ASSERT_OK(c);
  ts.reset();
  auto r = (*c)->Request("GET", "/echo");
  ASSERT_FALSE(r.ok());
  EXPECT_STATUS_IS(r, StatusCode::kUnavailable);
}

}  // namespace
}  // namespace aegis::http::testing
