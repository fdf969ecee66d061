// The TorchScript tokenizer: libtorch's match() loop (blanks, comments, line
// joins, newlines as indentation tokens outside brackets), then number, string,
// or the longer of an identifier and a fixed token. See torchscript_lexer.h.
#include "torchscript_lexer.h"

#include <algorithm>

namespace aegis::scan::internal::torchscript {
namespace {

// libtorch's multi-character tokens (TC_FORALL_TOKEN_KINDS with a spelling),
// single-character tokens come from kSingleChars.
constexpr std::string_view kFixedTokens[] = {
    "def",      "<=>", "if",   "else",   "elif",   "while", "return",  "is",       "is not",  "!=",  "==",
    "<=",       ">=",  "//",   "True",   "False",  "None",  "and",     "or",       "not",     "<<",  ">>",
    "+=",       "-=",  "*=",   "/=",     "%=",     "|=",    "&=",      "^=",       "<<=",     ">>=", "**=",
    "global",   "for", "in",   "not in", "**",     "->",    "# type:", "raise",    "assert",  "...", "break",
    "continue", "del", "pass", "class",  "import", "with",  "as",      "Ellipsis", "NoneType"};
constexpr std::string_view kSingleChars = "+-*/%@()[]:,={}><.?!&^|~";

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsIdentChar(size_t i, char c) { return IsAlpha(c) || c == '_' || (i > 0 && IsDigit(c)); }

// How much of `s` C strtod reads (no sign, no inf/nan: libtorch refuses a first
// character that is a sign or a letter), plus a 'j' for complex literals.
size_t NumberLength(std::string_view s) {
  size_t n = s.size(), i = 0;
  if (n == 0 || !(IsDigit(s[0]) || s[0] == '.')) return 0;
  bool hex_done = false;
  if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    size_t k = 2, digits = 0;
    while (k < n && IsHex(s[k])) ++k, ++digits;
    if (k < n && s[k] == '.') {
      size_t m = k + 1;
      while (m < n && IsHex(s[m])) ++m, ++digits;
      if (digits > 0) k = m;
    }
    if (digits > 0) {
      if (k < n && (s[k] == 'p' || s[k] == 'P')) {
        size_t m = k + 1;
        if (m < n && (s[m] == '+' || s[m] == '-')) ++m;
        if (m < n && IsDigit(s[m])) {
          while (m < n && IsDigit(s[m])) ++m;
          k = m;
        }
      }
      i = k;
      hex_done = true;
    }
  }
  if (!hex_done) {
    size_t digits = 0;
    while (i < n && IsDigit(s[i])) ++i, ++digits;
    if (i < n && s[i] == '.') {
      ++i;
      while (i < n && IsDigit(s[i])) ++i, ++digits;
    }
    if (digits == 0) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
      size_t m = i + 1;
      if (m < n && (s[m] == '+' || s[m] == '-')) ++m;
      if (m < n && IsDigit(s[m])) {
        while (m < n && IsDigit(s[m])) ++m;
        i = m;
      }
    }
  }
  if (i < n && s[i] == 'j') ++i;
  return i;
}

// libtorch's isString: the length of the literal starting at s[0], or 0.
size_t StringLength(std::string_view s) {
  char quote = s[0];
  if (quote != '"' && quote != '\'') return 0;
  auto run = [&](size_t at, size_t len) {
    return at + len <= s.size() && std::count(s.begin() + at, s.begin() + at + len, quote) == static_cast<long>(len);
  };
  size_t quote_len = run(0, 3) ? 3 : 1;
  size_t end = quote_len;
  while (end < s.size() && !run(end, quote_len)) {
    if (s[end] == '\n' && quote_len != 3) return 0;
    if (s[end] == '\\') ++end;
    ++end;
  }
  return end < s.size() ? end + quote_len : 0;
}

