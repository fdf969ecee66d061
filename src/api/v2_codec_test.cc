// Tests for ParseInferRequest: every datatype, every refusal, the binary extension,
// and hostile inputs (truncation, deep nesting, lying shapes).
#include "aegis/api/v2_codec.h"

#include <chrono>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace aegis::api {
namespace {

using runtime::DataType;
using runtime::Tensor;

StatusOr<InferRequest> Parse(std::string_view json) { return ParseInferRequest(json, std::nullopt); }

std::string OneInput(std::string_view datatype, std::string_view shape, std::string_view data) {
  return R"({"inputs":[{"name":"x","datatype":")" + std::string(datatype) + R"(","shape":)" + std::string(shape) +
         R"(,"data":)" + std::string(data) + "}]}";
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  std::vector<T> out(t.data.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), t.data.data(), out.size() * sizeof(T));
  return out;
}

template <typename T>
std::vector<uint8_t> Bytes(std::initializer_list<T> values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

std::vector<uint8_t> BytesElements(std::initializer_list<std::string_view> elements) {
  std::vector<uint8_t> out;
  for (std::string_view e : elements) {
    const auto n = static_cast<uint32_t>(e.size());
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<uint8_t>(n >> (8 * k)));
    out.insert(out.end(), e.begin(), e.end());
  }
  return out;
}

// The message of a refused request, or "<accepted>".
std::string ErrorOf(std::string_view body, std::optional<uint64_t> header = std::nullopt) {
  const auto r = ParseInferRequest(body, header);
  if (r.ok()) return "<accepted>";
  EXPECT_STATUS_IS(r, StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(V2ParseTest, Fp32RequestWithIdAndOutputs) {
  const auto r = Parse(R"({"id":"req-1","inputs":[{"name":"input0","shape":[1,4],"datatype":"FP32",
      "data":[1,2.5,-3e2,0.1]}],"outputs":[{"name":"out","parameters":{"binary_data":true}},{"name":"p"}],
      "parameters":{"binary_data_output":true,"other":"ignored"},"unknown":{"x":[1]}})");
  ASSERT_OK(r);
  EXPECT_EQ(r->id, "req-1");
  ASSERT_EQ(r->inputs.size(), 1u);
  const Tensor& t = r->inputs[0];
  EXPECT_EQ(t.name, "input0");
  EXPECT_EQ(t.datatype, DataType::kFp32);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(Values<float>(t), (std::vector<float>{1.0f, 2.5f, -300.0f, 0.1f}));
  ASSERT_EQ(r->outputs.size(), 2u);
  EXPECT_EQ(r->outputs[0].name, "out");
  EXPECT_TRUE(r->outputs[0].binary_data);
  EXPECT_EQ(r->outputs[1].name, "p");
  EXPECT_FALSE(r->outputs[1].binary_data);
  EXPECT_TRUE(r->binary_data_output);
}

TEST(V2ParseTest, NoIdNoOutputs) {
  const auto r = Parse(OneInput("INT32", "[1]", "[7]"));
  ASSERT_OK(r);
  EXPECT_FALSE(r->id.has_value());
  EXPECT_TRUE(r->outputs.empty());
  EXPECT_FALSE(r->binary_data_output);
}

struct TypeCase {
  const char* datatype;
  const char* flat;    // shape [4]
  const char* nested;  // shape [2,2], same values
  std::vector<uint8_t> expected;
};

class V2EveryTypeTest : public ::testing::TestWithParam<TypeCase> {};

