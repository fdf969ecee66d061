#include "aegis/common/version.h"

#ifndef AEGIS_VERSION
#error "AEGIS_VERSION is defined by src/common/CMakeLists.txt from project(VERSION); build with CMake"
#endif
#ifndef AEGIS_REVISION
#error "AEGIS_REVISION is defined by src/common/CMakeLists.txt (cmake/aegis_revision.cmake); build with CMake"
#endif

namespace aegis {

const std::string_view kVersion = AEGIS_VERSION;
const std::string_view kRevision = AEGIS_REVISION;

}  // namespace aegis
