// The worker protocol's encoders and its decoders of untrusted bytes.
#include "worker_protocol.h"

#include <cstring>

#include <gtest/gtest.h>

namespace aegis::runtime::worker {
namespace {

std::vector<uint8_t> Bytes(std::initializer_list<float> values) {
  std::vector<uint8_t> out(values.size() * sizeof(float));
  std::memcpy(out.data(), values.begin(), out.size());
  return out;
}

std::vector<uint8_t> BytesElements(std::initializer_list<std::string_view> elements) {
  std::vector<uint8_t> out;
  for (std::string_view e : elements) {
    const uint32_t n = static_cast<uint32_t>(e.size());
    out.insert(out.end(), reinterpret_cast<const uint8_t*>(&n), reinterpret_cast<const uint8_t*>(&n) + 4);
    out.insert(out.end(), e.begin(), e.end());
  }
  return out;
}

// A 64-aligned buffer, as the arena's areas are.
struct Buffer {
  explicit Buffer(size_t n) : storage(n + 64) {
    const auto address = reinterpret_cast<uintptr_t>(storage.data());
    offset = (64 - address % 64) % 64;
  }
  std::span<uint8_t> span() { return {storage.data() + offset, storage.size() - 64}; }
  std::vector<uint8_t> storage;
  size_t offset = 0;
};

TEST(WorkerProtocolTest, TensorListRoundTrip) {
  const std::vector<uint8_t> floats = Bytes({1.5f, -2.0f, 3.25f, 4.0f, 5.0f, 6.0f});
  const std::vector<uint8_t> strings = BytesElements({"alpha", "", "\xce\xbb"});
  const std::vector<uint8_t> scalar = Bytes({7.0f});
  const std::vector<TensorView> in = {{"input", DataType::kFp32, {2, 3}, floats},
                                      {"text", DataType::kBytes, {3}, strings},
                                      {"empty", DataType::kInt64, {0, 4}, {}},
                                      {"scalar", DataType::kFp32, {}, scalar}};  // rank 0 (found by the fuzzer)
  Buffer buffer(4096);
  auto written = EncodeTensorList(in, buffer.span());
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(*written, *EncodedTensorListSize(in));
  auto decoded = DecodeTensorList(buffer.span().first(*written));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ASSERT_EQ(decoded->views.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const TensorView& got = decoded->views[i];
    EXPECT_EQ(got.name, in[i].name);
    EXPECT_EQ(got.datatype, in[i].datatype);
    EXPECT_EQ(got.shape, in[i].shape);
    ASSERT_EQ(got.data.size(), in[i].data.size());
    EXPECT_TRUE(std::equal(got.data.begin(), got.data.end(), in[i].data.begin()));
  }
  // Fixed-size data is read in place (no copy), 64-aligned for the engines.
  EXPECT_GE(decoded->views[0].data.data(), buffer.span().data());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(decoded->views[0].data.data()) % kTensorAlignment, 0u);
}

TEST(WorkerProtocolTest, EncodeRefusesWhatDoesNotFit) {
  const std::vector<uint8_t> floats = Bytes({1, 2, 3, 4});
  const std::vector<TensorView> in = {{"x", DataType::kFp32, {4}, floats}};
  Buffer buffer(64);
  EXPECT_EQ(EncodeTensorList(in, buffer.span()).status().code(), StatusCode::kTooLarge);
}

// Every way a hostile worker can lie about a tensor list is refused.
TEST(WorkerProtocolTest, DecodeRefusesLies) {
  const std::vector<uint8_t> floats = Bytes({1, 2, 3, 4});
  const std::vector<TensorView> in = {{"x", DataType::kFp32, {4}, floats}};
  Buffer buffer(1024);
  const uint64_t size = *EncodeTensorList(in, buffer.span());
  const std::vector<uint8_t> good(buffer.span().begin(), buffer.span().begin() + static_cast<std::ptrdiff_t>(size));
  ASSERT_TRUE(DecodeTensorList(good).ok());

  auto mutate = [&](size_t offset, std::vector<uint8_t> bytes) {
    std::vector<uint8_t> bad = good;
    std::memcpy(bad.data() + offset, bytes.data(), bytes.size());
    return DecodeTensorList(bad).status();
  };
  // Entry layout: list header 8 bytes, then name length (2), datatype (1), rank (1),
  // reserved (4), data offset (8), data bytes (8), dims.
  EXPECT_FALSE(mutate(0, {0xff, 0xff, 0, 0}).ok());                                 // count above the limit
  EXPECT_FALSE(mutate(0, {2, 0, 0, 0}).ok());                                       // more entries than bytes
  EXPECT_FALSE(mutate(10, {0}).ok());                                               // datatype code 0
  EXPECT_FALSE(mutate(10, {99}).ok());                                              // unknown datatype
  EXPECT_FALSE(mutate(11, {17}).ok());                                              // rank above 16
  EXPECT_FALSE(mutate(8, {0, 0}).ok());                                             // empty name
  EXPECT_FALSE(mutate(16, {1, 0, 0, 0, 0, 0, 0, 0}).ok());                          // misaligned data
  EXPECT_FALSE(mutate(16, {0, 0, 0, 0, 0, 0, 0, 0x40}).ok());                       // data far out of bounds
  EXPECT_FALSE(mutate(24, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}).ok());  // offset + bytes overflows
  EXPECT_FALSE(mutate(24, {8, 0, 0, 0, 0, 0, 0, 0}).ok());                          // bytes do not match the shape
  EXPECT_FALSE(mutate(32, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}).ok());  // negative dimension
  EXPECT_FALSE(mutate(40, {0xff}).ok());                                            // name not UTF-8
  EXPECT_FALSE(DecodeTensorList(std::span<const uint8_t>(good).first(20)).ok());    // truncated
  EXPECT_FALSE(DecodeTensorList({}).ok());
}