TEST_P(V2EveryTypeTest, FlatAndNestedDecodeTheSame) {
  const TypeCase& c = GetParam();
  const auto flat = Parse(OneInput(c.datatype, "[4]", c.flat));
  ASSERT_OK(flat);
  EXPECT_EQ(flat->inputs[0].data, c.expected);
  const auto nested = Parse(OneInput(c.datatype, "[2,2]", c.nested));
  ASSERT_OK(nested);
  EXPECT_EQ(nested->inputs[0].data, c.expected);
  // Flat data for a rank-2 shape is fine too.
  const auto flat2 = Parse(OneInput(c.datatype, "[2,2]", c.flat));
  ASSERT_OK(flat2);
  EXPECT_EQ(flat2->inputs[0].data, c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, V2EveryTypeTest,
    ::testing::Values(
        TypeCase{"BOOL", "[true,false,false,true]", "[[true,false],[false,true]]", {1, 0, 0, 1}},
        TypeCase{"UINT8", "[0,1,254,255]", "[[0,1],[254,255]]", Bytes<uint8_t>({0, 1, 254, 255})},
        TypeCase{"UINT16", "[0,1,65534,65535]", "[[0,1],[65534,65535]]", Bytes<uint16_t>({0, 1, 65534, 65535})},
        TypeCase{"UINT32", "[0,1,4294967294,4294967295]", "[[0,1],[4294967294,4294967295]]",
                 Bytes<uint32_t>({0, 1, 4294967294u, 4294967295u})},
        TypeCase{"UINT64", "[0,1,9223372036854775808,18446744073709551615]",
                 "[[0,1],[9223372036854775808,18446744073709551615]]",
                 Bytes<uint64_t>({0, 1, 9223372036854775808ull, 18446744073709551615ull})},
        TypeCase{"INT8", "[-128,-1,0,127]", "[[-128,-1],[0,127]]", Bytes<int8_t>({-128, -1, 0, 127})},
        TypeCase{"INT16", "[-32768,-1,0,32767]", "[[-32768,-1],[0,32767]]", Bytes<int16_t>({-32768, -1, 0, 32767})},
        TypeCase{"INT32", "[-2147483648,-1,-0,2147483647]", "[[-2147483648,-1],[-0,2147483647]]",
                 Bytes<int32_t>({-2147483647 - 1, -1, 0, 2147483647})},
        TypeCase{"INT64", "[-9223372036854775808,-1,0,9223372036854775807]",
                 "[[-9223372036854775808,-1],[0,9223372036854775807]]", Bytes<int64_t>({INT64_MIN, -1, 0, INT64_MAX})},
        TypeCase{"FP16", "[1,-2,0.5,65504]", "[[1,-2],[0.5,65504]]", Bytes<uint16_t>({0x3c00, 0xc000, 0x3800, 0x7bff})},
        TypeCase{"FP32", "[1,-2.5,1e-3,3.4028234663852886e38]", "[[1,-2.5],[1e-3,3.4028234663852886e38]]",
                 Bytes<float>({1.0f, -2.5f, 1e-3f, 3.4028234663852886e38f})},
        TypeCase{"FP64", "[1,-2.5,1e-300,1.7976931348623157e308]", "[[1,-2.5],[1e-300,1.7976931348623157e308]]",
                 Bytes<double>({1.0, -2.5, 1e-300, 1.7976931348623157e308})},
        TypeCase{"BYTES", R"(["a","","\u00e9\n","\u0000z"])", R"([["a",""],["\u00e9\n","\u0000z"]])",
                 BytesElements({"a", "", "\xc3\xa9\n", std::string_view("\0z", 2)})}));

TEST(V2ParseTest, ThreeDimensionalNesting) {
  const auto r = Parse(OneInput("INT32", "[2,1,3]", "[[[1,2,3]],[[4,5,6]]]"));
  ASSERT_OK(r);
  EXPECT_EQ(Values<int32_t>(r->inputs[0]), (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
}

TEST(V2ParseTest, ScalarAndEmptyTensors) {
  auto r = Parse(OneInput("FP64", "[]", "[2.5]"));
  ASSERT_OK(r);
  EXPECT_EQ(Values<double>(r->inputs[0]), std::vector<double>{2.5});
  r = Parse(OneInput("FP32", "[0]", "[]"));
  ASSERT_OK(r);
  EXPECT_TRUE(r->inputs[0].data.empty());
  r = Parse(OneInput("FP32", "[2,0]", "[[],[]]"));
  ASSERT_OK(r);
  EXPECT_TRUE(r->inputs[0].data.empty());
}

TEST(V2ParseTest, IntegerTypesRefuseWhatDoesNotFit) {
  EXPECT_EQ(ErrorOf(OneInput("INT32", "[2]", "[1,1.0]")), "input 'x': element 1 must be an integer for INT32, got 1.0");
  EXPECT_EQ(ErrorOf(OneInput("INT32", "[1]", "[1e2]")), "input 'x': element 0 must be an integer for INT32, got 100.0");
  EXPECT_EQ(ErrorOf(OneInput("UINT8", "[3]", "[1,2,300]")), "input 'x': element 2 is out of range for UINT8: 300");
  EXPECT_EQ(ErrorOf(OneInput("UINT8", "[1]", "[-1]")), "input 'x': element 0 is out of range for UINT8: -1");
  EXPECT_EQ(ErrorOf(OneInput("UINT64", "[1]", "[-1]")), "input 'x': element 0 is out of range for UINT64: -1");
  EXPECT_EQ(ErrorOf(OneInput("INT8", "[1]", "[128]")), "input 'x': element 0 is out of range for INT8: 128");
  EXPECT_EQ(ErrorOf(OneInput("INT8", "[1]", "[-129]")), "input 'x': element 0 is out of range for INT8: -129");
  EXPECT_EQ(ErrorOf(OneInput("INT16", "[1]", "[32768]")), "input 'x': element 0 is out of range for INT16: 32768");
  EXPECT_EQ(ErrorOf(OneInput("UINT16", "[1]", "[65536]")), "input 'x': element 0 is out of range for UINT16: 65536");
  EXPECT_EQ(ErrorOf(OneInput("INT32", "[1]", "[2147483648]")),
            "input 'x': element 0 is out of range for INT32: 2147483648");
  EXPECT_EQ(ErrorOf(OneInput("UINT32", "[1]", "[4294967296]")),
            "input 'x': element 0 is out of range for UINT32: 4294967296");
  EXPECT_EQ(ErrorOf(OneInput("INT64", "[1]", "[9223372036854775808]")),
            "input 'x': element 0 is out of range for INT64: 9223372036854775808");
  EXPECT_EQ(ErrorOf(OneInput("INT64", "[1]", "[true]")),
            "input 'x': element 0 must be an integer for INT64, got a boolean");
  EXPECT_EQ(ErrorOf(OneInput("UINT8", "[1]", R"(["1"])")),
            "input 'x': element 0 must be an integer for UINT8, got a string");
  // Beyond 64 bits is not a number simdjson (or any int64 reader) will take.
  EXPECT_NE(ErrorOf(OneInput("UINT64", "[1]", "[18446744073709551616]")).find("invalid JSON"), std::string::npos);
}

TEST(V2ParseTest, OtherTypesRefuseWrongJsonTypes) {
  EXPECT_EQ(ErrorOf(OneInput("BOOL", "[1]", "[1]")),
            "input 'x': element 0 must be true or false for BOOL, got a number");
  EXPECT_EQ(ErrorOf(OneInput("BOOL", "[1]", R"(["true"])")),
            "input 'x': element 0 must be true or false for BOOL, got a string");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[2]", R"([1,"2"])")),
            "input 'x': element 1 must be a number for FP32, got a string");
  EXPECT_EQ(ErrorOf(OneInput("FP64", "[1]", "[null]")), "input 'x': element 0 must be a number for FP64, got null");
  EXPECT_EQ(ErrorOf(OneInput("FP16", "[1]", "[{}]")), "input 'x': element 0 must be a number for FP16, got an object");
  EXPECT_EQ(ErrorOf(OneInput("BYTES", "[1]", "[1]")), "input 'x': element 0 must be a string for BYTES, got a number");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[2]", "[1,[2]]")),
            "input 'x': element 1 must be a number for FP32, got an array");
}

TEST(V2ParseTest, FloatRangesAreExact) {
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[1]", "[1e39]")), "input 'x': element 0 is out of range for FP32: 1e+39");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[1]", "[-3.5e38]")), "input 'x': element 0 is out of range for FP32: -3.5e+38");
  // Just below FLT_MAX + half an ulp still rounds to FLT_MAX.
  auto r = Parse(OneInput("FP32", "[1]", "[3.4028235677973362e38]"));
  ASSERT_OK(r);
  EXPECT_EQ(Values<float>(r->inputs[0])[0], std::numeric_limits<float>::max());
  EXPECT_NE(ErrorOf(OneInput("FP32", "[1]", "[3.4028235677973366e38]")), "<accepted>");
  // Tiny values underflow to zero or a subnormal, like any float parser.
  r = Parse(OneInput("FP32", "[1]", "[1e-50]"));
  ASSERT_OK(r);
  EXPECT_EQ(Values<float>(r->inputs[0])[0], 0.0f);
  EXPECT_EQ(ErrorOf(OneInput("FP16", "[1]", "[65520]")), "input 'x': element 0 is out of range for FP16: 65520");
  r = Parse(OneInput("FP16", "[2]", "[65519.99,-65504]"));
  ASSERT_OK(r);
  EXPECT_EQ(Values<uint16_t>(r->inputs[0]), (std::vector<uint16_t>{0x7bff, 0xfbff}));
}

