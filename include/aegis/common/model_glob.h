// Model-name globs: the scope of a trusted publisher key or of a role grant.
//
// A glob is fnmatch(3) syntax without flags over a model name ('*', '?', '[…]'
// and '[!…]'); model names hold no '/', so '*' spans the whole name. "*" means
// every model.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

namespace aegis {

// Letters, digits, '.', '_', '-' and the glob characters; 1–128 bytes; '['
// classes closed and non-empty, '!' only first in a class.
bool IsValidModelGlob(std::string_view glob);

// Whether `name` matches `glob`.
bool ModelGlobMatches(std::string_view glob, std::string_view name);

}  // namespace aegis
