#include "session_table.h"

#include <algorithm>
#include <array>

#include "aegis/crypto/encoding.h"
#include "aegis/crypto/random.h"

namespace aegis::auth::internal {
namespace {

constexpr size_t kIdHexLength = 16;
constexpr size_t kSecretBytes = 32;
constexpr size_t kSecretB64Length = 43;

Status InvalidSession() { return Status::Unauthenticated("invalid session"); }

}  // namespace

StatusOr<SessionTable::Created> SessionTable::Create(const std::string& user, Principal principal, Time now,
                                                     std::string factor) {
  AEGIS_ASSIGN_OR_RETURN(std::string secret, crypto::RandomBase64Url(kSecretBytes));
  MutexLock lock(mu_);
  // Purging here keeps abandoned sessions from piling up without a timer thread.
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const std::string id = it->first;
    ++it;
    if (Expired(sessions_.at(id), now)) Erase(id);
  }
  std::string id;
  do {
    AEGIS_ASSIGN_OR_RETURN(id, crypto::RandomHex(kIdHexLength / 2));
  } while (sessions_.contains(id));
  for (auto mine = by_user_.find(user); mine != by_user_.end() && mine->second.size() >= max_per_user_;
       mine = by_user_.find(user)) {
    const std::string oldest = mine->second.front();  // a copy: Erase removes the element
    Erase(oldest);
  }
  by_user_[user].push_back(id);
  principal.credential_id = id;
  sessions_.emplace(id, Session{user, crypto::Sha256(secret), principal, now, now, std::move(factor), now});
  return Created{std::string(kSessionPrefix) + id + "_" + secret, std::move(principal)};
}

std::optional<SessionTable::Parsed> SessionTable::Parse(std::string_view token) {
  if (token.size() != kSessionPrefix.size() + kIdHexLength + 1 + kSecretB64Length ||
      !token.starts_with(kSessionPrefix) || token[kSessionPrefix.size() + kIdHexLength] != '_') {
    return std::nullopt;
  }
  const std::string_view id = token.substr(kSessionPrefix.size(), kIdHexLength);
  if (!std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
    return std::nullopt;
  }
  return Parsed{std::string(id), token.substr(token.size() - kSecretB64Length)};
}

void SessionTable::Adopt(const std::string& id, const std::string& user, const crypto::Sha256Digest& secret_hash,
                         Principal principal, Time created, Time last_used, std::string factor) {
  MutexLock lock(mu_);
  if (sessions_.contains(id)) return;
  for (auto mine = by_user_.find(user); mine != by_user_.end() && mine->second.size() >= max_per_user_;
       mine = by_user_.find(user)) {
    const std::string oldest = mine->second.front();
    Erase(oldest);
  }
  by_user_[user].push_back(id);
  principal.credential_id = id;
  sessions_.emplace(id,
                    Session{user, secret_hash, std::move(principal), created, last_used, std::move(factor), last_used});
}

void SessionTable::RemoveId(const std::string& id) {
  MutexLock lock(mu_);
  Erase(id);
}

void SessionTable::KeepOnly(const std::vector<std::string>& live_ids) {
  MutexLock lock(mu_);
  std::vector<std::string> ended;
  for (const auto& [id, session] : sessions_) {
    if (!std::binary_search(live_ids.begin(), live_ids.end(), id)) ended.push_back(id);
  }
  for (const auto& id : ended) Erase(id);
}

SessionTable::Session* SessionTable::Find(std::string_view token, std::string* id) {
  const auto parsed = Parse(token);
  if (!parsed) return nullptr;
  *id = parsed->id;
  const auto it = sessions_.find(*id);
  if (it == sessions_.end()) return nullptr;
  const crypto::Sha256Digest presented = crypto::Sha256(parsed->secret);
  if (!crypto::ConstantTimeEqual(presented, it->second.secret_hash)) return nullptr;
  return &it->second;
}

bool SessionTable::Expired(const Session& s, Time now) const {
  return now - s.last_used > idle_ || now - s.created > lifetime_;
}

StatusOr<SessionTable::Live> SessionTable::Authenticate(std::string_view token, Time now) {
  MutexLock lock(mu_);
  std::string id;
  Session* session = Find(token, &id);
  if (session == nullptr) return InvalidSession();
  if (Expired(*session, now)) {
    Erase(id);
    return Status::Unauthenticated("session expired");
  }
  session->last_used = now;
  const bool refresh = now - session->last_stored >= std::chrono::minutes(1);
  if (refresh) session->last_stored = now;
  return Live{session->user, session->principal, session->factor, refresh};
}

Status SessionTable::Remove(std::string_view token, Time now) {
  MutexLock lock(mu_);
  std::string id;
  Session* session = Find(token, &id);
  if (session == nullptr) return Status::NotFound("no such session");
  const bool expired = Expired(*session, now);
  Erase(id);
  if (expired) return Status::NotFound("no such session");
  return Status::Ok();
}

void SessionTable::RemoveUser(const std::string& user) {
  MutexLock lock(mu_);
  const auto it = by_user_.find(user);
  if (it == by_user_.end()) return;
  for (const std::string& id : it->second) sessions_.erase(id);
  by_user_.erase(it);
}

void SessionTable::Erase(const std::string& id) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  const auto user = by_user_.find(it->second.user);
  if (user != by_user_.end()) {
    std::erase(user->second, id);
    if (user->second.empty()) by_user_.erase(user);
  }
  sessions_.erase(it);
}

}  // namespace aegis::auth::internal
