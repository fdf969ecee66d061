// The pickle machine: one pass over the opcodes, a simulated stack of small typed
// values (strings are kept as views into the input and decoded only when an import
// needs them), CPython's mark and memo rules. See pickle_scanner.h.
#include "pickle_scanner.h"

#include <algorithm>
#include <iterator>

#include "pickle_machine.h"
#include "pickle_strings.h"

namespace aegis::scan::internal {
namespace pickle {

PickleScanResult Machine::Run() {
  while (pos_ < bytes_.size() && !stopped_) {
    current_ = pos_;
    uint8_t op = bytes_[pos_++];
    if (!Step(op, current_)) break;
  }
  if (!stopped_ && error_.empty()) Fail("truncated: the pickle ends without STOP");
  PickleScanResult result;
  result.end = pos_;
  result.reached_stop = stopped_;
  result.malformed = !error_.empty();
  result.error = error_;
  result.imports = import_ops_;
  if (result.malformed && (options_.report_malformed || limit_exceeded_)) {
    out_.Add(Severity::kCritical, At(current_), (limit_exceeded_ ? "pickle " : "malformed pickle: ") + error_);
  }
  return result;
}

bool Machine::DecimalKey(std::span<const uint8_t> line, uint64_t* key) {
  // Like int(): surrounding whitespace, an optional sign, '_' between digits.
  std::string_view s(reinterpret_cast<const char*>(line.data()), line.size());
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return Fail("memo key is not a number");
  uint64_t value = 0;
  bool last_digit = false;
  for (char c : s) {
    if (c == '_' && last_digit) {
      last_digit = false;
      continue;
    }
    if (c < '0' || c > '9') return Fail("memo key is not a number");
    if (value > (INT64_MAX - 9) / 10) return Fail("memo key out of range");
    value = value * 10 + static_cast<uint64_t>(c - '0');
    last_digit = true;
  }
  if (!last_digit) return Fail("memo key is not a number");
  if (negative && value != 0) return Fail("negative memo key");
  *key = value;
  return true;
}

std::optional<std::string> Machine::Decode(const Value& v, bool* cut) {
  uint64_t length = v.length;
  *cut = length > kMaxNameBytes;
  if (*cut) length = kMaxNameBytes;
  std::string_view raw(reinterpret_cast<const char*>(bytes_.data() + v.offset), static_cast<size_t>(length));
  switch (v.text) {
    case Text::kRaw:
      return std::string(raw);
    case Text::kRawUnicodeEscape:
      return DecodeRawUnicodeEscape(raw);
    case Text::kStringLiteral:
      return DecodeStringLiteral(raw);
  }
  return std::nullopt;
}

bool Machine::AddImport(std::string_view module, std::string_view name, bool cut, size_t at) {
  ++import_ops_;
  std::string key = std::to_string(module.size()) + (cut ? "+" : ":") + std::string(module) + std::string(name);
  auto it = import_index_.find(key);
  if (it == import_index_.end()) {
    if (imports_.size() >= kMaxImports) return LimitExceeded("distinct imports");
    ImportVerdict verdict = CheckImport(module, name, options_.context);
    std::string display = Printable(module, 100) + "." + Printable(name, 100);
    if (cut || !verdict.allowed) {  // a cut name is never allowed, even if its prefix would be
      out_.Add(verdict.allowed ? Severity::kHigh : verdict.severity, At(at),
               "pickle imports " + display + " (not on the allowlist)", display);
    }
    it = import_index_.emplace(std::move(key), imports_.size()).first;
    imports_.push_back(Import{std::move(display)});
  }
  return Push(Value{Kind::kGlobal, Text::kRaw, it->second, 0});
}

bool Machine::Unresolvable(size_t at, const std::string& reason) {
  ++import_ops_;
  out_.Add(Severity::kCritical, At(at), "unresolvable import: " + reason);
  return Push(Value{Kind::kGlobal, Text::kRaw, kUnresolved, 0});
}

// GLOBAL and INST: "module\nname\n". CPython's C reader accepts a last line that
// ends at the end of the input and drops its last byte, so that form imports too.
bool Machine::Global(size_t at, bool inst) {
  std::span<const uint8_t> module, name;
  bool terminated = false;
  if (!TerminatedLine(&module)) return false;
  if (module.empty()) return Fail("empty module name");
  Line(&name, &terminated);
  if (!terminated) {
    if (name.size() < 2) return Fail("truncated: a line argument has no newline");
    name = name.first(name.size() - 1);
  }
  if (name.empty()) return Fail("empty global name");
  auto view = [](std::span<const uint8_t> s) {
    return std::string_view(reinterpret_cast<const char*>(s.data()), s.size());
  };
  bool cut = module.size() > kMaxNameBytes || name.size() > kMaxNameBytes;
  std::string_view m = view(module).substr(0, kMaxNameBytes), n = view(name).substr(0, kMaxNameBytes);
  if (!AddImport(m, n, cut, at)) return false;
  if (inst) {  // INST: the import is called with the items above the mark
    Value cls = Pop();
    if (!PopToMark()) return false;
    stack_.push_back(Value{Kind::kObject, Text::kRaw, cls.offset, 0});  // replaces the popped import
  }
  return terminated || Fail("truncated: a line argument has no newline");
}

bool Machine::StackGlobal(size_t at) {
  if (!Need(2)) return false;
  Value name = Pop(), module = Pop();
  if (module.kind != Kind::kString || name.kind != Kind::kString) {
    return Unresolvable(at, "STACK_GLOBAL operands are not constant strings");
  }
  bool cut_module = false, cut_name = false;
  auto m = Decode(module, &cut_module);
  auto n = Decode(name, &cut_name);
  if (!m || !n) return Unresolvable(at, "STACK_GLOBAL operands do not decode");
  return AddImport(*m, *n, cut_module || cut_name, at);
}

bool Machine::Call(const Value& callable, size_t at, const char* opcode) {
  if (callable.kind != Kind::kGlobal && reported_.emplace(opcode, 0).second) {
    out_.Add(Severity::kCritical, At(at), std::string("pickle calls a value that is not an import (") + opcode + ")");
  }
  return Push(Value{Kind::kObject, Text::kRaw, callable.kind == Kind::kGlobal ? callable.offset : kUnresolved, 0});
}

bool Machine::Modifies(const Value& target, size_t at, const char* opcode) {
  if (target.kind == Kind::kGlobal && reported_.emplace(opcode, target.offset).second) {
    std::string name = ImportName(target);
    out_.Add(Severity::kCritical, At(at),
             "pickle modifies an imported object" + (name.empty() ? "" : " " + name) + " (" + opcode + ")", name);
  }
  return true;
}

}  // namespace pickle

PickleScanResult ScanPickle(std::span<const uint8_t> bytes, const PickleScanOptions& options, FindingList& out) {
  return pickle::Machine(bytes, options, out).Run();
}

// A pickle file may hold several pickles back to back (torch's legacy format
// does); each one that starts with a PROTO header is scanned. Anything else after
// the last STOP is reported: loaders ignore it, but nothing legitimate puts it there.
bool IsLegacyTorchSave(std::span<const uint8_t> bytes) {
  // torch.save before 1.6 (and _use_new_zipfile_serialization=False) starts with a
  // pickled magic number, LONG1 0x1950a86a20f9469cfc6c.
  static constexpr uint8_t kMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                       0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
  return bytes.size() >= sizeof kMagic && std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin());
}

void ScanBarePickle(std::span<const uint8_t> bytes, FindingList& out) {
  // The legacy torch.save format is several pickles followed by raw storage bytes.
  bool legacy_torch = IsLegacyTorchSave(bytes);
  if (legacy_torch) {
    out.Add(Severity::kCritical, "offset 0",
            "torch.save archive (legacy format): unsafe format (arbitrary pickle); export with torch.jit.save");
  }
  size_t start = 0;
  do {
    PickleScanOptions options;
    options.base_offset = start;
    PickleScanResult result = ScanPickle(bytes.subspan(start), options, out);
    if (result.malformed) return;
    start += result.end;
  } while (start < bytes.size() && StartsWithPickleProto(bytes.subspan(start)));
  if (start < bytes.size() && !legacy_torch) {
    out.Add(Severity::kMedium, AtOffset("", start),
            std::to_string(bytes.size() - start) + " bytes of data after the pickle's STOP");
  }
}

}  // namespace aegis::scan::internal