TEST(WorkerProtocolTest, DecodeRefusesRepeatedNamesAndBadBytes) {
  const std::vector<uint8_t> floats = Bytes({1});
  const std::vector<TensorView> twice = {{"x", DataType::kFp32, {1}, floats}, {"x", DataType::kFp32, {1}, floats}};
  Buffer buffer(1024);
  uint64_t size = *EncodeTensorList(twice, buffer.span());
  EXPECT_FALSE(DecodeTensorList(buffer.span().first(size)).ok());

  // BYTES whose length prefix runs past its data.
  std::vector<uint8_t> strings = BytesElements({"abc"});
  strings[0] = 9;
  const std::vector<TensorView> bad = {{"s", DataType::kBytes, {1}, strings}};
  size = *EncodeTensorList(bad, buffer.span());
  EXPECT_FALSE(DecodeTensorList(buffer.span().first(size)).ok());
}

TEST(WorkerProtocolTest, ResponsesRoundTrip) {
  Buffer buffer(4096);
  const std::vector<uint8_t> floats = Bytes({0.25f, 0.75f});
  const std::vector<TensorView> out = {{"output", DataType::kFp32, {1, 2}, floats}};
  auto size = EncodeSuccess(out, buffer.span());
  ASSERT_TRUE(size.ok());
  auto ok = DecodeResponse(buffer.span().first(*size));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->status, ResponseStatus::kOk);
  ASSERT_EQ(ok->outputs.views.size(), 1u);
  EXPECT_EQ(ok->outputs.views[0].name, "output");

  const uint64_t n = EncodeFailure(ResponseStatus::kInvalidInput, "public", "mat1 and mat2 shapes", buffer.span());
  auto failed = DecodeResponse(buffer.span().first(n));
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status, ResponseStatus::kInvalidInput);
  EXPECT_EQ(failed->public_message, "public");
  EXPECT_EQ(failed->detail, "mat1 and mat2 shapes");

  std::vector<uint8_t> unknown(buffer.span().begin(), buffer.span().begin() + static_cast<std::ptrdiff_t>(n));
  unknown[0] = 9;
  EXPECT_FALSE(DecodeResponse(unknown).ok());
  std::vector<uint8_t> overlong(buffer.span().begin(), buffer.span().begin() + static_cast<std::ptrdiff_t>(n));
  overlong[4] = 0xff;  // public message longer than the response
  EXPECT_FALSE(DecodeResponse(overlong).ok());
}

