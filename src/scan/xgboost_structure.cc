// XGBoost structure checks, written once over a small value interface with two
// adapters (simdjson for JSON, UbjValue for UBJ). See xgboost_structure.h.
#include "xgboost_structure.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ubjson.h"

namespace aegis::scan::internal {
namespace {

constexpr int64_t kDeletedSplit = 2147483647;       // SplitIndex() of a node XGBoost deleted
constexpr int64_t kMaxCategory = int64_t{1} << 24;  // XGBoost's own limit (a float's mantissa)
constexpr uint64_t kMaxCategoryBytes = 64u << 20;   // all categorical bitfields of a model
constexpr int64_t kMaxGroups = 1 << 16;
constexpr uint64_t kMinTreeBytes = 64;  // no serialized tree is smaller

class JsonView {
 public:
  explicit JsonView(simdjson::dom::element e) : e_(e) {}
  bool IsObject() const { return e_.is_object(); }
  bool IsArray() const { return e_.is_array(); }
  bool ForEachMember(const std::function<bool(std::string_view, const JsonView&)>& visit) const {
    simdjson::dom::object o;
    if (e_.get_object().get(o) != simdjson::SUCCESS) return false;
    for (auto field : o) {
      if (!visit(field.key, JsonView(field.value))) break;
    }
    return true;
  }
  bool ForEach(const std::function<bool(const JsonView&)>& visit) const {
    simdjson::dom::array a;
    if (e_.get_array().get(a) != simdjson::SUCCESS) return false;
    for (simdjson::dom::element v : a) {
      if (!visit(JsonView(v))) break;
    }
    return true;
  }
  std::optional<uint64_t> Size() const {
    simdjson::dom::array a;
    if (e_.get_array().get(a) != simdjson::SUCCESS) return std::nullopt;
    return a.size();
  }
  std::optional<std::string_view> String() const {
    std::string_view s;
    if (e_.get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
    return s;
  }
  std::optional<int64_t> Int() const {
    int64_t v = 0;
    if (e_.get_int64().get(v) != simdjson::SUCCESS) return std::nullopt;
    return v;
  }
  std::optional<double> Number() const {
    double v = 0;
    if (e_.get_double().get(v) != simdjson::SUCCESS) return std::nullopt;
    return v;
  }
  std::optional<bool> Bool() const {
    bool v = false;
    if (e_.get_bool().get(v) != simdjson::SUCCESS) return std::nullopt;
    return v;
  }

 private:
  simdjson::dom::element e_;
};

template <typename V>
class ModelChecker {
 public:
  ModelChecker(uint64_t file_size, const ScanLimits& limits, FindingList& out)
      : file_size_(file_size), limits_(limits), out_(out) {}

  void Run(const V& root) {
    auto document = Read(root, "");
    if (!document) return;
    auto learner = ReadMember(*document, "learner", "learner");
    if (!learner) return;
    if (!Params(*learner)) return;
    auto booster = ReadMember(*learner, "gradient_booster", "learner.gradient_booster");
    if (!booster) return;
    auto name = Find(*booster, "name");
    std::optional<std::string_view> kind = name ? name->String() : std::nullopt;
    std::string where = "learner.gradient_booster";
    if (kind == "gbtree") {
      Gbtree(Find(*booster, "model"), where + ".model");
    } else if (kind == "dart") {
      auto gbtree = ReadMember(*booster, "gbtree", where + ".gbtree");
      if (!gbtree) return;
      uint64_t trees = Gbtree(Find(*gbtree, "model"), where + ".gbtree.model");
      auto weights = Find(*booster, "weight_drop");
      uint64_t count = 0;
      if (!weights || !Numbers(*weights, &count) || count != trees) {
        Add(Severity::kCritical, where + ".weight_drop",
            "dart weight_drop must hold one number per tree (" + std::to_string(trees) + ")");
      }
    } else if (kind == "gblinear") {
      auto model = ReadMember(*booster, "model", where + ".model");
      if (!model) return;
      auto weights = Find(*model, "weights");
      uint64_t count = 0, expected = (static_cast<uint64_t>(features_) + 1) * static_cast<uint64_t>(groups_);
      if (!weights || !Numbers(*weights, &count) || count != expected) {
        Add(Severity::kCritical, where + ".model.weights",
            "gblinear weights must hold (num_feature + 1) x groups = " + std::to_string(expected) + " numbers");
      }
    } else {
      Add(Severity::kHigh, where + ".name",
          "unknown XGBoost booster '" + Printable(kind.value_or("(missing)"), 40) + "'");
    }
  }

