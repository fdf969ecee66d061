// The saved login session of `aegis login`, used by later client commands when
// no token is given.
//
// Location: $AEGIS_SESSION_FILE, else $XDG_CONFIG_HOME/aegis/session.json, else
// ~/.config/aegis/session.json. The file is written atomically with mode 0600
// in a 0700 directory; one that is readable by group or others, or owned by
// another user, is refused (someone may have planted or read it). A session is
// sent only to the server it was issued by.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace aegis::cli {

struct SavedSession {
  std::string server;   // control-plane URL it was issued by
  std::string session;  // the bearer credential
  std::string user;
  std::string expires_at;  // RFC 3339 (absolute end; idle expiry is the server's)
};

// Throws CommandError when no location can be determined.
std::filesystem::path SessionFilePath();
// Throws CommandError on failure.
void SaveSession(const std::filesystem::path& path, const SavedSession& session);
// nullopt when there is no file; throws CommandError for an unsafe or unreadable one.
std::optional<SavedSession> LoadSession(const std::filesystem::path& path);
// Removes the file if present.
void RemoveSession(const std::filesystem::path& path);

}  // namespace aegis::cli