TEST(V2ParseTest, ElementCountMismatches) {
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[2,4]", "[1,2,3,4,5,6,7]")),
            "input 'x': expected 8 elements for shape [2,4], got 7");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[2,2]", "[[1,2],[3]]")),
            "input 'x': nested data has 1 elements at depth 1, shape [2,2] needs 2");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[2,2]", "[[1,2],[3,4],[5,6]]")),
            "input 'x': nested data has 3 elements at depth 0, shape [2,2] needs 2");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[2,2]", "[[1,2],3]")),
            "input 'x': nested data must be arrays down to depth 1 for shape [2,2], found a number at depth 1");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[2,2]", "[[[1],[2]],[[3],[4]]]")),
            "input 'x': element 0 must be a number for FP32, got an array");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[4]", "[[1,2],[3,4]]")), "input 'x': data is nested deeper than shape [4]");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[]", "[]")), "input 'x': expected 1 elements for shape [], got 0");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[1]", "1")), "input 'x': 'data' must be an array");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[1]", R"({"a":1})")), "input 'x': 'data' must be an array");
}

TEST(V2ParseTest, StructuralRefusals) {
  EXPECT_EQ(ErrorOf("[]"), "request must be a JSON object");
  EXPECT_EQ(ErrorOf("42"), "request must be a JSON object");
  EXPECT_EQ(ErrorOf("{}"), "missing 'inputs'");
  EXPECT_EQ(ErrorOf(R"({"inputs":{}})"), "'inputs' must be an array");
  EXPECT_EQ(ErrorOf(R"({"inputs":[1]})"), "input 0 must be an object");
  EXPECT_EQ(ErrorOf(R"({"id":5,"inputs":[]})"), "'id' must be a string");
  EXPECT_EQ(ErrorOf(R"({"outputs":{},"inputs":[]})"), "'outputs' must be an array");
  EXPECT_EQ(ErrorOf(R"({"outputs":[{}],"inputs":[]})"), "output 0: 'name' must be a non-empty string");
  EXPECT_EQ(ErrorOf(R"({"outputs":[{"name":"a","parameters":{"binary_data":1}}],"inputs":[]})"),
            "output 0: binary_data must be true or false");
  EXPECT_EQ(ErrorOf(R"({"outputs":[{"name":"a"},{"name":"a"}],"inputs":[]})"), "duplicate output name 'a'");
  EXPECT_EQ(ErrorOf(R"({"parameters":[],"inputs":[]})"), "'parameters' must be an object");
  EXPECT_EQ(ErrorOf(R"({"parameters":{"binary_data_output":"yes"},"inputs":[]})"),
            "binary_data_output must be true or false");
  EXPECT_NE(ErrorOf(R"({"inputs":[})").find("invalid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf("").find("invalid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf("{\"inputs\":[]} x").find("invalid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf("{\"id\":\"\xff\",\"inputs\":[]}").find("invalid JSON"), std::string::npos);  // Bad UTF-8.
}

TEST(V2ParseTest, InputFieldRefusals) {
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]})"),
            "input 0: 'name' must be a non-empty string");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"","datatype":"FP32","shape":[1],"data":[1]}]})"),
            "input 0: 'name' must be a non-empty string");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","shape":[1],"data":[1]}]})"), "input 'x': 'datatype' must be a string");
  EXPECT_EQ(ErrorOf(OneInput("FP8", "[1]", "[1]")), "input 'x': unknown datatype 'FP8'");
  EXPECT_EQ(ErrorOf(OneInput("fp32", "[1]", "[1]")), "input 'x': unknown datatype 'fp32'");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","datatype":"FP32","data":[1]}]})"), "input 'x': missing 'shape'");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]})"), "input 'x': missing 'data'");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "4", "[1]")), "input 'x': 'shape' must be an array of integers");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[-1]", "[1]")), "input 'x': dimension 0 is -1; dimensions must be non-negative");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[1,1.0]", "[1]")), "input 'x': dimension 1 must be an integer");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[\"1\"]", "[1]")), "input 'x': dimension 0 must be an integer");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[2147483648]", "[1]")), "input 'x': dimension 0 exceeds 2147483647");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[18446744073709551615]", "[1]")), "input 'x': dimension 0 exceeds 2147483647");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]", "[1]")),
            "input 'x': rank 17 exceeds the maximum of 16");
  EXPECT_EQ(ErrorOf(OneInput("FP32", "[2147483647,2147483647,2147483647]", "[1]")),
            "input 'x': element count of shape [2147483647,2147483647,2147483647] overflows");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1],"parameters":3}]})"),
            "input 'x': 'parameters' must be an object");
}

