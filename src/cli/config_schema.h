// The keys aegis.toml may hold, table by table (internal to src/cli).
//
// One list for the loaders and the tests: config.cc, auth_config.cc and
// audit_config.cc refuse any key that is not listed for its table, and
// config_test.cc walks the list to prove that every key changes what the server
// is given, so a key cannot be accepted and then quietly ignored.
//
// Thread-safety: immutable after first use.
#pragma once

#include <map>
#include <set>
#include <string>

namespace aegis::cli::internal {

// Table path → its keys. "" is the top level (the sections), "auth.mtls" each
// [[auth.mtls]] entry. A key whose path is itself listed is that sub-table. The
// keys of [auth.jwt.role_map] are the identity provider's role names, so that
// table has no fixed keys and is not listed. [models] holds one table per model
// name: it lists "*", and "models.*" the keys of each.
const std::map<std::string, std::set<std::string>>& ConfigSchema();

// The keys of one listed table.
const std::set<std::string>& KeysOf(const std::string& table);

}  // namespace aegis::cli::internal
