// Format detection from content. Order matters where formats could overlap:
//   1. zip            "PK\3\4" or "PK\5\6" at offset 0
//   2. safetensors    u64 header length < 2^48, then '{' at offset 8 (a pickle header
//                     wins when that length could not fit in the file)
//   3. pickle         PROTO opcode (0x80) with protocol 0-5
//   4. JSON / UBJ     '{' after whitespace: UBJ when a UBJ length marker follows
//                     the brace at once ('{' 'L' …, as XGBoost writes), else JSON
//   5. ONNX           the whole input is a ModelProto with ir_version and graph
//   6. zip            an end-of-central-directory record in the tail (data prepended)
//   7. pickle 0/1     the disassembler reaches STOP, or resolves an import before failing
#include "pickle_scanner.h"
#include "scan_internal.h"
#include "zip_reader.h"

namespace aegis::scan::internal {
namespace {

uint64_t SafetensorsHeaderLength(std::span<const uint8_t> b) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | b[static_cast<size_t>(i)];
  return n;
}

bool IsJsonSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsUbjLengthMarker(uint8_t c) {
  return c == 'i' || c == 'U' || c == 'I' || c == 'l' || c == 'L' || c == '#' || c == '$';
}

}  // namespace

bool StartsLikeZip(std::span<const uint8_t> b) {
  return b.size() >= 4 && b[0] == 'P' && b[1] == 'K' && ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6));
}

bool StartsLikeSafetensors(std::span<const uint8_t> b) {
  return b.size() >= 9 && b[8] == '{' && b[6] == 0 && b[7] == 0;
}

bool StartsWithPickleProto(std::span<const uint8_t> b) { return b.size() >= 2 && b[0] == 0x80 && b[1] <= 5; }

StatusOr<Format> DetectFormat(std::span<const uint8_t> b, const ScanLimits&) {
  if (b.empty()) return Status::Unprocessable("empty file: could not determine the model format");
  if (StartsLikeZip(b)) return Format::kZip;
  bool pickle = StartsWithPickleProto(b);
  if (StartsLikeSafetensors(b) && (!pickle || SafetensorsHeaderLength(b) <= b.size() - 8)) {
    return Format::kSafetensors;
  }
  if (pickle) return Format::kPickle;
  size_t i = 0;
  while (i < b.size() && IsJsonSpace(b[i])) ++i;
  if (i < b.size() && b[i] == '{') {
    if (i == 0 && b.size() > 1 && IsUbjLengthMarker(b[1])) return Format::kXgboostUbj;
    return Format::kXgboostJson;
  }
  if (LooksLikeOnnx(b)) return Format::kOnnx;
  if (HasZipEndRecord(b)) return Format::kZip;
  FindingList scratch;
  PickleScanOptions options;
  options.report_malformed = false;
  PickleScanResult result = ScanPickle(b, options, scratch);
  if (result.reached_stop || result.imports > 0) return Format::kPickle;
  return Status::Unprocessable("could not determine the model format");
}

}  // namespace aegis::scan::internal
