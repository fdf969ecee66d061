// ScanBytes: detect the format from content, run that format's scanner, and sort
// the findings. Also the small helpers every scanner shares.
#include "aegis/scan/scanner.h"

#include <algorithm>
#include <cstdio>

#include "pickle_scanner.h"
#include "scan_internal.h"

namespace aegis::scan {

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kLow:
      return "low";
    case Severity::kMedium:
      return "medium";
    case Severity::kHigh:
      return "high";
    case Severity::kCritical:
      return "critical";
  }
  return "unknown";
}

std::string_view FormatName(Format format) {
  switch (format) {
    case Format::kPickle:
      return "pickle";
    case Format::kTorchScript:
      return "torchscript";
    case Format::kTorchSave:
      return "torch.save";
    case Format::kZip:
      return "zip";
    case Format::kOnnx:
      return "onnx";
    case Format::kXgboostJson:
      return "xgboost-json";
    case Format::kXgboostUbj:
      return "xgboost-ubj";
    case Format::kSafetensors:
      return "safetensors";
    case Format::kUnknown:
      return "unknown";
  }
  return "unknown";
}

StatusOr<ScanReport> ScanBytes(std::span<const uint8_t> bytes, const ScanLimits& limits) {
  return internal::ScanArtifact(bytes, limits, nullptr);
}

namespace internal {

std::string Printable(std::string_view text, size_t max_chars) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= max_chars) {
      out += "...(" + std::to_string(text.size()) + " bytes)";
      break;
    }
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  return out;
}

std::string JoinLocation(std::string_view prefix, std::string_view local) {
  if (prefix.empty()) return std::string(local);
  if (local.empty()) return std::string(prefix);
  return std::string(prefix) + " " + std::string(local);
}

void FindingList::Add(Severity severity, std::string location, std::string reason, std::string callable) {
  // One finding per (reason, callable): a pickle importing os.system 1000 times is one problem.
  auto key = std::make_pair(reason, callable);
  if (seen_.contains(key)) return;
  if (findings_.size() >= cap_) {
    ++dropped_;
    if (seen_.size() < 4 * cap_) seen_.insert(std::move(key));
    return;
  }
  seen_.insert(std::move(key));
  findings_.push_back(Finding{severity, std::move(location), std::move(reason), std::move(callable)});
}

std::vector<Finding> FindingList::Take() {
  std::vector<Finding> out = std::move(findings_);
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  if (dropped_ > 0) {
    out.push_back(Finding{Severity::kHigh, "", std::to_string(dropped_) + " more findings not listed", ""});
  }
  findings_.clear();
  seen_.clear();
  dropped_ = 0;
  return out;
}

std::string UnsafeRelativePath(std::string_view path) {
  if (path.empty()) return "empty path";
  if (path.find('\0') != std::string_view::npos) return "NUL byte in path";
  if (path.find('\\') != std::string_view::npos) return "backslash in path";
  if (path.front() == '/') return "absolute path";
  if (path.size() >= 2 && path[1] == ':' &&
      ((path[0] >= 'a' && path[0] <= 'z') || (path[0] >= 'A' && path[0] <= 'Z'))) {
    return "absolute path (drive letter)";
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (path.substr(start, end - start) == "..") return "'..' path component";
    start = end + 1;
  }
  return "";
}

StatusOr<ScanReport> ScanArtifact(std::span<const uint8_t> bytes, const ScanLimits& limits,
                                  std::vector<ExternalDataRef>* refs) {
  AEGIS_ASSIGN_OR_RETURN(Format format, DetectFormat(bytes, limits));
  FindingList findings;
  switch (format) {
    case Format::kPickle:
      ScanBarePickle(bytes, findings);
      if (IsLegacyTorchSave(bytes)) format = Format::kTorchSave;
      break;
    case Format::kZip: {
      AEGIS_ASSIGN_OR_RETURN(format, ScanZipArchive(bytes, limits, findings));
      break;
    }
    case Format::kOnnx:
      AEGIS_RETURN_IF_ERROR(ScanOnnx(bytes, limits, findings, refs));
      break;
    case Format::kXgboostJson:
      AEGIS_RETURN_IF_ERROR(ScanXgboostJson(bytes, limits, findings));
      break;
    case Format::kXgboostUbj:
      AEGIS_RETURN_IF_ERROR(ScanXgboostUbj(bytes, limits, findings));
      break;
    case Format::kSafetensors:
      ScanSafetensors(bytes, limits, findings);
      break;
    case Format::kTorchScript:
    case Format::kTorchSave:
    case Format::kUnknown:
      return Status::Internal("format detection returned an archive kind");
  }
  ScanReport report;
  report.format = format;
  report.findings = findings.Take();
  return report;
}

}  // namespace internal
}  // namespace aegis::scan
