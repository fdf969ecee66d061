// Tests for EncodeInferResponse, JsonQuote and the FP16 conversions, including
// encode -> parse round trips for every datatype.
#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "aegis/api/v2_codec.h"
#include "aegis/runtime/fp16.h"
#include "common/testing/status_matchers.h"

namespace aegis::api {
namespace {

using runtime::DataType;
using runtime::Tensor;

template <typename T>
Tensor MakeTensor(std::string name, DataType type, std::vector<int64_t> shape, const std::vector<T>& values) {
  Tensor t{std::move(name), type, std::move(shape), {}};
  t.data.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

Tensor BytesTensor(std::string name, std::initializer_list<std::string_view> elements) {
  Tensor t{std::move(name), DataType::kBytes, {static_cast<int64_t>(elements.size())}, {}};
  for (std::string_view e : elements) {
    const auto n = static_cast<uint32_t>(e.size());
    for (int k = 0; k < 4; ++k) t.data.push_back(static_cast<uint8_t>(n >> (8 * k)));
    t.data.insert(t.data.end(), e.begin(), e.end());
  }
  return t;
}

std::string Encode(const std::vector<Tensor>& outputs, const std::vector<bool>& binary = {}) {
  const auto r = EncodeInferResponse("m", "1", std::nullopt, outputs, binary);
  EXPECT_OK(r);
  return r.ok() ? r->body : "";
}

// Parses a JSON response's outputs back as request inputs (same field layout), so
// that the round trip goes through simdjson and our own parser.
std::vector<Tensor> RoundTrip(const std::vector<Tensor>& outputs) {
  const std::string body = Encode(outputs);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
  simdjson::dom::element list;
  EXPECT_EQ(root["outputs"].get(list), simdjson::SUCCESS);
  const std::string request = "{\"inputs\":" + simdjson::to_string(list) + "}";
  const auto parsed = ParseInferRequest(request, std::nullopt);
  EXPECT_OK(parsed) << "\n" << body;
  return parsed.ok() ? parsed->inputs : std::vector<Tensor>{};
}

void ExpectSameTensors(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].datatype, b[i].datatype);
    EXPECT_EQ(a[i].shape, b[i].shape);
    EXPECT_EQ(a[i].data, b[i].data) << a[i].name;
  }
}

TEST(V2EncodeTest, ExactJsonForASmallResponse) {
  const auto r =
      EncodeInferResponse("my model", "3", std::string("id-\"7\""),
                          {MakeTensor<float>("out", DataType::kFp32, {1, 3}, {0.1f, -2.0f, 1e20f})}, {false});
  ASSERT_OK(r);
  EXPECT_EQ(
      r->body,
      R"({"model_name":"my model","model_version":"3","id":"id-\"7\"","outputs":[{"name":"out","datatype":"FP32",)"
      R"("shape":[1,3],"data":[0.1,-2,1e+20]}]})");
  EXPECT_FALSE(r->json_header_length.has_value());
  EXPECT_EQ(r->content_type, "application/json");
}

TEST(V2EncodeTest, EmptyVersionAndNoIdAreOmitted) {
  const auto r = EncodeInferResponse("m", "", std::nullopt, {MakeTensor<int32_t>("o", DataType::kInt32, {0}, {})}, {});
  ASSERT_OK(r);
  EXPECT_EQ(r->body, R"({"model_name":"m","outputs":[{"name":"o","datatype":"INT32","shape":[0],"data":[]}]})");
}

TEST(V2EncodeTest, BinaryOutputsFollowTheJsonInOrder) {
  const std::vector<Tensor> outputs = {MakeTensor<float>("a", DataType::kFp32, {2}, {1.0f, 2.0f}),
                                       MakeTensor<int8_t>("j", DataType::kInt8, {2}, {-1, 1}),
                                       MakeTensor<uint16_t>("b", DataType::kUint16, {1}, {0x0102})};
  const auto r = EncodeInferResponse("m", "1", std::nullopt, outputs, {true, false, true});
  ASSERT_OK(r);
  ASSERT_TRUE(r->json_header_length.has_value());
  EXPECT_EQ(r->content_type, "application/octet-stream");
  const std::string json = r->body.substr(0, *r->json_header_length);
  EXPECT_EQ(json, R"({"model_name":"m","model_version":"1","outputs":[)"
                  R"({"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},)"
                  R"({"name":"j","datatype":"INT8","shape":[2],"data":[-1,1]},)"
                  R"({"name":"b","datatype":"UINT16","shape":[1],"parameters":{"binary_data_size":2}}]})");
  const std::string binary = r->body.substr(*r->json_header_length);
  ASSERT_EQ(binary.size(), 10u);
  EXPECT_EQ(std::memcmp(binary.data(), outputs[0].data.data(), 8), 0);
  EXPECT_EQ(binary.substr(8), std::string("\x02\x01", 2));
}

