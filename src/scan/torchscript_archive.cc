// TorchScript archives: code members collected and read as one program, plus the
// members that carry code the reader does not check. See torchscript_archive.h.
#include "torchscript_archive.h"

#include <set>
#include <string>
#include <vector>

#include "torchscript_reader.h"

namespace aegis::scan::internal {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The path below the archive's top folder ("m/code/x.py" -> "code/x.py").
std::string_view BelowTop(std::string_view name) {
  size_t slash = name.find('/');
  return slash == std::string_view::npos ? std::string_view() : name.substr(slash + 1);
}

std::string Where(const ZipEntry& e) { return "zip entry '" + Printable(e.name) + "'"; }

}  // namespace

void CheckTorchScriptArchive(std::span<const uint8_t> bytes, const ZipDirectory& dir, const ScanLimits& limits,
                             FindingList& out) {
  std::vector<const ZipEntry*> code;
  std::set<std::string> code_names;  // lower case
  std::vector<const ZipEntry*> debug_maps;
  for (const ZipEntry& e : dir.entries) {
    if (e.name.ends_with('/')) continue;
    std::string lower = Lower(e.name);
    std::string_view below = BelowTop(lower);
    if (below == "model.json") {
      out.Add(Severity::kCritical, Where(e),
              "legacy TorchScript format (model.json): the engine may read code from any member; export with a "
              "current torch.jit.save");
    }
    if (below == "bytecode.pkl") {
      out.Add(Severity::kHigh, Where(e),
              "mobile interpreter bytecode (bytecode.pkl) is not checked; save with torch.jit.save");
    }
    bool under_code = below.starts_with("code/");
    if (under_code && lower.ends_with(".debug_pkl")) {
      debug_maps.push_back(&e);
    } else if (under_code || lower.ends_with(".py")) {
      code.push_back(&e);
      code_names.insert(lower);
    }
  }
  for (const ZipEntry* e : debug_maps) {
    std::string lower = Lower(e->name);
    if (!code_names.contains(lower.substr(0, lower.size() - std::string_view(".debug_pkl").size()))) {
      out.Add(Severity::kHigh, Where(*e), "debug information for TorchScript code that is not in the archive");
    }
  }

  std::vector<std::vector<uint8_t>> buffers;  // inflated members; stored ones are views into `bytes`
  buffers.reserve(code.size());
  std::vector<torchscript::CodeFile> files;
  uint64_t budget = limits.max_code_bytes;
  for (const ZipEntry* e : code) {
    if (e->uncompressed_size > budget) {
      out.Add(Severity::kHigh, Where(*e),
              "TorchScript code exceeds the scan limit of " + std::to_string(limits.max_code_bytes) + " bytes");
      continue;
    }
    budget -= e->uncompressed_size;
    if (!e->readable) continue;  // already a finding of the zip reader
    buffers.emplace_back();
    auto member = ReadZipMember(bytes, *e, limits.max_code_bytes, &buffers.back());
    if (!member.ok()) {
      out.Add(Severity::kHigh, Where(*e), "TorchScript code cannot be read: " + member.status().message());
      continue;
    }
    files.push_back({Where(*e), std::string_view(reinterpret_cast<const char*>(member->data()), member->size())});
  }
  torchscript::CheckProgram(files, out);
}

}  // namespace aegis::scan::internal
