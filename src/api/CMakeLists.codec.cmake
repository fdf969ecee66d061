# KServe v2 REST codec (included from src/api/CMakeLists.txt). Deliberately free of
# the engines: it needs only the tensor value type and its datatype helpers, which
# live in the small aegis_tensor library (src/runtime/tensor.cc), not aegis_runtime.
if(NOT TARGET aegis_tensor)
  message(FATAL_ERROR "aegis_api_codec needs the aegis_tensor library (src/runtime/tensor.cc on its own)")
endif()

# Paths are relative to this file so that it can be included from anywhere.
set(_codec ${CMAKE_CURRENT_LIST_DIR})
add_library(aegis_api_codec STATIC
  ${_codec}/v2_codec_parse.cc
  ${_codec}/v2_codec_encode.cc
  ${_codec}/v2_json_data.cc
  ${_codec}/v2_fp16.cc
  ${_codec}/json_writer.cc)
target_link_libraries(aegis_api_codec PUBLIC aegis_common aegis_tensor PRIVATE PkgConfig::SIMDJSON)

aegis_add_test(aegis_api_codec_test
  SOURCES ${_codec}/v2_codec_test.cc ${_codec}/v2_codec_binary_test.cc ${_codec}/v2_codec_encode_test.cc
  LIBS aegis_api_codec PkgConfig::SIMDJSON)

# libFuzzer target (built with -DAEGIS_FUZZ=ON and clang; run by scripts/fuzz.sh).
aegis_add_fuzzer(aegis_api_codec_fuzz SOURCES ${_codec}/v2_codec_fuzz.cc
                 LIBS aegis_api_codec PkgConfig::SIMDJSON CORPUS ${_codec}/fuzz_corpus/v2_codec)

# Hot-path micro-benchmark (not built by default): ninja aegis_api_codec_bench.
add_executable(aegis_api_codec_bench EXCLUDE_FROM_ALL ${_codec}/v2_codec_bench.cc)
target_link_libraries(aegis_api_codec_bench PRIVATE aegis_api_codec PkgConfig::SIMDJSON)