TEST(V2EncodeTest, BinaryResponseParsesBackAsABinaryRequest) {
  const std::vector<Tensor> outputs = {MakeTensor<double>("d", DataType::kFp64, {1, 2}, {std::nan(""), -0.0}),
                                       BytesTensor("s", {"\xff\xfe", "ok"})};
  const auto r = EncodeInferResponse("m", "1", std::nullopt, outputs, {true, true});
  ASSERT_OK(r);
  // Same field layout as a request: swap the key and parse it as one.
  std::string body = r->body;
  const size_t at = body.find("\"outputs\"");
  ASSERT_NE(at, std::string::npos);
  body.replace(at, 9, "\"inputs\" ");
  const auto parsed = ParseInferRequest(body, r->json_header_length);
  ASSERT_OK(parsed);
  ExpectSameTensors(parsed->inputs, outputs);
}

TEST(V2EncodeTest, NonFiniteValuesUseThePythonSpelling) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::string body = Encode({MakeTensor<float>("o", DataType::kFp32, {4}, {std::nanf(""), inf, -inf, -0.0f}),
                                   MakeTensor<uint16_t>("h", DataType::kFp16, {2}, {0x7c00, 0xfe00})});
  EXPECT_NE(body.find(R"("data":[NaN,Infinity,-Infinity,-0.0])"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("data":[Infinity,NaN])"), std::string::npos) << body;
}

TEST(V2EncodeTest, InconsistentOutputsAreInternalErrors) {
  Tensor short_data = MakeTensor<float>("o", DataType::kFp32, {3}, {1.0f, 2.0f});
  auto r = EncodeInferResponse("m", "1", std::nullopt, {short_data}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_STATUS_IS(r, StatusCode::kInternal);
  EXPECT_EQ(r.status().message(), "output 'o': 8 bytes of data do not fit shape [3] of FP32");
  Tensor bad_bytes = BytesTensor("s", {"a"});
  bad_bytes.data.pop_back();
  EXPECT_FALSE(EncodeInferResponse("m", "1", std::nullopt, {bad_bytes}, {}).ok());
  Tensor negative = MakeTensor<float>("n", DataType::kFp32, {-1}, {});
  EXPECT_FALSE(EncodeInferResponse("m", "1", std::nullopt, {negative}, {}).ok());
  EXPECT_FALSE(EncodeInferResponse("m", "1", std::nullopt, {negative}, {true, false}).ok());
}

TEST(V2EncodeTest, BytesOutputsAreEscapedAndInvalidUtf8Replaced) {
  const std::string body = Encode({BytesTensor("s", {"plain", "q\"\\\n", "\xc3\xa9", "bad\xff"})});
  EXPECT_NE(body.find(R"("data":["plain","q\"\\\n","é","bad�"])"), std::string::npos) << body;
}

TEST(V2EncodeTest, RoundTripEveryDatatype) {
  const std::vector<Tensor> outputs = {
      MakeTensor<uint8_t>("bool", DataType::kBool, {2, 2}, {1, 0, 0, 1}),
      MakeTensor<uint8_t>("u8", DataType::kUint8, {3}, {0, 7, 255}),
      MakeTensor<uint16_t>("u16", DataType::kUint16, {3}, {0, 7, 65535}),
      MakeTensor<uint32_t>("u32", DataType::kUint32, {3}, {0, 7, 4294967295u}),
      MakeTensor<uint64_t>("u64", DataType::kUint64, {3}, {0, 1ull << 63, 18446744073709551615ull}),
      MakeTensor<int8_t>("i8", DataType::kInt8, {3}, {-128, 0, 127}),
      MakeTensor<int16_t>("i16", DataType::kInt16, {3}, {-32768, 0, 32767}),
      MakeTensor<int32_t>("i32", DataType::kInt32, {1, 3}, {-2147483647 - 1, 0, 2147483647}),
      MakeTensor<int64_t>("i64", DataType::kInt64, {3}, {INT64_MIN, 0, INT64_MAX}),
      MakeTensor<uint16_t>("f16", DataType::kFp16, {5}, {0x3c00, 0x0001, 0x7bff, 0x8000, 0x3555}),
      MakeTensor<float>("f32", DataType::kFp32, {4}, {0.1f, -0.0f, 1.17549435e-38f, 1e-45f}),
      MakeTensor<double>("f64", DataType::kFp64, {3}, {0.1, 5e-324, 1.7976931348623157e308}),
      BytesTensor("bytes", {"", "a\tb", "\xf0\x9f\x98\x80", std::string_view("\0", 1)}),
      MakeTensor<float>("scalar", DataType::kFp32, {}, {42.0f}),
  };
  ExpectSameTensors(RoundTrip(outputs), outputs);
}

template <typename T, typename Bits>
void RoundTripRandomBits(DataType type, Bits mask, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> values;
  while (values.size() < 100000) {
    const auto bits = static_cast<Bits>(rng() & mask);
    const T v = std::bit_cast<T>(bits);
    if (std::isfinite(v)) values.push_back(v);
  }
  const std::vector<Tensor> outputs = {MakeTensor<T>("v", type, {static_cast<int64_t>(values.size())}, values)};
  ExpectSameTensors(RoundTrip(outputs), outputs);
}

TEST(V2EncodeTest, FloatFormattingRoundTripsExactly) {
  RoundTripRandomBits<float, uint32_t>(DataType::kFp32, 0xffffffffu, 1);
  RoundTripRandomBits<double, uint64_t>(DataType::kFp64, ~uint64_t{0}, 2);
}

// The one float whose shortest decimal misrounds when read through a double (found
// by an exhaustive search over all floats); see WriteFloat.
TEST(V2EncodeTest, DoubleRoundingTrapFloatRoundTrips) {
  const float trap = std::bit_cast<float>(uint32_t{0x15ae43fd});
  const std::vector<Tensor> outputs = {MakeTensor<float>("t", DataType::kFp32, {2}, {trap, -trap})};
  ExpectSameTensors(RoundTrip(outputs), outputs);
}

TEST(V2EncodeTest, EveryFp16ValueRoundTrips) {
  std::vector<uint16_t> halves;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) != 0x7c00) halves.push_back(static_cast<uint16_t>(h));  // Finite only.
  }
  const std::vector<Tensor> outputs = {
      MakeTensor<uint16_t>("h", DataType::kFp16, {static_cast<int64_t>(halves.size())}, halves)};
  ExpectSameTensors(RoundTrip(outputs), outputs);
}

