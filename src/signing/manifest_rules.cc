#include "manifest_rules.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <unordered_set>
#include <utility>

namespace aegis::signing {
namespace internal {
namespace {

// Decodes one UTF-8 code point at s[i], advancing i; -1 for any invalid,
// overlong or surrogate sequence (which then never compares equal to a path
// another tool would produce from the same bytes).
int32_t NextCodePoint(std::string_view s, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 ? 2 : 0;
  if (len == 0 || b0 > 0xF4 || i + len > s.size()) {
    ++i;
    return -1;
  }
  int32_t cp = b0 & (0x3F >> (len - 1));
  for (int k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return -1;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  i += len;
  const int32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  return cp;
}

// Control characters (C0, DEL, C1) and bidirectional overrides: never shown.
bool IsUnprintable(int32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

std::optional<uint64_t> CanonicalDecimal(std::string_view text) {
  if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::vector<std::string_view> Components(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t slash; (slash = path.find('/', start)) != std::string_view::npos; start = slash + 1) {
    parts.push_back(path.substr(start, slash - start));
  }
  parts.push_back(path.substr(start));
  return parts;
}

// The order model_signing (Python) writes: path components, then offsets as numbers.
bool PythonLess(const ResourceKey& a, const ResourceKey& b) {
  const auto pa = Components(a.path), pb = Components(b.path);
  if (pa != pb) return std::lexicographical_compare(pa.begin(), pa.end(), pb.begin(), pb.end());
  return std::pair(a.start, a.end) < std::pair(b.start, b.end);
}

Status Invalid(std::string message) { return Status::InvalidArgument(std::move(message)); }

}  // namespace

std::optional<ResourceKey> SplitShardName(std::string_view name) {
  const size_t second = name.rfind(':');
  if (second == std::string_view::npos || second == 0) return std::nullopt;
  const size_t first = name.rfind(':', second - 1);
  if (first == std::string_view::npos || first == 0) return std::nullopt;
  const auto start = CanonicalDecimal(name.substr(first + 1, second - first - 1));
  const auto end = CanonicalDecimal(name.substr(second + 1));
  if (!start || !end) return std::nullopt;
  return ResourceKey{name.substr(0, first), *start, *end};
}

std::string ShardName(std::string_view path, uint64_t start, uint64_t end) {
  return std::string(path) + ":" + std::to_string(start) + ":" + std::to_string(end);
}

std::string ShardAlgorithm(uint64_t shard_size) { return "sha256-sharded-" + std::to_string(shard_size); }

std::string_view ResourcePath(const Manifest& manifest, const Resource& resource) {
  if (manifest.serialization.method == SerializationMethod::kShards) {
    if (auto key = SplitShardName(resource.name)) return key->path;
  }
  return resource.name;
}

bool IsIgnored(std::string_view relative, const std::vector<std::string>& ignore_paths) {
  return std::any_of(ignore_paths.begin(), ignore_paths.end(), [&](const std::string& p) {
    return relative == p || (relative.size() > p.size() && relative.starts_with(p) && relative[p.size()] == '/');
  });
}

std::optional<std::string> NormalizeIgnorePath(std::string_view path) {
  if (path.empty() || path.front() == '/') return std::nullopt;
  std::string out;
  for (std::string_view part : Components(path)) {
    if (part.empty() || part == ".") continue;  // "./a", "a//b", "a/" are spelling, not meaning
    if (!out.empty()) out += '/';
    out += part;
  }
  if (!IsSafeResourceName(out)) return std::nullopt;
  return out;
}

std::string Quote(std::string_view untrusted) {
  constexpr size_t kMaxShown = 80;
  std::string out = "'";
  size_t i = 0;
  while (i < untrusted.size() && out.size() < kMaxShown) {
    const size_t from = i;
    const int32_t cp = NextCodePoint(untrusted, i);
    out += (cp < 0 || IsUnprintable(cp)) ? std::string_view("?") : untrusted.substr(from, i - from);
  }
  return out + (i < untrusted.size() ? "...'" : "'");
}

bool IsPrintableText(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const int32_t cp = NextCodePoint(text, i);
    if (cp < 0 || IsUnprintable(cp)) return false;
  }
  return true;
}

Status ValidateManifest(const Manifest& manifest) {
  const Serialization& s = manifest.serialization;
  // Informational only (OMS), but it is printed: no control characters.
  if (manifest.model_name.empty() || manifest.model_name.size() > 4096 || !IsPrintableText(manifest.model_name)) {
    return Invalid("the subject name must be non-empty printable text");
  }
  const bool shards = s.method == SerializationMethod::kShards;
  if (s.hash_type != "sha256") return Invalid("unsupported hash_type " + Quote(s.hash_type));
  if (shards && s.shard_size == 0) return Invalid("shard_size must be a positive integer");
  if (s.ignore_paths.size() > kMaxIgnorePaths) return Invalid("too many ignore paths");
  for (const std::string& p : s.ignore_paths) {
    if (NormalizeIgnorePath(p) != p) return Invalid("ignore path " + Quote(p) + " is not a safe relative path");
  }
  if (manifest.resources.empty()) return Invalid("the manifest has no resources");
  if (manifest.resources.size() > kMaxResources) return Invalid("the manifest has too many resources");

  // Older OMS releases name a single-file model's resource "." (its path
  // relative to itself); allowed only when every resource uses it.
  const auto is_dot = [&](const Resource& r) { return ResourcePath(manifest, r) == "."; };
  const bool dot_form = is_dot(manifest.resources.front());
  if (dot_form && !shards && manifest.resources.size() != 1) return Invalid("duplicate resource name '.'");

  std::vector<ResourceKey> keys;
  keys.reserve(manifest.resources.size());
  std::unordered_set<std::string_view> names;
  std::set<std::pair<std::string_view, uint64_t>> shard_starts;
  for (const Resource& r : manifest.resources) {
    ResourceKey key{r.name};
    if (shards) {
      auto split = SplitShardName(r.name);
      if (!split) return Invalid("resource name " + Quote(r.name) + " is not path:start:end");
      key = *split;
      if (key.start >= key.end || key.end - key.start > s.shard_size || key.start % s.shard_size != 0) {
        return Invalid("resource " + Quote(r.name) + " is not a shard of size " + std::to_string(s.shard_size));
      }
      if (!shard_starts.emplace(key.path, key.start).second) return Invalid("overlapping shards in " + Quote(r.name));
      if (r.algorithm != "sha256" && r.algorithm != ShardAlgorithm(s.shard_size)) {
        return Invalid("unsupported resource algorithm " + Quote(r.algorithm));
      }
    } else if (r.algorithm != "sha256") {
      return Invalid("unsupported resource algorithm " + Quote(r.algorithm));
    }
    const bool safe = dot_form ? key.path == "." : IsSafeResourceName(key.path);
    if (!safe) return Invalid("resource name " + Quote(r.name) + " is not a safe relative path");
    if (!names.insert(r.name).second) return Invalid("duplicate resource name " + Quote(r.name));
    keys.push_back(key);
  }
  bool code_point_order = true, python_order = true;
  for (size_t i = 1; i < keys.size(); ++i) {
    code_point_order = code_point_order && manifest.resources[i - 1].name < manifest.resources[i].name;
    python_order = python_order && PythonLess(keys[i - 1], keys[i]);
  }
  if (!code_point_order && !python_order) return Invalid("resources are not sorted");
  return Status::Ok();
}

}  // namespace internal

bool IsSafeResourceName(std::string_view name) {
  if (name.empty() || name.size() > 4096) return false;
  for (size_t i = 0; i < name.size();) {
    const int32_t cp = internal::NextCodePoint(name, i);
    if (cp < 0 || cp < 0x20 || cp == 0x7F || cp == '\\') return false;
  }
  for (std::string_view part : internal::Components(name)) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

}  // namespace aegis::signing
