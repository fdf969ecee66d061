#include "aegis/common/model_glob.h"

#include <fnmatch.h>

#include <string>

namespace aegis {

bool IsValidModelGlob(std::string_view glob) {
  if (glob.empty() || glob.size() > 128) return false;
  for (char c : glob) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && c != '.' && c != '_' && c != '-' && c != '*' && c != '?' && c != '[' && c != ']' && c != '!') {
      return false;
    }
  }
  return true;
}

bool ModelGlobMatches(std::string_view glob, std::string_view name) {
  // fnmatch needs NUL-terminated strings; both are short (≤ 128 bytes).
  return ::fnmatch(std::string(glob).c_str(), std::string(name).c_str(), 0) == 0;
}

}  // namespace aegis
