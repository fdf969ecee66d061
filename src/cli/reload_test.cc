// SIGHUP's reload, without a server: which keys apply, which wait for a
// restart, and that any refusal (a file that does not load, an access log
// that cannot open, TLS files that do not load) changes nothing.
#include "reload.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "aegis/common/file_util.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::cli::internal {
namespace {

namespace fs = std::filesystem;

TEST(ChangedKeysTest, NamesEveryValueThatDiffersOrIsOnlyOnOneSide) {
  const toml::table a = toml::parse(R"(
[logging]
level = "info"
[guard]
rate = "10/s"
[models."m"]
instances = 1
[[auth.mtls]]
subject = "CN=a"
role = "consumer"
)");
  const toml::table b = toml::parse(R"(
[logging]
level = "debug"
format = "json"
[guard]
rate = "10/s"
[models."m"]
instances = 2
[[auth.mtls]]
subject = "CN=a"
role = "deployer"
)");
  EXPECT_EQ(ChangedKeys(a, b), (std::vector<std::string>{"auth.mtls.role", "auth.mtls.subject", "logging.format",
                                                         "logging.level", "models.m.instances"}));
  EXPECT_TRUE(ChangedKeys(a, a).empty());
  EXPECT_TRUE(IsReloadable("tls.cert"));
  EXPECT_TRUE(IsReloadable("logging.access_log"));
  EXPECT_FALSE(IsReloadable("server.listen"));
  EXPECT_FALSE(IsReloadable("auth.mtls.role"));
}

class ReloaderTest : public ::testing::Test {
 protected:
  void SetUp() override { Write("[logging]\nlevel = \"info\"\n\n[guard]\nrate = \"10/s\"\n"); }
  void TearDown() override { log::Configure(log::Level::kInfo, log::Format::kText); }

  void Write(const std::string& text) {
    std::ofstream(dir_ / "aegis.toml", std::ios::trunc) << text;
    text_ = text;
  }
  Reloader Make() {
    ReloadHooks hooks;
    hooks.access_log = &access_;
    hooks.reload_tls = [this](const Config& config) {
      ++tls_loads_;
      tls_seen_ = config.Resolve(config.tls_cert);
      return tls_status_;
    };
    return Reloader(dir_, text_, std::move(hooks));
  }

  testing::ScopedTempDir tmp_;
  const fs::path& dir_ = tmp_.path();
  std::string text_;
  AccessLog access_;
  int tls_loads_ = 0;
  fs::path tls_seen_;
  Status tls_status_ = Status::Ok();
};

TEST_F(ReloaderTest, AppliesLoggingAndTlsAndNamesWhatNeedsARestart) {
  Reloader reloader = Make();
  ReloadResult same = reloader.Reload();
  ASSERT_TRUE(same.applied) << same.detail;
  EXPECT_EQ(tls_loads_, 1) << "the TLS files are read again even when nothing changed";
  EXPECT_TRUE(same.changed.empty());
  EXPECT_TRUE(same.restart_needed.empty());

  Write(
      "[logging]\nlevel = \"debug\"\nformat = \"json\"\naccess_log = \"access.log\"\n\n[guard]\nrate = \"20/s\"\n\n"
      "[tls]\ncert = \"tls/new.crt\"\n");
  ReloadResult changed = reloader.Reload();
  ASSERT_TRUE(changed.applied) << changed.detail;
  EXPECT_EQ(changed.changed,
            (std::vector<std::string>{"logging.access_log", "logging.format", "logging.level", "tls.cert"}));
  EXPECT_EQ(changed.restart_needed, std::vector<std::string>{"guard.rate"});
  EXPECT_NE(changed.detail.find("not applied until a restart: guard.rate"), std::string::npos) << changed.detail;
  EXPECT_EQ(tls_seen_, fs::absolute(dir_) / "tls/new.crt");
  EXPECT_EQ(changed.tls_cert, fs::absolute(dir_) / "tls/new.crt");
  EXPECT_TRUE(spdlog::should_log(spdlog::level::debug));
  EXPECT_TRUE(access_.enabled());
  access_.Write("line");
  access_.Flush();
  EXPECT_EQ(ReadFile(dir_ / "access.log").value(), "line\n");

  // The same file again: nothing is reported as changed, but the restart-only
  // key still differs from what the server started with.
  ReloadResult again = reloader.Reload();
  ASSERT_TRUE(again.applied);
  EXPECT_TRUE(again.changed.empty());
  EXPECT_EQ(again.restart_needed, std::vector<std::string>{"guard.rate"});
}

TEST_F(ReloaderTest, ARefusedReloadChangesNothing) {
  Reloader reloader = Make();
  const auto expect_refused = [&](const std::string& why) {
    const int loads = tls_loads_;
    ReloadResult r = reloader.Reload();
    EXPECT_FALSE(r.applied);
    EXPECT_NE(r.detail.find(why), std::string::npos) << r.detail;
    EXPECT_NE(r.detail.find("the running configuration is kept"), std::string::npos) << r.detail;
    EXPECT_FALSE(spdlog::should_log(spdlog::level::debug)) << "the level changed on a refused reload";
    EXPECT_FALSE(access_.enabled()) << "the access log changed on a refused reload";
    return tls_loads_ - loads;
  };
  Write("[logging]\nlevel = \"debug\"\naccess_log = \"access.log\"\n[guard\n");
  EXPECT_EQ(expect_refused("aegis.toml"), 0) << "TLS files swapped for a file that does not parse";
  Write("[logging]\nlevel = \"debug\"\nnot_a_key = 1\n");
  EXPECT_EQ(expect_refused("logging.not_a_key: unknown key"), 0);
  fs::create_symlink(dir_ / "elsewhere.log", dir_ / "link.log");
  Write("[logging]\nlevel = \"debug\"\naccess_log = \"link.log\"\n");
  EXPECT_EQ(expect_refused("symbolic link"), 0);
  Write("[logging]\nlevel = \"debug\"\naccess_log = \"access.log\"\n");
  tls_status_ = Status::InvalidArgument("listener data: cannot load TLS certificate chain 'x'");
  EXPECT_EQ(expect_refused("tls: listener data: cannot load TLS certificate chain"), 1);
  tls_status_ = Status::Ok();
  ASSERT_TRUE(reloader.Reload().applied);
  EXPECT_TRUE(access_.enabled());
}

TEST_F(ReloaderTest, TheCommandLineLevelWins) {
  ReloadHooks hooks;
  hooks.level_override = log::Level::kWarn;
  Reloader reloader(dir_, text_, std::move(hooks));
  Write("[logging]\nlevel = \"debug\"\n");
  ASSERT_TRUE(reloader.Reload().applied);
  EXPECT_FALSE(spdlog::should_log(spdlog::level::info));
  EXPECT_TRUE(spdlog::should_log(spdlog::level::warn));
}

}  // namespace
}  // namespace aegis::cli::internal