TEST(JsonQuoteTest, EscapesPerRfc8259) {
  EXPECT_EQ(JsonQuote(""), R"("")");
  EXPECT_EQ(JsonQuote("abc"), R"("abc")");
  EXPECT_EQ(JsonQuote("\"\\/"), R"("\"\\/")");
  EXPECT_EQ(JsonQuote("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(JsonQuote(std::string_view("\0\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
  EXPECT_EQ(JsonQuote("é€😀"), "\"é€😀\"");
}

TEST(JsonQuoteTest, InvalidUtf8BecomesReplacementCharacters) {
  const std::string r = "\xef\xbf\xbd";
  EXPECT_EQ(JsonQuote("\x80"), "\"" + r + "\"");                  // Lone continuation.
  EXPECT_EQ(JsonQuote("a\xc0\x80z"), "\"a" + r + r + "z\"");      // Overlong NUL.
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), "\"" + r + r + r + "\"");  // Surrogate.
  EXPECT_EQ(JsonQuote("\xe2\x82"), "\"" + r + "\"");              // Truncated: one maximal subpart.
  EXPECT_EQ(JsonQuote("\xe2\x82x"), "\"" + r + "x\"");
  EXPECT_EQ(JsonQuote("\xf4\x90\x80\x80"), "\"" + r + r + r + r + "\"");  // Above U+10FFFF.
  EXPECT_EQ(JsonQuote("\xf5\xff"), "\"" + r + r + "\"");
  EXPECT_EQ(JsonQuote("\xf0\x9f\x98"), "\"" + r + "\"");
  // Whatever goes in, the result is valid JSON that simdjson accepts.
  std::mt19937 rng(7);
  simdjson::dom::parser parser;
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 16, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    const std::string quoted = "[" + JsonQuote(s) + "]";
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(quoted).get(e), simdjson::SUCCESS) << quoted;
  }
}

