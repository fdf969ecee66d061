// ChangeFeed: tells a server that another server changed the shared state, so
// it refreshes what it keeps in memory (tokens, users' sessions, suspensions,
// the served models, the trust store and what unresolved incidents hold)
// within about a second, instead of at its next restart.
//
// With PostgreSQL, triggers on the shared tables send a notification on the
// channel `aegis_changes` naming the table (schema steps 8 and 10); the feed
// LISTENs on a connection of its own and calls `on_change` with the tables named. As a
// fallback for a notification lost with a connection, it also calls
// `on_change(kAll)` after every reconnect and every `reconcile_interval`.
// MetadataStore::WatchChanges starts one (SQLite has one server: no feed).
//
// Thread-safety: `on_change` runs on the feed's own thread, one call at a time;
// it must not block for long (hand slow work to another thread). The
// destructor stops the thread and waits for a call in progress.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace aegis::store {

// Bits of the tables a change touched.
enum ChangedTables : uint32_t {
  kModelVersionsChanged = 1u << 0,
  kTokensChanged = 1u << 1,
  kUsersChanged = 1u << 2,
  kTrustedKeysChanged = 1u << 3,
  kSuspensionsChanged = 1u << 4,
  kSessionsChanged = 1u << 5,   // one ended (logout, expiry, account change)
  kIncidentsChanged = 1u << 6,  // an incident or an action on one (schema step 10)
  kAllChanged = 0x7f,
};

class ChangeFeed {
 public:
  using Listener = std::function<void(uint32_t changed_tables)>;
  virtual ~ChangeFeed() = default;
};

}  // namespace aegis::store
