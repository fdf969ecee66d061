#include "torchscript_lexer.h"

#include <gtest/gtest.h>

namespace aegis::scan::internal::torchscript {
namespace {

// "kind:text" per token, NEWLINE/INDENT/DEDENT/END as N/I/D/E.
std::string Show(std::string_view source) {
  auto tokens = Tokenize(source);
  if (!tokens.ok()) return "error: " + tokens.status().message();
  std::string out;
  for (const Token& t : *tokens) {
    if (!out.empty()) out += ' ';
    switch (t.kind) {
      case TokenKind::kName:
        out += "name:" + t.text;
        break;
      case TokenKind::kNumber:
        out += "num:" + t.text;
        break;
      case TokenKind::kString:
        out += "str:" + t.text;
        break;
      case TokenKind::kOp:
        out += t.text;
        break;
      case TokenKind::kNewline:
        out += "N";
        break;
      case TokenKind::kIndent:
        out += "I";
        break;
      case TokenKind::kDedent:
        out += "D";
        break;
      case TokenKind::kEnd:
        out += "E";
        break;
    }
  }
  return out;
}

TEST(TorchScriptLexer, NamesOperatorsAndIndentation) {
  EXPECT_EQ(Show("def f(x):\n  return torch.add(x, 1)\n"),
            "name:def name:f ( name:x ) : I name:return name:torch . name:add ( name:x , num:1 ) N D E");
  EXPECT_EQ(Show("if a:\n  if b:\n    c\nd\n"), "name:if name:a : I name:if name:b : I name:c N D D name:d N E");
  EXPECT_EQ(Show("a **= b // c -> d <=> e ... f"), "name:a **= name:b // name:c -> name:d <=> name:e ... name:f N E");
}

TEST(TorchScriptLexer, CommentsAreSkippedButTypeCommentsAreCode) {
  EXPECT_EQ(Show("x = 1  # torch.from_file(p)\n"), "name:x = num:1 N E");
  EXPECT_EQ(Show("# type: (torch.from_file) -> x\n"), "# type: ( name:torch . name:from_file ) -> name:x N E");
}

TEST(TorchScriptLexer, StringsAreDecodedAsLibtorchDoes) {
  EXPECT_EQ(Show("'torch.from_file'"), "str:torch.from_file N E");
  EXPECT_EQ(Show(R"("from_" "file")"), "str:from_ str:file N E");
  EXPECT_EQ(Show(R"("a\"b\\c\tz")"), "str:a\"b\\c\tz N E");
  EXPECT_EQ(Show(R"("\146rom_file")"), "str:from_file N E");  // octal
  EXPECT_EQ(Show("\"\"\"two\nlines\"\"\" x"), "str:two\nlines name:x N E");
  EXPECT_EQ(Show("\"a\\\nb\""), "str:a\nb N E");  // backslash-newline keeps the newline, as libtorch does
  EXPECT_NE(Show(R"("\x66rom")").find("error: unsupported escape"), std::string::npos);
  EXPECT_NE(Show(R"("\u0066")").find("error: unsupported escape"), std::string::npos);
  EXPECT_NE(Show("\"open\nx\"").find("error"), std::string::npos);
  EXPECT_NE(Show("'unterminated").find("error"), std::string::npos);
}

TEST(TorchScriptLexer, NumbersAsStrtodReadsThem) {
  EXPECT_EQ(Show("1e5 0x1p3 .5 1. 2j 1e"), "num:1e5 num:0x1p3 num:.5 num:1. num:2j num:1 name:e N E");
  EXPECT_EQ(Show("1else 0xfrom_file"), "num:1 name:else num:0xf name:rom_file N E");
  EXPECT_EQ(Show("x.e5 x.5"), "name:x . name:e5 name:x num:.5 N E");
}

TEST(TorchScriptLexer, TwoWordKeywordsWinAsInLibtorch) {
  // libtorch's trie matches "not in" inside "not int": the rest is the name "t".
  EXPECT_EQ(Show("not int"), "name:not in name:t N E");
  EXPECT_EQ(Show("a is nottorch.x"), "name:a name:is not name:torch . name:x N E");
  EXPECT_EQ(Show("isnot"), "name:isnot N E");
}

TEST(TorchScriptLexer, BracketsJoinLinesAndBackslashJoins) {
  EXPECT_EQ(Show("f(a,\n  b)\nx = \\\n  torch.y\n"), "name:f ( name:a , name:b ) N name:x = name:torch . name:y N E");
}

TEST(TorchScriptLexer, LinesAreCounted) {
  auto tokens = Tokenize("a\n\n# c\nb = \"\"\"x\ny\"\"\"\nc\n");
  ASSERT_TRUE(tokens.ok());
  std::vector<uint32_t> lines;
  for (const Token& t : *tokens) {
    if (t.kind == TokenKind::kName) lines.push_back(t.line);
  }
  EXPECT_EQ(lines, (std::vector<uint32_t>{1, 4, 6}));
}

TEST(TorchScriptLexer, RefusesWhatLibtorchCannotRead) {
  EXPECT_NE(Show("if a:\n    b\n  c\n").find("error: a dedent"), std::string::npos);
  EXPECT_NE(Show("f(a))").find("error: a closing bracket"), std::string::npos);
  EXPECT_NE(Show("x = $").find("error: a character that starts no token at line 1"), std::string::npos);
  EXPECT_NE(Show("caf\xc3\xa9 = 1").find("error"), std::string::npos);
  EXPECT_NE(Show(std::string("a\0b", 3)).find("error"), std::string::npos);
  EXPECT_NE(Show("x = \\ y").find("error"), std::string::npos);
  EXPECT_NE(Show(std::string(300, '(')).find("error: brackets nest deeper than 200"), std::string::npos);
  std::string deep;
  for (int i = 0; i < 120; ++i) deep += std::string(static_cast<size_t>(i), ' ') + "if a:\n";
  EXPECT_NE(Show(deep).find("error: indentation deeper than"), std::string::npos);
}

TEST(TorchScriptLexer, EmptyAndBlankSources) {
  EXPECT_EQ(Show(""), "N E");
  EXPECT_EQ(Show("\n\n   \n# only a comment"), "N E");
  EXPECT_EQ(Show("  x\n  y"), "name:x N name:y N E");  // an indented first line sets the base column
}

}  // namespace
}  // namespace aegis::scan::internal::torchscript
