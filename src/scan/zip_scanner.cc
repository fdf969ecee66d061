// Zip archives: structure (zip_reader), entry names, what kind of archive it is
// (TorchScript, torch.save, other) and the pickles inside.
//
// Which members are read as pickles:
//   - every `*.pkl` / `*.debug_pkl` entry: scanned strictly (malformed = finding);
//   - any other member whose first bytes are a pickle PROTO header (0x80, 0-5):
//     scanned for imports and calls only, since it may not be a pickle at all;
//   - except tensor storage records (`<root>/data/<n>` in torch archives), which
//     libtorch reads as raw bytes: their bounds are checked, their bytes are not.
// All pickle members of one archive together may inflate to max_pickle_bytes.
#include <map>
#include <set>

#include "pickle_scanner.h"
#include "torchscript_archive.h"
#include "zip_reader.h"

namespace aegis::scan::internal {
namespace {

std::string EntryLocation(const std::string& name) { return "zip entry '" + Printable(name) + "'"; }

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// Zip-slip, absolute paths, duplicates: some extractors write outside their
// folder, and two readers may pick different copies of a duplicated name.
void CheckNames(const std::vector<ZipEntry>& entries, FindingList& out) {
  std::set<std::string> seen;
  std::map<std::string, std::string> folded;
  for (const ZipEntry& e : entries) {
    std::string why = UnsafeRelativePath(e.name);
    if (!why.empty()) out.Add(Severity::kCritical, EntryLocation(e.name), "unsafe entry name: " + why);
    if (!seen.insert(e.name).second) {
      out.Add(Severity::kCritical, EntryLocation(e.name), "duplicate entry name");
      continue;
    }
    auto [it, inserted] = folded.emplace(AsciiLower(e.name), e.name);
    if (!inserted) {
      out.Add(Severity::kMedium, EntryLocation(e.name),
              "entry names differ only in case ('" + Printable(it->second) + "')");
    }
  }
}

bool IsNamedPickle(const std::string& name) { return name.ends_with(".pkl") || name.ends_with(".debug_pkl"); }

}  // namespace

StatusOr<Format> ScanZipArchive(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out) {
  AEGIS_ASSIGN_OR_RETURN(ZipDirectory dir, ReadZipDirectory(bytes, limits));
  for (const Finding& p : dir.problems) out.Add(p.severity, p.location, p.reason, p.callable);
  if (dir.first_entry_offset > 0) {
    // A polyglot: something else (often a pickle) with a zip appended.
    out.Add(Severity::kHigh, "offset 0",
            std::to_string(dir.first_entry_offset) + " bytes before the first zip entry (another file prepended?)");
    PickleScanOptions options;
    options.location = "data before the zip archive";
    options.report_malformed = false;
    ScanPickle(bytes.first(static_cast<size_t>(dir.first_entry_offset)), options, out);
  }
  CheckNames(dir.entries, out);

  std::string root;
  if (!dir.entries.empty()) {
    size_t slash = dir.entries.front().name.find('/');
    if (slash != std::string::npos && slash > 0) root = dir.entries.front().name.substr(0, slash);
  }
  bool has_code = false;
  const ZipEntry* data_pkl = nullptr;
  const ZipEntry* constants_pkl = nullptr;
  if (!root.empty()) {
    for (const ZipEntry& e : dir.entries) {
      has_code = has_code || e.name.starts_with(root + "/code/");
      if (e.name == root + "/data.pkl") data_pkl = &e;
      if (e.name == root + "/constants.pkl") constants_pkl = &e;
    }
  }
  Format format = Format::kZip;
  if (has_code && (data_pkl || constants_pkl)) {
    format = Format::kTorchScript;
  } else if (data_pkl) {
    format = Format::kTorchSave;
    out.Add(Severity::kCritical, EntryLocation(data_pkl->name),
            "torch.save archive: unsafe format (arbitrary pickle); export with torch.jit.save");
  }
  bool torch = format == Format::kTorchScript || format == Format::kTorchSave;
  PickleContext context = format == Format::kTorchScript ? PickleContext::kTorchScript : PickleContext::kGeneric;

  std::vector<uint8_t> buffer;
  uint64_t budget = limits.max_pickle_bytes;  // for all pickle members together
  for (const ZipEntry& e : dir.entries) {
    if (!e.readable || e.name.ends_with('/')) continue;
    bool named = IsNamedPickle(e.name);
    if (!named) {
      if (torch && e.name.starts_with(root + "/data/")) continue;
      if (!StartsWithPickleProto(ReadZipMemberHead(bytes, e, 2))) continue;
    }
    std::string location = EntryLocation(e.name);
    if (e.uncompressed_size > budget) {
      out.Add(
          Severity::kHigh, location,
          "pickle members exceed the scan limit of " + std::to_string(limits.max_pickle_bytes) + " bytes per archive");
      continue;
    }
    budget -= e.uncompressed_size;
    auto member = ReadZipMember(bytes, e, limits.max_pickle_bytes, &buffer);
    if (!member.ok()) {
      bool too_big = member.status().code() == StatusCode::kTooLarge;
      out.Add(too_big ? Severity::kHigh : Severity::kCritical, location,
              "pickle member cannot be scanned: " + member.status().message());
      continue;
    }
    PickleScanOptions options;
    options.context = context;
    options.location = location;
    options.report_malformed = named;
    ScanPickle(*member, options, out);
  }
  if (format == Format::kTorchScript) CheckTorchScriptArchive(bytes, dir, limits, out);
  return format;
}

}  // namespace aegis::scan::internal
