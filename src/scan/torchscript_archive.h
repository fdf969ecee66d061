// The TorchScript-specific checks of a zip archive: which members are code, the
// program they form (torchscript_reader.h), and members libtorch would read that
// the scanner cannot vouch for.
//
// libtorch (caffe2/serialize/inline_container.cc) looks members up through
// miniz without MZ_ZIP_FLAG_CASE_SENSITIVE, so names are compared here without
// case too. Read as code: every member whose path below the archive's top folder
// starts with `code/` (except `.debug_pkl` source maps) and every `.py` member.
// Findings:
//   - `model.json` (the pre-1.4 format, whose code may live in any member):
//     critical; `bytecode.pkl` (the mobile interpreter's program, not read by
//     the engine but not checked either): high;
//   - a `.debug_pkl` without the code file it maps: high (code that is not where
//     the engine reads it);
//   - code members over max_code_bytes together, or unreadable: high.
//
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <span>

#include "zip_reader.h"

namespace aegis::scan::internal {

void CheckTorchScriptArchive(std::span<const uint8_t> bytes, const ZipDirectory& dir, const ScanLimits& limits,
                             FindingList& out);

}  // namespace aegis::scan::internal
