// [store] url: the PostgreSQL connection URL, checked before anything connects
// (internal to src/store; MetadataStore::OpenPostgres uses it).
//
// Refused: anything but a postgresql:// (or postgres://) URL, a password in
// the URL (it would sit in the config file and in logs: it comes from the
// caller, who reads AEGIS_DB_PASSWORD, or from a libpq passfile), a `service`
// (pg_service.conf could override every check below), and any TCP host without
// sslmode=verify-full (anything weaker lets a machine in the path read the
// models' wrapped keys and forge the trust store). A Unix-socket host needs no
// TLS: the kernel is the only path.
//
// Defaults added when the URL does not set them: connect_timeout=5,
// TCP keepalives and tcp_user_timeout (a dead peer is noticed in ~10 s, not
// after the kernel's two hours), target_session_attrs=read-write (never a
// standby), application_name=aegis, client_encoding=UTF8.
//
// Thread-safety: a pure function.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "aegis/common/status.h"
#include "pg_util.h"

namespace aegis::store::internal {

// InvalidArgument naming the problem ("must set sslmode=verify-full ...": the
// caller says which setting it was), never echoing the URL's text back.
StatusOr<PgConnectOptions> ParseStoreUrl(std::string_view url, const std::optional<std::string>& password);

}  // namespace aegis::store::internal