TEST(V2ParseTest, RepeatedKeysAndNamesAreRefused) {
  EXPECT_EQ(ErrorOf(R"({"inputs":[],"inputs":[]})"), "request: duplicate key 'inputs'");
  EXPECT_EQ(ErrorOf(R"({"id":"a","id":"b","inputs":[]})"), "request: duplicate key 'id'");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"shape":[2],"data":[1]}]})"),
            "input 0: duplicate key 'shape'");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","name":"y","datatype":"FP32","shape":[1],"data":[1]}]})"),
            "input 0: duplicate key 'name'");
  const std::string input = R"({"name":"x","datatype":"FP32","shape":[1],"data":[1]})";
  EXPECT_EQ(ErrorOf(R"({"inputs":[)" + input + "," + input + "]}"), "duplicate input name 'x'");
  // Many inputs take the sorting path.
  std::string many = R"({"inputs":[)";
  for (int i = 0; i < 20; ++i) {
    many += R"({"name":"n)" + std::to_string(i == 17 ? 3 : i) + R"(","datatype":"FP32","shape":[1],"data":[1]},)";
  }
  many.back() = ']';
  EXPECT_EQ(ErrorOf(many + "}"), "duplicate input name 'n3'");
}

TEST(V2ParseTest, HugeDeclaredShapeWithTinyDataIsRefusedBeforeAllocating) {
  const auto start = std::chrono::steady_clock::now();
  const std::string message = ErrorOf(OneInput("FP64", "[2147483647,2147483647]", "[1]"));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(message,
            "input 'x': shape [2147483647,2147483647] declares 4611686014132420609 elements, more than a 86-byte JSON "
            "request can hold");
  EXPECT_LT(elapsed, std::chrono::milliseconds(50));
}

