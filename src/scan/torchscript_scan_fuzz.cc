// libFuzzer target: the TorchScript tokenizer and program reader. The input is up
// to four code files separated by NUL bytes (so declarations in one file meet uses
// in another); each is also tokenized on its own.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "torchscript_lexer.h"
#include "torchscript_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace aegis::scan::internal;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<torchscript::CodeFile> files;
  std::vector<std::string> names;
  names.reserve(4);
  size_t start = 0;
  while (start <= input.size() && files.size() < 4) {
    size_t end = input.find('\0', start);
    if (end == std::string_view::npos || files.size() == 3) end = input.size();
    names.push_back("file " + std::to_string(files.size()));
    files.push_back({names.back(), input.substr(start, end - start)});
    (void)torchscript::Tokenize(files.back().text);
    start = end + 1;
  }
  FindingList findings;
  torchscript::CheckProgram(files, findings);
  (void)findings.Take();
  return 0;
}
