#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "scan_test_util.h"

namespace aegis::scan {
namespace {

using testing::Describe;
using testing::HasFinding;
using testing::Proto;
using testing::Span;

Proto Tensor(const std::string& name, const std::string& location) {
  Proto t;
  t.Varint(1, 2).Varint(2, 1).Bytes(8, name);
  if (!location.empty()) t.Message(13, Proto().Bytes(1, "location").Bytes(2, location)).Varint(14, 1);
  return t;
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
