# aegis_source_revision(OUT): the source tree's revision for the build identity
# (aegis --version, GET /v2, aegis_build_info), read once at configure time.
#
# `git describe --tags --always --dirty --abbrev=12`: the nearest tag and the
# commits since ("v0.1.0-3-g0123456789ab"), or the abbreviated commit when the
# history has no tag; "-dirty" when tracked files differ from the commit. Any
# failure — no git, not a clone, a repository git refuses (safe.directory) —
# gives "unknown" rather than failing the build, and so does output outside a
# conservative character set, since the value becomes a C string literal and a
# Prometheus label value.
function(aegis_source_revision out)
  set(revision "unknown")
  find_package(Git QUIET)
  if(GIT_FOUND)
    execute_process(
      COMMAND ${GIT_EXECUTABLE} -C ${PROJECT_SOURCE_DIR} describe --tags --always --dirty --abbrev=12
      RESULT_VARIABLE rc
      OUTPUT_VARIABLE described
      ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(rc EQUAL 0 AND described MATCHES "^[A-Za-z0-9][A-Za-z0-9._+-]*$")
      string(LENGTH "${described}" length)
      if(length LESS_EQUAL 64)
        set(revision "${described}")
      endif()
    endif()
  endif()
  set(${out} "${revision}" PARENT_SCOPE)
endfunction()
