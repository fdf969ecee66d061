#include "aegis/common/model_glob.h"

#include <fnmatch.h>

#include <string>

namespace aegis {

bool IsValidModelGlob(std::string_view glob) {
  if (glob.empty() || glob.size() > 128) return false;
  // Brackets must pair up and hold at least one character: fnmatch would take
  // a lone '[' literally, and a scope that reads differently to people and to
  // the matcher is how grants end up wider than intended.
  bool in_class = false;
  size_t class_start = 0;
  for (size_t i = 0; i < glob.size(); ++i) {
    const char c = glob[i];
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum || c == '.' || c == '_' || c == '-') continue;
    if (c == '[') {
      if (in_class) return false;
      in_class = true;
      class_start = i + 1;
    } else if (c == ']') {
      if (!in_class || i == class_start || (i == class_start + 1 && glob[class_start] == '!')) return false;
      in_class = false;
    } else if (c == '!') {
      if (!in_class || i != class_start) return false;
    } else if (c == '*' || c == '?') {
      if (in_class) return false;
    } else {
      return false;
    }
  }
  return !in_class;
}

bool ModelGlobMatches(std::string_view glob, std::string_view name) {
  // fnmatch needs NUL-terminated strings; both are short (≤ 128 bytes).
  return ::fnmatch(std::string(glob).c_str(), std::string(name).c_str(), 0) == 0;
}

}  // namespace aegis
