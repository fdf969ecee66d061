#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "scan_test_util.h"

namespace aegis::scan {
namespace {

using namespace std::string_literals;
using testing::Describe;
using testing::HasFinding;
using testing::Span;
using testing::ZipBuilder;

const std::string kEvilPickle =
    "\x80\x02"
    "cposix\nsystem\nX\x02\x00\x00\x00id\x85R."s;
const std::string kCleanPickle =
    "\x80\x02"
    "ccollections\nOrderedDict\n)R."s;

ScanReport Scan(const std::string& bytes, const ScanLimits& limits = {}) {
  auto report = ScanBytes(Span(bytes), limits);
  EXPECT_OK(report);
  return report.ok() ? *report : ScanReport{};
}

TEST(ZipScanner, ExampleTorchScriptModelsAreClean) {
  for (const char* name : {"mlp.pt", "echo.pt", "failing.pt"}) {
    ScanReport report = Scan(testing::ReadExample(name));
    EXPECT_EQ(report.format, Format::kTorchScript) << name;
    EXPECT_TRUE(report.clean()) << name << "\n" << Describe(report);
  }
}

TEST(ZipScanner, TruncatedArchiveCannotBeScanned) {
  std::string model = testing::ReadExample("mlp.pt");
  auto report = ScanBytes(Span(model.substr(0, model.size() / 2)));
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("malformed zip archive"), std::string::npos);
}

TEST(ZipScanner, TorchSaveIsRefusedAndItsPayloadNamed) {
  ZipBuilder zip;
  zip.Add("archive/data.pkl", kEvilPickle);
  zip.Add("archive/version", "3\n");
  ScanReport report = Scan(zip.Build());
  EXPECT_EQ(report.format, Format::kTorchSave);
  EXPECT_TRUE(HasFinding(report, "torch.save archive: unsafe format")) << Describe(report);
  EXPECT_TRUE(HasFinding(report, "imports posix.system", "posix.system"));
  bool located = false;
  for (const Finding& f : report.findings) located |= f.location == "zip entry 'archive/data.pkl' offset 2";
  EXPECT_TRUE(located) << Describe(report);
}

TEST(ZipScanner, TorchScriptUsesTheTorchScriptAllowlist) {
  ZipBuilder zip;
  zip.Add("m/data.pkl",
          "\x80\x02"
          "c__torch__\nNet\n)\x81}b."s);
  zip.Add("m/code/__torch__.py", "class Net:\n  pass\n", 8);
  zip.Add("m/constants.pkl", "\x80\x02)."s);
  zip.Add("m/extra/blob", kEvilPickle, 8);  // found by content, not by name
  ScanReport report = Scan(zip.Build());
  EXPECT_EQ(report.format, Format::kTorchScript);
  EXPECT_TRUE(HasFinding(report, "imports posix.system")) << Describe(report);
  EXPECT_FALSE(HasFinding(report, "__torch__"));
}

TEST(ZipScanner, StorageRecordsAreNotReadAsPickles) {
  ZipBuilder zip;
  zip.Add("m/data.pkl",
          "\x80\x02"
          "c__torch__\nNet\n)\x81."s);
  zip.Add("m/code/__torch__.py", "x");
  zip.Add("m/data/0", "\x80\x02\xff\xff"s);  // float bytes that happen to start like a pickle
  EXPECT_TRUE(Scan(zip.Build()).clean());
}

TEST(ZipScanner, UnsafeNames) {
  ZipBuilder zip;
  zip.Add("../evil", "x");
  zip.Add("/abs", "x");
  zip.Add("a\\b", "x");
  zip.Add("C:win", "x");
  zip.Add("dup", "x");
  zip.Add("dup", "y");
  zip.Add("Dup", "z");
  ScanReport report = Scan(zip.Build());
  EXPECT_EQ(report.format, Format::kZip);
  EXPECT_TRUE(HasFinding(report, "unsafe entry name: '..' path component"));
  EXPECT_TRUE(HasFinding(report, "unsafe entry name: absolute path"));
  EXPECT_TRUE(HasFinding(report, "unsafe entry name: backslash"));
  EXPECT_TRUE(HasFinding(report, "drive letter"));
  EXPECT_TRUE(HasFinding(report, "duplicate entry name"));
  EXPECT_TRUE(HasFinding(report, "differ only in case"));
}

TEST(ZipScanner, Bomb) {
  ZipBuilder zip;
  zip.Add("bomb.bin", std::string(8 << 20, '\0'), 8);
  ScanReport report = Scan(zip.Build());
  EXPECT_TRUE(HasFinding(report, "zip bomb")) << Describe(report);
  ScanLimits limits;
  limits.max_entry_bytes = 1 << 20;
  EXPECT_TRUE(HasFinding(Scan(zip.Build(), limits), "bytes uncompressed (limit"));
}

TEST(ZipScanner, CrcAndHeaderMismatches) {
  ZipBuilder zip;
  zip.Add("a.pkl", kCleanPickle, 8).bad_crc = true;
  zip.Add("b.pkl", kCleanPickle).local_name = "c.pkl";
  ScanReport report = Scan(zip.Build());
  EXPECT_TRUE(HasFinding(report, "CRC-32 mismatch")) << Describe(report);
  EXPECT_TRUE(HasFinding(report, "local header names a different file 'c.pkl'"));
}

TEST(ZipScanner, OverlappingEntries) {
  ZipBuilder zip;
  zip.Add("a.pkl", kCleanPickle);
  zip.Add("b.pkl", kCleanPickle).header_offset_override = 0;
  ScanReport report = Scan(zip.Build());
  EXPECT_TRUE(HasFinding(report, "overlaps entry")) << Describe(report);
}

TEST(ZipScanner, HiddenLocalEntriesAndStrayBytes) {
  ZipBuilder hidden_entry;
  hidden_entry.Add("hidden.pkl", kEvilPickle);
  std::string hidden = hidden_entry.Build();
  hidden = hidden.substr(0, hidden.find("PK\x01\x02"s));  // the local header and data only
  ZipBuilder zip;
  zip.Add("a.txt", "hello").trailing = hidden;
  ScanReport report = Scan(zip.Build());
  EXPECT_TRUE(HasFinding(report, "local header not listed in the central directory")) << Describe(report);
  ZipBuilder stray;
  stray.Add("a.txt", "hello").trailing = "xyz";
  EXPECT_TRUE(HasFinding(Scan(stray.Build()), "3 bytes after this entry belong to no entry"));
}

TEST(ZipScanner, Zip64RecordsAndEntryLimit) {
  ZipBuilder zip;
  zip.Add("a.pkl", kEvilPickle, 8);
  zip.Add("b.txt", "hello");
  ScanReport report = Scan(zip.Build(/*zip64=*/true));
  EXPECT_TRUE(HasFinding(report, "imports posix.system")) << Describe(report);
  ScanLimits limits;
  limits.max_zip_entries = 1;
  EXPECT_TRUE(HasFinding(Scan(zip.Build(), limits), "archive has 2 entries (limit 1)"));
}

TEST(ZipScanner, PrependedPickleIsFound) {
  ZipBuilder zip;
  zip.Add("a.txt", "hello");
  // Starts as a protocol 2 pickle: scanned as one (the zip is data after its STOP).
  ScanReport as_pickle = Scan(zip.Build(false, kEvilPickle));
  EXPECT_EQ(as_pickle.format, Format::kPickle);
  EXPECT_TRUE(HasFinding(as_pickle, "imports posix.system"));
  // A protocol 0 pickle in front of a zip whose offsets include it: a polyglot.
  ScanReport polyglot = Scan(zip.Build(false, "cos\nsystem\n(S'id'\ntR."));
  EXPECT_EQ(polyglot.format, Format::kZip);
  EXPECT_TRUE(HasFinding(polyglot, "bytes before the first zip entry")) << Describe(polyglot);
  EXPECT_TRUE(HasFinding(polyglot, "imports os.system"));
  // Offsets that do not account for a prefix: the directory cannot be found.
  EXPECT_FALSE(ScanBytes(Span("junk" + zip.Build())).ok());
}

TEST(ZipScanner, MalformedPickleMemberIsAFinding) {
  ZipBuilder zip;
  zip.Add("archive/data.pkl", "\x80\x02N"s);
  ScanReport report = Scan(zip.Build());
  EXPECT_TRUE(HasFinding(report, "malformed pickle")) << Describe(report);
}

}  // namespace
}  // namespace aegis::scan
