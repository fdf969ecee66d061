// safetensors: an 8-byte little-endian header length n, n bytes of JSON, then the
// tensor data. Checked: 2 <= n <= max_safetensors_header and 8 + n <= size; the
// header is a JSON object of tensors {dtype, shape, data_offsets} plus an optional
// "__metadata__" string map; each tensor's byte range lies inside the data, matches
// product(shape) x dtype size (overflow-checked), and overlaps no other; the ranges
// cover the data region with no gaps (the reference implementation refuses gaps,
// and unaccounted bytes are where a payload would hide). All are findings.
#include <algorithm>
#include <set>

#include <simdjson.h>

#include "scan_internal.h"

namespace aegis::scan::internal {
namespace {

constexpr int kHeaderDepth = 8;  // object → tensor → shape: 3 levels in valid headers

int DtypeSize(std::string_view dtype) {
  static constexpr std::pair<std::string_view, int> kSizes[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}, {"C64", 8}};
  for (const auto& [name, size] : kSizes) {
    if (name == dtype) return size;
  }
  return 0;
}

struct TensorRange {
  uint64_t begin, end;
  std::string name;
};

// Checks one tensor entry; on success appends its byte range.
void CheckTensor(std::string_view name, simdjson::dom::element value, uint64_t data_size,
                 std::vector<TensorRange>* ranges, FindingList& out) {
  std::string where = "tensor '" + Printable(name, 100) + "'";
  simdjson::dom::object info;
  std::string_view dtype;
  simdjson::dom::array shape, offsets;
  if (value.get_object().get(info) != simdjson::SUCCESS || info["dtype"].get_string().get(dtype) != simdjson::SUCCESS ||
      info["shape"].get_array().get(shape) != simdjson::SUCCESS ||
      info["data_offsets"].get_array().get(offsets) != simdjson::SUCCESS) {
    out.Add(Severity::kHigh, where, "tensor entry needs dtype, shape and data_offsets");
    return;
  }
  int size = DtypeSize(dtype);
  if (size == 0) {
    out.Add(Severity::kHigh, where, "unknown dtype '" + Printable(dtype, 40) + "'");
    return;
  }
  unsigned __int128 bytes = static_cast<unsigned>(size);
  for (simdjson::dom::element dim : shape) {
    uint64_t d = 0;
    if (dim.get_uint64().get(d) != simdjson::SUCCESS) {
      out.Add(Severity::kHigh, where, "shape holds something other than a non-negative integer");
      return;
    }
    bytes *= d;
    if (bytes > UINT64_MAX) {
      out.Add(Severity::kCritical, where, "shape overflows 64 bits");
      return;
    }
  }
  uint64_t begin = 0, end = 0;
  if (offsets.size() != 2 || offsets.at(0).get_uint64().get(begin) != simdjson::SUCCESS ||
      offsets.at(1).get_uint64().get(end) != simdjson::SUCCESS) {
    out.Add(Severity::kHigh, where, "data_offsets must be [begin, end] with non-negative integers");
    return;
  }
  if (begin > end || end > data_size) {
    out.Add(Severity::kCritical, where,
            "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] outside the data region of " +
                std::to_string(data_size) + " bytes");
    return;
  }
  if (end - begin != static_cast<uint64_t>(bytes)) {
    out.Add(Severity::kCritical, where,
            "data_offsets span " + std::to_string(end - begin) + " bytes but dtype and shape need " +
                std::to_string(static_cast<uint64_t>(bytes)));
    return;
  }
  ranges->push_back({begin, end, std::string(name)});
}

void CheckCoverage(std::vector<TensorRange>& ranges, uint64_t data_size, FindingList& out) {
  std::sort(ranges.begin(), ranges.end(), [](const TensorRange& a, const TensorRange& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const TensorRange* last = nullptr;
  for (const TensorRange& r : ranges) {
    if (r.begin < covered && r.end > r.begin) {
      out.Add(Severity::kCritical, "tensor '" + Printable(r.name, 100) + "'",
              "data overlaps tensor '" + Printable(last ? last->name : "", 100) + "'");
    } else if (r.begin > covered) {
      out.Add(Severity::kHigh, "data offset " + std::to_string(covered),
              std::to_string(r.begin - covered) + " bytes of the data region belong to no tensor");
    }
    if (r.end >= covered) {
      covered = r.end;
      last = &r;
    }
  }
  if (covered < data_size) {
    out.Add(Severity::kHigh, "data offset " + std::to_string(covered),
            std::to_string(data_size - covered) + " bytes of the data region belong to no tensor");
  }
}

}  // namespace

void ScanSafetensors(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out) {
  if (bytes.size() < 8) {
    out.Add(Severity::kCritical, "offset 0", "safetensors file shorter than its 8-byte header length");
    return;
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | bytes[static_cast<size_t>(i)];
  if (n < 2 || n > limits.max_safetensors_header) {
    out.Add(Severity::kCritical, "offset 0",
            "safetensors header length " + std::to_string(n) + " outside [2, " +
                std::to_string(limits.max_safetensors_header) + "]");
    return;
  }
  if (n > bytes.size() - 8) {
    out.Add(Severity::kCritical, "offset 0",
            "safetensors header length " + std::to_string(n) + " runs past the end of the file (" +
                std::to_string(bytes.size()) + " bytes)");
    return;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::object header;
  if (parser.allocate(static_cast<size_t>(n), kHeaderDepth) != simdjson::SUCCESS ||
      parser.parse(bytes.data() + 8, static_cast<size_t>(n), true).get(root) != simdjson::SUCCESS ||
      root.get_object().get(header) != simdjson::SUCCESS) {
    out.Add(Severity::kCritical, "offset 8", "safetensors header is not a JSON object");
    return;
  }
  uint64_t data_size = bytes.size() - 8 - n;
  std::vector<TensorRange> ranges;
  std::set<std::string_view> names;
  for (auto [key, value] : header) {
    if (!names.insert(key).second) {
      out.Add(Severity::kHigh, "tensor '" + Printable(key, 100) + "'", "name appears twice in the header");
      continue;
    }
    if (key == "__metadata__") {
      simdjson::dom::object metadata;
      bool ok = value.get_object().get(metadata) == simdjson::SUCCESS;
      if (ok) {
        for (auto field : metadata) ok = ok && field.value.is_string();
      }
      if (!ok) out.Add(Severity::kMedium, "\"__metadata__\"", "__metadata__ must map strings to strings");
      continue;
    }
    CheckTensor(key, value, data_size, &ranges, out);
  }
  CheckCoverage(ranges, data_size, out);
}

}  // namespace aegis::scan::internal
