// The build's identity. kVersion is the Aegis release, as set once by
// project(aegis VERSION ...) in the top-level CMakeLists.txt; kRevision is the
// source tree's `git describe` when the build was configured
// (cmake/aegis_revision.cmake: "0123456789ab", "v0.1.0-3-g0123456789ab", with
// "-dirty" for uncommitted changes, or "unknown" without git). Everything that
// states them (`aegis --version`, the KServe v2 server metadata, the CEF header
// of exported audit events, the aegis_build_info metric, and through the server
// metadata the benchmark results) reads these, so a release changes one line.
//
// Thread-safety: constants.
#pragma once

#include <string_view>

namespace aegis {

// Defined in src/common/version.cc, the one file compiled with them.
extern const std::string_view kVersion;
extern const std::string_view kRevision;

}  // namespace aegis
