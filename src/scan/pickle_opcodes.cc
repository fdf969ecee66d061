// Machine::Step: the full opcode table of pickle protocols 0-5 (Lib/pickletools.py),
// with the argument of every opcode bounds-checked against the remaining input and
// each opcode's stack effect as CPython's C unpickler applies it.
#include <cstdio>

#include "pickle_machine.h"
#include "pickle_strings.h"

namespace aegis::scan::internal::pickle {

bool Machine::Step(uint8_t op, size_t at) {
  std::span<const uint8_t> arg;
  uint64_t n = 0;
  int64_t signed_n = 0;
  auto other = [this] { return Push(Value{}); };
  auto string = [this](std::span<const uint8_t> s, Text text) {
    return Push(Value{Kind::kString, text, static_cast<uint64_t>(s.data() - bytes_.data()), s.size()});
  };
  auto bytes = [this] { return Push(Value{Kind::kBytes}); };
  switch (op) {
    // Protocol and framing.
    case 0x80:  // PROTO
      if (!Unsigned(1, &n)) return false;
      return n <= 5 || Fail("unsupported protocol " + std::to_string(n));
    case 0x95:  // FRAME: an 8-byte length; the frame must fit in the input
      if (!Unsigned(8, &n)) return false;
      return n <= Remaining() || Fail("truncated: FRAME runs past the end");
    case '.':  // STOP
      if (!Need(1)) return false;
      stopped_ = true;
      return true;

    // Numbers and constants (values are not needed: their text is not checked).
    case 'I':
    case 'L':
    case 'F':  // INT, LONG, FLOAT (decimal lines)
      return TerminatedLine(&arg) && other();
    case 'J':
      return Unsigned(4, &n) && other();  // BININT
    case 'K':
      return Unsigned(1, &n) && other();  // BININT1
    case 'M':
      return Unsigned(2, &n) && other();  // BININT2
    case 'G':
      return Unsigned(8, &n) && other();  // BINFLOAT
    case 0x8a:                            // LONG1
      return Unsigned(1, &n) && Take(n, &arg) && other();
    case 0x8b:  // LONG4
      if (!Signed32(&signed_n)) return false;
      if (signed_n < 0) return Fail("LONG4 with a negative length");
      return Take(static_cast<uint64_t>(signed_n), &arg) && other();
    case 'N':
    case 0x88:
    case 0x89:  // NONE, NEWTRUE, NEWFALSE
      return other();

    // Strings: module and class names for STACK_GLOBAL may come from any of these.
    case 'S': {  // STRING: a quoted literal
      if (!TerminatedLine(&arg)) return false;
      if (arg.size() < 2 || arg.front() != arg.back() || (arg.front() != '\'' && arg.front() != '"')) {
        return Fail("STRING argument is not quoted");
      }
      arg = arg.subspan(1, arg.size() - 2);
      std::string_view inside(reinterpret_cast<const char*>(arg.data()), arg.size());
      if (!DecodeStringLiteral(inside)) return Fail("STRING argument has a bad escape");
      return string(arg, Text::kStringLiteral);
    }
    case 'V': {  // UNICODE: raw-unicode-escape
      if (!TerminatedLine(&arg)) return false;
      std::string_view raw(reinterpret_cast<const char*>(arg.data()), arg.size());
      if (!DecodeRawUnicodeEscape(raw)) return Fail("UNICODE argument has a bad escape");
      return string(arg, Text::kRawUnicodeEscape);
    }
    case 'T':  // BINSTRING
      if (!Signed32(&signed_n)) return false;
      if (signed_n < 0) return Fail("BINSTRING with a negative length");
      return Take(static_cast<uint64_t>(signed_n), &arg) && string(arg, Text::kRaw);
    case 'U':   // SHORT_BINSTRING
    case 0x8c:  // SHORT_BINUNICODE
      return Unsigned(1, &n) && Take(n, &arg) && string(arg, Text::kRaw);
    case 'X':  // BINUNICODE
      return Unsigned(4, &n) && Take(n, &arg) && string(arg, Text::kRaw);
    case 0x8d:  // BINUNICODE8
      return Unsigned(8, &n) && Take(n, &arg) && string(arg, Text::kRaw);
    case 'C':
      return Unsigned(1, &n) && Take(n, &arg) && bytes();  // SHORT_BINBYTES
    case 'B':
      return Unsigned(4, &n) && Take(n, &arg) && bytes();  // BINBYTES
    case 0x8e:
    case 0x96:  // BINBYTES8, BYTEARRAY8
      return Unsigned(8, &n) && Take(n, &arg) && bytes();
    case 0x97:
      return other();  // NEXT_BUFFER
    case 0x98:
      return Need(1);  // READONLY_BUFFER

    // Containers.
    case ']':
    case ')':
    case '}':
    case 0x8f:  // EMPTY_LIST, EMPTY_TUPLE, EMPTY_DICT, EMPTY_SET
      return other();
    // The container ops call the target's own methods (append, extend, add,
    // __setitem__): applied to an import rather than to a built container, they
    // modify a module-level object.
    case 'a':  // APPEND
      if (!Need(2)) return false;
      Pop();
      return Modifies(stack_.back(), at, "APPEND");
    case 'e':
      return PopToMarkAboveContainer(false) && Modifies(stack_.back(), at, "APPENDS");
    case 0x90:
      return PopToMarkAboveContainer(false) && Modifies(stack_.back(), at, "ADDITEMS");
    case 'u':
      return PopToMarkAboveContainer(true) && Modifies(stack_.back(), at, "SETITEMS");
    case 's':  // SETITEM
      if (!Need(3)) return false;
      Pop();
      Pop();
      return Modifies(stack_.back(), at, "SETITEM");
    case 'l':
    case 't':
    case 0x91:  // LIST, TUPLE, FROZENSET
      return PopToMark() && other();
    case 'd': {  // DICT
      size_t mark = marks_.empty() ? 0 : marks_.back();
      if (!marks_.empty() && (stack_.size() - mark) % 2 != 0) return Fail("odd number of items for DICT");
      return PopToMark() && other();
    }
    case 0x85:
    case 0x86:
    case 0x87: {  // TUPLE1, TUPLE2, TUPLE3
      size_t count = static_cast<size_t>(op - 0x84);
      if (!Need(count)) return false;
      stack_.resize(stack_.size() - count);
      return other();
    }

    // Stack manipulation.
    case '0':  // POP: removes a mark when one sits on top of the stack
      if (!marks_.empty() && marks_.back() == stack_.size()) {
        marks_.pop_back();
        return true;
      }
      if (!Need(1)) return false;
      Pop();
      return true;
    case '2':  // DUP
      return Need(1) && Push(stack_.back());
    case '(':  // MARK
      if (marks_.size() >= kMaxMarks) return LimitExceeded("marks");
      marks_.push_back(stack_.size());
      return true;
    case '1':
      return PopToMark();  // POP_MARK

    // Memo.
    case 'g':  // GET
      return TerminatedLine(&arg) && DecimalKey(arg, &n) && MemoGet(n);
    case 'h':
      return Unsigned(1, &n) && MemoGet(n);  // BINGET
    case 'j':
      return Unsigned(4, &n) && MemoGet(n);  // LONG_BINGET
    case 'p':                                // PUT
      return TerminatedLine(&arg) && DecimalKey(arg, &n) && MemoPut(n);
    case 'q':
      return Unsigned(1, &n) && MemoPut(n);  // BINPUT
    case 'r':
      return Unsigned(4, &n) && MemoPut(n);  // LONG_BINPUT
    case 0x94:
      return MemoPut(memo_.size());  // MEMOIZE: keyed by the entry count, as CPython does

    // Imports.
    case 'c':
      return Global(at, false);  // GLOBAL
    case 'i':                    // INST: needs a MARK before its lines are read
      if (marks_.empty()) return Fail("INST without MARK");
      return Global(at, true);
    case 0x93:
      return StackGlobal(at);  // STACK_GLOBAL
    case 0x82:
    case 0x83:
    case 0x84: {  // EXT1, EXT2, EXT4: the copyreg extension registry
      if (op == 0x84) {
        if (!Signed32(&signed_n)) return false;
      } else {
        if (!Unsigned(op == 0x82 ? 1 : 2, &n)) return false;
        signed_n = static_cast<int64_t>(n);
      }
      if (signed_n <= 0) return Fail("EXT code must be positive");
      return Unresolvable(at, "extension registry code " + std::to_string(signed_n) + " (EXT opcode)");
    }

    // Calls and object construction.
    case 'R': {  // REDUCE: callable(*args)
      if (!Need(2)) return false;
      Pop();
      return Call(Pop(), at, "REDUCE");
    }
    case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
      if (!Need(2)) return false;
      Pop();
      return Call(Pop(), at, "NEWOBJ");
    }
    case 0x92: {  // NEWOBJ_EX
      if (!Need(3)) return false;
      Pop();
      Pop();
      return Call(Pop(), at, "NEWOBJ_EX");
    }
    case 'o': {  // OBJ: MARK cls args... OBJ
      size_t mark = 0;
      if (!PopMark(&mark)) return false;
      if (stack_.size() <= mark) return Fail("stack underflow");
      Value cls = stack_[mark];
      stack_.resize(mark);
      return Call(cls, at, "OBJ");
    }
    case 'b':  // BUILD: __setstate__ or attribute assignment on the object below
      if (!Need(2)) return false;
      Pop();
      return Modifies(stack_.back(), at, "BUILD");

    // Persistent ids: resolved by the loader (torch: storages), not by pickle.
    case 'P':
      return TerminatedLine(&arg) && other();  // PERSID
    case 'Q': {                                // BINPERSID
      if (!Need(1)) return false;
      Pop();
      return other();
    }
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op);
      return Fail(std::string("unknown opcode ") + hex);
    }
  }
}

}  // namespace aegis::scan::internal::pickle
