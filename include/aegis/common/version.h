// The Aegis release, as set once by project(aegis VERSION ...) in the top-level
// CMakeLists.txt. Everything that states a version (`aegis --version`, the
// KServe v2 server metadata, the CEF header of exported audit events, and
// through the server metadata the benchmark results) reads kVersion, so a
// release changes one line.
//
// Thread-safety: a constant.
#pragma once

#include <string_view>

namespace aegis {

// Defined in src/common/version.cc, the one file compiled with the number.
extern const std::string_view kVersion;

}  // namespace aegis
