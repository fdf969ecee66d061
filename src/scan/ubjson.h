// A structural validator for Universal Binary JSON as XGBoost writes it (draft 12:
// big-endian numbers; containers optionally typed `[$T#n` / `{$T#n` or counted
// `[#n`; object keys are lengths plus bytes without the 'S' marker). It keeps its
// own stack (no recursion), refuses nesting deeper than `max_depth`, and checks
// every length and count against the bytes left, so that the real parser, which
// trusts counts, is never asked to allocate for data that is not there.
//
// UbjValue reads values out of a document ValidateUbj accepted, without building
// a tree: a value is a position in the bytes; members and elements are found by
// walking (skipping a container costs its size, a typed array of scalars O(1)).
// It re-checks every bound it relies on, so a document that was not validated
// yields "absent" answers, never an out-of-bounds read.
//
// Thread-safety: stateless; UbjValue is a view over caller-owned bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::scan::internal {

struct UbjSummary {
  char root = 0;  // marker of the top-level value ('{' for XGBoost)
  // Keys of a top-level object with the marker of each value ('{', '[', 'S', 'i'…),
  // up to a few thousand.
  std::vector<std::pair<std::string, char>> top_level_keys;
};

StatusOr<UbjSummary> ValidateUbj(std::span<const uint8_t> bytes, int max_depth);

// Payload size of a scalar marker; -1 for strings and containers, -2 if unknown.
int UbjScalarSize(uint8_t marker);

class UbjValue {
 public:
  // The document's top-level value.
  static UbjValue Root(std::span<const uint8_t> bytes);

  // '{', '[', 'S' (or 'H'), a number marker ('i', 'U', 'I', 'l', 'L', 'd', 'D'),
  // 'C', 'T', 'F', 'Z', 'N'; 0 when the value could not be read.
  char type() const { return type_; }
  bool IsObject() const { return type_ == '{'; }
  bool IsArray() const { return type_ == '['; }

  std::optional<UbjValue> Member(std::string_view key) const;
  // Visits object members in order until `visit` returns false. False if the
  // object could not be walked to its end.
  bool ForEachMember(const std::function<bool(std::string_view, const UbjValue&)>& visit) const;
  // Visits array elements (or object values) in order until `visit` returns false.
  // False if the container could not be walked to its end.
  bool ForEach(const std::function<bool(const UbjValue&)>& visit) const;
  std::optional<std::string_view> String() const;
  std::optional<int64_t> Int() const;    // integer markers only
  std::optional<double> Number() const;  // any number marker
  std::optional<bool> Bool() const;      // 'T' or 'F'
  // The element count of an array, without visiting typed or counted ones.
  std::optional<uint64_t> Size() const;

 private:
  UbjValue(std::span<const uint8_t> bytes, size_t at, char type) : bytes_(bytes), at_(at), type_(type) {}
  // Container header: element type (0 if untyped), count (-1 if uncounted), first item offset.
  struct Header {
    char element = 0;
    int64_t count = -1;
    size_t first = 0;
  };
  std::optional<Header> ReadHeader() const;
  // Walks items from `header`; `visit(key, value)`; returns false on malformed input.
  bool Walk(const Header& header, const std::function<bool(std::string_view, const UbjValue&)>& visit) const;

  std::span<const uint8_t> bytes_;
  size_t at_ = 0;  // first byte after the marker (the payload)
  char type_ = 0;
};

}  // namespace aegis::scan::internal
