#include "target.h"

namespace aegis::http::internal {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

StatusOr<Target> ParseTarget(std::string_view raw) {
  if (raw.empty() || raw.front() != '/') return Status::InvalidArgument("request target must start with '/'");
  if (raw.find('#') != std::string_view::npos) return Status::InvalidArgument("request target must not contain '#'");
  const size_t q = raw.find('?');
  Target t;
  if (q != std::string_view::npos) t.query.assign(raw.substr(q + 1));
  auto path = PercentDecode(raw.substr(0, q), /*plus_is_space=*/false);
  if (!path) return Status::InvalidArgument("bad percent-encoding in request path");
  for (const char c : *path) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0) return Status::InvalidArgument("NUL in request path");
    if (c == '\\') return Status::InvalidArgument("backslash in request path");
    if (u < 0x20 || u == 0x7F) return Status::InvalidArgument("control character in request path");
  }
  // Checked after decoding, so "%2e%2e" and "..%2f" are caught as well.
  std::string_view rest = *path;
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    if (rest.substr(0, slash) == "..") return Status::InvalidArgument("'..' segment in request path");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  t.path = std::move(*path);
  return t;
}

}  // namespace aegis::http::internal
