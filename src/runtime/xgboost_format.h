// CheckXgboostModelFormat: admits only XGBoost's JSON and UBJSON model formats, and
// bounds their nesting before libxgboost parses them.
//
// Why: the legacy binary format is a raw struct dump with little validation, and
// XGBoost's JSON/UBJ readers recurse once per nesting level, so a deeply nested
// upload could exhaust the stack. This check walks the bytes iteratively (no
// recursion) and refuses anything that is not a well-nested JSON or UBJ document
// no deeper than kMaxXgboostNesting.
//
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <span>

#include "aegis/common/status.h"

namespace aegis::runtime {

// Real XGBoost models nest about 6 levels deep.
inline constexpr size_t kMaxXgboostNesting = 64;

enum class XgboostModelFormat { kJson, kUbj };

// Unprocessable ("only XGBoost JSON or UBJ models are accepted", or what is wrong
// with the document) unless `model` is JSON or UBJ as XGBoost 1.7 writes them.
StatusOr<XgboostModelFormat> CheckXgboostModelFormat(std::span<const uint8_t> model);

}  // namespace aegis::runtime
