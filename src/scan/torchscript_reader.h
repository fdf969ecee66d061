// Reads the serialized TorchScript program of one archive (every code file) and
// checks each name it uses against the allowlist (torchscript_allowlist.h).
//
// The rules follow how libtorch compiles serialized code
// (torch/csrc/jit/serialization/import_source.cpp, frontend/sugared_value.cpp):
//   torch.X, torch.autograd.X        aten::X
//   ops.NS.X                          NS::X
//   getattr(torch, "X" "Y")           the same as torch.XY (literals concatenate)
//   torch, ops, ops.NS, __torch__,    a namespace used as a value (assigned,
//   __torch__.torch[.classes...]      passed, parenthesized) can reach any
//                                     operator under another name: critical
//   __torch__.torch.classes.NS.C,     custom classes (native code): critical
//   "torch.classes.NS.C" as a type
//   value.X (X after '.')             a method or attribute: allowed when the
//                                     archive declares X (a class attribute,
//                                     method or function) or X is an allowed aten
//                                     op or value property; a refused op name
//                                     (x.from_file) is critical wherever it is
//   print, fork, __import__, eval…    critical bare names
// Every finding names the operator and where it is ("<file> line N").
// Programs are checked as a whole: names declared in one file are known in all.
//
// Thread-safety: stateless.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scan_internal.h"

namespace aegis::scan::internal::torchscript {

struct CodeFile {
  std::string location;   // finding location prefix, e.g. "zip entry 'm/code/__torch__.py'"
  std::string_view text;  // the file's bytes
};

void CheckProgram(const std::vector<CodeFile>& files, FindingList& out);

}  // namespace aegis::scan::internal::torchscript
