// The TorchScript program reader: declarations first (class attributes, methods,
// functions of every file), then every name chain, getattr and string literal
// checked against the allowlist. See torchscript_reader.h for the rules.
#include "torchscript_reader.h"

#include <iterator>
#include <optional>
#include <unordered_set>

#include "torchscript_allowlist.h"
#include "torchscript_lexer.h"

namespace aegis::scan::internal::torchscript {
namespace {

constexpr std::string_view kKeywords[] = {
    "def",   "if",       "else", "elif", "while",  "return", "is",   "is not", "True",     "False",
    "None",  "and",      "or",   "not",  "not in", "global", "for",  "in",     "raise",    "assert",
    "break", "continue", "del",  "pass", "class",  "import", "with", "as",     "Ellipsis", "NoneType"};

bool IsKeyword(std::string_view name) {
  static const std::unordered_set<std::string_view> set(std::begin(kKeywords), std::end(kKeywords));
  return set.contains(name);
}

using Tokens = std::vector<Token>;
using Names = std::unordered_set<std::string>;

bool IsOp(const Token& t, std::string_view text) { return t.kind == TokenKind::kOp && t.text == text; }
bool IsName(const Token& t) { return t.kind == TokenKind::kName && !IsKeyword(t.text); }

std::string Join(const std::vector<std::string>& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count && i < parts.size(); ++i) out += (i ? "." : "") + parts[i];
  return out;
}

// Names a program declares: `def NAME`, and in class bodies `NAME : T`,
// `NAME = v` and `__annotations__["NAME"] = T`. Values of these classes resolve
// such names to the archive's own code and data, not to operators.
void CollectDeclarations(const Tokens& t, Names& names) {
  std::vector<bool> class_blocks;  // per open block: is it a class body?
  bool line_start = true, pending_class = false;
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    const Token& tok = t[i];
    if (tok.kind == TokenKind::kIndent) {
      class_blocks.push_back(pending_class);
      line_start = true;
      continue;
    }
    if (tok.kind == TokenKind::kDedent || tok.kind == TokenKind::kNewline) {
      if (tok.kind == TokenKind::kDedent && !class_blocks.empty()) class_blocks.pop_back();
      line_start = true;
      continue;
    }
    if (line_start) {
      line_start = false;
      pending_class = tok.kind == TokenKind::kName && tok.text == "class";
      if (!class_blocks.empty() && class_blocks.back() && tok.kind == TokenKind::kName) {
        if (IsOp(t[i + 1], ":") || IsOp(t[i + 1], "=")) names.insert(tok.text);
        if (tok.text == "__annotations__" && i + 3 < t.size() && IsOp(t[i + 1], "[") &&
            t[i + 2].kind == TokenKind::kString && IsOp(t[i + 3], "]")) {
          names.insert(t[i + 2].text);
        }
      }
    }
    if (tok.kind == TokenKind::kName && tok.text == "def" && t[i + 1].kind == TokenKind::kName) {
      names.insert(t[i + 1].text);
    }
  }
}

class Checker {
 public:
  Checker(const CodeFile& file, const Tokens& tokens, const Names& declared, FindingList& out)
      : file_(file), t_(tokens), declared_(declared), out_(out) {}

  void Run() {
    size_t blocks = 0;
    bool line_start = true;
    size_t i = 0;
    while (i < t_.size()) {
      const Token& tok = t_[i];
      switch (tok.kind) {
        case TokenKind::kIndent:
        case TokenKind::kDedent:
        case TokenKind::kNewline:
          if (tok.kind == TokenKind::kIndent) ++blocks;
          if (tok.kind == TokenKind::kDedent && blocks > 0) --blocks;
          line_start = true;
          ++i;
          continue;
        case TokenKind::kString:
          CheckString(tok);
          break;
        case TokenKind::kName:
          if (line_start && tok.text == "import") {
            // libtorch skips top-level import lines unread; anywhere else they do not parse.
            if (blocks > 0) Add(Severity::kHigh, tok.line, "TorchScript code has an import inside a block", "");
            while (i < t_.size() && t_[i].kind != TokenKind::kNewline) ++i;
            continue;
          }
          if (IsName(tok) && !(i > 0 && (IsDeclaration(t_[i - 1])))) {
            line_start = false;
            i = Chain(i);
            continue;
          }
          break;
        case TokenKind::kOp:
          if (tok.text == "." && At(i + 1).kind == TokenKind::kName) {  // `(x).name`, `x[0].name`, `"s".name`
            CheckAttribute(At(i + 1).text, tok.line);
            i += 2;
            line_start = false;
            continue;
          }
          break;
        default:
          break;
      }
      line_start = false;
      ++i;
    }
  }

