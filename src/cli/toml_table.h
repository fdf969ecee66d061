// Typed reading of one aegis.toml table (internal to src/cli), shared by the
// main sections (config.cc) and the identity sections (auth_config.cc), so every
// key is checked and every problem reported the same way:
// "<file>: <section.key>: <problem>".
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "aegis/common/status.h"

namespace aegis::cli::internal {

class TableReader {
 public:
  // `prefix` names the table in messages ("limits.", "auth.jwt.").
  TableReader(const toml::table& table, std::string prefix, const std::string& file)
      : table_(table), prefix_(std::move(prefix)), file_(file) {}

  Status OnlyKeys(const std::set<std::string>& allowed) const {
    for (const auto& [key, value] : table_) {
      if (!allowed.contains(std::string(key.str()))) return Error(std::string(key.str()), "unknown key");
    }
    return Status::Ok();
  }

  // Each reader leaves `out` alone when the key is absent.
  // Present: a non-empty string.
  Status String(const std::string& key, std::string& out) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return Status::Ok();
    if (!node->is_string()) return Error(key, "must be a string");
    out = node->value<std::string>().value();
    if (out.empty()) return Error(key, "must not be empty");
    return Status::Ok();
  }

  // Present: an array of strings (possibly empty).
  Status StringArray(const std::string& key, std::vector<std::string>& out) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return Status::Ok();
    const toml::array* list = node->as_array();
    if (list == nullptr) return Error(key, "must be an array of strings");
    std::vector<std::string> values;
    for (const toml::node& item : *list) {
      if (!item.is_string()) return Error(key, "must be an array of strings");
      values.push_back(item.value<std::string>().value());
    }
    out = std::move(values);
    return Status::Ok();
  }

  Status Bool(const std::string& key, bool& out) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return Status::Ok();
    if (!node->is_boolean()) return Error(key, "must be true or false");
    out = node->value<bool>().value();
    return Status::Ok();
  }

  template <typename T>
  Status Integer(const std::string& key, T& out, int64_t min, int64_t max) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return Status::Ok();
    if (!node->is_integer()) return Error(key, "must be an integer");
    const int64_t v = node->value<int64_t>().value();
    if (v < min || v > max) {
      return Error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    out = static_cast<T>(v);
    return Status::Ok();
  }

  // A number (integer or float) in [min, max]; NaN and infinities refused.
  Status Number(const std::string& key, double& out, double min, double max) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return Status::Ok();
    if (!node->is_number()) return Error(key, "must be a number");
    const double v = node->value<double>().value();
    if (!(v >= min && v <= max)) {
      return Error(key, "must be a number between " + std::to_string(min) + " and " + std::to_string(max));
    }
    out = v;
    return Status::Ok();
  }

  Status Seconds(const std::string& key, std::chrono::seconds& out, int64_t min, int64_t max) const {
    int64_t v = out.count();
    AEGIS_RETURN_IF_ERROR(Integer(key, v, min, max));
    out = std::chrono::seconds(v);
    return Status::Ok();
  }

  Status Error(const std::string& key, const std::string& problem) const {
    return Status::InvalidArgument(file_ + ": " + prefix_ + key + ": " + problem);
  }

 private:
  const toml::table& table_;
  std::string prefix_;
  const std::string& file_;
};

}  // namespace aegis::cli::internal
