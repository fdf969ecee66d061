// The Aegis release, as set once by project(aegis VERSION ...) in the top-level
// CMakeLists.txt, which passes it to every translation unit as AEGIS_VERSION.
// Everything that states a version (`aegis --version`, the KServe v2 server
// metadata, the CEF header of exported audit events, and through the server
// metadata the benchmark results) reads kVersion, so a release changes one line.
//
// Thread-safety: a constant.
#pragma once

#include <string_view>

#ifndef AEGIS_VERSION
#error "AEGIS_VERSION is defined by CMakeLists.txt from project(VERSION); build with CMake"
#endif

namespace aegis {

inline constexpr std::string_view kVersion = AEGIS_VERSION;

}  // namespace aegis
