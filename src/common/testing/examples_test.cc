#include "common/testing/examples.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

namespace aegis::testing {
namespace {

TEST(ExamplesTest, ReadsAFileFromExamples) {
  const std::string onnx = ReadExample("mlp.onnx");
  ASSERT_GT(onnx.size(), 16u);
  EXPECT_EQ(ReadExampleBytes("mlp.onnx"), std::vector<uint8_t>(onnx.begin(), onnx.end()));
  EXPECT_EQ(ExamplePath("mlp.onnx").parent_path().filename(), "examples");
}

TEST(ExamplesTest, AMissingFileIsATestFailure) {
  std::string bytes = "untouched";
  EXPECT_NONFATAL_FAILURE(bytes = ReadExample("no-such-example.bin"), "cannot read");
  EXPECT_EQ(bytes, "");
}

}  // namespace
}  // namespace aegis::testing
