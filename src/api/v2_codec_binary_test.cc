// Tests for the binary tensor data extension on requests, and for hostile bodies:
// every truncation of valid requests must be refused (or parsed) without crashing.
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "aegis/api/v2_codec.h"
#include "common/testing/status_matchers.h"

namespace aegis::api {
namespace {

using runtime::DataType;

std::string Raw(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

struct Body {
  std::string bytes;
  uint64_t header_length;
};

// JSON header followed by binary sections.
Body WithBinary(const std::string& json, const std::string& binary) { return {json + binary, json.size()}; }

std::string ErrorOf(const Body& body) {
  const auto r = ParseInferRequest(body.bytes, body.header_length);
  if (r.ok()) return "<accepted>";
  EXPECT_STATUS_IS(r, StatusCode::kInvalidArgument);
  return r.status().message();
}

const float kFloats[3] = {1.5f, -2.0f, 3.25f};

TEST(V2BinaryTest, MixedJsonAndBinaryInputs) {
  const int64_t ints[2] = {-1, 1LL << 40};
  const std::string json =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[3],"parameters":{"binary_data_size":12}},)"
      R"({"name":"j","datatype":"INT32","shape":[2],"data":[5,6]},)"
      R"({"name":"b","datatype":"INT64","shape":[1,2],"parameters":{"binary_data_size":16,"other":1}}]})";
  const Body body = WithBinary(json, Raw(kFloats, 12) + Raw(ints, 16));
  const auto r = ParseInferRequest(body.bytes, body.header_length);
  ASSERT_OK(r);
  ASSERT_EQ(r->inputs.size(), 3u);
  EXPECT_EQ(r->inputs[0].name, "a");
  EXPECT_EQ(r->inputs[0].data.size(), 12u);
  EXPECT_EQ(std::memcmp(r->inputs[0].data.data(), Raw(kFloats, 12).data(), 12), 0);  // bit-exact, not ==
  EXPECT_EQ(r->inputs[1].data.size(), 8u);
  EXPECT_EQ(r->inputs[2].data.size(), 16u);
  EXPECT_EQ(std::memcmp(r->inputs[2].data.data(), ints, 16), 0);
}

TEST(V2BinaryTest, HeaderWithoutBinaryInputsIsPlainJson) {
  const std::string json = R"({"inputs":[{"name":"j","datatype":"INT32","shape":[1],"data":[5]}]})";
  EXPECT_EQ(ErrorOf({json, json.size()}), "<accepted>");
}

TEST(V2BinaryTest, SizesMustTileTheRemainderExactly) {
  const std::string json =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[3],"parameters":{"binary_data_size":12}}]})";
  EXPECT_EQ(ErrorOf(WithBinary(json, Raw(kFloats, 12) + "x")),
            "binary data after the JSON header is 13 bytes but the inputs' binary_data_size add up to 12");
  EXPECT_EQ(ErrorOf(WithBinary(json, Raw(kFloats, 8))),
            "input 'a': binary_data_size 12 exceeds the 8 bytes of binary data left");
  const std::string plain = R"({"inputs":[{"name":"j","datatype":"INT32","shape":[1],"data":[5]}]})";
  EXPECT_EQ(ErrorOf(WithBinary(plain, "xx")),
            "binary data after the JSON header is 2 bytes but the inputs' binary_data_size add up to 0");
}

TEST(V2BinaryTest, SizeMustMatchTheShape) {
  const std::string json =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[3],"parameters":{"binary_data_size":8}}]})";
  EXPECT_EQ(ErrorOf(WithBinary(json, Raw(kFloats, 8))),
            "input 'a': binary_data_size 8 does not match shape [3] of FP32 (12 bytes)");
  const std::string huge =
      R"({"inputs":[{"name":"a","datatype":"FP64","shape":[2147483647,2147483647],"parameters":{"binary_data_size":8}}]})";
  EXPECT_EQ(ErrorOf(WithBinary(huge, Raw(kFloats, 8))),
            "input 'a': binary_data_size 8 does not match shape [2147483647,2147483647] of FP64 (more bytes)");
  const std::string zero =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[0],"parameters":{"binary_data_size":0}}]})";
  EXPECT_EQ(ErrorOf(WithBinary(zero, "")), "<accepted>");
}

TEST(V2BinaryTest, HeaderLengthRefusals) {
  const std::string json = R"({"inputs":[]})";
  EXPECT_EQ(ErrorOf({json, 0}), "Inference-Header-Content-Length must be positive");
  EXPECT_EQ(ErrorOf({json, json.size() + 1}), "Inference-Header-Content-Length 14 exceeds the body length 13");
  EXPECT_NE(ErrorOf({json, json.size() - 1}).find("invalid JSON"), std::string::npos);
}

