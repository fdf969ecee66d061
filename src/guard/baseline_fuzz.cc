// libFuzzer target for the baseline's untrusted inputs: a .npy upload
// (ParseNpy) and a stored baseline blob (ParseBaseline). Checks, beyond "no
// crash": whatever .npy parses has rows x features values; a sample that
// parses computes a baseline whose stored form parses back to the same bytes;
// and a stored blob that parses re-serializes to itself.
//
// Input layout: byte 0 selects the parser (even: .npy, odd: stored baseline);
// the rest is the file.
#include "aegis/guard/baseline.h"

#include <cstdint>
#include <cstdlib>
#include <span>

#include "aegis/guard/npy.h"
#include "aegis/guard/screening.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void Screen(const aegis::guard::Baseline& baseline) {
  aegis::guard::Screening screening;
  screening.Install("m", "1", baseline);
  const auto version = screening.Find("m", "1");
  const auto& input = baseline.inputs[0];
  std::vector<float> row(input.features, 0.5f);
  const aegis::runtime::TensorView view{input.name,
                                        aegis::runtime::DataType::kFp32,
                                        {1, static_cast<int64_t>(input.features)},
                                        {reinterpret_cast<const uint8_t*>(row.data()), row.size() * 4}};
  (void)version->Screen(std::vector<aegis::runtime::TensorView>{view});
  (void)version->TopDrift();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> bytes(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto sample = aegis::guard::ParseNpy(bytes, "x");
    if (!sample.ok()) return 0;
    Check(sample->values.size() == sample->rows * sample->features);
    auto baseline = aegis::guard::ComputeBaseline(std::vector<aegis::guard::SampleInput>{*sample});
    if (!baseline.ok()) return 0;
    const auto blob = aegis::guard::SerializeBaseline(*baseline);
    auto again = aegis::guard::ParseBaseline(blob);
    Check(again.ok() && aegis::guard::SerializeBaseline(*again) == blob);
    Screen(*again);
  } else {
    auto baseline = aegis::guard::ParseBaseline(bytes);
    if (!baseline.ok()) return 0;
    const auto blob = aegis::guard::SerializeBaseline(*baseline);
    Check(blob.size() == bytes.size() && std::equal(blob.begin(), blob.end(), bytes.begin()));
    Screen(*baseline);
  }
  return 0;
}
