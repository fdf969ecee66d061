# How every Aegis target is declared: one function per kind of target (library,
# header-only library, program, unit test, fuzzer), so that every module's
# CMakeLists.txt has the same shape and the layering is held by the build rather
# than by review.
#
# Layering rules these functions implement:
#  - A module is one folder, src/<module>/, with its public headers in
#    include/aegis/<module>/. Each module gets an include root of its own under
#    the build tree, <build>/modules/aegis_<module>/include/, holding exactly one
#    entry: aegis/<module>, a symlink to include/aegis/<module>. A library puts
#    its module's root on its PUBLIC include path, so `#include "aegis/x/y.h"`
#    compiles only in targets that link module x (directly or through PUBLIC
#    links). The unit is the module: the libraries of one module (aegis_auth_jwt,
#    aegis_auth_users, aegis_auth) share its root.
#  - A library's own folder is on its PRIVATE include path only: a module's
#    private headers are reachable from its own code and nowhere else.
#  - Headers a module shares on purpose beyond its public API live in a
#    subfolder and are exposed by a header-only target of their own
#    (aegis_add_header_library): src/crypto/internal/ as "crypto/internal/..."
#    (aegis_crypto_internal), test support in src/<module>/testing/ as
#    "<module>/testing/..." (aegis_testing, aegis_auth_testing).
#  - Modules are declared lowest first (see CMakeLists.txt). A target may link
#    only Aegis targets declared before it; anything else stops the configure
#    step, which keeps the declaration order equal to the dependency order.
#
# The roots hold directory symlinks, not copies or per-file links: an edit, or a
# clang-tidy fix, made through a root lands on the real file. Diagnostics name
# the path through the root, which ends in the source tree's own path.

# aegis_include_folder(<target> <PUBLIC|PRIVATE|INTERFACE> <prefix> <dir>)
#   Puts on <target>'s include path a root in which only <prefix> (for example
#   "aegis/crypto" or "crypto/internal") exists, as a symlink to <dir>. The root
#   mirrors the source tree's path (<build>/modules/aegis_crypto/include/aegis/
#   crypto for include/aegis/crypto), so tools that filter on the source layout,
#   such as clang-tidy's header filter, still recognise the headers.
function(aegis_include_folder target scope prefix dir)
  if(NOT IS_DIRECTORY ${dir})
    message(FATAL_ERROR "aegis_include_folder(${target}): ${dir} is not a folder")
  endif()
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${dir})
  if(NOT "/${rel}" MATCHES "^(.*)/${prefix}$")
    message(FATAL_ERROR "aegis_include_folder(${target}): ${dir} does not end in ${prefix}")
  endif()
  string(REPLACE "/" "_" key ${prefix})
  set(root ${PROJECT_BINARY_DIR}/modules/${key}${CMAKE_MATCH_1})
  get_filename_component(parent ${root}/${prefix} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  file(CREATE_LINK ${dir} ${root}/${prefix} SYMBOLIC)
  target_include_directories(${target} ${scope} ${root})
endfunction()

# The module that the calling CMakeLists.txt belongs to: the first folder below
# src/ (src/audit/sinks belongs to audit).
function(_aegis_current_module out)
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR})
  string(REGEX MATCH "^[a-z_]+" module "${rel}")
  if(NOT module OR rel MATCHES "^\\.\\.")
    message(FATAL_ERROR "${CMAKE_CURRENT_SOURCE_DIR} is not a module folder under src/")
  endif()
  set(${out} ${module} PARENT_SCOPE)
endfunction()

# Refuses a link to an Aegis target that is not declared yet (declared later in
# the module order, or not at all).
function(_aegis_check_declared target)
  foreach(dep IN LISTS ARGN)
    if(dep MATCHES "^aegis_" AND NOT TARGET ${dep})
      message(FATAL_ERROR "${target} links ${dep}, which is not declared before it: a module may link only "
                          "modules declared earlier in CMakeLists.txt (the dependency order)")
    endif()
  endforeach()
