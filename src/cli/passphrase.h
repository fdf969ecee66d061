// The KEK passphrase comes only from the environment (AEGIS_PASSPHRASE), never from
// a command-line argument, which other users could read from the process table.
//
// Thread-safety: reads the environment; call from the main thread.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "aegis/keys/key_provider.h"
#include "commands.h"

namespace aegis::cli {

inline std::optional<std::string> PassphraseFromEnvironment() {
  const char* value = std::getenv("AEGIS_PASSPHRASE");
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// Opens the installation's KEK; a sealed one without AEGIS_PASSPHRASE, or with
// one that does not open it, says so in the words the operator needs.
inline std::unique_ptr<keys::LocalKeyProvider> OpenKek(const std::filesystem::path& keys_dir) {
  const std::optional<std::string> passphrase = PassphraseFromEnvironment();
  const bool sealed = keys::LocalKeyProvider::IsSealed(keys_dir);
  const std::string file = (keys_dir / "kek.sealed").string();
  if (sealed && !passphrase) {
    throw CommandError("the key-encryption key " + file + " is sealed: set AEGIS_PASSPHRASE to its passphrase");
  }
  auto kek = keys::LocalKeyProvider::Open(keys_dir, passphrase);
  if (!kek.ok() && sealed && kek.status().code() == StatusCode::kUnauthenticated) {
    throw CommandError("AEGIS_PASSPHRASE does not open the sealed key-encryption key " + file);
  }
  return Check(std::move(kek), "opening the key-encryption key");
}

}  // namespace aegis::cli