TEST(V2BinaryTest, ParameterRefusals) {
  const std::string binary_no_header =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]})";
  const auto r = ParseInferRequest(binary_no_header, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "input 'a': binary_data_size requires the Inference-Header-Content-Length header");

  const std::string both =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[1],"data":[1],"parameters":{"binary_data_size":4}}]})";
  EXPECT_EQ(ErrorOf(WithBinary(both, Raw(kFloats, 4))), "input 'a': has both 'data' and binary_data_size");
  for (const char* bad : {"-4", "4.0", "\"4\"", "null"}) {
    const std::string json =
        R"({"inputs":[{"name":"a","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":)" + std::string(bad) +
        "}}]}";
    EXPECT_EQ(ErrorOf(WithBinary(json, Raw(kFloats, 4))), "input 'a': binary_data_size must be a non-negative integer")
        << bad;
  }
  const std::string dup =
      R"({"inputs":[{"name":"a","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4,"binary_data_size":0}}]})";
  EXPECT_EQ(ErrorOf(WithBinary(dup, Raw(kFloats, 4))), "input 'a' parameters: duplicate key 'binary_data_size'");
}

TEST(V2BinaryTest, BoolBytesMustBeZeroOrOne) {
  const std::string json =
      R"({"inputs":[{"name":"b","datatype":"BOOL","shape":[3],"parameters":{"binary_data_size":3}}]})";
  EXPECT_EQ(ErrorOf(WithBinary(json, std::string("\x01\x00\x01", 3))), "<accepted>");
  EXPECT_EQ(ErrorOf(WithBinary(json, std::string("\x01\x02\x01", 3))), "input 'b': BOOL element 1 is 2, not 0 or 1");
}

std::string BytesSection(std::initializer_list<std::string_view> elements) {
  std::string out;
  for (std::string_view e : elements) {
    const auto n = static_cast<uint32_t>(e.size());
    out += Raw(&n, 4);
    out += e;
  }
  return out;
}

TEST(V2BinaryTest, BytesSections) {
  const std::string section = BytesSection({"hello", "", std::string_view("\xff\x00", 2)});
  const auto json = [&](size_t size, int count) {
    return R"({"inputs":[{"name":"s","datatype":"BYTES","shape":[)" + std::to_string(count) +
           R"(],"parameters":{"binary_data_size":)" + std::to_string(size) + "}}]}";
  };
  const Body good = WithBinary(json(section.size(), 3), section);
  const auto r = ParseInferRequest(good.bytes, good.header_length);
  ASSERT_OK(r);
  EXPECT_EQ(std::string(r->inputs[0].data.begin(), r->inputs[0].data.end()), section);

  EXPECT_EQ(ErrorOf(WithBinary(json(section.size(), 2), section)),
            "input 's': binary BYTES data holds 3 elements, shape [2] needs 2");
  EXPECT_EQ(ErrorOf(WithBinary(json(section.size() - 1, 3), section.substr(0, section.size() - 1))),
            "input 's': binary BYTES data has a length prefix that runs past its section");
  const std::string lying = "\xff\xff\xff\xff" + std::string("abc");
  EXPECT_EQ(ErrorOf(WithBinary(json(lying.size(), 1), lying)),
            "input 's': binary BYTES data has a length prefix that runs past its section");
  EXPECT_EQ(ErrorOf(WithBinary(json(2, 1), "ab")),
            "input 's': binary BYTES data has a length prefix that runs past its section");
}

// Every prefix of a valid request (with and without binary data) is refused or
// parsed, never crashes; sanitizer builds check the memory accesses.
TEST(V2BinaryTest, EveryTruncationIsHandled) {
  const std::string json =
      R"({"id":"t","inputs":[{"name":"a","datatype":"FP32","shape":[3],"parameters":{"binary_data_size":12}},)"
      R"({"name":"s","datatype":"BYTES","shape":[2,1],"data":[["x\u0001"],["\ud83d\ude00"]]},)"
      R"({"name":"n","datatype":"FP16","shape":[2,2],"data":[[1,2.5],[-3,1e-7]]}],)"
      R"("outputs":[{"name":"o","parameters":{"binary_data":true}}],"parameters":{"binary_data_output":false}})";
  const std::string body = json + Raw(kFloats, 12);
  ASSERT_OK(ParseInferRequest(body, json.size()));
  size_t accepted = 0;
  for (size_t n = 0; n < body.size(); ++n) {
    const std::string_view prefix(body.data(), n);
    if (ParseInferRequest(prefix, std::min<uint64_t>(json.size(), n)).ok()) ++accepted;
    if (ParseInferRequest(prefix, std::nullopt).ok()) ++accepted;
    // A copy of just the prefix, so reads past it are caught by ASan.
    const std::string copy(prefix);
    if (ParseInferRequest(copy, std::nullopt).ok()) ++accepted;
  }
  EXPECT_EQ(accepted, 0u);
}

TEST(V2BinaryTest, RandomByteFlipsAreHandled) {
  const std::string json = R"({"inputs":[{"name":"a","datatype":"INT8","shape":[2,2],"data":[[1,-2],[3,4]]},)"
                           R"({"name":"b","datatype":"UINT16","shape":[1],"parameters":{"binary_data_size":2}}]})";
  const std::string body = json + "\x01\x02";
  uint32_t seed = 12345;
  for (int i = 0; i < 20000; ++i) {
    std::string mutated = body;
    for (int k = 0; k < 3; ++k) {
      seed = seed * 1664525u + 1013904223u;
      mutated[(seed >> 8) % mutated.size()] = static_cast<char>(seed >> 24);
    }
    // Any answer is fine; this looks for crashes and overreads.
    ParseInferRequest(mutated, json.size()).IgnoreError();
    ParseInferRequest(mutated, std::nullopt).IgnoreError();
  }
}

}  // namespace
}  // namespace aegis::api
