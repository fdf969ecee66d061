#include "aegis/runtime/tensor.h"

#include <limits>

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace aegis::runtime {
namespace {

TEST(DataTypeTest, NamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(DataType::kBytes); ++i) {
    DataType type = static_cast<DataType>(i);
    EXPECT_EQ(ParseDataType(DataTypeName(type)), type);
  }
  EXPECT_EQ(DataTypeName(DataType::kFp16), "FP16");
  EXPECT_EQ(ParseDataType("fp32"), std::nullopt);  // the protocol's names are upper case
  EXPECT_EQ(ParseDataType(""), std::nullopt);
}

TEST(DataTypeTest, Sizes) {
  EXPECT_EQ(DataTypeSize(DataType::kBool), 1u);
  EXPECT_EQ(DataTypeSize(DataType::kUint16), 2u);
  EXPECT_EQ(DataTypeSize(DataType::kFp16), 2u);
  EXPECT_EQ(DataTypeSize(DataType::kInt32), 4u);
  EXPECT_EQ(DataTypeSize(DataType::kFp64), 8u);
  EXPECT_EQ(DataTypeSize(DataType::kBytes), 0u);
}

TEST(TensorTest, ElementCount) {
  auto count = [](std::vector<int64_t> shape) { return Tensor{.shape = std::move(shape)}.ElementCount(); };
  EXPECT_EQ(count({}), 1u);
  EXPECT_EQ(count({2, 3, 4}), 24u);
  EXPECT_EQ(count({0, 5}), 0u);
  EXPECT_EQ(count({2, -1}), std::nullopt);
  int64_t big = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(count({big, big}), std::nullopt);
  EXPECT_EQ(count({0, big, big}), 0u);  // zero wins, no overflow
  EXPECT_EQ(count({1LL << 32, 1LL << 32}), std::nullopt);
}

class ValidateInputsTest : public ::testing::Test {
 protected:
  ValidateInputsTest() {
    signature_.inputs.push_back({.name = "x", .datatype = DataType::kFp32, .shape = {-1, 4}});
    signature_.inputs.push_back({.name = "y", .datatype = DataType::kInt64, .shape = {2}});
  }
  static Tensor Make(std::string name, DataType type, std::vector<int64_t> shape) {
    Tensor t{.name = std::move(name), .datatype = type, .shape = std::move(shape)};
    t.data.resize(*t.ElementCount() * DataTypeSize(type));
    return t;
  }
  std::string Error(const std::vector<Tensor>& inputs) {
    Status status = ValidateInputs(signature_, inputs);
    EXPECT_STATUS_IS(status, StatusCode::kInvalidArgument);
    return status.message();
  }
  ModelSignature signature_;
  Tensor x_ = Make("x", DataType::kFp32, {3, 4});
  Tensor y_ = Make("y", DataType::kInt64, {2});
};

TEST_F(ValidateInputsTest, AcceptsMatchingInputsInAnyOrder) {
  EXPECT_OK(ValidateInputs(signature_, {x_, y_}));
  EXPECT_OK(ValidateInputs(signature_, {y_, x_}));
  EXPECT_OK(ValidateInputs(signature_, {Make("x", DataType::kFp32, {0, 4}), y_}));
}

TEST_F(ValidateInputsTest, NamesTheProblem) {
  EXPECT_EQ(Error({x_, y_, Make("z", DataType::kFp32, {1})}), "unknown input 'z'");
  EXPECT_EQ(Error({x_}), "missing input 'y'");
  EXPECT_EQ(Error({x_, y_, x_}), "duplicate input 'x'");
  EXPECT_EQ(Error({Make("x", DataType::kFp64, {3, 4}), y_}), "input 'x' has datatype FP64 but the model expects FP32");
  EXPECT_EQ(Error({Make("x", DataType::kFp32, {12}), y_}), "input 'x' has rank 1 but the model expects rank 2 [-1,4]");
  EXPECT_EQ(Error({Make("x", DataType::kFp32, {3, 5}), y_}), "dimension 1 of 'x' must be 4 but is 5");
  Tensor negative = x_;
  negative.shape = {-3, 4};
  EXPECT_EQ(Error({negative, y_}), "dimension 0 of 'x' is negative (-3)");
  Tensor short_data = x_;
  short_data.data.pop_back();
  EXPECT_EQ(Error({short_data, y_}),
            "data length mismatch for input 'x': shape [3,4] of FP32 needs 48 bytes but 47 were given");
}

TEST_F(ValidateInputsTest, RefusesShapesWhoseByteSizeOverflows) {
  Tensor huge = x_;
  huge.shape = {int64_t{1} << 62, 4};  // elements fit in 64 bits, bytes do not
  EXPECT_EQ(Error({huge, y_}), "shape [4611686018427387904,4] of 'x' is too large");
}

TEST(ValidateInputsBytesTest, ChecksLengthPrefixes) {
  ModelSignature signature;
  signature.inputs.push_back({.name = "s", .datatype = DataType::kBytes, .shape = {2}});
  Tensor s{.name = "s", .datatype = DataType::kBytes, .shape = {2}};
  s.data = {2, 0, 0, 0, 'h', 'i', 0, 0, 0, 0};  // "hi", ""
  EXPECT_OK(ValidateInputs(signature, {s}));

  Tensor extra = s;
  extra.data.push_back('!');
  EXPECT_EQ(ValidateInputs(signature, {extra}).message(),
            "malformed BYTES data in input 's': 1 bytes after the last of 2 elements");
  Tensor overrun = s;
  overrun.data[0] = 9;
  EXPECT_EQ(ValidateInputs(signature, {overrun}).message(),
            "malformed BYTES data in input 's': element 0 runs past the end of the data");
  Tensor truncated = s;
  truncated.data.resize(8);
  EXPECT_EQ(ValidateInputs(signature, {truncated}).message(),
            "malformed BYTES data in input 's': element 1 has no length prefix");
  Tensor huge_count = s;  // a vast shape over a tiny buffer fails fast, without looping
  huge_count.shape = {int64_t{1} << 60};
  signature.inputs[0].shape = {-1};
  EXPECT_STATUS_IS(ValidateInputs(signature, {huge_count}), StatusCode::kInvalidArgument);
}

TEST(ValidateInputsFlexibleTest, AnyNumericDatatypeWhenNotFixed) {
  ModelSignature signature;
  signature.inputs.push_back({.name = "t", .datatype = DataType::kFp32, .rank_known = false, .datatype_fixed = false});
  Tensor t{.name = "t", .datatype = DataType::kInt16, .shape = {2, 2, 2}};
  t.data.resize(16);
  EXPECT_OK(ValidateInputs(signature, {t}));
  Tensor b{.name = "t", .datatype = DataType::kBytes, .shape = {1}, .data = {0, 0, 0, 0}};
  EXPECT_EQ(ValidateInputs(signature, {b}).message(),
            "input 't' has datatype BYTES but the model expects a numeric datatype");
}

}  // namespace
}  // namespace aegis::runtime
