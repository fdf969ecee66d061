#include "aegis/store/metadata_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "aegis/common/file_util.h"
#include "schema.h"
#include "sqlite_metadata_store.h"

namespace aegis::store {
namespace internal {
namespace {

// Creates the file 0600 ourselves so SQLite never creates it with the umask's mode;
// SQLite gives -wal and -shm the database file's mode.
Status CreatePrivateFile(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::Internal("cannot create " + path.string() + ": " + std::strerror(errno));
  // An existing database with looser permissions is tightened, not trusted as is.
  const int rc = ::fchmod(fd, 0600);
  ::close(fd);
  if (rc != 0) return Status::Internal("cannot chmod " + path.string() + ": " + std::strerror(errno));
  for (const char* suffix : {"-wal", "-shm"}) {
    std::filesystem::path side = path;
    side += suffix;
    if (::chmod(side.c_str(), 0600) != 0 && errno != ENOENT) {
      return Status::Internal("cannot chmod " + side.string() + ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

}  // namespace

Status SqliteMetadataStore::Init() {
  AEGIS_RETURN_IF_ERROR(ConfigureConnection(db_));
  AEGIS_RETURN_IF_ERROR(MigrateSchema(db_));
  AEGIS_RETURN_IF_ERROR(PrepareModelStatements());
  AEGIS_RETURN_IF_ERROR(PrepareCredentialStatements());
  AEGIS_RETURN_IF_ERROR(PrepareUserStatements());
  AEGIS_RETURN_IF_ERROR(PrepareIncidentStatements());
  AEGIS_RETURN_IF_ERROR(PrepareBaselineStatements());
  AEGIS_RETURN_IF_ERROR(PrepareArtifactStatements());
  return PrepareSessionStatements();
}

Status SqliteMetadataStore::InOneTransaction(const std::function<Status()>& body) {
  {
    std::lock_guard lock(mu_);
    AEGIS_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
  }
  Status status = body();
  std::lock_guard lock(mu_);
  if (status.ok()) status = Exec(db_, "COMMIT");
  if (!status.ok()) Exec(db_, "ROLLBACK").IgnoreError();  // the body's (or COMMIT's) error is the one to report
  return status;
}

Status SqliteMetadataStore::ExecuteOne(Statement& s, const char* what, std::string missing) {
  Status status = SqliteStatus(db_, s.Step(), what);
  s.Reset();
  AEGIS_RETURN_IF_ERROR(status);
  if (sqlite3_changes(db_) == 0) return Status::NotFound(std::move(missing));
  return Status::Ok();
}

}  // namespace internal

StatusOr<std::unique_ptr<MetadataStore>> MetadataStore::Open(const std::filesystem::path& db_path) {
  const std::filesystem::path parent = db_path.parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) AEGIS_RETURN_IF_ERROR(MakeDirectory(parent, 0700));
  AEGIS_RETURN_IF_ERROR(internal::CreatePrivateFile(db_path));
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(db_path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW, nullptr);
  if (rc != SQLITE_OK) {
    Status status = internal::SqliteStatus(db, rc, "opening " + db_path.string());
    sqlite3_close_v2(db);
    return status;
  }
  auto store = std::make_unique<internal::SqliteMetadataStore>(db);
  AEGIS_RETURN_IF_ERROR(store->Init().WithContext(db_path.string()));
  return std::unique_ptr<MetadataStore>(std::move(store));
}

}  // namespace aegis::store
