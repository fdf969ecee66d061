// Internal to the pickle scanner: the simulated unpickler (see pickle_scanner.h).
// Machine::Step (pickle_opcodes.cc) executes one opcode; the rest is in
// pickle_scanner.cc. Strings are kept as views into the input and decoded only when
// an import needs them, so DUP / GET / memo copies cost 24 bytes, never a string.
//
// Thread-safety: one Machine per scan.
#pragma once

#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "pickle_scanner.h"

namespace aegis::scan::internal::pickle {

constexpr size_t kMaxStack = 1u << 20;  // values on the simulated stack
constexpr size_t kMaxMarks = 1u << 20;
constexpr size_t kMaxMemo = 1u << 20;   // memo entries
constexpr size_t kMaxImports = 4096;    // distinct (module, name) pairs
constexpr size_t kMaxNameBytes = 1024;  // longer names are shown cut and never allowed
constexpr uint64_t kUnresolved = UINT64_MAX;

enum class Kind : uint8_t { kOther, kString, kBytes, kGlobal, kObject };
enum class Text : uint8_t { kRaw, kRawUnicodeEscape, kStringLiteral };

struct Value {
  Kind kind = Kind::kOther;
  Text text = Text::kRaw;
  uint64_t offset = 0;  // string: where its bytes start; global/object: import index
  uint64_t length = 0;  // string: byte count
};

struct Import {
  std::string display;  // "module.name", printable
};

class Machine {
 public:
  Machine(std::span<const uint8_t> bytes, const PickleScanOptions& options, FindingList& out)
      : bytes_(bytes), options_(options), out_(out) {}

  PickleScanResult Run();

 private:
  bool Step(uint8_t op, size_t at);
  bool Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  bool LimitExceeded(const std::string& what) {
    limit_exceeded_ = true;
    return Fail("exceeds the scanner's limit on " + what);
  }

  // Input.
  size_t Remaining() const { return bytes_.size() - pos_; }
  bool Take(uint64_t n, std::span<const uint8_t>* out) {
    if (n > Remaining()) return Fail("truncated: an argument runs past the end");
    *out = bytes_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return true;
  }
  bool Unsigned(int width, uint64_t* out) {
    std::span<const uint8_t> b;
    if (!Take(static_cast<uint64_t>(width), &b)) return false;
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = v << 8 | b[static_cast<size_t>(i)];
    *out = v;
    return true;
  }
  bool Signed32(int64_t* out) {
    uint64_t v = 0;
    if (!Unsigned(4, &v)) return false;
    *out = static_cast<int32_t>(static_cast<uint32_t>(v));
    return true;
  }
  // A '\n'-terminated argument, without the newline.
  bool Line(std::span<const uint8_t>* out, bool* terminated) {
    const void* nl = Remaining() ? std::memchr(bytes_.data() + pos_, '\n', Remaining()) : nullptr;
    size_t end = nl ? static_cast<size_t>(static_cast<const uint8_t*>(nl) - bytes_.data()) : bytes_.size();
    *out = bytes_.subspan(pos_, end - pos_);
    *terminated = nl != nullptr;
    pos_ = nl ? end + 1 : end;
    return true;
  }
  bool TerminatedLine(std::span<const uint8_t>* out) {
    bool terminated = false;
    Line(out, &terminated);
    return terminated || Fail("truncated: a line argument has no newline");
  }

  // Stack and marks.
  size_t Fence() const { return marks_.empty() ? 0 : marks_.back(); }
  bool Need(size_t n) { return stack_.size() >= Fence() + n || Fail("stack underflow"); }
  bool Push(Value v) {
    if (stack_.size() >= kMaxStack) return LimitExceeded("stack depth");
    stack_.push_back(v);
    return true;
  }
  Value Pop() {
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  bool PopMark(size_t* mark) {
    if (marks_.empty()) return Fail("no MARK to pop");
    *mark = marks_.back();
    marks_.pop_back();
    return true;
  }
  bool PopToMark(size_t min_items = 0) {
    size_t mark = 0;
    if (!PopMark(&mark)) return false;
    if (stack_.size() - mark < min_items) return Fail("stack underflow");
    stack_.resize(mark);
    return true;
  }
  // The container ops (APPENDS, SETITEMS, ADDITEMS) need one value below the mark.
  bool PopToMarkAboveContainer(bool pairs) {
    size_t mark = 0;
    if (!PopMark(&mark)) return false;
    if (mark <= Fence()) return Fail("stack underflow");
    if (pairs && (stack_.size() - mark) % 2 != 0) return Fail("odd number of items for SETITEMS/DICT");
    stack_.resize(mark);
    return true;
  }

  // Memo.
  bool MemoPut(uint64_t key) {
    if (!Need(1)) return false;
    if (memo_.size() >= kMaxMemo && !memo_.contains(key)) return LimitExceeded("memo size");
    memo_[key] = stack_.back();
    return true;
  }
  bool MemoGet(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) return Fail("memo entry " + std::to_string(key) + " read before it was written");
    return Push(it->second);
  }
  bool DecimalKey(std::span<const uint8_t> line, uint64_t* key);

  // Imports and calls.
  std::optional<std::string> Decode(const Value& v, bool* cut);
  bool AddImport(std::string_view module, std::string_view name, bool cut, size_t at);
  bool Global(size_t at, bool inst);
  bool StackGlobal(size_t at);
  bool Unresolvable(size_t at, const std::string& reason);
  bool Call(const Value& callable, size_t at, const char* opcode);
  // BUILD and the container ops applied to an import change a module-level object.
  bool Modifies(const Value& target, size_t at, const char* opcode);
  std::string At(size_t offset) const { return AtOffset(options_.location, options_.base_offset + offset); }
  std::string ImportName(const Value& v) const {
    return v.kind == Kind::kGlobal && v.offset != kUnresolved ? imports_[v.offset].display : "";
  }

  std::span<const uint8_t> bytes_;
  const PickleScanOptions& options_;
  FindingList& out_;
  size_t pos_ = 0;
  size_t current_ = 0;  // offset of the opcode being executed
  bool stopped_ = false;
  bool limit_exceeded_ = false;
  std::string error_;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value> memo_;
  std::vector<Import> imports_;
  std::map<std::string, uint64_t> import_index_;
  std::set<std::pair<std::string, uint64_t>> reported_;  // (what, import) already reported: no string work
  size_t import_ops_ = 0;
};

}  // namespace aegis::scan::internal::pickle
