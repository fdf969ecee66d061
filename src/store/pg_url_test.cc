#include "pg_url.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace aegis::store::internal {
namespace {

std::string Keyword(const PgConnectOptions& o, const std::string& key) {
  auto it = std::find_if(o.keywords.begin(), o.keywords.end(), [&](const auto& kv) { return kv.first == key; });
  return it == o.keywords.end() ? "<unset>" : it->second;
}

TEST(StoreUrlTest, AcceptsVerifyFullOverTcpAndAddsSafeDefaults) {
  auto parsed = ParseStoreUrl("postgresql://aegis@db.example:5433/aegis?sslmode=verify-full&sslrootcert=/etc/ca.crt",
                              std::string("s3cret"));
  ASSERT_OK(parsed);
  EXPECT_EQ(Keyword(*parsed, "host"), "db.example");
  EXPECT_EQ(Keyword(*parsed, "sslmode"), "verify-full");
  EXPECT_EQ(Keyword(*parsed, "password"), "s3cret");
  EXPECT_EQ(Keyword(*parsed, "target_session_attrs"), "read-write");
  EXPECT_EQ(Keyword(*parsed, "connect_timeout"), "5");
  EXPECT_EQ(Keyword(*parsed, "client_encoding"), "UTF8");
  EXPECT_EQ(parsed->display, "postgresql://aegis@db.example:5433/aegis");
  EXPECT_EQ(parsed->display.find("s3cret"), std::string::npos);
}

TEST(StoreUrlTest, AUnixSocketNeedsNoTls) {
  auto parsed = ParseStoreUrl("postgresql:///aegis?host=/run/postgresql&user=aegis", std::nullopt);
  ASSERT_OK(parsed);
  EXPECT_EQ(Keyword(*parsed, "password"), "<unset>");
  EXPECT_OK(ParseStoreUrl("postgresql://%2Frun%2Fpostgresql/aegis", std::nullopt));
  // The URL's own settings win over the defaults.
  auto timeout = ParseStoreUrl("postgres:///aegis?host=/tmp&connect_timeout=1", std::nullopt);
  ASSERT_OK(timeout);
  EXPECT_EQ(Keyword(*timeout, "connect_timeout"), "1");
}

TEST(StoreUrlTest, RefusesWhatWouldWeakenOrLeak) {
  struct Case {
    const char* url;
    const char* says;
  };
  const Case cases[] = {
      {"postgresql://aegis:hunter2@db/aegis?sslmode=verify-full", "password"},
      {"postgresql://db/aegis?password=hunter2&sslmode=verify-full", "password"},
      {"postgresql://db/aegis", "sslmode=verify-full"},
      {"postgresql://db/aegis?sslmode=require", "sslmode=verify-full"},
      {"postgresql://db/aegis?sslmode=verify-ca", "sslmode=verify-full"},
      {"postgresql://db/aegis?sslmode=disable", "sslmode=verify-full"},
      {"postgresql:///aegis?host=/tmp&hostaddr=10.0.0.1", "sslmode=verify-full"},
      {"postgresql:///aegis?host=/tmp,db.example", "sslmode=verify-full"},
      {"postgresql://db/aegis?service=prod&sslmode=verify-full", "service"},
      {"mysql://db/aegis", "postgresql://"},
      {"host=/tmp dbname=aegis", "postgresql://"},
      {"postgresql://db:notaport/aegis?sslmode=verify-full&x=\"hunter2\"", "not a valid"},
      {"postgresql:///?host=/tmp", "name the database"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseStoreUrl(c.url, std::nullopt);
    ASSERT_FALSE(parsed.ok()) << c.url;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << c.url;
    EXPECT_NE(parsed.status().message().find(c.says), std::string::npos) << c.url << ": " << parsed.status().message();
    EXPECT_EQ(parsed.status().message().find("hunter2"), std::string::npos) << parsed.status().message();
  }
}

}  // namespace
}  // namespace aegis::store::internal
