#include "model_walk.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "aegis/signing/manifest.h"
#include "manifest_rules.h"

namespace aegis::signing::internal {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxDepth = 64;

Status Errno(const std::string& what, std::string_view relative) {
  const int error = errno;
  const std::string message = what + " " + Quote(relative) + ": " + std::strerror(error);
  return error == ENOENT ? Status::NotFound(message) : Status::Internal(message);
}

// realpath(3), or empty when the path does not resolve (broken link, loop).
std::string RealPath(const fs::path& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return {};
  std::string out(resolved);
  std::free(resolved);
  return out;
}

class Walker {
 public:
  Walker(bool allow_symlinks, const std::vector<std::string>& ignore_paths)
      : allow_symlinks_(allow_symlinks), ignore_paths_(ignore_paths) {}

  Status WalkRoot(const fs::path& root, const struct stat& st) {
    root_real_ = RealPath(root);
    if (root_real_.empty()) return Errno("cannot resolve model path", root.string());
    return Walk(root, "", st, 0);
  }

  std::vector<ModelFile> TakeFiles() { return std::move(files_); }

 private:
  // One entry below the root, named `relative`.
  Status Visit(const fs::path& path, const std::string& relative, int depth) {
    if (IsIgnored(relative, ignore_paths_)) return Status::Ok();
    if (!IsSafeResourceName(relative)) {
      return Status::InvalidArgument("file name " + Quote(relative) + " cannot be signed (not a safe UTF-8 path)");
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return Errno("cannot stat", relative);
    if (S_ISLNK(st.st_mode)) {
      if (!allow_symlinks_) {
        return Status::InvalidArgument("symlink " + Quote(relative) + " is not allowed (allow_symlinks is false)");
      }
      const std::string target = RealPath(path);
      if (target.empty()) return Status::InvalidArgument("symlink " + Quote(relative) + " does not resolve");
      const bool inside = target == root_real_ || root_real_ == "/" ||
                          (target.starts_with(root_real_) && target[root_real_.size()] == '/');
      if (!inside) {
        return Status::InvalidArgument("symlink " + Quote(relative) + " points outside the model");
      }
      if (::stat(path.c_str(), &st) != 0) return Errno("cannot stat", relative);
    }
    if (S_ISDIR(st.st_mode)) return Walk(path, relative, st, depth + 1);
    if (!S_ISREG(st.st_mode)) {
      return Status::InvalidArgument(Quote(relative) + " is not a regular file or folder");
    }
    if (files_.size() >= kMaxResources) {
      return Status::InvalidArgument("the model has more than " + std::to_string(kMaxResources) + " files");
    }
    files_.push_back({relative, path, static_cast<uint64_t>(st.st_size), st.st_dev, st.st_ino});
    return Status::Ok();
  }

  Status Walk(const fs::path& dir, const std::string& relative, const struct stat& st, int depth) {
    if (depth > kMaxDepth) return Status::InvalidArgument("the model folder is nested too deeply");
    const std::pair<dev_t, ino_t> id(st.st_dev, st.st_ino);
    if (std::find(open_.begin(), open_.end(), id) != open_.end()) {
      return Status::InvalidArgument("symlink loop at " + Quote(relative));
    }
    std::vector<std::string> names;
    {
      struct CloseDir {
        void operator()(DIR* d) const { ::closedir(d); }
      };
      std::unique_ptr<DIR, CloseDir> handle(::opendir(dir.c_str()));
      if (!handle) return Errno("cannot open folder", relative.empty() ? "." : relative);
      errno = 0;
      while (const dirent* entry = ::readdir(handle.get())) {
        const std::string_view name(entry->d_name);
        if (name != "." && name != "..") names.emplace_back(name);
      }
      if (errno != 0) return Errno("cannot read folder", relative.empty() ? "." : relative);
    }
    std::sort(names.begin(), names.end());
    open_.push_back(id);
    for (const std::string& name : names) {
      AEGIS_RETURN_IF_ERROR(Visit(dir / name, relative.empty() ? name : relative + "/" + name, depth));
    }
    open_.pop_back();
    return Status::Ok();
  }

  const bool allow_symlinks_;
  const std::vector<std::string>& ignore_paths_;
  std::string root_real_;
  std::vector<std::pair<dev_t, ino_t>> open_;  // folders on the current path
  std::vector<ModelFile> files_;
};

// The last path component as a user would name the model ("models/fraud/" ->
// "fraud"); "." and ".." resolve to the real folder's name.
std::string ModelName(const fs::path& root) {
  std::string text = root.string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  std::string name = fs::path(text).filename().string();
  if (name.empty() || name == "." || name == "..") name = fs::path(RealPath(root)).filename().string();
  return name.empty() ? "model" : name;
}

}  // namespace

StatusOr<ModelListing> ListModelFiles(const fs::path& root, bool allow_symlinks,
                                      const std::vector<std::string>& ignore_paths) {
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0) return Errno("cannot read model", root.string());
  if (S_ISLNK(st.st_mode)) {
    if (!allow_symlinks) return Status::InvalidArgument("the model path is a symlink (allow_symlinks is false)");
    if (::stat(root.c_str(), &st) != 0) return Errno("cannot read model", root.string());
  }
  ModelListing listing;
  listing.model_name = ModelName(root);
  if (!IsSafeResourceName(listing.model_name)) {
    return Status::InvalidArgument("model name " + Quote(listing.model_name) + " is not a safe UTF-8 name");
  }
  if (S_ISREG(st.st_mode)) {
    // A single file is named by its file name; ignore paths do not apply.
    listing.single_file = true;
    listing.files.push_back({listing.model_name, root, static_cast<uint64_t>(st.st_size), st.st_dev, st.st_ino});
    return listing;
  }
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument("the model is not a regular file or folder");
  Walker walker(allow_symlinks, ignore_paths);
  AEGIS_RETURN_IF_ERROR(walker.WalkRoot(root, st));
  listing.files = walker.TakeFiles();
  // readdir order is sorted per folder, but "a/b" vs "a.txt" needs a global sort.
  std::sort(listing.files.begin(), listing.files.end(),
            [](const ModelFile& a, const ModelFile& b) { return a.name < b.name; });
  return listing;
}

}  // namespace aegis::signing::internal
