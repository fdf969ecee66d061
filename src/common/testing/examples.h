// The repository's sample files (examples/: models, reference inputs and
// outputs, written by examples/make_models.py), for tests only. The repository
// is found through the AEGIS_SOURCE_DIR environment variable, which ctest sets
// for every aegis_add_test binary; without it, the current directory.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace aegis::testing {

// AEGIS_SOURCE_DIR/examples/<name>.
std::filesystem::path ExamplePath(std::string_view name);

// The bytes of examples/<name>. A file that cannot be read is a test failure
// (reported where it is asked for) and yields no bytes.
std::string ReadExample(std::string_view name);
std::vector<uint8_t> ReadExampleBytes(std::string_view name);

}  // namespace aegis::testing