endfunction()

# aegis_add_library(<name> SOURCES <file>... [DEPS <lib>...] [PRIVATE_DEPS <lib>...])
#   A static library of the module whose folder holds the calling CMakeLists.txt.
#   DEPS are what its public headers need (linked PUBLIC: everyone who links
#   <name> sees them too); PRIVATE_DEPS are used by its sources only.
function(aegis_add_library name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  _aegis_current_module(module)
  _aegis_check_declared(${name} ${L_DEPS} ${L_PRIVATE_DEPS})
  add_library(${name} STATIC ${L_SOURCES})
  if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/include/aegis/${module})
    aegis_include_folder(${name} PUBLIC aegis/${module} ${PROJECT_SOURCE_DIR}/include/aegis/${module})
  endif()
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${L_DEPS} PRIVATE ${L_PRIVATE_DEPS})
endfunction()

# aegis_add_header_library(<name> FOLDER <subfolder> [DEPS <lib>...])
#   Headers a module shares on purpose beyond its public API, in
#   src/<module>/<subfolder>/ and included by whoever links <name> under their
#   path below src/ ("crypto/internal/openssl_ptr.h"): internals for the few
#   modules that need them, test support for tests.
function(aegis_add_header_library name)
  cmake_parse_arguments(H "" "FOLDER" "DEPS" ${ARGN})
  _aegis_check_declared(${name} ${H_DEPS})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR}/${H_FOLDER})
  file(RELATIVE_PATH prefix ${PROJECT_SOURCE_DIR}/src ${dir})
  add_library(${name} INTERFACE)
  aegis_include_folder(${name} INTERFACE ${prefix} ${dir})
  target_link_libraries(${name} INTERFACE ${H_DEPS})
endfunction()

# aegis_add_executable(<name> SOURCES <file>... DEPS <lib>... [EXCLUDE_FROM_ALL])
#   A program (the aegis command, a benchmark). It sees the headers of its DEPS
#   and of its own folder.
function(aegis_add_executable name)
  cmake_parse_arguments(E "EXCLUDE_FROM_ALL" "" "SOURCES;DEPS" ${ARGN})
  _aegis_check_declared(${name} ${E_DEPS})
  if(E_EXCLUDE_FROM_ALL)
    add_executable(${name} EXCLUDE_FROM_ALL ${E_SOURCES})
  else()
    add_executable(${name} ${E_SOURCES})
  endif()
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${E_DEPS})
endfunction()

# aegis_add_test(<name> SOURCES <file>... DEPS <lib>...)
#   One GoogleTest binary, run by ctest with the label "unit". It links the
#   shared test support (aegis_testing: matchers, WaitFor, example files, test
#   PKI) and GoogleTest's main; AEGIS_SOURCE_DIR tells it where examples/ is.
function(aegis_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS" ${ARGN})
  if(NOT AEGIS_BUILD_TESTS)
    return()
  endif()
  _aegis_check_declared(${name} ${T_DEPS})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} aegis_testing GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit ENVIRONMENT "AEGIS_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# aegis_add_fuzzer(<name> SOURCES <file>... DEPS <lib>... CORPUS <dir>)
#   A libFuzzer target for a parser of untrusted bytes, with its seed corpus;
#   built with -DAEGIS_FUZZ=ON (clang) and run by scripts/fuzz.sh.
function(aegis_add_fuzzer name)
  cmake_parse_arguments(F "" "CORPUS" "SOURCES;DEPS" ${ARGN})
  if(NOT AEGIS_FUZZ)
    return()
  endif()
  _aegis_check_declared(${name} ${F_DEPS})
  add_executable(${name} ${F_SOURCES})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${F_DEPS})
  add_dependencies(aegis_fuzzers ${name})
  file(APPEND ${PROJECT_BINARY_DIR}/fuzzers.txt "${CMAKE_CURRENT_BINARY_DIR}/${name} ${F_CORPUS}\n")
endfunction()
