// Internal to src/signing: lists the files of a model (a file or a folder
// tree) the way OMS enumerates them, enforcing the symlink and special-file
// policy before a single byte is read.
//
// Thread-safety: stateless function.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::signing::internal {

struct ModelFile {
  std::string name;            // resource path relative to the model, '/'-separated
  std::filesystem::path path;  // where to open it
  uint64_t size = 0;
  // Identity when listed; hashing re-checks it on the open descriptor so a file
  // swapped in between (another file, a symlink, a FIFO) is refused.
  dev_t device = 0;
  ino_t inode = 0;
};

struct ModelListing {
  std::string model_name;  // last path component
  bool single_file = false;
  std::vector<ModelFile> files;  // sorted by name (code point order)
};

// Walks `root`. Folders: every regular file not covered by `ignore_paths`
// (normalised relative paths). Symlinks are refused unless `allow_symlinks`;
// then they are followed but must resolve inside the folder and not loop.
StatusOr<ModelListing> ListModelFiles(const std::filesystem::path& root, bool allow_symlinks,
                                      const std::vector<std::string>& ignore_paths);

}  // namespace aegis::signing::internal
