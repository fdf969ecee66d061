// A tokenizer for serialized TorchScript (the `code/**.py` members of a TorchScript
// archive), written to split the text exactly where libtorch's own lexer
// (torch/csrc/jit/frontend/lexer.h, 1.13) splits it, so that no name the engine
// compiles can hide from the scanner inside what the scanner took for a string,
// a number or a comment:
//   - names: [A-Za-z_][A-Za-z0-9_]* (ASCII only); keywords are names, except the
//     two-word tokens "is not" and "not in", which are matched as libtorch's trie
//     matches them (longest match wins, so "not int" is "not in" then "t");
//   - numbers as C strtod reads them (decimal, hex floats), an optional 'j';
//   - strings in ' or ", single or triple quoted, no prefixes; decoded with
//     libtorch's escapes (\\ \' \" \a \b \f \n \t \v, \<newline>, \ooo octal);
//     \x, \u and anything else are errors, as they are for the engine;
//   - comments from '#' to the end of the line, except "# type:", which is a
//     token (what follows it is code);
//   - blank characters are isspace() minus '\n'; a backslash before '\n' joins
//     lines; newlines inside ( [ { do not count;
//   - indentation: NEWLINE / INDENT / DEDENT from a stack of column widths; a
//     dedent to a width not on the stack is an error.
// Adjacent string literals are separate tokens (the reader concatenates them).
//
// Errors (a character that starts no token, an unterminated or undecodable
// string, unbalanced brackets, inconsistent indentation, limits) are a Status;
// the engine would refuse such code too, but the scanner reports it because it
// cannot vouch for text it could not read.
//
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::scan::internal::torchscript {

enum class TokenKind { kName, kNumber, kString, kOp, kNewline, kIndent, kDedent, kEnd };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;   // as written; for strings the decoded value
  uint32_t line = 0;  // 1-based line of the token's first character
};

struct LexLimits {
  size_t max_tokens = 4u << 20;
  size_t max_nesting = 200;  // ( [ { depth: libtorch's parser recurses once per level
  size_t max_indent = 100;   // indentation levels
};

// The tokens of `source`, ending with NEWLINE, the DEDENTs back to the first
// line's indentation, and END.
StatusOr<std::vector<Token>> Tokenize(std::string_view source, const LexLimits& limits = {});

}  // namespace aegis::scan::internal::torchscript
