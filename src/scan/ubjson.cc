#include "ubjson.h"

namespace aegis::scan::internal {
namespace {

constexpr size_t kMaxRecordedKeys = 4096;

Status Bad(const std::string& why) { return Status::Unprocessable("malformed XGBoost UBJ model: " + why); }

}  // namespace

int UbjScalarSize(uint8_t marker) {
  switch (marker) {
    case 'Z':
    case 'N':
    case 'T':
    case 'F':
      return 0;
    case 'i':
    case 'U':
    case 'C':
      return 1;
    case 'I':
      return 2;
    case 'l':
    case 'd':
      return 4;
    case 'L':
    case 'D':
      return 8;
    case 'S':
    case 'H':
    case '[':
    case '{':
      return -1;
    default:
      return -2;
  }
}

namespace {

int ScalarSize(uint8_t marker) { return UbjScalarSize(marker); }

class Validator {
 public:
  Validator(std::span<const uint8_t> bytes, int max_depth) : bytes_(bytes), max_depth_(max_depth) {}

  StatusOr<UbjSummary> Run() {
    uint8_t root = 0;
    AEGIS_RETURN_IF_ERROR(Byte(&root));
    summary_.root = static_cast<char>(root);
    AEGIS_RETURN_IF_ERROR(Value(root));
    while (!stack_.empty()) {
      Frame& frame = stack_.back();
      if (frame.remaining == 0) {
        stack_.pop_back();
        continue;
      }
      if (frame.remaining < 0) {
        if (pos_ == bytes_.size()) return Bad("truncated container");
        if (bytes_[pos_] == static_cast<uint8_t>(frame.object ? '}' : ']')) {
          ++pos_;
          stack_.pop_back();
          continue;
        }
      } else {
        --frame.remaining;
      }
      bool record = frame.object && stack_.size() == 1 && summary_.root == '{';
      uint8_t type = frame.type;
      std::string key;
      if (frame.object) AEGIS_RETURN_IF_ERROR(String(record ? &key : nullptr));
      uint8_t marker = type;
      if (marker == 0) AEGIS_RETURN_IF_ERROR(Byte(&marker));
      if (record && summary_.top_level_keys.size() < kMaxRecordedKeys) {
        summary_.top_level_keys.emplace_back(std::move(key), static_cast<char>(marker));
      }
      AEGIS_RETURN_IF_ERROR(Value(marker));  // may push: `frame` is not used after this
    }
    if (pos_ != bytes_.size()) return Bad("data after the end of the document");
    return summary_;
  }

 private:
  struct Frame {
    bool object;
    uint8_t type;       // element marker of a typed container, 0 if untyped
    int64_t remaining;  // -1: until the closing marker
  };

  size_t Left() const { return bytes_.size() - pos_; }
  Status Byte(uint8_t* out) {
    if (pos_ == bytes_.size()) return Bad("truncated");
    *out = bytes_[pos_++];
    return Status::Ok();
  }
  Status Skip(uint64_t n) {
    if (n > Left()) return Bad("a value runs past the end");
    pos_ += static_cast<size_t>(n);
    return Status::Ok();
  }
  Status Length(int64_t* out) {
    uint8_t marker = 0;
    AEGIS_RETURN_IF_ERROR(Byte(&marker));
    int size =
        (marker == 'i' || marker == 'U' || marker == 'I' || marker == 'l' || marker == 'L') ? ScalarSize(marker) : 0;
    if (size <= 0) return Bad("expected an integer length");
    if (static_cast<size_t>(size) > Left()) return Bad("truncated length");
    uint64_t v = 0;
    for (int i = 0; i < size; ++i) v = v << 8 | bytes_[pos_++];
    int64_t length = marker == 'U'   ? static_cast<int64_t>(v)
                     : marker == 'i' ? static_cast<int8_t>(v)
                     : marker == 'I' ? static_cast<int16_t>(v)
                     : marker == 'l' ? static_cast<int32_t>(v)
                                     : static_cast<int64_t>(v);
    if (length < 0) return Bad("negative length");
    *out = length;
    return Status::Ok();
  }
  Status String(std::string* out) {
    int64_t length = 0;
    AEGIS_RETURN_IF_ERROR(Length(&length));
    size_t start = pos_;
    AEGIS_RETURN_IF_ERROR(Skip(static_cast<uint64_t>(length)));
    if (out) out->assign(reinterpret_cast<const char*>(bytes_.data() + start), static_cast<size_t>(length));
    return Status::Ok();
  }

  Status Value(uint8_t marker) {
    int size = ScalarSize(marker);
    if (size == -2) return Bad("unknown marker");
    if (size >= 0) return Skip(static_cast<uint64_t>(size));
    if (marker == 'S' || marker == 'H') return String(nullptr);
    bool object = marker == '{';
    uint8_t type = 0;
    int64_t count = -1;
    if (Left() > 0 && bytes_[pos_] == '$') {
      ++pos_;
      AEGIS_RETURN_IF_ERROR(Byte(&type));
      int type_size = ScalarSize(type);
      if (type_size == -2 || type == '[' || type == '{') return Bad("unsupported container element type");
      uint8_t hash = 0;
      AEGIS_RETURN_IF_ERROR(Byte(&hash));
      if (hash != '#') return Bad("typed container without a count");
    }
    if (type != 0 || (Left() > 0 && bytes_[pos_] == '#')) {
      if (type == 0) ++pos_;
      AEGIS_RETURN_IF_ERROR(Length(&count));
      // Every element (or key) takes at least one byte, except elements of a typed
      // container of null/bool: those are bounded by the input size all the same.
      if (static_cast<uint64_t>(count) > Left() &&
          !(type != 0 && ScalarSize(type) == 0 && !object && static_cast<uint64_t>(count) <= bytes_.size())) {
        return Bad("count of " + std::to_string(count) + " exceeds the data");
      }
      int type_size = type ? ScalarSize(type) : -1;
      if (!object && type_size >= 0) {  // typed array of scalars: one block of bytes
        if (type_size > 0 && static_cast<uint64_t>(count) > Left() / static_cast<uint64_t>(type_size)) {
          return Bad("typed array runs past the end");
        }
        return Skip(static_cast<uint64_t>(count) * static_cast<uint64_t>(type_size));
      }
    }
    if (stack_.size() >= static_cast<size_t>(max_depth_)) {
      return Status::Unprocessable("XGBoost UBJ model nests deeper than " + std::to_string(max_depth_) + " levels");
    }
    stack_.push_back(Frame{object, type, count});
    return Status::Ok();
  }

  std::span<const uint8_t> bytes_;
  int max_depth_;
  size_t pos_ = 0;
  std::vector<Frame> stack_;
  UbjSummary summary_;
};

}  // namespace

StatusOr<UbjSummary> ValidateUbj(std::span<const uint8_t> bytes, int max_depth) {
  return Validator(bytes, max_depth).Run();
}

}  // namespace aegis::scan::internal