TEST(V2ParseTest, DeepNestingIsRefusedWithoutCrashing) {
  for (const size_t depth : {33u, 1000u, 10000u, 100000u}) {
    const std::string nested = std::string(depth, '[') + "1" + std::string(depth, ']');
    EXPECT_EQ(ErrorOf(OneInput("FP32", "[1]", nested)), "invalid JSON: nested deeper than 32 levels") << depth;
    EXPECT_NE(ErrorOf(std::string(depth, '[')), "<accepted>");
    EXPECT_NE(ErrorOf(std::string(depth, '{')), "<accepted>");
  }
}

TEST(V2ParseTest, MaximumRankNestedDataFitsTheDepthLimit) {
  std::string shape = "[", data;
  for (int i = 0; i < 16; ++i) shape += i == 0 ? "1" : ",1";
  shape += "]";
  data = std::string(16, '[') + "7" + std::string(16, ']');
  const auto r = Parse(OneInput("INT32", shape, data));
  ASSERT_OK(r);
  EXPECT_EQ(Values<int32_t>(r->inputs[0]), std::vector<int32_t>{7});
}

TEST(V2ParseTest, LongNamesAreCutShortInMessages) {
  const std::string name(5000, 'n');
  const std::string message =
      ErrorOf(R"({"inputs":[{"name":")" + name + R"(","datatype":"FP32","shape":[1],"data":["a"]}]})");
  EXPECT_LT(message.size(), 200u);
  EXPECT_NE(message.find("..."), std::string::npos);
}

}  // namespace
}  // namespace aegis::api