// libtorch's parseStringLiteral.
StatusOr<std::string> DecodeString(std::string_view literal) {
  size_t quote_len = literal.size() >= 6 && literal[1] == literal[0] && literal[2] == literal[0] ? 3 : 1;
  std::string s(literal.substr(quote_len, literal.size() - 2 * quote_len));
  size_t pos = s.find('\\');
  while (pos != std::string::npos) {
    if (pos + 1 >= s.size()) return Status::Unprocessable("string ends in a backslash");
    char c = s[pos + 1];
    size_t erase = 2;
    switch (c) {
      case '\\':
      case '\'':
      case '"':
      case '\n':
        break;
      case 'a':
        c = '\a';
        break;
      case 'b':
        c = '\b';
        break;
      case 'f':
        c = '\f';
        break;
      case 'n':
        c = '\n';
        break;
      case 'v':
        c = '\v';
        break;
      case 't':
        c = '\t';
        break;
      default: {
        if (pos + 3 >= s.size()) return Status::Unprocessable("unsupported escape in a string");
        int value = 0;
        for (size_t i = 1; i < 4; ++i) {
          char d = s[pos + i];
          if (d < '0' || d > '7') return Status::Unprocessable("unsupported escape in a string");
          value = value * 8 + (d - '0');
        }
        if (value >= 256) return Status::Unprocessable("octal escape out of range");
        c = static_cast<char>(value);
        erase = 4;
      }
    }
    s.replace(pos, erase, 1, c);
    pos = s.find('\\', pos + 1);
  }
  return s;
}

class Lexer {
 public:
  Lexer(std::string_view src, const LexLimits& limits) : src_(src), limits_(limits) {}

  StatusOr<std::vector<Token>> Run() {
    Raw first = Match(0, true);
    indents_.push_back(first.end - first.start);
    pos_ = first.end;
    while (true) {
      Raw r = Match(pos_, false);
      pos_ = r.end;
      if (r.kind == Raw::kEnd) break;
      if (r.kind == Raw::kWhitespace || r.kind == Raw::kWhitespaceEnd) {
        size_t depth = r.kind == Raw::kWhitespaceEnd ? indents_.front() : r.end - r.start;
        AEGIS_RETURN_IF_ERROR(Indent(depth, r.start));
        continue;
      }
      if (r.kind == Raw::kError) return Error(r.start, "a character that starts no token");
      AEGIS_RETURN_IF_ERROR(Emit(r));
    }
    bool ended =
        !tokens_.empty() && (tokens_.back().kind == TokenKind::kNewline || tokens_.back().kind == TokenKind::kDedent);
    if (!ended) Push(TokenKind::kNewline, "", src_.size());
    while (indents_.size() > 1) {
      indents_.pop_back();
      Push(TokenKind::kDedent, "", src_.size());
    }
    Push(TokenKind::kEnd, "", src_.size());
    return std::move(tokens_);
  }

 private:
  struct Raw {
    enum Kind { kNumber, kString, kName, kOp, kWhitespace, kWhitespaceEnd, kEnd, kError } kind;
    size_t start, end;
  };

  bool TypeComment(size_t pos) const { return src_.substr(pos).starts_with("# type:"); }

  // libtorch's SharedParserData::match, as a loop.
  Raw Match(size_t pos, bool whitespace) const {
    size_t start = pos;
    while (true) {
      start = pos;
      while (pos < src_.size() && IsBlank(src_[pos])) ++pos;
      if (pos < src_.size()) {
        if (src_[pos] == '#' && !TypeComment(pos)) {
          while (pos < src_.size() && src_[pos] != '\n') ++pos;
          continue;
        }
        if (src_[pos] == '\\' && pos + 1 < src_.size() && src_[pos + 1] == '\n' && !whitespace) {
          pos += 2;
          whitespace = false;
          continue;
        }
        if (src_[pos] == '\n') {
          ++pos;
          whitespace = nesting_ == 0;
          continue;
        }
      }
      break;
    }
    if (whitespace) return {pos < src_.size() ? Raw::kWhitespace : Raw::kWhitespaceEnd, start, pos};
    if (pos == src_.size()) return {Raw::kEnd, pos, pos};
    std::string_view rest = src_.substr(pos);
    if (size_t n = NumberLength(rest)) return {Raw::kNumber, pos, pos + n};
    if (size_t n = StringLength(rest)) return {Raw::kString, pos, pos + n};
    size_t ident = 0;
    while (ident < rest.size() && IsIdentChar(ident, rest[ident])) ++ident;
    size_t fixed = kSingleChars.find(rest[0]) != std::string_view::npos ? 1 : 0;
    for (std::string_view t : kFixedTokens) {
      if (t[0] == rest[0] && t.size() > fixed && rest.starts_with(t)) fixed = t.size();
    }
    if (ident == 0 && fixed == 0) return {Raw::kError, pos, pos};
    // The longer match wins; a tie ("is", "def") is the fixed token, a keyword.
    bool name = ident > fixed || IsAlpha(rest[0]) || rest[0] == '_';
    return {name ? Raw::kName : Raw::kOp, pos, pos + std::max(ident, fixed)};
  }

