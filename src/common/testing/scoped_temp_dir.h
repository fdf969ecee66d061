// ScopedTempDir: a fresh, private (0700) directory for one test, removed with
// everything in it when the object goes away. Test support only.
#pragma once

#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): POSIX mkdtemp, not in <cstdlib>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace aegis::testing {

class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "aegis-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();  // nothing sensible to test without it
    path_ = tmpl;
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace aegis::testing
