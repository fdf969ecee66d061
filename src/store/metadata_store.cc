#include "aegis/store/metadata_store.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

#include "aegis/common/file_util.h"
#include "schema.h"
#include "sqlite_util.h"

namespace aegis::store {
namespace {

using internal::Statement;

constexpr const char* kModelColumns =
    "name, version, format, artifact_id, sha256, size_bytes, wrapped_dek, kek_id, created_at, created_by, sequence";
constexpr const char* kTokenColumns = "id, name, role, secret_hash, created_at, expires_at, revoked";

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

ModelVersionRecord ReadModel(const Statement& s) {
  ModelVersionRecord r;
  r.name = s.Text(0);
  r.version = s.Text(1);
  r.format = s.Text(2);
  r.artifact_id = s.Text(3);
  r.sha256 = s.Text(4);
  r.size_bytes = static_cast<uint64_t>(s.Int(5));
  r.wrapped_dek = s.Blob(6);
  r.kek_id = s.Text(7);
  r.created_at = s.Text(8);
  r.created_by = s.Text(9);
  r.sequence = s.Int(10);
  return r;
}

TokenRecord ReadToken(const Statement& s) {
  TokenRecord t;
  t.id = s.Text(0);
  t.name = s.Text(1);
  t.role = s.Text(2);
  t.secret_hash = s.Blob(3);
  t.created_at = s.Text(4);
  t.expires_at = s.OptionalText(5);
  t.revoked = s.Int(6) != 0;
  return t;
}

class SqliteMetadataStore final : public MetadataStore {
 public:
  explicit SqliteMetadataStore(sqlite3* db) : connection_{db}, db_(db) {}

