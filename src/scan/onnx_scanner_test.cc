#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "scan_test_util.h"

namespace aegis::scan {
namespace {

using testing::Describe;
using testing::HasFinding;
using testing::Proto;
using testing::Span;

// A FLOAT tensor of shape [2]: inline (8 bytes of raw_data) or stored at `location`.
Proto Tensor(const std::string& name, const std::string& location) {
  Proto t;
  t.Varint(1, 2).Varint(2, 1).Bytes(8, name);
  if (location.empty()) t.Bytes(9, std::string(8, '\0'));
  if (!location.empty()) t.Message(13, Proto().Bytes(1, "location").Bytes(2, location)).Varint(14, 1);
  return t;
}

// A tensor with the given dims and type, and whatever data `fill` adds.
Proto Shaped(std::initializer_list<int64_t> dims, uint64_t type) {
  Proto t;
  for (int64_t d : dims) t.Varint(1, static_cast<uint64_t>(d));
  t.Varint(2, type).Bytes(8, "t");
  return t;
}

std::string Packed(const std::vector<uint64_t>& values) {
  Proto p;
  for (uint64_t v : values) p.Varint(1, v);
  std::string s = p.str();
  std::string out;
  for (size_t i = 0; i < s.size();) {  // drop the field keys, keep the varints
    ++i;
    while (static_cast<uint8_t>(s[i]) & 0x80) out += s[i++];
    out += s[i++];
  }
  return out;
}

std::string Model(const Proto& graph, const std::string& opset_domain = "") {
  Proto model;
  model.Varint(1, 8).Bytes(2, "test").Message(7, graph).Message(8, Proto().Bytes(1, opset_domain).Varint(2, 13));
  return model.str();
}

Proto ReluNode(const std::string& domain = "") {
  Proto node;
  node.Bytes(1, "x").Bytes(2, "y").Bytes(3, "relu0").Bytes(4, "Relu");
  if (!domain.empty()) node.Bytes(7, domain);
  return node;
}

ScanReport Scan(const std::string& bytes) {
  auto report = ScanBytes(Span(bytes));
  EXPECT_OK(report);
  if (!report.ok()) return {};
  EXPECT_EQ(report->format, Format::kOnnx);
  return *report;
}

TEST(OnnxScanner, ExampleIsClean) {
  ScanReport report = Scan(testing::ReadExample("mlp.onnx"));
  EXPECT_TRUE(report.clean()) << Describe(report);
}

TEST(OnnxScanner, SimpleModelIsClean) {
  EXPECT_TRUE(Scan(Model(Proto().Message(1, ReluNode()).Message(5, Tensor("w", "")))).clean());
}

TEST(OnnxScanner, ExternalDataInASingleArtifact) {
  ScanReport report = Scan(Model(Proto().Message(1, ReluNode()).Message(5, Tensor("w", "weights.bin"))));
  EXPECT_TRUE(HasFinding(report, "a single artifact cannot carry it")) << Describe(report);
  EXPECT_EQ(report.findings.front().location, "graph.initializer 'w'");
}

TEST(OnnxScanner, ExternalDataEscapingTheFolder) {
  ScanReport up = Scan(Model(Proto().Message(5, Tensor("w", "../../etc/passwd"))));
  EXPECT_TRUE(HasFinding(up, "escapes the model folder ('..' path component)")) << Describe(up);
  EXPECT_EQ(up.findings.front().severity, Severity::kCritical);
  ScanReport absolute = Scan(Model(Proto().Message(5, Tensor("w", "/etc/passwd"))));
  EXPECT_TRUE(HasFinding(absolute, "escapes the model folder (absolute path)"));
  // Also in sparse initializers and in node attribute tensors.
  Proto sparse;
  sparse.Message(1, Tensor("v", "../v.bin")).Message(2, Tensor("i", ""));
  EXPECT_TRUE(HasFinding(Scan(Model(Proto().Message(15, sparse))), "escapes the model folder"));
  Proto node = ReluNode();
  node.Message(5, Proto().Bytes(1, "value").Message(5, Tensor("c", "..\\c.bin")).Varint(20, 4));
  EXPECT_TRUE(HasFinding(Scan(Model(Proto().Message(1, node))), "escapes the model folder (backslash in path)"));
}

TEST(OnnxScanner, CustomDomains) {
  ScanReport node = Scan(Model(Proto().Message(1, ReluNode("com.evil"))));
  EXPECT_TRUE(HasFinding(node, "custom operator domain 'com.evil' is not known to the engine")) << Describe(node);
  EXPECT_EQ(node.findings.front().severity, Severity::kMedium);
  EXPECT_TRUE(HasFinding(Scan(Model(Proto().Message(1, ReluNode()), "ai.onnx.ml")), "domain 'ai.onnx.ml'"));
  EXPECT_TRUE(Scan(Model(Proto().Message(1, ReluNode("ai.onnx")), "ai.onnx")).clean());
  Proto model;
  model.Varint(1, 8)
      .Message(7, Proto().Message(1, ReluNode()))
      .Message(25, Proto().Bytes(1, "f").Bytes(10, "local.funcs").Message(7, ReluNode()));
  EXPECT_TRUE(HasFinding(Scan(model.str()), "domain 'local.funcs'"));
}

TEST(OnnxScanner, SubgraphsAreWalkedAndDepthIsBounded) {
  Proto inner = Proto().Message(5, Tensor("deep", "../x"));
  for (int i = 0; i < 3; ++i) {
    Proto node;
    node.Bytes(4, "If").Message(5, Proto().Bytes(1, "then_branch").Message(6, inner).Varint(20, 5));
    inner = Proto().Message(1, node);
  }
  EXPECT_TRUE(HasFinding(Scan(Model(inner)), "escapes the model folder"));
  for (int i = 0; i < 40; ++i) {
    Proto node;
    node.Bytes(4, "If").Message(5, Proto().Bytes(1, "then_branch").Message(6, inner).Varint(20, 5));
    inner = Proto().Message(1, node);
  }
  EXPECT_TRUE(HasFinding(Scan(Model(inner)), "nests deeper than 64 levels"));
}

ScanReport ScanInitializer(const Proto& tensor) { return Scan(Model(Proto().Message(5, tensor))); }

TEST(OnnxTensors, DataMustMatchTheDeclaredShape) {
  // The OpenCV crash: a [1000, 1000] FLOAT initializer with 16 bytes of raw_data.
  ScanReport short_raw = ScanInitializer(Shaped({1000, 1000}, 1).Bytes(9, std::string(16, 'x')));
  EXPECT_TRUE(HasFinding(short_raw, "a FLOAT tensor of shape [1000, 1000] needs 4000000 bytes, raw_data holds 16"))
      << Describe(short_raw);
  EXPECT_EQ(short_raw.findings.front().severity, Severity::kCritical);
  EXPECT_EQ(short_raw.findings.front().location, "graph.initializer 't'");
  EXPECT_TRUE(ScanInitializer(Shaped({2, 3}, 7).Bytes(9, std::string(48, 'x'))).clean());
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({2, 3}, 7).Bytes(9, std::string(49, 'x'))), "raw_data holds 49"));
  // Typed fields: packed or not, and only the one the type uses.
  EXPECT_TRUE(ScanInitializer(Shaped({3}, 1).Bytes(4, std::string(12, 'x'))).clean());
  EXPECT_TRUE(ScanInitializer(Shaped({2}, 7).Bytes(7, Packed({1, 1ull << 40}))).clean());
  EXPECT_TRUE(ScanInitializer(Shaped({2}, 6).Varint(5, 1).Varint(5, 2)).clean());
  EXPECT_TRUE(ScanInitializer(Shaped({2}, 8).Bytes(6, "a").Bytes(6, "bc")).clean());
  EXPECT_TRUE(ScanInitializer(Shaped({1}, 14).Bytes(4, std::string(8, 'x'))).clean());  // complex: two floats
  EXPECT_TRUE(
      HasFinding(ScanInitializer(Shaped({4}, 1).Bytes(4, std::string(12, 'x'))), "needs 4 values, float_data holds 3"));
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({5}, 6).Bytes(5, Packed({1, 2}))), "int32_data holds 2"));
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({1}, 7).Bytes(4, std::string(4, 'x'))),
                         "keeps data in float_data, which a INT64 tensor does not use"));
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({1}, 1).Bytes(4, std::string(4, 'x')).Bytes(9, std::string(4, 'x'))),
                         "both raw_data and typed data"));
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({8}, 1)), "needs 8 values, float_data holds 0"));
  EXPECT_TRUE(ScanInitializer(Shaped({0, 8}, 1)).clean());  // no elements, no data
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({1}, 8).Bytes(9, "x")), "of type STRING carries raw_data"));
}

