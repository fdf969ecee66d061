// A bounded protobuf wire-format reader: varints of at most 10 bytes, lengths
// checked against the enclosing message, groups (wire types 3 and 4) refused. It
// yields fields one at a time; length-delimited payloads are views into the input.
// Shared by the ONNX graph reader (runtime) and the ONNX scanner (scan): the only
// protobuf Aegis reads is ONNX, hence the error wording.
//
// Thread-safety: one reader per message being read.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "aegis/common/status.h"

namespace aegis::protobuf {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

struct ProtoField {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t varint = 0;             // kVarint (and the fixed types, widened)
  std::span<const uint8_t> bytes;  // kLengthDelimited
  std::string_view text() const { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }
};

class ProtoReader {
 public:
  explicit ProtoReader(std::span<const uint8_t> message) : bytes_(message) {}

  bool done() const { return pos_ == bytes_.size(); }

  // Reads the next field; call only while !done().
  Status Next(ProtoField* field) {
    uint64_t key = 0;
    AEGIS_RETURN_IF_ERROR(Varint(&key));
    uint64_t number = key >> 3;
    if (number == 0 || number > 0x1FFFFFFF) return Malformed("invalid field number");
    field->number = static_cast<uint32_t>(number);
    field->wire_type = static_cast<uint32_t>(key & 7);
    field->varint = 0;
    field->bytes = {};
    switch (field->wire_type) {
      case kVarint:
        return Varint(&field->varint);
      case kFixed64:
        return Fixed(8, &field->varint);
      case kFixed32:
        return Fixed(4, &field->varint);
      case kLengthDelimited: {
        uint64_t length = 0;
        AEGIS_RETURN_IF_ERROR(Varint(&length));
        if (length > bytes_.size() - pos_) return Malformed("length runs past the end of its message");
        field->bytes = bytes_.subspan(pos_, static_cast<size_t>(length));
        pos_ += static_cast<size_t>(length);
        return Status::Ok();
      }
      default:
        return Malformed("unsupported wire type " + std::to_string(field->wire_type));
    }
  }

  static Status Malformed(const std::string& why) { return Status::Unprocessable("malformed ONNX model: " + why); }

 private:
  Status Varint(uint64_t* out) {
    uint64_t value = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos_ == bytes_.size()) return Malformed("truncated varint");
      uint8_t byte = bytes_[pos_++];
      if (i == 9 && byte > 1) return Malformed("varint overflows 64 bits");
      value |= uint64_t{byte & 0x7Fu} << (7 * i);
      if ((byte & 0x80) == 0) {
        *out = value;
        return Status::Ok();
      }
    }
    return Malformed("varint longer than 10 bytes");
  }
  Status Fixed(size_t width, uint64_t* out) {
    if (width > bytes_.size() - pos_) return Malformed("truncated fixed-width field");
    uint64_t value = 0;
    for (size_t i = width; i-- > 0;) value = value << 8 | bytes_[pos_ + i];
    pos_ += width;
    *out = value;
    return Status::Ok();
  }

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

}  // namespace aegis::protobuf