 private:
  struct Simple {
    std::vector<std::string> parts;
    size_t end = 0;
  };
  enum class GetattrKind { kNotACall, kChain, kLiteralOnValue, kComputed };
  struct Getattr {
    GetattrKind kind = GetattrKind::kNotACall;
    Simple chain;         // kChain: receiver parts plus the attribute
    std::string literal;  // kLiteralOnValue: the attribute
  };

  const Token& At(size_t i) const { return i < t_.size() ? t_[i] : t_.back(); }
  static bool IsDeclaration(const Token& previous) {
    return previous.kind == TokenKind::kName && (previous.text == "def" || previous.text == "class");
  }

  // A name chain `a.b.c`, or `getattr(<chain>, "lit")` which extends one.
  std::optional<Simple> ParseSimple(size_t i) const {
    if (!IsName(At(i))) return std::nullopt;
    Simple s;
    if (At(i).text == "getattr" && IsOp(At(i + 1), "(")) {
      Getattr g = ParseGetattr(i);
      if (g.kind != GetattrKind::kChain) return std::nullopt;
      s = std::move(g.chain);
    } else {
      s.parts.push_back(At(i).text);
      s.end = i + 1;
    }
    while (IsOp(At(s.end), ".") && At(s.end + 1).kind == TokenKind::kName) {
      s.parts.push_back(At(s.end + 1).text);
      s.end += 2;
    }
    return s;
  }

  // getattr( receiver , "lit" ["lit"…] ): the literal is an attribute of the receiver.
  Getattr ParseGetattr(size_t i) const {
    Getattr g;
    size_t comma = 0;
    if (auto receiver = ParseSimple(i + 2); receiver && IsOp(At(receiver->end), ",")) {
      comma = receiver->end;
      g.chain = std::move(*receiver);
    } else {
      size_t depth = 0;
      for (size_t k = i + 2; k < t_.size() && comma == 0; ++k) {
        const Token& tok = At(k);
        if (tok.kind == TokenKind::kEnd) break;
        if (IsOp(tok, "(") || IsOp(tok, "[") || IsOp(tok, "{")) ++depth;
        if (IsOp(tok, ")") || IsOp(tok, "]") || IsOp(tok, "}")) {
          if (depth == 0) break;
          --depth;
        }
        if (depth == 0 && IsOp(tok, ",")) comma = k;
      }
      if (comma == 0) return g;
      g.chain.parts.clear();
    }
    size_t k = comma + 1;
    std::string literal;
    while (At(k).kind == TokenKind::kString) literal += At(k++).text;
    if (k == comma + 1 || !IsOp(At(k), ")")) {
      g.kind = GetattrKind::kComputed;
      return g;
    }
    if (g.chain.parts.empty()) {
      g.kind = GetattrKind::kLiteralOnValue;
      g.literal = std::move(literal);
      return g;
    }
    g.kind = GetattrKind::kChain;
    g.chain.parts.push_back(std::move(literal));
    g.chain.end = k + 1;
    return g;
  }

  size_t Chain(size_t i) {
    uint32_t line = At(i).line;
    if (At(i).text == "getattr" && IsOp(At(i + 1), "(")) {
      Getattr g = ParseGetattr(i);
      if (g.kind == GetattrKind::kLiteralOnValue) {
        CheckAttribute(g.literal, line);
        return i + 1;  // the receiver expression is read as usual
      }
      if (g.kind == GetattrKind::kComputed) {
        Add(Severity::kHigh, line, "TorchScript code calls getattr with a computed attribute name", "getattr");
        return i + 1;
      }
    }
    std::optional<Simple> chain = ParseSimple(i);
    if (!chain) return i + 1;
    bool called = IsOp(At(chain->end), "(");
    bool assigned = IsOp(At(chain->end), "=");
    CheckChain(chain->parts, line, called, assigned);
    return chain->end;
  }