TEST(OnnxTensors, DimensionsAndTypes) {
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({2, -3}, 1)), "dimension -3 is negative"));
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({1ll << 31}, 1)), "does not fit in 32 bits"));
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({1 << 30, 1 << 30}, 1)), "declares more than 17179869184 bytes"));
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({1 << 30, 1 << 30, 1 << 30}, 1)), "multiply past 2^64"));
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({2}, 99)), "element type 99 is not a known ONNX type"));
  EXPECT_TRUE(HasFinding(ScanInitializer(Shaped({2}, 1).Message(3, Proto().Varint(1, 0))), "segmented"));
  // Attribute tensors (Constant nodes) are tensors too.
  Proto node = ReluNode();
  node.Message(5, Proto().Bytes(1, "value").Message(5, Shaped({4}, 1).Bytes(9, "x")).Varint(20, 4));
  EXPECT_TRUE(HasFinding(Scan(Model(Proto().Message(1, node))), "raw_data holds 1"));
}

TEST(OnnxTensors, SparseInitializers) {
  auto sparse = [](int64_t index) {
    Proto values = Shaped({2}, 1).Bytes(9, std::string(8, 'x'));
    Proto indices = Shaped({2}, 7).Bytes(7, Packed({1, static_cast<uint64_t>(index)}));
    Proto s;
    s.Message(1, values).Message(2, indices).Varint(3, 3).Varint(3, 4);
    return Scan(Model(Proto().Message(15, s)));
  };
  EXPECT_TRUE(sparse(11).clean()) << Describe(sparse(11));
  ScanReport out = sparse(12);
  EXPECT_TRUE(HasFinding(out, "sparse tensor index 12 lies outside its dense shape [3, 4]")) << Describe(out);
}

TEST(OnnxTensors, ExternalTensorsTogetherAreBounded) {
  ScanLimits limits;
  limits.max_tensor_bytes = 100;
  Proto graph;
  for (int i = 0; i < 20; ++i) {
    Proto t = Shaped({2}, 1);
    t.Message(13, Proto().Bytes(1, "location").Bytes(2, "w.bin")).Varint(14, 1);
    graph.Message(5, t);
  }
  auto report = ScanBytes(Span(Model(graph)), limits);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(HasFinding(*report, "external tensors declare more than 100 bytes in total")) << Describe(*report);
}

TEST(OnnxScanner, TruncatedOrMalformedCannotBeScanned) {
  std::string model = testing::ReadExample("mlp.onnx");
  EXPECT_FALSE(ScanBytes(Span(model.substr(0, model.size() / 2))).ok());
  // Top level valid, a nested message broken: detected as ONNX, then a Status.
  Proto graph;
  graph.Bytes(1, std::string("\x0a\xff", 2));
  auto report = ScanBytes(Span(Model(graph)));
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("malformed ONNX model"), std::string::npos);
}

}  // namespace
}  // namespace aegis::scan