  Status Init() {
    AEGIS_RETURN_IF_ERROR(internal::ConfigureConnection(db_));
    AEGIS_RETURN_IF_ERROR(internal::MigrateSchema(db_));
    const std::string model_select = std::string("SELECT ") + kModelColumns + " FROM model_versions";
    const std::string token_select = std::string("SELECT ") + kTokenColumns + " FROM tokens";
    AEGIS_RETURN_IF_ERROR(insert_model_.Prepare(
        db_, "INSERT INTO model_versions (name, version, format, artifact_id, sha256, size_bytes, wrapped_dek, "
             "kek_id, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    AEGIS_RETURN_IF_ERROR(get_model_.Prepare(db_, (model_select + " WHERE name = ? AND version = ?").c_str()));
    AEGIS_RETURN_IF_ERROR(list_models_.Prepare(db_, (model_select + " ORDER BY name, sequence").c_str()));
    AEGIS_RETURN_IF_ERROR(delete_model_.Prepare(db_, "DELETE FROM model_versions WHERE name = ? AND version = ?"));
    AEGIS_RETURN_IF_ERROR(insert_token_.Prepare(
        db_, "INSERT INTO tokens (id, name, role, secret_hash, created_at, expires_at, revoked) "
             "VALUES (?, ?, ?, ?, ?, ?, ?)"));
    AEGIS_RETURN_IF_ERROR(get_token_.Prepare(db_, (token_select + " WHERE id = ?").c_str()));
    AEGIS_RETURN_IF_ERROR(list_tokens_.Prepare(db_, (token_select + " ORDER BY rowid").c_str()));
    return Status::Ok();
  }

  Status InsertModelVersion(ModelVersionRecord r) override {
    if (r.size_bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::InvalidArgument("model size out of range");
    }
    std::lock_guard lock(mu_);
    Statement& s = insert_model_;
    s.BindText(1, r.name);
    s.BindText(2, r.version);
    s.BindText(3, r.format);
    s.BindText(4, r.artifact_id);
    s.BindText(5, r.sha256);
    s.BindInt(6, static_cast<int64_t>(r.size_bytes));
    s.BindBlob(7, r.wrapped_dek);
    s.BindText(8, r.kek_id);
    s.BindText(9, r.created_at);
    s.BindText(10, r.created_by);
    const int rc = s.Step();
    Status status = internal::SqliteStatus(db_, rc, "inserting model version");
    s.Reset();
    if (status.code() == StatusCode::kAlreadyExists) {
      // Keep SQLite's wording out of client-facing errors; name the clash instead.
      const bool artifact_clash = status.message().find("artifact_id") != std::string::npos;
      return Status::AlreadyExists(artifact_clash ? "artifact " + r.artifact_id + " is already registered"
                                                  : "model " + r.name + " version " + r.version + " already exists");
    }
    return status;
  }

  StatusOr<ModelVersionRecord> GetModelVersion(const std::string& name, const std::string& version) override {
    std::lock_guard lock(mu_);
    get_model_.BindText(1, name);
    get_model_.BindText(2, version);
    return FetchOne<ModelVersionRecord>(get_model_, ReadModel,
                                        Status::NotFound("model " + name + " version " + version + " not found"),
                                        "reading model version");
  }

  StatusOr<std::vector<ModelVersionRecord>> ListModelVersions() override {
    std::lock_guard lock(mu_);
    return Collect<ModelVersionRecord>(list_models_, ReadModel, "listing model versions");
  }

  Status DeleteModelVersion(const std::string& name, const std::string& version) override {
    std::lock_guard lock(mu_);
    Statement& s = delete_model_;
    s.BindText(1, name);
    s.BindText(2, version);
    Status status = internal::SqliteStatus(db_, s.Step(), "deleting model version");
    s.Reset();
    AEGIS_RETURN_IF_ERROR(status);
    if (sqlite3_changes(db_) == 0) return Status::NotFound("model " + name + " version " + version + " not found");
    return Status::Ok();
  }

  Status InsertToken(const TokenRecord& t) override {
    std::lock_guard lock(mu_);
    Statement& s = insert_token_;
    s.BindText(1, t.id);
    s.BindText(2, t.name);
    s.BindText(3, t.role);
    s.BindBlob(4, t.secret_hash);
    s.BindText(5, t.created_at);
    s.BindOptionalText(6, t.expires_at);
    s.BindInt(7, t.revoked ? 1 : 0);
    Status status = internal::SqliteStatus(db_, s.Step(), "inserting token");
    s.Reset();
    if (status.code() == StatusCode::kAlreadyExists) return Status::AlreadyExists("token " + t.id + " already exists");
    return status;
  }

  StatusOr<TokenRecord> GetToken(const std::string& id) override {
    std::lock_guard lock(mu_);
    get_token_.BindText(1, id);
    return FetchOne<TokenRecord>(get_token_, ReadToken, Status::NotFound("token not found"), "reading token");
  }

  StatusOr<std::vector<TokenRecord>> ListTokens() override {
    std::lock_guard lock(mu_);
    return Collect<TokenRecord>(list_tokens_, ReadToken, "listing tokens");
  }

 private:
  // Steps a bound single-row query: the row, `not_found`, or the SQLite error.
  template <typename T, typename Reader>
  StatusOr<T> FetchOne(Statement& s, Reader read, Status not_found, const char* what) {
    const int rc = s.Step();
    StatusOr<T> out = std::move(not_found);
    if (rc == SQLITE_ROW) {
      out = read(s);
    } else if (rc != SQLITE_DONE) {
      out = internal::SqliteStatus(db_, rc, what);
    }
    s.Reset();
    return out;
  }

  template <typename T, typename Reader>
  StatusOr<std::vector<T>> Collect(Statement& s, Reader read, const char* what) {
    std::vector<T> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back(read(s));
    Status status = internal::SqliteStatus(db_, rc, what);
    s.Reset();
    if (!status.ok()) return status;
    return out;
  }

  // Declared before the statements so it is closed after they are finalized.
  struct Connection {
    sqlite3* db;
    ~Connection() { sqlite3_close_v2(db); }
  };

  std::mutex mu_;  // one connection; statements are shared state
  Connection connection_;
  sqlite3* db_;
  Statement insert_model_, get_model_, list_models_, delete_model_, insert_token_, get_token_, list_tokens_;
};

}  // namespace

StatusOr<std::unique_ptr<MetadataStore>> MetadataStore::Open(const std::filesystem::path& db_path) {
  const std::filesystem::path parent = db_path.parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) AEGIS_RETURN_IF_ERROR(MakeDirectory(parent, 0700));
  AEGIS_RETURN_IF_ERROR(CreatePrivateFile(db_path));
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(db_path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW, nullptr);
  if (rc != SQLITE_OK) {
    Status status = internal::SqliteStatus(db, rc, "opening " + db_path.string());
    sqlite3_close_v2(db);
    return status;
  }
  auto store = std::make_unique<SqliteMetadataStore>(db);
  AEGIS_RETURN_IF_ERROR(store->Init().WithContext(db_path.string()));
  return std::unique_ptr<MetadataStore>(std::move(store));
}

}  // namespace aegis::store
