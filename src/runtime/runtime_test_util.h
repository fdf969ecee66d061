// Helpers shared by the runtime tests: the sample models in examples/ (read with
// common/testing/examples.h) and their reference inputs and outputs
// (examples/reference.json, written by examples/make_models.py).
#pragma once

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/runtime/backend.h"
#include "common/testing/examples.h"

namespace aegis::runtime::testing {

using ::aegis::testing::ExamplePath;
using ::aegis::testing::ReadExampleBytes;

inline Tensor Fp32Tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values) {
  Tensor t{.name = name, .datatype = DataType::kFp32, .shape = std::move(shape)};
  t.data.resize(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

inline std::vector<float> Floats(const Tensor& t) {
  std::vector<float> values(t.data.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), t.data.data(), values.size() * sizeof(float));
  return values;
}

inline Tensor TensorFromJson(const nlohmann::json& j) {
  return Fp32Tensor(j.at("name"), j.at("shape").get<std::vector<int64_t>>(), j.at("data").get<std::vector<float>>());
}

struct ReferenceCase {
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
};

// `model` is a key of reference.json: "mlp" or "xgb_classifier".
inline ReferenceCase LoadReference(const std::string& model) {
  std::ifstream in(ExamplePath("reference.json"));
  nlohmann::json all = nlohmann::json::parse(in);
  ReferenceCase c;
  for (const auto& j : all.at(model).at("inputs")) c.inputs.push_back(TensorFromJson(j));
  for (const auto& j : all.at(model).at("outputs")) c.outputs.push_back(TensorFromJson(j));
  return c;
}

// Compares names, shapes and values: |a-b| <= abs_tol + rel_tol*|b|.
inline void ExpectTensorsNear(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected, double abs_tol,
                              double rel_tol) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].name, expected[i].name);
    EXPECT_EQ(actual[i].datatype, DataType::kFp32);
    EXPECT_EQ(actual[i].shape, expected[i].shape);
    std::vector<float> a = Floats(actual[i]), e = Floats(expected[i]);
    ASSERT_EQ(a.size(), e.size());
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_LE(std::abs(double{a[k]} - e[k]), abs_tol + rel_tol * std::abs(double{e[k]})) << "element " << k;
    }
  }
}

}  // namespace aegis::runtime::testing
