// The KEK passphrase comes only from the environment (AEGIS_PASSPHRASE), never from
// a command-line argument, which other users could read from the process table.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace aegis::cli {

inline std::optional<std::string> PassphraseFromEnvironment() {
  const char* value = std::getenv("AEGIS_PASSPHRASE");
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

}  // namespace aegis::cli
