// The engine worker the runtime's unit tests start: `aegis engine-worker` without
// the rest of the CLI (argv[1] is the sub-command name, as in aegis).
#include <span>

#include "aegis/runtime/model_instances.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  return aegis::runtime::RunEngineWorker(std::span<char* const>(argv + 2, static_cast<size_t>(argc - 2)));
}