  Status Emit(const Raw& r) {
    std::string_view text = src_.substr(r.start, r.end - r.start);
    if (r.kind == Raw::kNumber) {
      Push(TokenKind::kNumber, std::string(text), r.start);
    } else if (r.kind == Raw::kString) {
      auto decoded = DecodeString(text);
      if (!decoded.ok()) return Error(r.start, decoded.status().message());
      Push(TokenKind::kString, std::move(*decoded), r.start);
    } else if (r.kind == Raw::kName) {
      Push(TokenKind::kName, std::string(text), r.start);
    } else {
      if (text == "(" || text == "[" || text == "{") {
        if (++nesting_ > limits_.max_nesting) {
          return Error(r.start, "brackets nest deeper than " + std::to_string(limits_.max_nesting) + " levels");
        }
      } else if (text == ")" || text == "]" || text == "}") {
        if (nesting_ == 0) return Error(r.start, "a closing bracket without an opening one");
        --nesting_;
      }
      Push(TokenKind::kOp, std::string(text), r.start);
    }
    if (tokens_.size() > limits_.max_tokens) return Error(r.start, "more tokens than the scan limit");
    return Status::Ok();
  }

  // libtorch's Lexer::lex for a whitespace token.
  Status Indent(size_t depth, size_t at) {
    if (depth > indents_.back()) {
      if (indents_.size() >= limits_.max_indent) {
        return Error(at, "indentation deeper than " + std::to_string(limits_.max_indent) + " levels");
      }
      indents_.push_back(depth);
      Push(TokenKind::kIndent, "", at);
      return Status::Ok();
    }
    Push(TokenKind::kNewline, "", at);
    while (indents_.back() != depth) {
      indents_.pop_back();
      Push(TokenKind::kDedent, "", at);
      if (indents_.empty()) return Error(at, "a dedent to a column that matches no outer block");
    }
    return Status::Ok();
  }

  void Push(TokenKind kind, std::string text, size_t at) { tokens_.push_back({kind, std::move(text), LineAt(at)}); }

  // Positions only move forward, so lines are counted incrementally.
  uint32_t LineAt(size_t at) {
    at = std::min(at, src_.size());
    if (at < line_pos_) return line_;
    line_ += static_cast<uint32_t>(std::count(src_.begin() + line_pos_, src_.begin() + at, '\n'));
    line_pos_ = at;
    return line_;
  }

  Status Error(size_t at, const std::string& why) {
    return Status::Unprocessable(why + " at line " + std::to_string(LineAt(at)));
  }

  std::string_view src_;
  LexLimits limits_;
  size_t pos_ = 0;
  size_t nesting_ = 0;
  std::vector<size_t> indents_;
  std::vector<Token> tokens_;
  size_t line_pos_ = 0;
  uint32_t line_ = 1;
};

}  // namespace

StatusOr<std::vector<Token>> Tokenize(std::string_view source, const LexLimits& limits) {
  return Lexer(source, limits).Run();
}

}  // namespace aegis::scan::internal::torchscript
