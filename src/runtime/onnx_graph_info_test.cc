#include "onnx_graph_info.h"

#include <random>

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "runtime_test_util.h"

namespace aegis::runtime {
namespace {

using Bytes = std::vector<uint8_t>;

// Tiny protobuf encoders for hand-built (and hand-broken) models.
Bytes Varint(uint64_t v) {
  Bytes out;
  do {
    uint8_t byte = v & 0x7F;
    v >>= 7;
    out.push_back(byte | (v ? 0x80 : 0));
  } while (v);
  return out;
}
Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes Len(uint32_t field, const Bytes& payload) {
  return Cat({Varint(field << 3 | 2), Varint(payload.size()), payload});
}
Bytes Str(uint32_t field, const std::string& s) { return Len(field, Bytes(s.begin(), s.end())); }
Bytes Int(uint32_t field, uint64_t v) { return Cat({Varint(field << 3), Varint(v)}); }

Bytes ValueInfo(const std::string& name, int elem_type, const std::vector<int64_t>& dims) {
  Bytes shape;
  for (int64_t d : dims) shape = Cat({shape, Len(1, d >= 0 ? Int(1, d) : Str(2, "batch"))});
  return Cat({Str(1, name), Len(2, Len(1, Cat({Int(1, elem_type), Len(2, shape)})))});
}

TEST(OnnxGraphInfoTest, ReadsTheExampleMlp) {
  Bytes model = testing::ReadExampleBytes("mlp.onnx");
  StatusOr<OnnxGraphInfo> info = ReadOnnxGraphInfo(model);
  ASSERT_OK(info);
  ASSERT_EQ(info->inputs.size(), 1u);  // the four weight initializers are not inputs
  EXPECT_EQ(info->inputs[0].name, "input");
  EXPECT_TRUE(info->inputs[0].is_tensor);
  EXPECT_EQ(info->inputs[0].elem_type, kOnnxFloat);
  EXPECT_EQ(info->inputs[0].dims, (std::vector<int64_t>{-1, 4}));
  ASSERT_EQ(info->outputs.size(), 1u);
  EXPECT_EQ(info->outputs[0].name, "output");
  EXPECT_EQ(info->outputs[0].dims, (std::vector<int64_t>{-1, 3}));
}

TEST(OnnxGraphInfoTest, HandBuiltGraphSkipsInitializersAndUnknownFields) {
  Bytes initializer = Cat({Int(1, 2), Str(8, "w")});  // TensorProto dims + name
  Bytes graph = Cat({Str(2, "g"), Len(5, initializer), Len(11, ValueInfo("w", kOnnxFloat, {3})),
                     Len(11, ValueInfo("ids", kOnnxInt64, {-1, 7})), Len(12, ValueInfo("out", kOnnxDouble, {})),
                     Cat({Varint(99 << 3 | 5), Bytes{1, 2, 3, 4}}), Cat({Varint(98 << 3 | 1), Bytes(8, 0)})});
  Bytes model = Cat({Int(1, 8), Len(7, graph), Str(2, "producer")});
  StatusOr<OnnxGraphInfo> info = ReadOnnxGraphInfo(model);
  ASSERT_OK(info);
  ASSERT_EQ(info->inputs.size(), 1u);
  EXPECT_EQ(info->inputs[0].name, "ids");
  EXPECT_EQ(info->inputs[0].elem_type, kOnnxInt64);
  EXPECT_EQ(info->inputs[0].dims, (std::vector<int64_t>{-1, 7}));
  ASSERT_EQ(info->outputs.size(), 1u);
  EXPECT_TRUE(info->outputs[0].has_shape);
  EXPECT_TRUE(info->outputs[0].dims.empty());  // a scalar
}

TEST(OnnxGraphInfoTest, RefusesMalformedBytes) {
  auto expect_refused = [](const Bytes& model, const std::string& why) {
    StatusOr<OnnxGraphInfo> info = ReadOnnxGraphInfo(model);
    ASSERT_FALSE(info.ok()) << why;
    EXPECT_STATUS_IS(info, StatusCode::kUnprocessable) << why;
    EXPECT_FALSE(info.status().message().empty());
  };
  expect_refused({}, "empty");
  expect_refused(Int(1, 8), "no graph");
  expect_refused(Bytes(11, 0xFF), "varint longer than 10 bytes");
  expect_refused(Cat({Varint(1 << 3), Bytes(9, 0xFF), Bytes{0x02}}), "varint overflowing 64 bits");
  expect_refused(Cat({Varint(7 << 3 | 2), Varint(1000), Bytes(10, 0)}), "length past the end");
  expect_refused(Cat({Varint(7 << 3 | 2), Varint(~uint64_t{0} >> 1), Bytes(10, 0)}), "huge length");
  expect_refused(Int(7, 5), "graph with the wrong wire type");
  expect_refused(Bytes{0x0B}, "group wire type");
  expect_refused(Bytes{0x00, 0x00}, "field number zero");
  Bytes too_deep_shape;
  for (int i = 0; i < 65; ++i) too_deep_shape = Cat({too_deep_shape, Len(1, Int(1, 1))});
  Bytes value = Cat({Str(1, "x"), Len(2, Len(1, Cat({Int(1, 1), Len(2, too_deep_shape)})))});
  expect_refused(Len(7, Len(11, value)), "rank above the cap");
  Bytes negative_dim = Cat({Str(1, "x"), Len(2, Len(1, Len(2, Len(1, Int(1, ~uint64_t{0})))))});
  expect_refused(Len(7, Len(11, negative_dim)), "negative dimension");
}

// Every prefix of a real model either fails cleanly or yields a subset of its values.
TEST(OnnxGraphInfoTest, SurvivesEveryTruncation) {
  Bytes model = testing::ReadExampleBytes("mlp.onnx");
  ASSERT_FALSE(model.empty());
  for (size_t length = 0; length < model.size(); ++length) {
    Bytes prefix(model.data(), model.data() + length);  // exact-size copy: ASan sees any over-read
    StatusOr<OnnxGraphInfo> info = ReadOnnxGraphInfo(prefix);
    if (info.ok()) {
      EXPECT_LE(info->inputs.size(), 1u);
      EXPECT_LE(info->outputs.size(), 1u);
    } else {
      EXPECT_STATUS_IS(info, StatusCode::kUnprocessable);
    }
  }
}

TEST(OnnxGraphInfoTest, SurvivesRandomByteFlips) {
  Bytes model = testing::ReadExampleBytes("mlp.onnx");
  ASSERT_FALSE(model.empty());
  std::mt19937 rng(1234);
  for (int round = 0; round < 20000; ++round) {
    Bytes mutated = model;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) mutated[rng() % mutated.size()] = static_cast<uint8_t>(rng());
    StatusOr<OnnxGraphInfo> info = ReadOnnxGraphInfo(mutated);
    if (!info.ok()) {
      EXPECT_STATUS_IS(info, StatusCode::kUnprocessable);
    }
  }
}

}  // namespace
}  // namespace aegis::runtime
