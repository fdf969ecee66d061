#include "pickle_scanner.h"

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "scan_test_util.h"

namespace aegis::scan {
namespace {

using namespace std::string_literals;

using testing::Describe;
using testing::HasFinding;
using testing::Span;

ScanReport ScanPickleText(const std::string& pickle) {
  auto report = ScanBytes(Span(pickle));
  EXPECT_OK(report);
  if (!report.ok()) return {};
  EXPECT_EQ(report->format, Format::kPickle);
  return *report;
}

Severity SeverityOf(const ScanReport& report, std::string_view callable) {
  for (const Finding& f : report.findings) {
    if (f.callable == callable) return f.severity;
  }
  ADD_FAILURE() << "no finding for " << callable << "\n" << Describe(report);
  return Severity::kLow;
}

TEST(PickleScanner, Protocol0GlobalReduce) {
  auto report = ScanPickleText("cposix\nsystem\n(S'id'\ntR."s);
  EXPECT_TRUE(HasFinding(report, "pickle imports posix.system (not on the allowlist)", "posix.system"));
  EXPECT_EQ(SeverityOf(report, "posix.system"), Severity::kCritical);
  EXPECT_EQ(report.findings.front().location, "offset 0");
}

TEST(PickleScanner, Protocol2Builtin) {
  std::string p =
      "\x80\x02"
      "c__builtin__\neval\nq\x00X\x04\x00\x00\x00"
      "1+1q\x01\x85q\x02Rq\x03."s;
  auto report = ScanPickleText(p);
  EXPECT_EQ(SeverityOf(report, "__builtin__.eval"), Severity::kCritical);
}

TEST(PickleScanner, StackGlobalThroughMemo) {
  std::string p =
      "\x80\x04\x8c\x02os\x94"s + "0" + "\x8c\x06system\x94" + "0" + "\x8c\x05noise0h\x00h\x01\x93\x8c\x02id\x85R."s;
  auto report = ScanPickleText(p);
  EXPECT_EQ(SeverityOf(report, "os.system"), Severity::kCritical) << Describe(report);
}

TEST(PickleScanner, PutAndMemoizeMixedLikeCPython) {
  // picklescan was fooled here: MEMOIZE keys by the number of entries, not 0, 1, ...
  std::string p = "\x80\x04X\x02\x00\x00\x00osq\x00X\x06\x00\x00\x00systemq\x01"s +
                  "X\x0c\x00\x00\x00torch._utils\x94X\x12\x00\x00\x00_rebuild_tensor_v2\x94"s + "0000"s +
                  "h\x00h\x01\x93N\x85R."s;
  auto report = ScanPickleText(p);
  EXPECT_TRUE(HasFinding(report, "imports os.system", "os.system")) << Describe(report);
}

TEST(PickleScanner, MemoizeOverwritesAnExplicitPut) {
  // PUT 1 "torch._utils"; MEMOIZE stores "os" at key len(memo) == 1, replacing it.
  std::string p = "\x80\x04\x8c\x0ctorch._utilsq\x01"s + "\x8c\x02os\x94" + "00" + "\x8c\x06systemq\x02"s + "0"s +
                  "h\x01h\x02\x93N\x85R."s;
  auto report = ScanPickleText(p);
  EXPECT_TRUE(HasFinding(report, "imports os.system")) << Describe(report);
}

TEST(PickleScanner, NonStringStackGlobalIsUnresolvable) {
  std::string p = "\x80\x04K\x2a\x8c\x06system\x93N\x85R."s;
  auto report = ScanPickleText(p);
  EXPECT_TRUE(HasFinding(report, "unresolvable import")) << Describe(report);
  EXPECT_EQ(report.findings.front().severity, Severity::kCritical);
}

TEST(PickleScanner, BytesOperandsAreUnresolvable) {
  std::string p =
      "\x80\x04"
      "C\x02os"
      "\x8c\x06system\x93N\x85R."s;
  EXPECT_TRUE(HasFinding(ScanPickleText(p), "unresolvable import"));
}

TEST(PickleScanner, TextStringsAreDecoded) {
  // UNICODE with \u escapes and STRING with \x escapes both spell "os".
  auto report = ScanPickleText("V\\u006fs\nS'sys\\x74em'\n\x93(S'id'\ntR."s);
  EXPECT_TRUE(HasFinding(report, "imports os.system", "os.system")) << Describe(report);
}

TEST(PickleScanner, NamesAreComparedExactly) {
  auto report = ScanPickleText(
      "\x80\x02"
      "ccollections \nOrderedDict\n)R."s);
  EXPECT_TRUE(HasFinding(report, "not on the allowlist", "collections .OrderedDict")) << Describe(report);
  auto clean = ScanPickleText(
      "\x80\x02"
      "ccollections\nOrderedDict\n)R."s);
  EXPECT_TRUE(clean.clean()) << Describe(clean);
}

TEST(PickleScanner, InstAndObj) {
  EXPECT_TRUE(HasFinding(ScanPickleText("(S'id'\nios\nsystem\n."s), "imports os.system"s));
  auto obj = ScanPickleText("\x80\x02(csubprocess\nPopen\nS'id'\no."s);
  EXPECT_TRUE(HasFinding(obj, "imports subprocess.Popen"));
}

TEST(PickleScanner, CallingAComputedValue) {
  auto report = ScanPickleText(
      "\x80\x02"
      "ccollections\nOrderedDict\n)R)R."s);
  EXPECT_TRUE(HasFinding(report, "calls a value that is not an import (REDUCE)")) << Describe(report);
}

TEST(PickleScanner, ExtensionRegistry) {
  EXPECT_TRUE(HasFinding(ScanPickleText("\x80\x02\x82\x01)R."s), "extension registry code 1"s));
}

TEST(PickleScanner, BuildOnAnImport) {
  auto report = ScanPickleText(
      "\x80\x02"
      "ccollections\nOrderedDict\n}b."s);
  EXPECT_TRUE(HasFinding(report, "modifies an imported object collections.OrderedDict (BUILD)"));
}

TEST(PickleScanner, ContainerOpsOnAnImport) {
  auto report = ScanPickleText(
      "\x80\x02"
      "ccollections\nOrderedDict\nNNs."s);
  EXPECT_TRUE(HasFinding(report, "modifies an imported object collections.OrderedDict (SETITEM)")) << Describe(report);
  EXPECT_TRUE(HasFinding(ScanPickleText("\x80\x02"
                                        "ccollections\nOrderedDict\n(Ne."s),
                         "(APPENDS)"));
  EXPECT_TRUE(ScanPickleText("\x80\x02]N\x85"
                             "a}NNs."s)
                  .clean());
}

TEST(PickleScanner, MalformedStreamsAreCriticalFindings) {
  EXPECT_TRUE(HasFinding(ScanPickleText("\x80\x02N\xff."s), "unknown opcode 0xff"s));
  EXPECT_TRUE(HasFinding(ScanPickleText("\x80\x02N"s), "ends without STOP"s));
  EXPECT_TRUE(HasFinding(ScanPickleText("\x80\x02R."s), "stack underflow"s));
  EXPECT_TRUE(HasFinding(ScanPickleText("\x80\x02h\x05."s), "memo entry 5 read before it was written"s));
  EXPECT_TRUE(HasFinding(ScanPickleText("\x80\x02X\xff\xff\x00\x00"
                                        "ab."s),
                         "runs past the end"));
  // Protocol 6 does not exist: CPython refuses it before running anything.
  EXPECT_FALSE(ScanBytes(Span("\x80\x06N."s)).ok());
  EXPECT_TRUE(HasFinding(ScanPickleText("\x80\x02N\x80\x07."s), "unsupported protocol 7"s));
}

TEST(PickleScanner, TruncatedAfterTheCallStillNamesTheCallable) {
  auto report = ScanPickleText(
      "\x80\x02"
      "cposix\nsystem\nX\x02\x00\x00\x00id\x85R"s);
  EXPECT_TRUE(HasFinding(report, "imports posix.system"));
  EXPECT_TRUE(HasFinding(report, "malformed pickle"));
}

TEST(PickleScanner, UnterminatedNameAtEndStillImports) {
  // CPython's C unpickler drops the last byte of an unterminated final line.
  auto report = ScanPickleText("cos\nsystemX");
  EXPECT_TRUE(HasFinding(report, "imports os.system")) << Describe(report);
}

TEST(PickleScanner, PopRemovesAMark) { EXPECT_TRUE(ScanPickleText("\x80\x02(0N."s).clean()); }

TEST(PickleScanner, StackLimitIsAFinding) {
  std::string p = "\x80\x02"s + std::string(1100000, 'N') + "."s;
  EXPECT_TRUE(HasFinding(ScanPickleText(p), "exceeds the scanner's limit on stack depth"s));
}

TEST(PickleScanner, DataAfterStop) {
  EXPECT_TRUE(HasFinding(ScanPickleText("\x80\x02N.garbage"s), "after the pickle's STOP"s));
  // A second pickle is scanned too.
  EXPECT_TRUE(HasFinding(ScanPickleText("\x80\x02N.\x80\x02"
                                        "cos\nsystem\n."s),
                         "imports os.system"));
}

TEST(PickleScanner, LegacyTorchSave) {
  std::string legacy = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e"s + "\x80\x02M\xe9\x03." +
                       "\x80\x02"
                       "cposix\nsystem\n." +
                       "raw storage bytes";
  auto report = ScanBytes(Span(legacy));
  ASSERT_OK(report);
  EXPECT_EQ(report->format, Format::kTorchSave);
  EXPECT_TRUE(HasFinding(*report, "torch.save archive (legacy format): unsafe format")) << Describe(*report);
  EXPECT_TRUE(HasFinding(*report, "imports posix.system"));
  EXPECT_FALSE(HasFinding(*report, "after the pickle's STOP"));
}

TEST(PickleAllowlist, Contexts) {
  using internal::CheckImport;
  using internal::PickleContext;
  EXPECT_TRUE(CheckImport("__torch__.torch.nn.modules.linear", "Linear", PickleContext::kTorchScript).allowed);
  EXPECT_FALSE(CheckImport("__torch__.torch.nn.modules.linear", "Linear", PickleContext::kGeneric).allowed);
  EXPECT_FALSE(CheckImport("__torch__", "a.b", PickleContext::kTorchScript).allowed);
  // Custom classes are native code (their __setstate__ runs on load), not the archive's classes.
  EXPECT_EQ(CheckImport("__torch__.torch.classes.my_ns", "Reader", PickleContext::kTorchScript).severity,
            Severity::kCritical);
  EXPECT_FALSE(CheckImport("__torch__.torch.classes", "x", PickleContext::kTorchScript).allowed);
  EXPECT_TRUE(CheckImport("__torch__.torch.classesx", "Y", PickleContext::kTorchScript).allowed);
  // Except libtorch's own holders of dynamically quantized weights.
  EXPECT_TRUE(
      CheckImport("__torch__.torch.classes.quantized", "LinearPackedParamsBase", PickleContext::kTorchScript).allowed);
  EXPECT_FALSE(
      CheckImport("__torch__.torch.classes.quantized", "LinearPackedParamsBase", PickleContext::kGeneric).allowed);
  EXPECT_FALSE(
      CheckImport("__torch__.torch.classes.quantized", "Conv2dPackedParamsBase", PickleContext::kTorchScript).allowed);
  EXPECT_TRUE(CheckImport("torch._utils", "_rebuild_tensor_v2", PickleContext::kTorchScript).allowed);
  EXPECT_TRUE(CheckImport("torch", "FloatStorage", PickleContext::kGeneric).allowed);
  EXPECT_TRUE(CheckImport("torch", "per_tensor_affine", PickleContext::kTorchScript).allowed);
  EXPECT_FALSE(CheckImport("torch._utils ", "_rebuild_tensor_v2", PickleContext::kGeneric).allowed);
  EXPECT_FALSE(CheckImport("torch", "load", PickleContext::kGeneric).allowed);
  EXPECT_EQ(CheckImport("torch", "load", PickleContext::kGeneric).severity, Severity::kCritical);
  EXPECT_EQ(CheckImport("torch.serialization", "os.system", PickleContext::kGeneric).severity, Severity::kCritical);
  EXPECT_EQ(CheckImport("numpy", "prod.a", PickleContext::kGeneric).severity, Severity::kHigh);
  EXPECT_TRUE(CheckImport("builtins", "set", PickleContext::kGeneric).allowed);
  EXPECT_TRUE(CheckImport("_codecs", "encode", PickleContext::kGeneric).allowed);
  EXPECT_FALSE(CheckImport("_codecs", "encode", PickleContext::kTorchScript).allowed);
  EXPECT_EQ(CheckImport("builtins", "list", PickleContext::kGeneric).severity, Severity::kHigh);
  EXPECT_EQ(CheckImport("builtins", "getattr", PickleContext::kGeneric).severity, Severity::kCritical);
  EXPECT_EQ(CheckImport("operator", "attrgetter", PickleContext::kGeneric).severity, Severity::kCritical);
  EXPECT_EQ(CheckImport("functools", "partial", PickleContext::kGeneric).severity, Severity::kCritical);
  EXPECT_EQ(CheckImport("copy_reg", "_reconstructor", PickleContext::kGeneric).severity, Severity::kCritical);
  EXPECT_EQ(CheckImport("mymodule", "Thing", PickleContext::kGeneric).severity, Severity::kHigh);
  EXPECT_EQ(CheckImport("os.path", "join", PickleContext::kGeneric).severity, Severity::kCritical);
  EXPECT_EQ(CheckImport("torch._C._dynamo", "x", PickleContext::kTorchScript).severity, Severity::kCritical);
}

}  // namespace
}  // namespace aegis::scan
