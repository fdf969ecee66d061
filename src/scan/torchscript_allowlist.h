// What a TorchScript program may call. The allowlist is exact: an operator is
// allowed only if its namespace and name are listed (no prefixes, no patterns).
// Listed are pure tensor operators (arithmetic, comparisons, reductions, shapes,
// indexing, linear algebra, convolutions, pooling, norms, activations, attention,
// recurrent cells, losses, dynamically quantized linear and recurrent layers),
// the list/dict/str builtins TorchScript compiles to aten ops, and the prim ops
// serialized code uses for dtype/device queries and exceptions. Operators that touch anything outside their tensors
// (files, the process, the network, threads, storage, uninitialized memory, process-wide state) are refused as critical
// with the reason; any other operator is unknown and refused as high.
//
// Thread-safety: stateless lookups over constant tables.
#pragma once

#include <cstddef>
#include <string_view>

#include "aegis/scan/scanner.h"

namespace aegis::scan::internal::torchscript {

struct Verdict {
  bool allowed = false;
  Severity severity = Severity::kHigh;
  std::string_view why;  // for critical refusals: what the operator does
};

// `ns::name`, e.g. ("aten", "from_file"). Namespaces other than aten and prim
// that are not libtorch's own are custom operators from extension libraries:
// critical.
Verdict CheckOperator(std::string_view ns, std::string_view name);

// A custom class `__torch__.torch.classes.<ns>.<Name>` (or a prefix of one):
// native code registered by a library. Only libtorch's own holders of
// dynamically quantized weights are allowed (quantized.LinearPackedParamsBase,
// rnn.CellParamsBase).
Verdict CheckCustomClass(std::string_view qualified_name);

// Attribute and method names TorchScript resolves on a tensor or another value
// without an operator of that name (`x.shape`, `x.dtype`, `x.float()`…).
bool IsValueProperty(std::string_view name);

// A name used bare (not after '.') that TorchScript resolves as a builtin or
// importer global when no local variable shadows it. `called`: the name is
// followed by '('. Unknown names are allowed (they are locals, parameters or
// types; the engine refuses undefined ones).
Verdict CheckBareName(std::string_view name, bool called);

// Python-level escape hatches (`__import__`, `__globals__`, `eval`…): never part
// of TorchScript, refused wherever they appear as names.
bool IsPythonEscape(std::string_view name);

// Number of allowed entries (operators, builtins, value properties), for reports.
size_t AllowlistSize();

}  // namespace aegis::scan::internal::torchscript
