#include "aegis/scan/scanner.h"

#include <chrono>
#include <fstream>

#include <gtest/gtest.h>

#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"
#include "scan_test_util.h"

namespace aegis::scan {
namespace {

using namespace std::string_literals;
using testing::Describe;
using testing::HasFinding;
using testing::Proto;
using testing::Span;

void Write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(Scanner, DetectsFormatsFromContent) {
  struct Case {
    const char* file;
    Format format;
  } cases[] = {{"mlp.onnx", Format::kOnnx},
               {"mlp.pt", Format::kTorchScript},
               {"xgb_classifier.json", Format::kXgboostJson},
               {"xgb_classifier.ubj", Format::kXgboostUbj}};
  for (const Case& c : cases) {
    auto report = ScanBytes(Span(testing::ReadExample(c.file)));
    ASSERT_OK(report) << c.file << ": " << report.status().message();
    EXPECT_EQ(report->format, c.format) << c.file;
  }
}

TEST(Scanner, UnknownAndEmptyInputs) {
  for (const std::string& bytes : {""s, "hello world"s, std::string(4096, '\x07'), "\x00\x01\x02"s}) {
    auto report = ScanBytes(Span(bytes));
    ASSERT_FALSE(report.ok());
    EXPECT_NE(report.status().message().find("could not determine the model format"), std::string::npos);
  }
}

TEST(Scanner, FindingsAreSortedMostSevereFirst) {
  std::string pickle =
      "\x80\x02"
      "cmymodule\nThing\n)R"
      "cposix\nsystem\n)R"
      "0."s;
  auto report = ScanBytes(Span(pickle));
  ASSERT_OK(report);
  ASSERT_EQ(report->findings.size(), 2u) << Describe(*report);
  EXPECT_EQ(report->findings[0].callable, "posix.system");
  EXPECT_EQ(report->findings[1].callable, "mymodule.Thing");
}

TEST(Scanner, HostileNamesArePrintable) {
  std::string pickle =
      "\x80\x02"
      "cos\x1b[31m\nsys\xfftem\n."s;
  auto report = ScanBytes(Span(pickle));
  ASSERT_OK(report);
  EXPECT_EQ(report->findings.front().callable, "os\\x1b[31m.sys\\xfftem");
}

TEST(ScanPath, SingleFileAndFolder) {
  aegis::testing::ScopedTempDir dir;
  Write(dir.path() / "model.onnx",
        "\x80\x02"
        "cposix\nsystem\n."s);  // a pickle behind an .onnx name
  auto single = ScanPath(dir.path() / "model.onnx");
  ASSERT_OK(single);
  ASSERT_EQ(single->size(), 1u);
  EXPECT_EQ((*single)[0].path, "");
  ASSERT_OK((*single)[0].report);
  EXPECT_EQ((*single)[0].report->format, Format::kPickle);

  std::filesystem::create_directory(dir.path() / "sub");
  Write(dir.path() / "sub" / "clean.json", testing::ReadExample("xgb_classifier.json"));
  std::filesystem::create_symlink("/etc/passwd", dir.path() / "link");
  auto folder = ScanPath(dir.path());
  ASSERT_OK(folder);
  ASSERT_EQ(folder->size(), 3u);
  EXPECT_EQ((*folder)[0].path, "link");
  EXPECT_EQ((*folder)[0].report->format, Format::kUnknown);
  EXPECT_TRUE(HasFinding(*(*folder)[0].report, "symbolic link"));
  EXPECT_EQ((*folder)[1].path, "model.onnx");
  EXPECT_EQ((*folder)[1].report->findings.front().location, "model.onnx: offset 2");
  EXPECT_EQ((*folder)[2].path, "sub/clean.json");
  EXPECT_TRUE((*folder)[2].report->clean());
  EXPECT_FALSE(ScanPath(dir.path() / "missing").ok());
}

TEST(ScanPath, OnnxExternalDataInsideTheFolder) {
  aegis::testing::ScopedTempDir dir;
  auto tensor = [](const std::string& name, const std::string& location, const std::string& length) {
    Proto t;
    t.Varint(1, 4).Varint(2, 1).Bytes(8, name).Varint(14, 1);
    t.Message(13, Proto().Bytes(1, "location").Bytes(2, location));
    if (!length.empty()) t.Message(13, Proto().Bytes(1, "length").Bytes(2, length));
    return t;
  };
  Proto graph;
  graph.Message(1, Proto().Bytes(4, "Relu")).Message(5, tensor("w", "weights.bin", "16"));
  Proto model;
  model.Varint(1, 8).Message(7, graph);
  std::filesystem::create_directory(dir.path() / "m");
  Write(dir.path() / "m" / "model.onnx", model.str());
  Write(dir.path() / "m" / "weights.bin", std::string(16, '\0'));
  auto ok = ScanPath(dir.path());
  ASSERT_OK(ok);
  ASSERT_EQ(ok->size(), 1u);  // the data file is part of the model, not a model itself
  EXPECT_TRUE((*ok)[0].report->clean()) << Describe(*(*ok)[0].report);

  Proto bad_graph;
  bad_graph.Message(5, tensor("a", "missing.bin", "")).Message(5, tensor("b", "weights.bin", "999"));
  Proto bad;
  bad.Varint(1, 8).Message(7, bad_graph);
  Write(dir.path() / "m" / "model.onnx", bad.str());
  auto report = ScanPath(dir.path());
  ASSERT_OK(report);
  const ScanReport& r = *(*report)[0].report;
  EXPECT_TRUE(HasFinding(r, "external data file 'missing.bin' is not in the folder")) << Describe(r);
  EXPECT_TRUE(HasFinding(r, "external data range runs past the end of 'weights.bin'"));
  // The reference must cover exactly the bytes the tensor declares ([4] FLOAT: 16).
  Proto short_graph;
  short_graph.Message(5, tensor("c", "weights.bin", "8"));
  Proto short_model;
  short_model.Varint(1, 8).Message(7, short_graph);
  Write(dir.path() / "m" / "model.onnx", short_model.str());
  auto short_report = ScanPath(dir.path());
  ASSERT_TRUE(short_report.ok());
  EXPECT_TRUE(HasFinding(*(*short_report)[0].report, "tensor declares 16 bytes but its data in 'weights.bin' covers 8"))
      << Describe(*(*short_report)[0].report);
  Write(dir.path() / "m" / "model.onnx", bad.str());
  // Scanned alone, the same file may not reference anything outside itself.
  auto alone = ScanPath(dir.path() / "m" / "model.onnx");
  ASSERT_OK(alone);
  EXPECT_TRUE(HasFinding(*(*alone)[0].report, "a single artifact cannot carry it"));
}

TEST(Scanner, BigArchivesScanWithoutReadingTensorData) {
  // A 128 MiB TorchScript-shaped archive: the tensor record is bounds-checked, not read.
  testing::ZipBuilder zip;
  zip.Add("big/data.pkl",
          "\x80\x02"
          "c__torch__\nNet\n)\x81."s);
  zip.Add("big/code/__torch__.py", "class Net:\n  pass\n", 8);
  zip.Add("big/data/0", std::string(128u << 20, '\x80'));
  zip.Add("big/constants.pkl", "\x80\x02)."s);
  std::string archive = zip.Build(/*zip64=*/true);
  auto started = std::chrono::steady_clock::now();
  auto report = ScanBytes(Span(archive));
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_OK(report);
  EXPECT_EQ(report->format, Format::kTorchScript);
  EXPECT_TRUE(report->clean()) << Describe(*report);
  EXPECT_LT(elapsed, std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace aegis::scan
