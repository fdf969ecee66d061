#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "scan_test_util.h"

namespace aegis::scan {
namespace {

using testing::Describe;
using testing::HasFinding;
using testing::Span;

std::string Safetensors(const std::string& header, size_t data_bytes, uint64_t declared = 0) {
  std::string out;
  testing::PutLe(out, declared ? declared : header.size(), 8);
  return out + header + std::string(data_bytes, '\x01');
}

ScanReport Scan(const std::string& bytes) {
  auto report = ScanBytes(Span(bytes));
  EXPECT_OK(report);
  if (!report.ok()) return {};
  EXPECT_EQ(report->format, Format::kSafetensors);
  return *report;
}

TEST(SafetensorsScanner, CleanFile) {
  std::string header = R"({"__metadata__":{"format":"pt"},)"
                       R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                       R"("b":{"dtype":"I64","shape":[],"data_offsets":[16,24]},)"
                       R"("e":{"dtype":"F16","shape":[0,3],"data_offsets":[24,24]}}  )";
  ScanReport report = Scan(Safetensors(header, 24));
  EXPECT_TRUE(report.clean()) << Describe(report);
}

TEST(SafetensorsScanner, HeaderLength) {
  EXPECT_TRUE(HasFinding(Scan(Safetensors("{}", 0, 200ull << 20)), "outside [2, 104857600]"));
  EXPECT_TRUE(HasFinding(Scan(Safetensors("{}", 0, 4096)), "runs past the end of the file"));
  EXPECT_TRUE(HasFinding(Scan(Safetensors("{not json", 0)), "not a JSON object"));
}

TEST(SafetensorsScanner, Offsets) {
  ScanReport overlap = Scan(Safetensors(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                                        R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                                        8));
  EXPECT_TRUE(HasFinding(overlap, "overlaps tensor 'a'")) << Describe(overlap);
  ScanReport outside = Scan(Safetensors(R"({"a":{"dtype":"U8","shape":[16],"data_offsets":[0,16]}})", 8));
  EXPECT_TRUE(HasFinding(outside, "outside the data region")) << Describe(outside);
  ScanReport size = Scan(Safetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
  EXPECT_TRUE(HasFinding(size, "need 12")) << Describe(size);
  ScanReport gap = Scan(Safetensors(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", 12));
  EXPECT_TRUE(HasFinding(gap, "4 bytes of the data region belong to no tensor")) << Describe(gap);
  ScanReport reversed = Scan(Safetensors(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", 8));
  EXPECT_TRUE(HasFinding(reversed, "outside the data region"));
}

TEST(SafetensorsScanner, TensorEntries) {
  EXPECT_TRUE(HasFinding(Scan(Safetensors(R"({"a":{"dtype":"X9","shape":[1],"data_offsets":[0,1]}})", 1)),
                         "unknown dtype 'X9'"));
  EXPECT_TRUE(HasFinding(Scan(Safetensors(R"({"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", 1)),
                         "non-negative integer"));
  EXPECT_TRUE(
      HasFinding(Scan(Safetensors(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,1]}})", 1)),
                 "overflows 64 bits"));
  EXPECT_TRUE(HasFinding(Scan(Safetensors(R"({"a":{"dtype":"U8","shape":[1]}})", 1)), "needs dtype"));
  EXPECT_TRUE(HasFinding(Scan(Safetensors(R"({"__metadata__":{"a":1}})", 0)), "strings to strings"));
  EXPECT_TRUE(HasFinding(Scan(Safetensors(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                          R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                          2)),
                         "appears twice"));
}

}  // namespace
}  // namespace aegis::scan
