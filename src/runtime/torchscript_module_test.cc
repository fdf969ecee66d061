// The TorchScript engine module loader: it loads this build's module, and refuses a
// file that someone other than the installation's owner could have put there, or
// that is not this build's engine module.
#include "torchscript_module.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::runtime::torchscript {
namespace {

using ::aegis::testing::ScopedTempDir;
using ::aegis::testing::StatusIs;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

// A copy of this build's module in a fresh folder, with the given mode.
std::string CopyOfModule(const ScopedTempDir& dir, mode_t mode) {
  fs::path copy = dir.path() / "libaegis_torchscript.so";
  fs::copy_file(ModulePath(), copy);
  EXPECT_EQ(::chmod(copy.c_str(), mode), 0);
  return copy.string();
}

TEST(TorchScriptModuleTest, LoadsThisBuildsModule) {
  StatusOr<const ModuleEntry*> entry = OpenModule(ModulePath());
  ASSERT_OK(entry);
  EXPECT_EQ((*entry)->abi, kAbi);
  // Opening it again (another copy of the same file) gives the same, working entry.
  ScopedTempDir dir;
  StatusOr<const ModuleEntry*> again = OpenModule(CopyOfModule(dir, 0755));
  ASSERT_OK(again);
  EXPECT_NE((*again)->load, nullptr);
  // And the build's module once more, now that its descriptor number may be reused.
  StatusOr<const ModuleEntry*> third = OpenModule(ModulePath());
  ASSERT_OK(third);
  EXPECT_EQ(*third, *entry);
}

TEST(TorchScriptModuleTest, RefusesAModuleOthersCanWrite) {
  ScopedTempDir dir;
  for (mode_t mode : {0775, 0757, 0777}) {
    EXPECT_THAT(OpenModule(CopyOfModule(dir, mode)),
                StatusIs(StatusCode::kInternal, HasSubstr("writable by group or others")))
        << std::oct << mode;
    fs::remove(dir.path() / "libaegis_torchscript.so");
  }
}

TEST(TorchScriptModuleTest, RefusesASymbolicLink) {
  ScopedTempDir dir;
  fs::path link = dir.path() / "link.so";
  fs::create_symlink(ModulePath(), link);
  EXPECT_THAT(OpenModule(link.string()), StatusIs(StatusCode::kInternal, HasSubstr("symbolic link")));
}

TEST(TorchScriptModuleTest, RefusesAModuleOwnedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "giving a file to another user needs root";
  ScopedTempDir dir;
  std::string copy = CopyOfModule(dir, 0755);
  ASSERT_EQ(::chown(copy.c_str(), 65534, 65534), 0);
  EXPECT_THAT(OpenModule(copy), StatusIs(StatusCode::kInternal, HasSubstr("owned by another user (uid 65534)")));
}

TEST(TorchScriptModuleTest, NamesAMissingModule) {
  ScopedTempDir dir;
  std::string missing = (dir.path() / "absent.so").string();
  EXPECT_THAT(OpenModule(missing), StatusIs(StatusCode::kInternal, HasSubstr(missing + " cannot be opened")));
}

TEST(TorchScriptModuleTest, RefusesWhatIsNotAnEngineModule) {
  ScopedTempDir dir;
  fs::path text = dir.path() / "text.so";
  std::ofstream(text) << "not a library\n";
  EXPECT_THAT(OpenModule(text.string()), StatusIs(StatusCode::kInternal, HasSubstr("cannot be loaded")));
  EXPECT_THAT(OpenModule(dir.path().string()), StatusIs(StatusCode::kInternal, HasSubstr("not a regular file")));

  // A real shared library, without the entry point.
  fs::path library = dir.path() / "libz.so";
  fs::copy_file("/lib/x86_64-linux-gnu/libz.so.1", library);
  ASSERT_EQ(::chmod(library.c_str(), 0644), 0);
  EXPECT_THAT(OpenModule(library.string()),
              StatusIs(StatusCode::kInternal, HasSubstr("has no entry point aegis_torchscript_engine")));
}

}  // namespace
}  // namespace aegis::runtime::torchscript
