// UbjValue: reading values out of a UBJ document by walking it. See ubjson.h.
#include <bit>
#include <cstring>

#include "ubjson.h"

namespace aegis::scan::internal {
namespace {

constexpr size_t kMaxSkipDepth = 1024;  // beyond ValidateUbj's limit: only reached by unvalidated input

bool ReadLength(std::span<const uint8_t> b, size_t& pos, int64_t* out) {
  if (pos >= b.size()) return false;
  uint8_t marker = b[pos++];
  int size =
      (marker == 'i' || marker == 'U' || marker == 'I' || marker == 'l' || marker == 'L') ? UbjScalarSize(marker) : 0;
  if (size <= 0 || static_cast<size_t>(size) > b.size() - pos) return false;
  uint64_t v = 0;
  for (int i = 0; i < size; ++i) v = v << 8 | b[pos++];
  int64_t length = marker == 'U'   ? static_cast<int64_t>(v)
                   : marker == 'i' ? static_cast<int8_t>(v)
                   : marker == 'I' ? static_cast<int16_t>(v)
                   : marker == 'l' ? static_cast<int32_t>(v)
                                   : static_cast<int64_t>(v);
  if (length < 0) return false;
  *out = length;
  return true;
}

bool Advance(std::span<const uint8_t> b, size_t& pos, uint64_t n) {
  if (n > b.size() - pos) return false;
  pos += static_cast<size_t>(n);
  return true;
}

// Reads a container header at `pos` (after '[' or '{'): element type, count.
bool ReadHeader(std::span<const uint8_t> b, size_t& pos, char* element, int64_t* count) {
  *element = 0;
  *count = -1;
  if (pos < b.size() && b[pos] == '$') {
    if (b.size() - pos < 3) return false;
    *element = static_cast<char>(b[pos + 1]);
    if (b[pos + 2] != '#') return false;
    pos += 3;
    return ReadLength(b, pos, count);
  }
  if (pos < b.size() && b[pos] == '#') {
    ++pos;
    return ReadLength(b, pos, count);
  }
  return true;
}

// Moves `pos` past the value of type `type` whose payload starts at `pos`.
bool SkipValue(std::span<const uint8_t> b, char type, size_t& pos) {
  struct Frame {
    bool object;
    char element;
    int64_t remaining;
  };
  std::vector<Frame> stack;
  auto start = [&](char t) {
    int size = UbjScalarSize(static_cast<uint8_t>(t));
    if (size >= 0) return Advance(b, pos, static_cast<uint64_t>(size));
    int64_t length = 0;
    if (t == 'S' || t == 'H') return ReadLength(b, pos, &length) && Advance(b, pos, static_cast<uint64_t>(length));
    if (t != '[' && t != '{') return false;
    Frame f{t == '{', 0, -1};
    if (!ReadHeader(b, pos, &f.element, &f.remaining)) return false;
    int element_size = f.element ? UbjScalarSize(static_cast<uint8_t>(f.element)) : -1;
    if (!f.object && element_size >= 0) {  // typed array of scalars: one block
      if (element_size > 0 &&
          static_cast<uint64_t>(f.remaining) > (b.size() - pos) / static_cast<uint64_t>(element_size)) {
        return false;
      }
      return Advance(b, pos, static_cast<uint64_t>(f.remaining) * static_cast<uint64_t>(element_size));
    }
    if (stack.size() >= kMaxSkipDepth) return false;
    stack.push_back(f);
    return true;
  };
  if (!start(type)) return false;
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.remaining == 0) {
      stack.pop_back();
      continue;
    }
    if (f.remaining < 0) {
      if (pos >= b.size()) return false;
      if (b[pos] == static_cast<uint8_t>(f.object ? '}' : ']')) {
        ++pos;
        stack.pop_back();
        continue;
      }
    } else {
      --f.remaining;
    }
    int64_t key = 0;
    if (f.object && !(ReadLength(b, pos, &key) && Advance(b, pos, static_cast<uint64_t>(key)))) return false;
    char t = f.element;
    if (t == 0) {
      if (pos >= b.size()) return false;
      t = static_cast<char>(b[pos++]);
    }
    if (!start(t)) return false;  // may push: `f` is not used after this
  }
  return true;
}

uint64_t BigEndian(std::span<const uint8_t> b, size_t at, int size) {
  uint64_t v = 0;
  for (int i = 0; i < size; ++i) v = v << 8 | b[at + static_cast<size_t>(i)];
  return v;
}

}  // namespace

UbjValue UbjValue::Root(std::span<const uint8_t> bytes) {
  return bytes.empty() ? UbjValue(bytes, 0, 0) : UbjValue(bytes, 1, static_cast<char>(bytes[0]));
}