TEST(WorkerProtocolTest, FramesArriveInPieces) {
  std::string stream;
  AppendFrame(MessageType::kHello, R"({"protocol":1})", stream);
  AppendFrame(MessageType::kViolation, R"({"syscall":257})", stream);
  FrameReader reader;
  std::vector<FrameReader::Frame> frames;
  for (char c : stream) {  // one byte at a time
    reader.Feed({reinterpret_cast<const uint8_t*>(&c), 1});
    auto frame = reader.Next();
    ASSERT_TRUE(frame.ok());
    if (frame->has_value()) frames.push_back(std::move(**frame));
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].type, MessageType::kHello);
  EXPECT_EQ(frames[1].payload, R"({"syscall":257})");
}

TEST(WorkerProtocolTest, FramesRefuseBadHeaders) {
  for (const std::string& bad : {std::string("\x00\x00\x00\x00\x01", 5), std::string("\xff\xff\xff\x7f\x01", 5),
                                 std::string("\x02\x00\x00\x00\x63x", 6)}) {
    FrameReader reader;
    reader.Feed({reinterpret_cast<const uint8_t*>(bad.data()), bad.size()});
    EXPECT_FALSE(reader.Next().ok());
  }
}

TEST(WorkerProtocolTest, SignatureRoundTripAndChecks) {
  LoadedModel model;
  model.platform = "pytorch_libtorch";
  model.signature.inputs.push_back({"x", DataType::kFp32, {}, false, false});
  model.signature.outputs.push_back({"output", DataType::kFp16, {-1, 3}, true, true});
  auto parsed = ParseSignatureJson(SignatureJson(model));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->platform, "pytorch_libtorch");
  EXPECT_FALSE(parsed->signature.inputs[0].rank_known);
  EXPECT_EQ(parsed->signature.outputs[0].shape, (std::vector<int64_t>{-1, 3}));
  EXPECT_EQ(parsed->signature.outputs[0].datatype, DataType::kFp16);

  EXPECT_FALSE(ParseSignatureJson(R"({"platform":"p","inputs":[{"name":"x","datatype":"FP32","shape":[-2],)"
                                  R"("rank_known":true,"datatype_fixed":true}],"outputs":[]})")
                   .ok());
  EXPECT_FALSE(ParseSignatureJson(R"({"platform":"p","inputs":[],"outputs":[{"name":"y","datatype":"FP128",)"
                                  R"("shape":[],"rank_known":true,"datatype_fixed":true}]})")
                   .ok());
  EXPECT_FALSE(ParseSignatureJson(R"({"platform":"","inputs":[],"outputs":[]})").ok());
  EXPECT_FALSE(ParseSignatureJson("not json").ok());
  // Missing or mistyped parts are errors, not exceptions (found by the fuzzer).
  EXPECT_FALSE(ParseSignatureJson(R"({"platform":"p","inputs":[]})").ok());
  EXPECT_FALSE(ParseSignatureJson(R"({"platform":"p","outputs":[]})").ok());
  EXPECT_FALSE(ParseSignatureJson(R"({"platform":"p","inputs":{},"outputs":7})").ok());
  EXPECT_FALSE(ParseSignatureJson(R"([1,2,3])").ok());
}

