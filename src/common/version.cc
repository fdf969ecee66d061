#include "aegis/common/version.h"

#ifndef AEGIS_VERSION
#error "AEGIS_VERSION is defined by src/common/CMakeLists.txt from project(VERSION); build with CMake"
#endif

namespace aegis {

const std::string_view kVersion = AEGIS_VERSION;

}  // namespace aegis
