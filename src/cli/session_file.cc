#include "session_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "aegis/common/file_util.h"
#include "commands.h"

namespace aegis::cli {
namespace {

constexpr size_t kMaxSessionFile = size_t{16} * 1024;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

std::filesystem::path SessionFilePath() {
  if (auto explicit_path = Env("AEGIS_SESSION_FILE"); !explicit_path.empty()) return explicit_path;
  if (auto xdg = Env("XDG_CONFIG_HOME"); !xdg.empty()) return std::filesystem::path(xdg) / "aegis" / "session.json";
  if (auto home = Env("HOME"); !home.empty()) return std::filesystem::path(home) / ".config" / "aegis" / "session.json";
  throw CommandError("cannot place the session file: set AEGIS_SESSION_FILE or HOME");
}

void SaveSession(const std::filesystem::path& path, const SavedSession& s) {
  const auto dir = path.parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir)) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw CommandError("cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  nlohmann::json j = {{"server", s.server}, {"session", s.session}, {"user", s.user}, {"expires_at", s.expires_at}};
  Check(WriteFileAtomic(path, j.dump() + "\n", 0600), "saving the session");
}

std::optional<SavedSession> LoadSession(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  if (!S_ISREG(st.st_mode)) throw CommandError("session file " + path.string() + " is not a regular file");
  if (st.st_uid != ::geteuid()) throw CommandError("session file " + path.string() + " belongs to another user");
  if ((st.st_mode & 077) != 0) {
    throw CommandError("session file " + path.string() + " is readable by others: remove it and log in again");
  }
  auto text = Check(ReadFile(path, kMaxSessionFile), "reading the session file");
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j["server"].is_string() || !j["session"].is_string()) {
    throw CommandError("session file " + path.string() + " is damaged: run aegis login again");
  }
  return SavedSession{j["server"].get<std::string>(), j["session"].get<std::string>(), j.value("user", ""),
                      j.value("expires_at", "")};
}

void RemoveSession(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) throw CommandError("cannot remove " + path.string() + ": " + ec.message());
}

}  // namespace aegis::cli