std::optional<UbjValue::Header> UbjValue::ReadHeader() const {
  if (!IsObject() && !IsArray()) return std::nullopt;
  Header h;
  size_t pos = at_;
  if (!internal::ReadHeader(bytes_, pos, &h.element, &h.count)) return std::nullopt;
  h.first = pos;
  return h;
}

bool UbjValue::Walk(const Header& h, const std::function<bool(std::string_view, const UbjValue&)>& visit) const {
  size_t pos = h.first;
  int element_size = h.element ? UbjScalarSize(static_cast<uint8_t>(h.element)) : -1;
  if (IsArray() && element_size >= 0) {
    for (int64_t i = 0; i < h.count; ++i) {
      if (static_cast<size_t>(element_size) > bytes_.size() - pos) return false;
      if (!visit("", UbjValue(bytes_, pos, h.element))) return true;
      pos += static_cast<size_t>(element_size);
    }
    return true;
  }
  int64_t remaining = h.count;
  while (remaining != 0) {
    if (remaining < 0) {
      if (pos >= bytes_.size()) return false;
      if (bytes_[pos] == static_cast<uint8_t>(IsObject() ? '}' : ']')) return true;
    } else {
      --remaining;
    }
    std::string_view key;
    if (IsObject()) {
      int64_t length = 0;
      if (!ReadLength(bytes_, pos, &length) || static_cast<uint64_t>(length) > bytes_.size() - pos) return false;
      key = std::string_view(reinterpret_cast<const char*>(bytes_.data() + pos), static_cast<size_t>(length));
      pos += static_cast<size_t>(length);
    }
    char t = h.element;
    if (t == 0) {
      if (pos >= bytes_.size()) return false;
      t = static_cast<char>(bytes_[pos++]);
    }
    UbjValue value(bytes_, pos, t);
    if (!SkipValue(bytes_, t, pos)) return false;
    if (!visit(key, value)) return true;
  }
  return true;
}

std::optional<UbjValue> UbjValue::Member(std::string_view key) const {
  if (!IsObject()) return std::nullopt;
  auto h = ReadHeader();
  if (!h) return std::nullopt;
  std::optional<UbjValue> found;
  Walk(*h, [&](std::string_view k, const UbjValue& v) {
    if (k != key) return true;
    found = v;
    return false;
  });
  return found;
}

bool UbjValue::ForEachMember(const std::function<bool(std::string_view, const UbjValue&)>& visit) const {
  if (!IsObject()) return false;
  auto h = ReadHeader();
  return h && Walk(*h, visit);
}

std::optional<bool> UbjValue::Bool() const {
  if (type_ == 'T' || type_ == 'F') return type_ == 'T';
  return std::nullopt;
}

bool UbjValue::ForEach(const std::function<bool(const UbjValue&)>& visit) const {
  auto h = ReadHeader();
  return h && Walk(*h, [&](std::string_view, const UbjValue& v) { return visit(v); });
}

std::optional<uint64_t> UbjValue::Size() const {
  if (!IsArray()) return std::nullopt;
  auto h = ReadHeader();
  if (!h) return std::nullopt;
  if (h->count >= 0) return static_cast<uint64_t>(h->count);
  uint64_t n = 0;
  if (!Walk(*h, [&](std::string_view, const UbjValue&) { return ++n, true; })) return std::nullopt;
  return n;
}

std::optional<std::string_view> UbjValue::String() const {
  if (type_ != 'S' && type_ != 'H') return std::nullopt;
  size_t pos = at_;
  int64_t length = 0;
  if (!ReadLength(bytes_, pos, &length) || static_cast<uint64_t>(length) > bytes_.size() - pos) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(bytes_.data() + pos), static_cast<size_t>(length));
}

std::optional<int64_t> UbjValue::Int() const {
  int size = (type_ == 'i' || type_ == 'U' || type_ == 'I' || type_ == 'l' || type_ == 'L')
                 ? UbjScalarSize(static_cast<uint8_t>(type_))
                 : 0;
  if (size <= 0 || static_cast<size_t>(size) > bytes_.size() - at_) return std::nullopt;
  uint64_t v = BigEndian(bytes_, at_, size);
  switch (type_) {
    case 'i':
      return static_cast<int8_t>(v);
    case 'U':
      return static_cast<int64_t>(v);
    case 'I':
      return static_cast<int16_t>(v);
    case 'l':
      return static_cast<int32_t>(v);
    default:
      return static_cast<int64_t>(v);
  }
}

std::optional<double> UbjValue::Number() const {
  if (auto i = Int()) return static_cast<double>(*i);
  if (type_ == 'd' && bytes_.size() - at_ >= 4) {
    return static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(BigEndian(bytes_, at_, 4))));
  }
  if (type_ == 'D' && bytes_.size() - at_ >= 8) return std::bit_cast<double>(BigEndian(bytes_, at_, 8));
  return std::nullopt;
}

}  // namespace aegis::scan::internal
