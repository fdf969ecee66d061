// The model scanner: static checks of model bytes before any engine parses them.
//
// The format is decided from content (magic bytes and structure), never from a
// file name. Each format has its own checks:
//   pickle (bare, protocols 0-5)   opcodes disassembled, GLOBAL / STACK_GLOBAL /
//                                  INST / EXT imports resolved (through the memo)
//                                  and checked against an allowlist of exact
//                                  (module, name) pairs; calls and BUILD / SETITEM…
//                                  applied to imports reported
//   zip (TorchScript, torch.save)  entry names, duplicates, sizes and compression
//                                  ratios bounded, local headers checked against
//                                  the central directory; `*.pkl` members and any
//                                  member starting like a pickle scanned;
//                                  torch.save archives (zip or legacy) refused
//   TorchScript code               every code member tokenized and every operator,
//                                  namespace, custom class and attribute it names
//                                  checked against an exact allowlist of pure
//                                  tensor operators (src/scan/torchscript_*.h):
//                                  files, processes, network, threads, storage,
//                                  uninitialized memory are critical, anything
//                                  unknown high; legacy model.json archives refused
//   ONNX                           protobuf read with limits; every tensor's data
//                                  against its declared shape and type; external
//                                  data must stay inside the artifact; unknown op
//                                  domains
//   XGBoost JSON / UBJ             the whole model structure: trees (children,
//                                  cycles, reachability, split features),
//                                  num_feature, tree counts, booster parameters
//   safetensors                    header bounds, offsets inside the file, no
//                                  overlaps, no gaps
//
// Allowlists (src/scan/pickle_allowlist.cc): TorchScript archives may import
// torch._utils._rebuild_tensor_v2 / _rebuild_qtensor / _rebuild_sparse_tensor,
// torch.jit._pickle.build_* and restore_type_tag, collections.OrderedDict,
// builtins.complex, torch.<Type>Storage and torch.<qscheme>, and `__torch__.*`
// classes (compiled from the archive's own code). Other pickles: the same tensor
// helpers plus _rebuild_parameter(_with_state), numpy's array reconstruction
// (numpy.core.multiarray._reconstruct, numpy.ndarray, numpy.dtype), _codecs.encode
// (bytes in protocols 0-2) and set / frozenset / bytearray. Anything else is at
// least high; code execution, imports, files, processes, network are critical.
//
// A report with findings means "do not load". A Status error means the bytes could
// not be scanned at all (unknown format, truncated or malformed beyond analysis);
// callers treat that as a refusal too. Where the line falls:
//   Status error  the format could not be determined; or the container could not be
//                 read far enough to find its parts: a zip without a readable end
//                 record / central directory, an ONNX protobuf with a wire-format
//                 error, XGBoost JSON or UBJ that does not parse (or nests deeper
//                 than max_json_depth), a JSON document that is not an XGBoost model.
//   finding       everything found once the parts are readable, including malformed
//                 parts: a malformed pickle (unknown opcode, truncated, stack
//                 underflow, missing memo entry) is a critical finding, because
//                 unpicklers execute opcodes as they read them and whatever came
//                 before the error has already run; a bad safetensors header is a
//                 finding; so are bad zip entries (names, sizes, CRC, overlaps).
// Findings are sorted most severe first. Every finding refuses the artifact: the
// severity only ranks them (critical: runs code or escapes the artifact; high:
// unknown callable, unreadable or inconsistent structure; medium: not known to
// the engine, e.g. a custom ONNX operator domain; low: cosmetic).
// Strings from the artifact (names, callables) are escaped to printable ASCII.
//
// Thread-safety: stateless; safe for concurrent use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::scan {

enum class Severity { kLow, kMedium, kHigh, kCritical };
std::string_view SeverityName(Severity severity);  // "low" … "critical"

enum class Format {
  kPickle,
  kTorchScript,  // zip with code/ and constants.pkl
  kTorchSave,    // zip with a pickle but no TorchScript code: unsafe
  kZip,          // another zip archive
  kOnnx,
  kXgboostJson,
  kXgboostUbj,
  kSafetensors,
  kUnknown,  // only in PathReport, for folder entries that are not regular files
};
std::string_view FormatName(Format format);  // "pickle", "torchscript", "torch.save", …

struct Finding {
  Severity severity = Severity::kHigh;
  // Where: "offset 123", or "zip entry 'archive/data.pkl' offset 12", or
  // "graph.initializer 'w'"; for folders prefixed by the file's relative path.
  std::string location;
  std::string reason;    // one line, e.g. "pickle imports a callable outside the allowlist"
  std::string callable;  // "posix.system", "builtins.eval"; empty when not applicable
};

struct ScanReport {
  Format format = Format::kPickle;
  std::vector<Finding> findings;
  bool clean() const { return findings.empty(); }
};

struct ScanLimits {
  uint64_t max_zip_entries = 65536;
  uint64_t max_entry_bytes = 8ull << 30;     // uncompressed size of one zip entry
  uint64_t max_compression_ratio = 200;      // uncompressed / compressed, per entry of 64 KiB or more
  uint64_t max_pickle_bytes = 512ull << 20;  // pickle members of one archive, together, read into memory
  uint64_t max_code_bytes = 16ull << 20;     // TorchScript code members of one archive, together
  uint64_t max_safetensors_header = 100ull << 20;
  int max_protobuf_depth = 64;
  int max_json_depth = 64;                   // XGBoost JSON / UBJ nesting
  uint64_t max_xgboost_features = 1u << 20;  // num_feature: every buffer of the engine is sized by it
  uint64_t max_tensor_bytes = 16ull << 30;   // one ONNX tensor's declared size; all external ones together
};

// Scans one artifact held in memory.
StatusOr<ScanReport> ScanBytes(std::span<const uint8_t> bytes, const ScanLimits& limits = {});

// Scans a file, or every regular file of a folder (symlinks and special files are
// findings, reported with Format::kUnknown, never followed). Files are mapped, not
// copied. In a folder, ONNX external data may reference regular files inside that
// folder; such data files are then not reported on their own.
struct PathReport {
  std::string path;  // relative to the scanned root ("" for a single file)
  StatusOr<ScanReport> report;
};
StatusOr<std::vector<PathReport>> ScanPath(const std::filesystem::path& path, const ScanLimits& limits = {});

}  // namespace aegis::scan
