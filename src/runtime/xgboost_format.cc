// Format sniffing as libxgboost 1.7 does it (Learner::LoadModel: '{' first, then
// '"' for JSON or a letter, a UBJ type marker, for UBJ), plus iterative nesting checks.
#include "xgboost_format.h"

#include <string>
#include <vector>

namespace aegis::runtime {
namespace {

Status NotAccepted() { return Status::Unprocessable("only XGBoost JSON or UBJ models are accepted"); }
Status BadUbj(const std::string& why) { return Status::Unprocessable("malformed XGBoost UBJ model: " + why); }
Status TooDeep() {
  return Status::Unprocessable("XGBoost model nests deeper than " + std::to_string(kMaxXgboostNesting) + " levels");
}

bool IsSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsAlpha(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Only brackets outside strings count; the JSON parser itself checks everything else.
Status CheckJsonNesting(std::span<const uint8_t> text) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (uint8_t c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxXgboostNesting) return TooDeep();
    } else if (c == '}' || c == ']') {
      if (depth == 0) return Status::Unprocessable("malformed XGBoost JSON model: unbalanced brackets");
      --depth;
    }
  }
  return Status::Ok();
}

// A UBJ walker that keeps its own stack instead of recursing.
class UbjWalker {
 public:
  explicit UbjWalker(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  Status Walk() {
    AEGIS_RETURN_IF_ERROR(Value(Next()));
    while (!stack_.empty()) {
      Frame& frame = stack_.back();
      if (frame.remaining == 0) {
        stack_.pop_back();
        continue;
      }
      if (frame.remaining < 0) {
        if (!ok()) return BadUbj("truncated");
        if (bytes_[pos_] == static_cast<uint8_t>(frame.object ? '}' : ']')) {
          ++pos_;
          stack_.pop_back();
          continue;
        }
      } else {
        --frame.remaining;
      }
      if (frame.object) {  // keys are strings without the 'S' marker
        int64_t length = 0;
        AEGIS_RETURN_IF_ERROR(Length(&length));
        AEGIS_RETURN_IF_ERROR(Skip(static_cast<uint64_t>(length)));
      }
      AEGIS_RETURN_IF_ERROR(Value(Next()));
    }
    if (pos_ > bytes_.size()) return BadUbj("truncated");
    if (pos_ < bytes_.size()) return BadUbj("bytes after the model");
    return Status::Ok();
  }

 private:
  struct Frame {
    bool object;
    int64_t remaining;  // -1: until the closing marker
  };

  bool ok() const { return pos_ < bytes_.size(); }
  int Next() { return pos_ < bytes_.size() ? bytes_[pos_++] : (++pos_, -1); }
  Status Skip(uint64_t n) {
    if (pos_ > bytes_.size() || n > bytes_.size() - pos_) return BadUbj("truncated");
    pos_ += static_cast<size_t>(n);
    return Status::Ok();
  }

  static int ScalarSize(int marker) {
    switch (marker) {
      case 'Z':
      case 'T':
      case 'F':
      case 'N':
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
      default:
        return -1;
    }
  }

  Status Length(int64_t* out) {
    int marker = Next();
    int size =
        (marker == 'i' || marker == 'U' || marker == 'I' || marker == 'l' || marker == 'L') ? ScalarSize(marker) : -1;
    if (size < 0) return BadUbj("expected a length");
    if (pos_ > bytes_.size() || static_cast<size_t>(size) > bytes_.size() - pos_) return BadUbj("truncated");
    uint64_t value = 0;  // big-endian
    for (int i = 0; i < size; ++i) value = value << 8 | bytes_[pos_++];
    int64_t length = marker == 'U'   ? static_cast<int64_t>(value)
                     : marker == 'i' ? static_cast<int8_t>(value)
                     : marker == 'I' ? static_cast<int16_t>(value)
                     : marker == 'l' ? static_cast<int32_t>(value)
                                     : static_cast<int64_t>(value);
    if (length < 0) return BadUbj("negative length");
    *out = length;
    return Status::Ok();
  }

  Status Push(bool object, int64_t remaining) {
    if (stack_.size() >= kMaxXgboostNesting) return TooDeep();
    stack_.push_back({object, remaining});
    return Status::Ok();
  }

  Status Value(int marker) {
    int64_t count = -1;
    if (marker == 'S' || marker == 'H') {
      AEGIS_RETURN_IF_ERROR(Length(&count));
      return Skip(static_cast<uint64_t>(count));
    }
    if (marker != '[' && marker != '{') {
      int size = ScalarSize(marker);
      return size < 0 ? BadUbj("unknown marker") : Skip(static_cast<uint64_t>(size));
    }
    bool object = marker == '{';
    if (ok() && bytes_[pos_] == '$') {  // typed container: '$' type '#' count, then bare scalars
      ++pos_;
      int size = ScalarSize(Next());
      if (object || size < 0 || Next() != '#') return BadUbj("unsupported typed container");
      AEGIS_RETURN_IF_ERROR(Length(&count));
      if (size > 0 && static_cast<uint64_t>(count) > bytes_.size() / static_cast<uint64_t>(size)) {
        return BadUbj("truncated");
      }
      return Skip(static_cast<uint64_t>(count) * static_cast<uint64_t>(size));
    }
    if (ok() && bytes_[pos_] == '#') {
      ++pos_;
      AEGIS_RETURN_IF_ERROR(Length(&count));
    }
    return Push(object, count);
  }

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  std::vector<Frame> stack_;
};

}  // namespace

StatusOr<XgboostModelFormat> CheckXgboostModelFormat(std::span<const uint8_t> model) {
  if (model.size() < 2 || model[0] != '{') return NotAccepted();
  size_t i = 1;
  while (i < model.size() && IsSpace(model[i])) ++i;
  if (i < model.size() && model[i] == '"') {
    AEGIS_RETURN_IF_ERROR(CheckJsonNesting(model));
    return XgboostModelFormat::kJson;
  }
  // UBJ: XGBoost tells it from JSON by a letter (a length marker) right after '{'.
  if (!IsAlpha(model[1])) return NotAccepted();
  AEGIS_RETURN_IF_ERROR(UbjWalker(model).Walk());
  return XgboostModelFormat::kUbj;
}

}  // namespace aegis::runtime