TEST(WorkerProtocolTest, ArenaLayoutChecks) {
  const ArenaHeader layout = ArenaLayout(1000, 5000);
  EXPECT_EQ(layout.request_offset, kArenaHeaderBytes);
  EXPECT_EQ(layout.request_capacity, 4096u);
  EXPECT_EQ(layout.response_capacity, 8192u);
  EXPECT_TRUE(CheckArenaLayout(layout, layout.arena_bytes).ok());
  EXPECT_FALSE(CheckArenaLayout(layout, layout.arena_bytes - 1).ok());
  ArenaHeader overlapping = layout;
  overlapping.response_offset = layout.request_offset;
  EXPECT_FALSE(CheckArenaLayout(overlapping, layout.arena_bytes).ok());
}

TEST(WorkerProtocolTest, StreamRequestFrameCarriesTheTensorList) {
  const std::vector<uint8_t> floats = Bytes({1.0f, 2.0f});
  const std::vector<TensorView> in = {{"x", DataType::kFp32, {1, 2}, floats}};
  std::string out;
  ASSERT_TRUE(AppendStreamRequest(42, in, 4096, out).ok());
  FrameReader reader(1 << 20);
  reader.Feed({reinterpret_cast<const uint8_t*>(out.data()), out.size()});
  auto frame = reader.Next();
  ASSERT_TRUE(frame.ok() && frame->has_value());
  EXPECT_EQ((*frame)->type, MessageType::kRequest);
  const std::string& payload = (*frame)->payload;
  uint64_t seq = 0;
  std::memcpy(&seq, payload.data(), 8);
  EXPECT_EQ(seq, 42u);
  auto list = DecodeTensorList(
      {reinterpret_cast<const uint8_t*>(payload.data()) + kStreamHeaderBytes, payload.size() - kStreamHeaderBytes});
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list->views[0].shape, (std::vector<int64_t>{1, 2}));
  // Over the request limit: refused, nothing appended.
  std::string small;
  EXPECT_EQ(AppendStreamRequest(1, in, 64, small).code(), StatusCode::kTooLarge);
  EXPECT_TRUE(small.empty());
}

TEST(WorkerProtocolTest, StreamResponseDecodesWithItsSequenceNumber) {
  const std::vector<uint8_t> floats = Bytes({3.0f});
  const std::vector<TensorView> outputs = {{"y", DataType::kFp32, {1}, floats}};
  Buffer buffer(4096);
  std::span<uint8_t> area = buffer.span();
  const uint64_t seq = 7;
  std::memset(area.data(), 0, kStreamHeaderBytes);
  std::memcpy(area.data(), &seq, 8);
  auto written = EncodeSuccess(outputs, area.subspan(kStreamHeaderBytes));
  ASSERT_TRUE(written.ok());
  auto decoded = DecodeStreamResponse(area.first(kStreamHeaderBytes + *written));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->seq, 7u);
  EXPECT_EQ(decoded->response.outputs.views.at(0).name, "y");
  EXPECT_FALSE(DecodeStreamResponse(area.first(10)).ok());
}

TEST(WorkerProtocolTest, TensorFramesNeedTheStreamTransportAndFitItsLimit) {
  std::string frame;
  AppendFrame(MessageType::kResponse, std::string(100, '\0'), frame);
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(frame.data()), frame.size());
  FrameReader arena;  // the arena transport: a kResponse frame is not the protocol
  arena.Feed(bytes);
  EXPECT_FALSE(arena.Next().ok());
  FrameReader tight(64);  // over the limit
  tight.Feed(bytes);
  EXPECT_FALSE(tight.Next().ok());
  FrameReader stream(1024);
  stream.Feed(bytes);
  auto next = stream.Next();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->payload.size(), 100u);
  // Control messages keep their own limit.
  std::string big;
  AppendFrame(MessageType::kLog, std::string(kMaxFramePayload + 1, 'x'), big);
  FrameReader roomy(1u << 30);
  roomy.Feed({reinterpret_cast<const uint8_t*>(big.data()), big.size()});
  EXPECT_FALSE(roomy.Next().ok());
}

}  // namespace
}  // namespace aegis::runtime::worker
