#include "store_open.h"

#include <cstdlib>

#include "commands.h"

namespace aegis::cli {

std::optional<std::string> DbPasswordFromEnvironment() {
  const char* value = std::getenv("AEGIS_DB_PASSWORD");
  std::optional<std::string> password;
  if (value != nullptr && *value != '\0') password = std::string(value);
  ::unsetenv("AEGIS_DB_PASSWORD");
  return password;
}

std::unique_ptr<store::MetadataStore> OpenConfiguredStore(const Config& config) {
  if (config.store_url.empty()) {
    return Check(store::MetadataStore::Open(config.data_dir / "db" / "aegis.db"), "opening the database");
  }
  return Check(store::MetadataStore::OpenPostgres(config.store_url, DbPasswordFromEnvironment()),
               "opening the database (store.url)");
}

}  // namespace aegis::cli
