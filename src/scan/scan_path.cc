// ScanPath: one file, or every entry of a folder. Files are mapped read-only (a
// 10 GB model is not copied); folder entries are opened with O_NOFOLLOW, and
// symbolic links or special files are findings, never followed. ONNX external data
// must name a regular file of the same folder tree; such data files are then not
// reported on their own (they are raw tensor bytes, not models).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "scan_internal.h"

namespace aegis::scan {
namespace {

namespace fs = std::filesystem;
constexpr size_t kMaxFolderEntries = 100000;

class MappedFile {
 public:
  static StatusOr<std::shared_ptr<MappedFile>> Open(const fs::path& path, bool follow_symlinks) {
    int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow_symlinks ? 0 : O_NOFOLLOW);
    int fd = ::open(path.c_str(), flags);
    if (fd < 0) return Status::NotFound("cannot open '" + path.string() + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::InvalidArgument("'" + path.string() + "' is not a regular file");
    }
    auto file = std::shared_ptr<MappedFile>(new MappedFile());
    file->size_ = static_cast<size_t>(st.st_size);
    if (file->size_ > 0) {
      void* data = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (data == MAP_FAILED) {
        ::close(fd);
        return Status::Internal("cannot map '" + path.string() + "': " + std::strerror(errno));
      }
      file->data_ = static_cast<const uint8_t*>(data);
    }
    ::close(fd);
    return file;
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

enum class EntryKind { kRegular, kSymlink, kOther };

ScanReport NotScanned(const std::string& rel, const std::string& why) {
  return ScanReport{Format::kUnknown, {Finding{Severity::kHigh, rel, why, ""}}};
}

void Prefix(const std::string& rel, ScanReport& report) {
  for (Finding& f : report.findings) f.location = f.location.empty() ? rel : rel + ": " + f.location;
}

// Checks one model's external data against the files found in the folder.
void ResolveExternalData(const std::string& model_rel, const std::vector<internal::ExternalDataRef>& refs,
                         const std::map<std::string, EntryKind>& kinds, const std::map<std::string, uint64_t>& sizes,
                         ScanReport& report, std::set<std::string>* data_files) {
  fs::path dir = fs::path(model_rel).parent_path();
  for (const auto& ref : refs) {
    std::string target = (dir / ref.location).lexically_normal().generic_string();
    std::string shown = internal::Printable(ref.location);
    auto kind = kinds.find(target);
    if (kind == kinds.end()) {
      report.findings.push_back(
          {Severity::kHigh, ref.where, "external data file '" + shown + "' is not in the folder", ""});
    } else if (kind->second != EntryKind::kRegular) {
      report.findings.push_back(
          {Severity::kCritical, ref.where, "external data file '" + shown + "' is not a regular file", ""});
    } else {
      uint64_t size = sizes.at(target);
      if (ref.offset > size || (ref.has_length && ref.length > size - ref.offset)) {
        report.findings.push_back(
            {Severity::kHigh, ref.where, "external data range runs past the end of '" + shown + "'", ""});
      } else if (ref.has_expected) {
        // Engines read the declared size from the file: the range must hold exactly that.
        uint64_t available = ref.has_length ? ref.length : size - ref.offset;
        if (ref.has_length ? available != ref.expected_bytes : available < ref.expected_bytes) {
          report.findings.push_back({Severity::kCritical, ref.where,
                                     "tensor declares " + std::to_string(ref.expected_bytes) +
                                         " bytes but its data in '" + shown + "' covers " + std::to_string(available),
                                     ""});
        }
      }
      data_files->insert(target);
    }
  }
  std::stable_sort(report.findings.begin(), report.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
}

StatusOr<std::vector<PathReport>> ScanFolder(const fs::path& root, const ScanLimits& limits) {
  std::map<std::string, EntryKind> kinds;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(st)) continue;
    if (kinds.size() >= kMaxFolderEntries) return Status::TooLarge("folder has more than 100000 entries");
    std::string rel = it->path().lexically_relative(root).generic_string();
    kinds[rel] = fs::is_symlink(st)        ? EntryKind::kSymlink
                 : fs::is_regular_file(st) ? EntryKind::kRegular
                                           : EntryKind::kOther;
  }
  if (ec) return Status::NotFound("cannot read folder '" + root.string() + "': " + ec.message());

  std::vector<PathReport> reports;
  std::map<std::string, std::vector<internal::ExternalDataRef>> refs_by_model;
  std::map<std::string, uint64_t> sizes;
  for (const auto& [rel, kind] : kinds) {
    if (kind == EntryKind::kSymlink) {
      reports.push_back({rel, NotScanned(rel, "symbolic link (not followed): it may point outside the folder")});
      continue;
    }
    if (kind == EntryKind::kOther) {
      reports.push_back({rel, NotScanned(rel, "not a regular file")});
      continue;
    }
    auto file = MappedFile::Open(root / rel, false);
    if (!file.ok()) {
      reports.push_back({rel, file.status()});
      continue;
    }
    sizes[rel] = (*file)->bytes().size();
    std::vector<internal::ExternalDataRef> refs;
    auto report = internal::ScanArtifact((*file)->bytes(), limits, &refs);
    if (report.ok()) Prefix(rel, *report);
    if (!refs.empty()) refs_by_model[rel] = std::move(refs);
    reports.push_back({rel, std::move(report)});
  }
  std::set<std::string> data_files;
  for (PathReport& r : reports) {
    auto refs = refs_by_model.find(r.path);
    if (refs != refs_by_model.end() && r.report.ok()) {
      for (auto& ref : refs->second) ref.where = r.path + ": " + ref.where;
      ResolveExternalData(r.path, refs->second, kinds, sizes, *r.report, &data_files);
    }
  }
  // Data files referenced by a model are raw bytes: drop their "unknown format" result.
  std::erase_if(reports, [&](const PathReport& r) { return !r.report.ok() && data_files.contains(r.path); });
  return reports;
}

}  // namespace

StatusOr<std::vector<PathReport>> ScanPath(const fs::path& path, const ScanLimits& limits) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec) return Status::NotFound("cannot access '" + path.string() + "': " + ec.message());
  if (fs::is_directory(st)) return ScanFolder(path, limits);
  AEGIS_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path, true));
  std::vector<PathReport> reports;
  reports.push_back({"", internal::ScanArtifact(file->bytes(), limits, nullptr)});
  return reports;
}

}  // namespace aegis::scan
