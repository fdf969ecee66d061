# Run as a test (aegis_include_layering): no #include climbs out of its folder
# with "../". The include roots (aegis_targets.cmake) keep a target to the
# headers of what it links; a relative path up the tree would walk around them
# into another module's private headers.
#   cmake -DROOT=<source dir> -P cmake/check_includes.cmake
file(GLOB_RECURSE files LIST_DIRECTORIES false
     ${ROOT}/src/*.h ${ROOT}/src/*.cc ${ROOT}/include/*.h ${ROOT}/bench/*.h ${ROOT}/bench/*.cc)
set(bad "")
foreach(file IN LISTS files)
  file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<][^\">]*\\.\\./")
  foreach(line IN LISTS lines)
    file(RELATIVE_PATH rel ${ROOT} ${file})
    string(APPEND bad "  ${rel}: ${line}\n")
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "#include paths that climb out of their folder:\n${bad}")
endif()
list(LENGTH files count)
message(STATUS "${count} files, no #include climbs out of its folder")