  void CheckChain(const std::vector<std::string>& p, uint32_t line, bool called, bool assigned) {
    const std::string& root = p[0];
    if (root == "torch" || root == "ops") {
      size_t k = 1;
      std::string ns = "aten";
      if (root == "ops") {
        if (p.size() < 2) return Alias(p, 1, line);
        ns = p[1];
        k = 2;
      }
      while (k < p.size() && p[k] == "autograd") {  // torch.autograd is the aten module again
        ns = "aten";
        ++k;
      }
      if (k >= p.size()) return Alias(p, p.size(), line);
      if (root == "torch" && p[k] == "ops") {  // torch.ops.NS.X as Python spells it
        if (k + 2 >= p.size()) return Alias(p, p.size(), line);
        return Operator(p[k + 1], p[k + 2], line);
      }
      return Operator(ns, p[k], line);
    }
    if (root == "__torch__") {
      bool torch = p.size() >= 2 && p[1] == "torch";
      if (torch && p.size() >= 3 && p[2] == "classes") return CustomClass(Join(p, 5), line);
      if (p.size() == 1 || (torch && p.size() == 2)) return Alias(p, p.size(), line);
      return;  // the archive's own classes and functions
    }
    if (root == "CONSTANTS") return;
    if (!assigned) {
      Verdict v = CheckBareName(root, called && p.size() == 1);
      if (!v.allowed)
        Add(v.severity, line, "TorchScript code uses '" + Printable(root) + "', which " + std::string(v.why), root);
    }
    for (size_t k = 1; k < p.size(); ++k) CheckAttribute(p[k], line);
  }

  void Operator(const std::string& ns, const std::string& name, uint32_t line) {
    Verdict v = CheckOperator(ns, name);
    if (v.allowed) return;
    std::string op = Printable(ns, 60) + "::" + Printable(name, 100);
    std::string why = v.why.empty() ? "is not on the allowlist of pure operators" : std::string(v.why);
    Add(v.severity, line, "TorchScript code calls " + op + ", which " + why, op);
  }

  void CustomClass(const std::string& name, uint32_t line) {
    Verdict v = CheckCustomClass(name);
    if (!v.allowed)
      Add(v.severity, line, "TorchScript code uses " + Printable(name) + ", which " + std::string(v.why),
          Printable(name));
  }

  void Alias(const std::vector<std::string>& p, size_t count, uint32_t line) {
    std::string name = Printable(Join(p, count));
    Add(Severity::kCritical, line,
        "TorchScript code uses the namespace '" + name + "' as a value (an alias can reach any operator)", name);
  }

  void CheckAttribute(const std::string& name, uint32_t line) {
    std::string op = "aten::" + Printable(name, 100);
    if (IsPythonEscape(name)) {
      Add(Severity::kCritical, line, "TorchScript code uses ." + Printable(name) + ", a Python escape",
          Printable(name));
      return;
    }
    Verdict v = CheckOperator("aten", name);
    if (!v.allowed && v.severity == Severity::kCritical) {
      Add(Severity::kCritical, line,
          "TorchScript code calls ." + Printable(name) + " (" + op + "), which " + std::string(v.why), op);
      return;
    }
    if (v.allowed || declared_.contains(name) || IsValueProperty(name)) return;
    Add(Severity::kHigh, line,
        "TorchScript code uses ." + Printable(name) +
            ", which is neither declared in the archive nor an allowed operator (" + op + ")",
        op);
  }

  void CheckString(const Token& tok) {
    std::string_view s = tok.text;
    if (s.starts_with("__torch__.")) s.remove_prefix(10);
    // A string type annotation naming a custom class (ScriptTypeParser resolves
    // "torch.classes.NS.C" and maps torch.cuda.Stream / Event onto custom classes).
    if (s.starts_with("torch.classes.") || s.starts_with("torch.cuda.Stream") || s.starts_with("torch.cuda.Event")) {
      CustomClass("__torch__." + std::string(s), tok.line);
    }
  }

  void Add(Severity severity, uint32_t line, std::string reason, std::string callable) {
    out_.Add(severity, JoinLocation(file_.location, "line " + std::to_string(line)), std::move(reason),
             std::move(callable));
  }

  const CodeFile& file_;
  const Tokens& t_;
  const Names& declared_;
  FindingList& out_;
};

}  // namespace

void CheckProgram(const std::vector<CodeFile>& files, FindingList& out) {
  // Two passes, tokenizing each file again in the second: only one file's tokens
  // are held at a time.
  std::vector<bool> readable(files.size(), false);
  Names declared;
  for (size_t i = 0; i < files.size(); ++i) {
    auto tokens = Tokenize(files[i].text);
    if (!tokens.ok()) {
      out.Add(Severity::kHigh, files[i].location, "TorchScript code cannot be read: " + tokens.status().message());
      continue;
    }
    CollectDeclarations(*tokens, declared);
    readable[i] = true;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (!readable[i]) continue;
    auto tokens = Tokenize(files[i].text);
    if (tokens.ok()) Checker(files[i], *tokens, declared, out).Run();
  }
}

}  // namespace aegis::scan::internal::torchscript