TEST(Fp16Test, KnownConversions) {
  using runtime::DoubleToHalf;
  EXPECT_EQ(DoubleToHalf(0.0), 0x0000);
  EXPECT_EQ(DoubleToHalf(-0.0), 0x8000);
  EXPECT_EQ(DoubleToHalf(1.0), 0x3c00);
  EXPECT_EQ(DoubleToHalf(-2.0), 0xc000);
  EXPECT_EQ(DoubleToHalf(0.1), 0x2e66);
  EXPECT_EQ(DoubleToHalf(1.0 / 3), 0x3555);
  EXPECT_EQ(DoubleToHalf(65504.0), 0x7bff);
  EXPECT_EQ(DoubleToHalf(65519.99), 0x7bff);
  EXPECT_EQ(DoubleToHalf(65520.0), std::nullopt);
  EXPECT_EQ(DoubleToHalf(1e300), std::nullopt);
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -14)), 0x0400);  // Smallest normal.
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -24)), 0x0001);  // Smallest subnormal.
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.0, -25)), 0x0000);  // Tie: to even (zero).
  EXPECT_EQ(DoubleToHalf(std::ldexp(1.5, -25)), 0x0001);
  EXPECT_EQ(DoubleToHalf(std::ldexp(3.0, -25)), 0x0002);        // Tie 1.5 ulp: to even (2).
  EXPECT_EQ(DoubleToHalf(std::ldexp(1023.5, -24)), 0x0400);     // Rounds up into the normal range.
  EXPECT_EQ(DoubleToHalf(1.0 + std::ldexp(1.0, -11)), 0x3c00);  // Tie: to even.
  EXPECT_EQ(DoubleToHalf(1.0 + 3 * std::ldexp(1.0, -11)), 0x3c02);
  EXPECT_EQ(DoubleToHalf(1.0 + std::ldexp(1.0, -11) + 1e-12), 0x3c01);  // Just above the tie.
  EXPECT_EQ(DoubleToHalf(1e-30), 0x0000);
  EXPECT_EQ(DoubleToHalf(5e-324), 0x0000);
  EXPECT_EQ(DoubleToHalf(std::numeric_limits<double>::infinity()), 0x7c00);
  EXPECT_EQ(DoubleToHalf(-std::numeric_limits<double>::infinity()), 0xfc00);
  EXPECT_EQ(DoubleToHalf(std::nan("")), 0x7e00);
  EXPECT_EQ(runtime::HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(runtime::HalfToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(runtime::HalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(runtime::HalfToFloat(0xc000), -2.0f);
  EXPECT_TRUE(std::isnan(runtime::HalfToFloat(0x7e00)));
}

#if defined(__FLT16_MAX__)
// The compiler's _Float16 conversions are correctly rounded: compare with them.
TEST(Fp16Test, MatchesCompilerConversions) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto half = std::bit_cast<_Float16>(static_cast<uint16_t>(h));
    const float f = runtime::HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f, static_cast<float>(half)) << h;
    // Midpoints between neighbours exercise ties.
    const double next = static_cast<double>(runtime::HalfToFloat(static_cast<uint16_t>(h + 1)));
    if ((h & 0x7fff) < 0x7bff && std::isfinite(next)) {
      const double mid = (static_cast<double>(f) + next) / 2;
      const auto ours = runtime::DoubleToHalf(mid);
      ASSERT_TRUE(ours.has_value());
      EXPECT_EQ(*ours, std::bit_cast<uint16_t>(static_cast<_Float16>(mid))) << h;
    }
  }
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000000; ++i) {
    // Random doubles concentrated on the binary16 range.
    const double d =
        std::ldexp(static_cast<double>(rng() >> 11) / 9007199254740992.0, static_cast<int>(rng() % 44) - 28) *
        ((rng() & 1) ? -1 : 1);
    const auto ours = runtime::DoubleToHalf(d);
    const uint16_t theirs = std::bit_cast<uint16_t>(static_cast<_Float16>(d));
    if (!ours) {
      EXPECT_EQ(theirs & 0x7fff, 0x7c00) << d;
    } else {
      EXPECT_EQ(*ours, theirs) << d;
    }
  }
}
#endif

