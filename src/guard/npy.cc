// ParseNpy: see npy.h. The header grammar accepted is the subset NumPy writes
// (numpy.lib.format): {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// in any key order, with optional spaces, a trailing comma and padding.
#include "aegis/guard/npy.h"

#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace aegis::guard {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

Status Bad(std::string_view what) { return Status::InvalidArgument("invalid .npy file: " + std::string(what)); }

// A cursor over the header dict.
class HeaderReader {
 public:
  explicit HeaderReader(std::string_view text) : text_(text) {}
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::optional<std::string_view> QuotedString() {
    SkipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return std::nullopt;
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos || end - pos_ > 64) return std::nullopt;
    std::string_view out = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  std::optional<bool> Boolean() {
    SkipSpace();
    for (const auto& [word, value] : {std::pair{std::string_view("True"), true}, {"False", false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    return std::nullopt;
  }
  // A non-negative decimal of at most 18 digits (no overflow possible).
  std::optional<uint64_t> Integer() {
    SkipSpace();
    uint64_t value = 0;
    size_t digits = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9' && digits < 19) {
      value = value * 10 + static_cast<uint64_t>(text_[pos_++] - '0');
      ++digits;
    }
    if (digits == 0 || digits > 18) return std::nullopt;
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 long
    return value;
  }
  // "(a, b, c)" with an optional trailing comma; at most 8 dimensions.
  std::optional<std::vector<uint64_t>> Shape() {
    if (!Eat('(')) return std::nullopt;
    std::vector<uint64_t> dims;
    while (!Eat(')')) {
      if (dims.size() == 8) return std::nullopt;
      auto d = Integer();
      if (!d) return std::nullopt;
      dims.push_back(*d);
      if (!Eat(',')) {
        if (!Eat(')')) return std::nullopt;
        break;
      }
    }
    return dims;
  }
  bool AtEndAfterPadding() {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
    SkipSpace();
    return pos_ == text_.size();
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

enum class Kind { kFloat, kSigned, kUnsigned };
struct Dtype {
  Kind kind;
  size_t size;
};

std::optional<Dtype> ParseDescr(std::string_view d) {
  if (d.size() != 3) return std::nullopt;
  const char order = d[0];
  const char kind = d[1];
  const char size = d[2];
  if (size != '1' && size != '2' && size != '4' && size != '8') return std::nullopt;
  const size_t bytes = static_cast<size_t>(size - '0');
  // '|' (no byte order) only for single bytes; '<' little-endian; '=' native,
  // which is little-endian on every platform Aegis builds for.
  if (order == '|' ? bytes != 1 : (order != '<' && order != '=')) return std::nullopt;
  if (kind == 'f' && (bytes == 4 || bytes == 8)) return Dtype{Kind::kFloat, bytes};
  if (kind == 'i') return Dtype{Kind::kSigned, bytes};
  if (kind == 'u') return Dtype{Kind::kUnsigned, bytes};
  return std::nullopt;
}

template <typename T>
void Convert(const uint8_t* data, uint64_t n, float* out) {
  for (uint64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, data + i * sizeof(T), sizeof(T));
    out[i] = static_cast<float>(v);
  }
}

void ConvertAll(Dtype t, const uint8_t* data, uint64_t n, float* out) {
  switch (t.kind) {
    case Kind::kFloat:
      return t.size == 4 ? Convert<float>(data, n, out) : Convert<double>(data, n, out);
    case Kind::kSigned:
      if (t.size == 1) return Convert<int8_t>(data, n, out);
      if (t.size == 2) return Convert<int16_t>(data, n, out);
      if (t.size == 4) return Convert<int32_t>(data, n, out);
      return Convert<int64_t>(data, n, out);
    case Kind::kUnsigned:
      if (t.size == 1) return Convert<uint8_t>(data, n, out);
      if (t.size == 2) return Convert<uint16_t>(data, n, out);
      if (t.size == 4) return Convert<uint32_t>(data, n, out);
      return Convert<uint64_t>(data, n, out);
  }
}

}  // namespace

bool LooksLikeNpy(std::span<const uint8_t> bytes) {
  return bytes.size() >= kMagic.size() && std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) == 0;
}

StatusOr<SampleInput> ParseNpy(std::span<const uint8_t> bytes, std::string name) {
  if (!LooksLikeNpy(bytes)) return Bad("it does not start with the magic \\x93NUMPY");
  if (bytes.size() < 10) return Bad("the header is truncated");
  const uint8_t major = bytes[6];
  size_t header_len = 0;
  size_t offset = 0;
  if (major == 1) {
    header_len = bytes[8] | (size_t{bytes[9]} << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Bad("the header is truncated");
    header_len = bytes[8] | (size_t{bytes[9]} << 8) | (size_t{bytes[10]} << 16) | (size_t{bytes[11]} << 24);
    offset = 12;
  } else {
    return Bad("unsupported format version " + std::to_string(major));
  }
  if (header_len > kMaxNpyHeaderBytes) return Bad("the header is longer than 64 KiB");
  if (bytes.size() - offset < header_len) return Bad("the header is truncated");
  const std::string_view header(reinterpret_cast<const char*>(bytes.data() + offset), header_len);
  for (const char c : header) {
    if ((c < 0x20 || c > 0x7e) && c != '\n' && c != '\t') return Bad("the header is not printable ASCII");
  }

  HeaderReader r(header);
  std::optional<Dtype> dtype;
  std::optional<bool> fortran;
  std::optional<std::vector<uint64_t>> shape;
  bool saw_descr = false;
  if (!r.Eat('{')) return Bad("the header is not a dict");
  while (!r.Eat('}')) {
    auto key = r.QuotedString();
    if (!key || !r.Eat(':')) return Bad("the header is not a dict of 'descr', 'fortran_order' and 'shape'");
    if (*key == "descr" && !saw_descr) {
      saw_descr = true;
      auto d = r.QuotedString();
      if (!d) return Bad("'descr' must be a simple dtype string");
      dtype = ParseDescr(*d);
      if (!dtype) {
        return Bad("dtype '" + std::string(*d) +
                   "' is not supported (little-endian float32/float64 or integers only; no object, bool, "
                   "string or big-endian arrays)");
      }
    } else if (*key == "fortran_order" && !fortran) {
      fortran = r.Boolean();
      if (!fortran) return Bad("'fortran_order' must be True or False");
    } else if (*key == "shape" && !shape) {
      shape = r.Shape();
      if (!shape) return Bad("'shape' must be a tuple of at most 8 non-negative integers");
    } else {
      return Bad("unexpected or repeated key in the header");
    }
    if (!r.Eat(',')) {
      if (!r.Eat('}')) return Bad("the header dict is malformed");
      break;
    }
  }
  if (!r.AtEndAfterPadding()) return Bad("unexpected text after the header dict");
  if (!saw_descr || !fortran || !shape) return Bad("the header lacks 'descr', 'fortran_order' or 'shape'");
  if (*fortran) return Bad("Fortran-order arrays are not supported; save a C-order array (numpy.ascontiguousarray)");
  if (shape->size() < 2) return Bad("the array needs at least 2 dimensions (rows, features...)");

  const uint64_t rows = (*shape)[0];
  uint64_t features = 1;
  for (size_t i = 1; i < shape->size(); ++i) {
    if ((*shape)[i] != 0 && features > kMaxFeatures / (*shape)[i]) return Bad("too many features per row");
    features *= (*shape)[i];
  }
  if (features == 0 || features > kMaxFeatures) {
    return Bad("rows must have 1 to " + std::to_string(kMaxFeatures) + " features");
  }
  if (rows < kMinRows || rows > kMaxRows) {
    return Bad("the sample must have " + std::to_string(kMinRows) + " to " + std::to_string(kMaxRows) + " rows, not " +
               std::to_string(rows));
  }
  if (rows > kMaxSampleValues / features) {
    return Bad("the sample is larger than " + std::to_string(kMaxSampleValues) + " values");
  }
  const uint64_t count = rows * features;
  const uint64_t data_bytes = count * dtype->size;
  const size_t data_offset = offset + header_len;
  if (bytes.size() - data_offset != data_bytes) {
    return Bad(bytes.size() - data_offset < data_bytes ? "the data is shorter than its shape says (truncated)"
                                                       : "there are bytes after the data its shape says");
  }
  SampleInput out{std::move(name), rows, features, std::vector<float>(count)};
  ConvertAll(*dtype, bytes.data() + data_offset, count, out.values.data());
  return out;
}

}  // namespace aegis::guard
