// The TorchScript program reader, through whole archives: hostile operator uses
// in their disguises, and what real serialized code looks like.
#include <gtest/gtest.h>

#include "scan_test_util.h"
#include "torchscript_allowlist.h"

namespace aegis::scan {
namespace {

using namespace std::string_literals;
using testing::Describe;
using testing::HasFinding;
using testing::Span;
using testing::ZipBuilder;

const std::string kDataPkl =
    "\x80\x02"
    "c__torch__\nNet\n)\x81}b."s;

// A module whose forward() body is `body` (indented four spaces per line).
std::string Module(const std::string& body) {
  return "class Net(Module):\n"
         "  __parameters__ = [\"weight\", ]\n"
         "  __buffers__ = []\n"
         "  weight : Tensor\n"
         "  training : bool\n"
         "  def forward(self: __torch__.Net,\n"
         "    x: Tensor) -> Tensor:\n" +
         body;
}

ScanReport ScanArchive(const std::vector<std::pair<std::string, std::string>>& members) {
  ZipBuilder zip;
  zip.Add("net/data.pkl", kDataPkl);
  for (const auto& [name, data] : members) zip.Add(name, data, 8);
  zip.Add("net/constants.pkl", "\x80\x02)."s);
  auto report = ScanBytes(Span(zip.Build()));
  EXPECT_TRUE(report.ok()) << report.status().message();
  return report.ok() ? *report : ScanReport{};
}

ScanReport ScanForward(const std::string& body) { return ScanArchive({{"net/code/__torch__.py", Module(body)}}); }

// The finding for `callable`, or a failure.
Finding Expect(const ScanReport& report, const std::string& callable, Severity severity) {
  for (const Finding& f : report.findings) {
    if (f.callable == callable) {
      EXPECT_EQ(f.severity, severity) << Describe(report);
      return f;
    }
  }
  ADD_FAILURE() << "no finding for " << callable << "\n" << Describe(report);
  return {};
}

TEST(TorchScriptReader, PlainModuleIsClean) {
  ScanReport report = ScanForward(
      "    weight = self.weight\n"
      "    _0 = torch.linear(x, weight, None)\n"
      "    if bool(torch.gt(torch.sum(_0), 0)):\n"
      "      _1 = torch.relu(_0)\n"
      "    else:\n"
      "      _1 = ops.prim.RaiseException(\"neg\", \"builtins.RuntimeError\")\n"
      "    _2 = annotate(List[Tensor], [_1, x])\n"
      "    _3 = getattr(self, \"weight\")\n"
      "    return torch.add(torch.cat(_2), CONSTANTS.c0)  # torch.from_file in a comment\n");
  EXPECT_EQ(report.format, Format::kTorchScript);
  EXPECT_TRUE(report.clean()) << Describe(report);
}

TEST(TorchScriptReader, FromFileIsCriticalWithItsLocation) {
  ScanReport report = ScanForward(
      "    _0 = torch.from_file(\"/etc/aegis/kek\", True, 32)\n"
      "    return _0\n");
  Finding f = Expect(report, "aten::from_file", Severity::kCritical);
  EXPECT_EQ(f.location, "zip entry 'net/code/__torch__.py' line 8");
  EXPECT_NE(f.reason.find("calls aten::from_file, which reads or writes a file by path"), std::string::npos);
}

TEST(TorchScriptReader, OperatorSpellingsAllResolveToTheOperator) {
  for (const char* use : {"ops.aten.from_file(\"/proc/self/environ\")", "torch.autograd.from_file(\"f\")",
                          "ops.anything.autograd.from_file(\"f\")", "getattr(torch, \"from_\" \"file\")(\"f\")",
                          "getattr(getattr(ops, \"aten\"), \"from_file\")(\"f\")",
                          "getattr(torch, \"\\146rom_file\")(\"f\")", "torch.\\\n      from_file(\"f\")"}) {
    ScanReport report = ScanForward("    _0 = " + std::string(use) + "\n    return x\n");
    Expect(report, "aten::from_file", Severity::kCritical);
  }
}

TEST(TorchScriptReader, NamespacesUsedAsValuesAreCritical) {
  Expect(ScanForward("    f = torch\n    return f.relu(x)\n"), "torch", Severity::kCritical);
  Expect(ScanForward("    return (torch).relu(x)\n"), "torch", Severity::kCritical);
  Expect(ScanForward("    m = ops.aten\n    return m.relu(x)\n"), "ops.aten", Severity::kCritical);
  Expect(ScanForward("    c = __torch__.torch\n    return x\n"), "__torch__.torch", Severity::kCritical);
  // Aliasing an operator is caught where the operator is named.
  Expect(ScanForward("    f = torch.from_file\n    return f(\"p\")\n"), "aten::from_file", Severity::kCritical);
}

TEST(TorchScriptReader, SideEffectOperatorsAreCritical) {
  Expect(ScanForward("    torch.save(x, \"/tmp/out\")\n    return x\n"), "aten::save", Severity::kCritical);
  Expect(ScanForward("    print(x)\n    return x\n"), "print", Severity::kCritical);
  Expect(ScanForward("    f = fork(__torch__.g, x)\n    return x\n"), "fork", Severity::kCritical);
  Expect(ScanForward("    return ops.prim.Print(x)\n"), "prim::Print", Severity::kCritical);
  Expect(ScanForward("    return torch.empty([1000])\n"), "aten::empty", Severity::kCritical);
  Expect(ScanForward("    return torch.set_(x, x)\n"), "aten::set_", Severity::kCritical);
  Expect(ScanForward("    return torch.wait(x)\n"), "aten::wait", Severity::kCritical);
  Expect(ScanForward("    return ops.c10d.allreduce_(x)\n"), "c10d::allreduce_", Severity::kCritical);
  Expect(ScanForward("    return ops.my_ext.evil(x)\n"), "my_ext::evil", Severity::kCritical);
  Expect(ScanForward("    return torch.ops.my_ext.evil(x)\n"), "my_ext::evil", Severity::kCritical);
  // Method syntax reaches the same operators.
  Expect(ScanForward("    return x.from_file(\"f\")\n"), "aten::from_file", Severity::kCritical);
  Expect(ScanForward("    return (x).resize_([99999])\n"), "aten::resize_", Severity::kCritical);
}

TEST(TorchScriptReader, CustomClassesAreCritical) {
  Expect(ScanForward("    o = __torch__.torch.classes.my_ns.Reader(\"/etc/shadow\")\n    return x\n"),
         "__torch__.torch.classes.my_ns.Reader", Severity::kCritical);
  Expect(ScanForward("    o = annotate(\"torch.classes.my_ns.Reader\", None)\n    return x\n"),
         "__torch__.torch.classes.my_ns.Reader", Severity::kCritical);
  // As an attribute type in a class body.
  ScanReport report = ScanArchive({{"net/code/__torch__.py",
                                    "class Net(Module):\n  r : __torch__.torch.classes.io.File\n  def forward(self: "
                                    "__torch__.Net, x: Tensor) -> Tensor:\n    return x\n"}});
  Expect(report, "__torch__.torch.classes.io.File", Severity::kCritical);
}

TEST(TorchScriptReader, DynamicQuantizationIsAllowed) {
  ScanReport report =
      ScanArchive({{"net/code/__torch__.py",
                    "class Net(Module):\n  p : __torch__.torch.classes.quantized.LinearPackedParamsBase\n"
                    "  def forward(self: __torch__.Net, x: Tensor) -> Tensor:\n"
                    "    p = self.p\n    return ops.quantized.linear_dynamic(x, p)\n"}});
  EXPECT_TRUE(report.clean()) << Describe(report);
  Expect(ScanForward("    return ops.quantized.conv2d(x)\n"), "quantized::conv2d", Severity::kHigh);
}

TEST(TorchScriptReader, PythonEscapesAreCritical) {
  Expect(ScanForward("    m = __import__(\"os\")\n    return x\n"), "__import__", Severity::kCritical);
  Expect(ScanForward("    return x.__class__\n"), "__class__", Severity::kCritical);
  Expect(ScanForward("    return eval(\"1\")\n"), "eval", Severity::kCritical);
}

TEST(TorchScriptReader, UnknownOperatorsAndAttributesAreHigh) {
  Expect(ScanForward("    return torch.mystery_op(x)\n"), "aten::mystery_op", Severity::kHigh);
  Expect(ScanForward("    return ops.quantized.linear(x)\n"), "quantized::linear", Severity::kHigh);
  Expect(ScanForward("    return x.mystery_method()\n"), "aten::mystery_method", Severity::kHigh);
  Expect(ScanForward("    return getattr(x, name)\n"), "getattr", Severity::kHigh);
  Expect(ScanForward("    return id(x)\n"), "id", Severity::kHigh);
  // Allowed methods and properties, and names the archive declares, are fine.
  ScanReport report = ScanForward(
      "    n = x.size(0)\n    d = x.dtype\n    y = x.float().relu()\n    w = self.weight.shape\n"
      "    return (self).forward(x)\n");
  EXPECT_TRUE(report.clean()) << Describe(report);
}

TEST(TorchScriptReader, EveryMethodAndFileIsRead) {
  // Hidden in a method forward() never calls, in another class, in another file.
  ScanReport report =
      ScanArchive({{"net/code/__torch__.py", Module("    return x\n") + "  def helper(self: __torch__.Net) -> Tensor:\n"
                                                                        "    return torch.from_file(\"a\")\n"},
                   {"net/code/__torch__/sub/util.py", "def leak(p: str) -> Tensor:\n  return ops.aten.save(p, p)\n"},
                   {"net/CODE/__torch__/Hidden.PY", "def h() -> None:\n  print(1)\n"},
                   {"net/extra/loader.py", "x = torch.load(\"f\")\n"}});
  EXPECT_EQ(Expect(report, "aten::from_file", Severity::kCritical).location,
            "zip entry 'net/code/__torch__.py' line 10");
  EXPECT_EQ(Expect(report, "aten::save", Severity::kCritical).location,
            "zip entry 'net/code/__torch__/sub/util.py' line 2");
  Expect(report, "print", Severity::kCritical);
  Expect(report, "aten::load", Severity::kCritical);
}

TEST(TorchScriptReader, StringsAndCommentsAreNotCode) {
  ScanReport report = ScanForward(
      "    _0 = \"torch.from_file(p) and ops.c10d.send are just words\"\n"
      "    _1 = \"\"\"print(x)\n__import__('os')\"\"\"\n"
      "    # torch.save(x, 'p')\n"
      "    return x\n");
  EXPECT_TRUE(report.clean()) << Describe(report);
}

TEST(TorchScriptReader, UnreadableCodeIsAFinding) {
  ScanReport report = ScanArchive({{"net/code/__torch__.py", "class Net(Module):\n  x = \"\\x41\"\n"}});
  EXPECT_TRUE(HasFinding(report, "TorchScript code cannot be read: unsupported escape in a string at line 2"))
      << Describe(report);
}

TEST(TorchScriptReader, ArchiveMembersTheEngineReadsButTheReaderDoesNot) {
  ScanReport legacy = ScanArchive({{"net/code/__torch__.py", Module("    return x\n")}, {"net/model.json", "{}"}});
  EXPECT_TRUE(HasFinding(legacy, "legacy TorchScript format (model.json)")) << Describe(legacy);
  EXPECT_EQ(legacy.findings.front().severity, Severity::kCritical);

  ScanReport orphan = ScanArchive(
      {{"net/code/__torch__.py", Module("    return x\n")}, {"net/code/__torch__/evil.py.debug_pkl", "\x80\x02)."s}});
  EXPECT_TRUE(HasFinding(orphan, "debug information for TorchScript code that is not in the archive"))
      << Describe(orphan);

  ScanReport paired = ScanArchive(
      {{"net/code/__torch__.py", Module("    return x\n")}, {"net/code/__torch__.py.debug_pkl", "\x80\x02)."s}});
  EXPECT_TRUE(paired.clean()) << Describe(paired);

  ScanReport mobile =
      ScanArchive({{"net/code/__torch__.py", Module("    return x\n")}, {"net/bytecode.pkl", "\x80\x02)."s}});
  EXPECT_TRUE(HasFinding(mobile, "bytecode.pkl")) << Describe(mobile);
}

TEST(TorchScriptReader, CodeOverTheLimitIsAFinding) {
  ZipBuilder zip;
  zip.Add("net/data.pkl", kDataPkl);
  zip.Add("net/code/__torch__.py", Module("    return x\n") + std::string(4096, '\n'));
  ScanLimits limits;
  limits.max_code_bytes = 1024;
  auto report = ScanBytes(Span(zip.Build()), limits);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(HasFinding(*report, "TorchScript code exceeds the scan limit of 1024 bytes")) << Describe(*report);
}

TEST(TorchScriptReader, TopLevelImportsAreSkippedAsLibtorchSkipsThem) {
  ScanReport report =
      ScanArchive({{"net/code/__torch__.py", "op_version_set = 8\nimport torch\n" + Module("    return x\n")}});
  EXPECT_TRUE(report.clean()) << Describe(report);
}

TEST(TorchScriptAllowlist, SizeAndSpotChecks) {
  using namespace internal::torchscript;
  EXPECT_GT(AllowlistSize(), 500u);
  EXPECT_TRUE(CheckOperator("aten", "linear").allowed);
  EXPECT_TRUE(CheckOperator("prim", "RaiseException").allowed);
  EXPECT_FALSE(CheckOperator("aten", "from_file").allowed);
  EXPECT_EQ(CheckOperator("aten", "linear ").severity, Severity::kHigh);  // exact names only
  EXPECT_EQ(CheckOperator("ATEN", "linear").severity, Severity::kCritical);
}

}  // namespace
}  // namespace aegis::scan