// The size limit is exact, holds for JSON, binary and BYTES outputs, and an
// output whose smallest encoding is already over it is refused up front.
TEST(EncodeResponseLimitTest, RefusesExactlyPastTheLimit) {
  std::vector<float> values(5000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 1.0f / static_cast<float>(i + 3);
  const std::vector<Tensor> json = {MakeTensor("y", DataType::kFp32, {5000}, values)};
  const std::vector<Tensor> bytes = {BytesTensor("s", {"alpha", std::string(3000, 'b'), "gamma"})};
  for (const auto& [outputs, binary] : {std::pair{json, std::vector<bool>{}}, std::pair{json, std::vector<bool>{true}},
                                        std::pair{bytes, std::vector<bool>{}}}) {
    const auto full = EncodeInferResponse("m", "1", std::nullopt, outputs, binary);
    ASSERT_OK(full);
    const uint64_t size = full->body.size();
    const auto at = EncodeInferResponse("m", "1", std::nullopt, outputs, binary, size);
    ASSERT_OK(at);
    EXPECT_EQ(at->body, full->body);
    EXPECT_STATUS_IS(EncodeInferResponse("m", "1", std::nullopt, outputs, binary, size - 1), StatusCode::kTooLarge);
  }
  // JSON is about 4 times its binary form here: a limit between the two lets
  // only the binary response through.
  EXPECT_OK(EncodeInferResponse("m", "1", std::nullopt, json, {true}, 30000));
  EXPECT_STATUS_IS(EncodeInferResponse("m", "1", std::nullopt, json, {}, 30000), StatusCode::kTooLarge);
}

TEST(EncodeResponseLimitTest, AHugeOutputIsRefusedBeforeItIsEncoded) {
  // 2^26 elements need at least 2^27 bytes of JSON: refused at once, with no
  // buffer of that size ever allocated (ASan would show the allocation).
  Tensor big{"y", DataType::kUint8, {1 << 26}, std::vector<uint8_t>(1 << 26)};
  EXPECT_STATUS_IS(EncodeInferResponse("m", "1", std::nullopt, std::vector<Tensor>{big}, {}, 1 << 20),
                   StatusCode::kTooLarge);
}

}  // namespace
}  // namespace aegis::api
