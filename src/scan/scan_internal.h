// Internal to the scan module: the per-format scanners and the helpers they share.
// Each scanner appends findings to a FindingList; locations are built from a prefix
// ("zip entry 'a/data.pkl'") and a local part ("offset 12").
//
// Thread-safety: functions are stateless; a FindingList belongs to one scan.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/scan/scanner.h"

namespace aegis::scan::internal {

// Escapes bytes from an artifact for display: printable ASCII is kept, everything
// else (controls, quotes' neighbours, non-ASCII) becomes \xNN; long strings are cut.
std::string Printable(std::string_view text, size_t max_chars = 200);
inline std::string Printable(std::span<const uint8_t> bytes, size_t max_chars = 200) {
  return Printable(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), max_chars);
}
// "prefix local", or just one of them when the other is empty.
std::string JoinLocation(std::string_view prefix, std::string_view local);
inline std::string AtOffset(std::string_view prefix, uint64_t offset) {
  return JoinLocation(prefix, "offset " + std::to_string(offset));
}

// Collects findings, dropping exact repeats and stopping at a cap (one summary
// finding says how many were dropped) so hostile input cannot flood a report.
class FindingList {
 public:
  explicit FindingList(size_t cap = 200) : cap_(cap) {}
  void Add(Severity severity, std::string location, std::string reason, std::string callable = "");
  const std::vector<Finding>& findings() const { return findings_; }
  size_t size() const { return findings_.size(); }
  // Moves the findings out, most severe first, with the "N more" note if any.
  std::vector<Finding> Take();

 private:
  size_t cap_;
  size_t dropped_ = 0;
  std::vector<Finding> findings_;
  std::set<std::pair<std::string, std::string>> seen_;  // (reason, callable)
};

// An ONNX tensor whose data lives in another file.
struct ExternalDataRef {
  std::string location;  // raw `location` value from the model
  std::string where;     // finding location of the tensor
  uint64_t offset = 0;
  uint64_t length = 0;  // 0: to the end of the file
  bool has_length = false;
  uint64_t expected_bytes = 0;  // the tensor's declared size (onnx_tensor.h)
  bool has_expected = false;
};

// Format detection from content only (format_detect.cc).
StatusOr<Format> DetectFormat(std::span<const uint8_t> bytes, const ScanLimits& limits);
bool StartsLikeZip(std::span<const uint8_t> bytes);
bool StartsLikeSafetensors(std::span<const uint8_t> bytes);
bool StartsWithPickleProto(std::span<const uint8_t> bytes);  // 0x80 then protocol 0..5

// Per-format scanners. A returned Status means "could not scan" (see scanner.h).
void ScanBarePickle(std::span<const uint8_t> bytes, FindingList& out);
StatusOr<Format> ScanZipArchive(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out);
// External-data references are appended to `refs` when it is not null (a folder scan
// resolves them); with null, every reference is a finding (a single artifact).
Status ScanOnnx(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out,
                std::vector<ExternalDataRef>* refs);
bool LooksLikeOnnx(std::span<const uint8_t> bytes);
Status ScanXgboostJson(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out);
Status ScanXgboostUbj(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out);
void ScanSafetensors(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out);

// Detects and scans one artifact; `refs` as for ScanOnnx.
StatusOr<ScanReport> ScanArtifact(std::span<const uint8_t> bytes, const ScanLimits& limits,
                                  std::vector<ExternalDataRef>* refs);

// Problems with a relative path taken from an artifact (zip entry names, ONNX
// external data): empty when safe, else the reason. Forbids absolute paths, drive
// letters, backslashes, NUL and ".." components.
std::string UnsafeRelativePath(std::string_view path);

}  // namespace aegis::scan::internal
