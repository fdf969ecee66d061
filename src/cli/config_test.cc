#include "aegis/cli/config.h"

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/testing/scoped_temp_dir.h"

namespace aegis::cli {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void Write(const std::string& text) { std::ofstream(dir_ / "aegis.toml") << text; }

  testing::ScopedTempDir tmp_;
  const std::filesystem::path& dir_ = tmp_.path();
};

TEST_F(ConfigTest, DefaultFileParsesToSecureDefaults) {
  Write(RenderDefaultConfig("127.0.0.1:8443", "127.0.0.1:9443"));
  auto config = LoadConfig(dir_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->listen, "127.0.0.1:8443");
  EXPECT_EQ(config->admin_listen, "127.0.0.1:9443");
  EXPECT_EQ(config->api_limits.max_body_bytes, 64ull << 20);
  EXPECT_EQ(config->http_limits.max_header_bytes, 16384u);
  EXPECT_EQ(config->http_limits.read_timeout, std::chrono::seconds(30));
  EXPECT_EQ(config->Resolve(config->tls_cert), std::filesystem::absolute(dir_) / "tls/server.crt");
  EXPECT_TRUE(config->require_signature);
}

TEST_F(ConfigTest, OverridesAreApplied) {
  Write("[limits]\nmax_body_bytes = 4096\nread_timeout_seconds = 2\n[runtime]\ninstances_per_model = 3\n"
        "[registry]\nrequire_signature = false\n");
  auto config = LoadConfig(dir_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->api_limits.max_body_bytes, 4096u);
  EXPECT_EQ(config->http_limits.read_timeout, std::chrono::seconds(2));
  EXPECT_EQ(config->instances_per_model, 3);
  EXPECT_FALSE(config->require_signature);
}

TEST_F(ConfigTest, RefusesTyposWrongTypesAndOutOfRangeValues) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[limits]\nmax_body_byte = 10\n", "limits.max_body_byte: unknown key"},
      {"[limit]\nmax_body_bytes = 10\n", "limit: unknown section"},
      {"[limits]\nmax_body_bytes = \"big\"\n", "limits.max_body_bytes: must be an integer"},
      {"[limits]\nread_timeout_seconds = 0\n", "limits.read_timeout_seconds: must be between"},
      {"[server]\nlisten = 8443\n", "server.listen: must be a string"},
      {"[registry]\nrequire_signature = \"no\"\n", "registry.require_signature: must be true or false"},
      {"[registry]\nrequire_signatures = false\n", "registry.require_signatures: unknown key"},
      {"[server\nlisten = 1\n", "aegis.toml:1"},
  };
  for (const auto& [text, expected] : cases) {
    Write(text);
    auto config = LoadConfig(dir_);
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(config.status().message().find(expected), std::string::npos)
        << text << " → " << config.status().message();
  }
}

TEST_F(ConfigTest, MissingFileIsNotFound) {
  auto config = LoadConfig(dir_ / "nope");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace aegis::cli
