#include "common/testing/examples.h"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

namespace aegis::testing {

std::filesystem::path ExamplePath(std::string_view name) {
  const char* root = std::getenv("AEGIS_SOURCE_DIR");
  return std::filesystem::path(root != nullptr ? root : ".") / "examples" / name;
}

std::string ReadExample(std::string_view name) {
  const std::filesystem::path path = ExamplePath(name);
  std::ifstream in(path, std::ios::binary);
  std::string bytes;
  if (in) bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!in.is_open() || in.bad()) {
    ADD_FAILURE() << "cannot read " << path << " (is AEGIS_SOURCE_DIR set?)";
    return "";
  }
  return bytes;
}

std::vector<uint8_t> ReadExampleBytes(std::string_view name) {
  const std::string bytes = ReadExample(name);
  return {bytes.begin(), bytes.end()};
}

}  // namespace aegis::testing