 private:
  using Members = std::vector<std::pair<std::string_view, V>>;

  void Add(Severity severity, const std::string& where, const std::string& reason) {
    out_.Add(severity, where, "XGBoost model: " + reason);
  }

  // An object's members; duplicate keys are a finding (readers disagree on which copy wins).
  std::optional<Members> Read(const V& value, const std::string& where) {
    Members members;
    if (!value.IsObject() || !value.ForEachMember([&](std::string_view key, const V& v) {
          members.emplace_back(key, v);
          return true;
        })) {
      Add(Severity::kHigh, where.empty() ? "(document)" : where, "expected an object");
      return std::nullopt;
    }
    std::vector<std::string_view> keys;
    for (const auto& m : members) keys.push_back(m.first);
    std::sort(keys.begin(), keys.end());
    auto dup = std::adjacent_find(keys.begin(), keys.end());
    if (dup != keys.end()) {
      Add(Severity::kCritical, where.empty() ? "(document)" : where,
          "duplicate key '" + Printable(*dup, 60) + "' (readers disagree on which copy counts)");
      return std::nullopt;
    }
    return members;
  }
  static std::optional<V> Find(const Members& members, std::string_view key) {
    for (const auto& [k, v] : members) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
  std::optional<Members> ReadMember(const Members& parent, std::string_view key, const std::string& where) {
    auto value = Find(parent, key);
    if (!value) {
      Add(Severity::kHigh, where, "missing");
      return std::nullopt;
    }
    return Read(*value, where);
  }

  // XGBoost parameters are strings of decimal digits ("num_feature": "4") or numbers.
  static std::optional<int64_t> ParamInt(const std::optional<V>& value) {
    if (!value) return std::nullopt;
    if (auto i = value->Int()) return i;
    auto s = value->String();
    if (!s || s->empty() || s->size() > 18) return std::nullopt;
    bool negative = s->front() == '-';
    std::string_view digits = negative ? s->substr(1) : *s;
    if (digits.empty()) return std::nullopt;
    int64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return negative ? -v : v;
  }
  // A parameter that must be present (or has `fallback`) and lie in [low, high].
  std::optional<int64_t> Param(const Members& object, std::string_view key, const std::string& where, int64_t low,
                               int64_t high, std::optional<int64_t> fallback, Severity severity = Severity::kHigh) {
    auto member = Find(object, key);
    std::optional<int64_t> v = member ? ParamInt(member) : fallback;
    if (!v || *v < low || *v > high) {
      std::string shown = v ? std::to_string(*v) : member ? "not an integer" : "missing";
      Add(severity, where + "." + std::string(key),
          std::string(key) + " is " + shown + " (allowed " + std::to_string(low) + " to " + std::to_string(high) + ")");
      return std::nullopt;
    }
    return v;
  }

  bool Ints(const V& array, std::vector<int64_t>* out) {
    out->clear();
    bool ok = true;
    bool walked = array.IsArray() && array.ForEach([&](const V& v) {
      auto i = v.Int();
      if (!i) {
        if (auto b = v.Bool()) i = *b ? 1 : 0;
      }
      if (!i) return ok = false;
      out->push_back(*i);
      return true;
    });
    return walked && ok;
  }
  bool Numbers(const V& array, uint64_t* count) {
    *count = 0;
    bool ok = true;
    bool walked = array.IsArray() && array.ForEach([&](const V& v) {
      if (!v.Number()) return ok = false;
      ++*count;
      return true;
    });
    return walked && ok;
  }

  bool Params(const Members& learner) {
    auto p = ReadMember(learner, "learner_model_param", "learner.learner_model_param");
    if (!p) return false;
    std::string where = "learner.learner_model_param";
    auto features = Param(*p, "num_feature", where, 1, static_cast<int64_t>(limits_.max_xgboost_features), {});
    auto classes = Param(*p, "num_class", where, 0, kMaxGroups, 0);
    auto targets = Param(*p, "num_target", where, 1, kMaxGroups, 1);
    if (!features || !classes || !targets) return false;
    features_ = *features;
    groups_ = std::max<int64_t>({*classes, *targets, 1});
    for (const char* key : {"feature_names", "feature_types"}) {
      auto names = Find(learner, key);
      auto size = names ? names->Size() : std::optional<uint64_t>(0);
      if (!size || (*size != 0 && *size != static_cast<uint64_t>(features_))) {
        Add(Severity::kHigh, std::string("learner.") + key, std::string(key) + " must be empty or name every feature");
      }
    }
    return true;
  }

  // Returns the number of trees checked.
  uint64_t Gbtree(const std::optional<V>& model_value, const std::string& where) {
    if (!model_value) {
      Add(Severity::kHigh, where, "missing");
      return 0;
    }
    auto model = Read(*model_value, where);
    if (!model) return 0;
    auto param = ReadMember(*model, "gbtree_model_param", where + ".gbtree_model_param");
    if (!param) return 0;
    std::string pwhere = where + ".gbtree_model_param";
    auto num_trees = Param(*param, "num_trees", pwhere, 0, INT32_MAX, {}, Severity::kCritical);
    auto parallel = Param(*param, "num_parallel_tree", pwhere, 1, kMaxGroups, 1);
    auto leaf_vector = Param(*param, "size_leaf_vector", pwhere, 0, 0, 0);
    if (!num_trees || !parallel || !leaf_vector) return 0;
    uint64_t n = static_cast<uint64_t>(*num_trees);
    if (n > 0 && file_size_ / n < kMinTreeBytes) {
      Add(Severity::kHigh, pwhere + ".num_trees",
          std::to_string(n) + " trees cannot fit in a file of " + std::to_string(file_size_) + " bytes");
      return 0;
    }
    auto trees = Find(*model, "trees");
    auto tree_count = trees ? trees->Size() : std::nullopt;
    if (!tree_count || *tree_count != n) {
      Add(Severity::kCritical, where + ".trees",
          "num_trees is " + std::to_string(n) + " but the model holds " +
              (tree_count ? std::to_string(*tree_count) : std::string("no tree array")));
      return 0;
    }
    std::vector<int64_t> info;
    auto tree_info = Find(*model, "tree_info");
    if (!tree_info || !Ints(*tree_info, &info) || info.size() != n) {
      Add(Severity::kCritical, where + ".tree_info",
          "tree_info must hold one integer per tree (" + std::to_string(n) + ")");
      return 0;
    }
    for (size_t i = 0; i < info.size(); ++i) {
      if (info[i] < 0 || info[i] >= groups_) {
        Add(Severity::kCritical, where + ".tree_info[" + std::to_string(i) + "]",
            "tree " + std::to_string(i) + " writes to output group " + std::to_string(info[i]) + " of " +
                std::to_string(groups_));
        return 0;
      }
    }
    std::vector<uint8_t> seen_ids(n, 0);
    uint64_t index = 0;
    trees->ForEach([&](const V& tree) {
      Tree(tree, where + ".trees[" + std::to_string(index) + "]", n, seen_ids);
      ++index;
      return true;
    });
    return n;
  }

  void Tree(const V& value, const std::string& where, uint64_t num_trees, std::vector<uint8_t>& seen_ids) {
    auto tree = Read(value, where);
    if (!tree) return;
    auto id = ParamInt(Find(*tree, "id"));
    if (!id || *id < 0 || static_cast<uint64_t>(*id) >= num_trees || seen_ids[static_cast<size_t>(*id)]) {
      Add(Severity::kCritical, where + ".id", "tree ids must be distinct indexes below num_trees");
      return;
    }
    seen_ids[static_cast<size_t>(*id)] = 1;
    auto param = ReadMember(*tree, "tree_param", where + ".tree_param");
    if (!param) return;
    std::string pwhere = where + ".tree_param";
    auto nodes = Param(*param, "num_nodes", pwhere, 1, INT32_MAX, {}, Severity::kCritical);
    auto deleted = Param(*param, "num_deleted", pwhere, 0, INT32_MAX, 0);
    auto leaf_vector = Param(*param, "size_leaf_vector", pwhere, 0, 1, 0);
    auto tree_features = Param(*param, "num_feature", pwhere, 0, features_, features_, Severity::kCritical);
    if (!nodes || !deleted || !leaf_vector || !tree_features) return;
    uint64_t n = static_cast<uint64_t>(*nodes);
    std::vector<int64_t> left, right, parents, split, default_left;
    struct IntArray {
      const char* name;
      std::vector<int64_t>* values;
    };
    for (IntArray a :
         {IntArray{"left_children", &left}, IntArray{"right_children", &right}, IntArray{"parents", &parents},
          IntArray{"split_indices", &split}, IntArray{"default_left", &default_left}}) {
      auto array = Find(*tree, a.name);
      if (!array || !Ints(*array, a.values) || a.values->size() != n) {
        Add(Severity::kCritical, where + "." + a.name,
            std::string(a.name) + " must hold one integer per node (num_nodes " + std::to_string(n) + ")");
        return;
      }
    }
    for (const char* name : {"split_conditions", "base_weights", "loss_changes", "sum_hessian"}) {
      auto array = Find(*tree, name);
      uint64_t count = 0;
      if (!array || !Numbers(*array, &count) || count != n) {
        Add(Severity::kCritical, where + "." + name,
            std::string(name) + " must hold one number per node (num_nodes " + std::to_string(n) + ")");
        return;
      }
    }
    int64_t features = std::min<int64_t>(features_, *tree_features > 0 ? *tree_features : features_);
    if (!Walk(where, n, left, right, parents, split, default_left, features, *deleted)) return;
    Categories(*tree, where, n, left);
  }

  bool Walk(const std::string& where, uint64_t n, const std::vector<int64_t>& left, const std::vector<int64_t>& right,
            const std::vector<int64_t>& parents, const std::vector<int64_t>& split,
            const std::vector<int64_t>& default_left, int64_t features, int64_t declared_deleted) {
    auto node = [&](uint64_t i) { return where + " node " + std::to_string(i); };
    int64_t size = static_cast<int64_t>(n);
    for (uint64_t i = 1; i < n; ++i) {  // the loader reads every node's parent, even unreachable ones
      if (parents[i] < 0 || parents[i] >= size) {
        Add(Severity::kCritical, node(i), "parent index " + std::to_string(parents[i]) + " is outside the tree");
        return false;
      }
    }
    std::vector<uint8_t> visited(n, 0);
    std::vector<uint64_t> stack{0};
    while (!stack.empty()) {
      uint64_t i = stack.back();
      stack.pop_back();
      if (visited[i]) {
        Add(Severity::kCritical, node(i), "reached twice from the root (a cycle or a shared node)");
        return false;
      }
      visited[i] = 1;
      if (left[i] == -1) {
        if (right[i] != -1) {
          Add(Severity::kCritical, node(i), "right child " + std::to_string(right[i]) + " without a left child");
          return false;
        }
        continue;
      }
      for (int64_t child : {left[i], right[i]}) {
        if (child < 1 || child >= size) {
          Add(Severity::kCritical, node(i),
              "child index " + std::to_string(child) + " is outside the tree's " + std::to_string(n) + " nodes");
          return false;
        }
        if (parents[static_cast<size_t>(child)] != static_cast<int64_t>(i)) {
          Add(Severity::kCritical, node(static_cast<uint64_t>(child)),
              "parent is " + std::to_string(parents[static_cast<size_t>(child)]) + ", not " + std::to_string(i));
          return false;
        }
      }
      if (split[i] < 0 || split[i] >= features) {
        Add(Severity::kCritical, node(i),
            "splits on feature " + std::to_string(split[i]) + "; the model has " + std::to_string(features));
        return false;
      }
      stack.push_back(static_cast<uint64_t>(right[i]));
      stack.push_back(static_cast<uint64_t>(left[i]));
    }
    int64_t deleted = 0;
    for (uint64_t i = 0; i < n; ++i) {
      if (visited[i]) continue;
      if (split[i] == kDeletedSplit && default_left[i] == 1) {
        ++deleted;
        continue;
      }
      Add(Severity::kHigh, node(i), "not reachable from the root and not a deleted node");
      return false;
    }
    if (deleted != declared_deleted) {
      Add(Severity::kHigh, where + ".tree_param.num_deleted",
          "num_deleted is " + std::to_string(declared_deleted) + " but " + std::to_string(deleted) +
              " nodes are deleted");
      return false;
    }
    return true;
  }

  void Categories(const Members& tree, const std::string& where, uint64_t n, const std::vector<int64_t>& left) {
    auto split_type = Find(tree, "split_type");
    if (!split_type) return;
    std::vector<int64_t> types, cat_nodes, segments, sizes, categories;
    if (!Ints(*split_type, &types) || types.size() != n) {
      Add(Severity::kCritical, where + ".split_type", "split_type must hold one integer per node");
      return;
    }
    std::vector<int64_t> categorical;
    for (uint64_t i = 0; i < n; ++i) {
      if (types[i] != 0 && types[i] != 1) {
        Add(Severity::kCritical, where + ".split_type", "split type " + std::to_string(types[i]) + " is unknown");
        return;
      }
      if (types[i] == 1) categorical.push_back(static_cast<int64_t>(i));
    }
    struct IntArray {
      const char* name;
      std::vector<int64_t>* values;
    };
    for (IntArray a : {IntArray{"categories_nodes", &cat_nodes}, IntArray{"categories_segments", &segments},
                       IntArray{"categories_sizes", &sizes}, IntArray{"categories", &categories}}) {
      auto array = Find(tree, a.name);
      if (!array || !Ints(*array, a.values)) {
        Add(Severity::kCritical, where + "." + a.name, std::string(a.name) + " must be an array of integers");
        return;
      }
    }
    if (cat_nodes != categorical || segments.size() != cat_nodes.size() || sizes.size() != cat_nodes.size()) {
      Add(Severity::kCritical, where + ".categories_nodes",
          "categorical split tables disagree with split_type (one node, segment and size per categorical split)");
      return;
    }
    for (size_t j = 0; j < cat_nodes.size(); ++j) {
      uint64_t i = static_cast<uint64_t>(cat_nodes[j]);
      if (left[i] == -1) {
        Add(Severity::kHigh, where + " node " + std::to_string(i), "a leaf with a categorical split");
        return;
      }
      int64_t begin = segments[j], count = sizes[j];
      if (begin < 0 || count < 1 || begin > static_cast<int64_t>(categories.size()) ||
          count > static_cast<int64_t>(categories.size()) - begin) {
        Add(Severity::kCritical, where + ".categories_segments[" + std::to_string(j) + "]",
            "categories segment outside the categories array");
        return;
      }
      int64_t max_category = 0;
      for (int64_t k = begin; k < begin + count; ++k) {
        int64_t c = categories[static_cast<size_t>(k)];
        if (c < 0 || c >= kMaxCategory) {
          Add(Severity::kCritical, where + ".categories[" + std::to_string(k) + "]",
              "category " + std::to_string(c) + " is outside [0, 2^24)");
          return;
        }
        max_category = std::max(max_category, c);
      }
      category_bytes_ += static_cast<uint64_t>(max_category / 32 + 1) * 4;
      if (category_bytes_ > kMaxCategoryBytes) {
        Add(Severity::kHigh, where + ".categories", "categorical splits need more than 64 MiB of bitfields");
        return;
      }
    }
  }

  uint64_t file_size_;
  const ScanLimits& limits_;
  FindingList& out_;
  int64_t features_ = 0;
  int64_t groups_ = 1;
  uint64_t category_bytes_ = 0;
};

class UbjView {
 public:
  explicit UbjView(UbjValue v) : v_(v) {}
  bool IsObject() const { return v_.IsObject(); }
  bool IsArray() const { return v_.IsArray(); }
  bool ForEachMember(const std::function<bool(std::string_view, const UbjView&)>& visit) const {
    return v_.ForEachMember([&](std::string_view key, const UbjValue& v) { return visit(key, UbjView(v)); });
  }
  bool ForEach(const std::function<bool(const UbjView&)>& visit) const {
    return v_.ForEach([&](const UbjValue& v) { return visit(UbjView(v)); });
  }
  std::optional<uint64_t> Size() const { return v_.Size(); }
  std::optional<std::string_view> String() const { return v_.String(); }
  std::optional<int64_t> Int() const { return v_.Int(); }
  std::optional<double> Number() const { return v_.Number(); }
  std::optional<bool> Bool() const { return v_.Bool(); }

 private:
  UbjValue v_;
};

}  // namespace

void CheckXgboostJsonStructure(simdjson::dom::element root, uint64_t file_size, const ScanLimits& limits,
                               FindingList& out) {
  ModelChecker<JsonView>(file_size, limits, out).Run(JsonView(root));
}

void CheckXgboostUbjStructure(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out) {
  ModelChecker<UbjView>(bytes.size(), limits, out).Run(UbjView(UbjValue::Root(bytes)));
}

}  // namespace aegis::scan::internal
