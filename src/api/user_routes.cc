// Control-plane routes that change one user account: disable, enable, unlock,
// reset-totp and remove (POST /v1/users/{name}/…, DELETE /v1/users/{name}).
// The policy has already asked for user.manage (admin; a person needs an MFA
// login within the last 15 minutes) before these run.
//
// Two rules on top of the policy, both refusals the audit log records:
//  - Nobody acts on their own account except to disable it (an emergency
//    brake). A stolen session must not be able to lift its own lockout, mint
//    itself a lasting second factor, or delete the account that would show
//    what it did; another administrator does those.
//  - The last way in stays: disabling or removing an enabled admin account is
//    refused (409) when no other enabled admin account and no live admin API
//    token would be left, since nothing short of editing the database could
//    create an administrator again.
#include <mutex>

#include "aegis/auth/user_directory.h"
#include "aegis/incident/suspensions.h"
#include "aegis/policy/policy.h"
#include "control_routes.h"
#include "model_json.h"

namespace aegis::api::internal {
namespace {

enum class Change { kDisable, kEnable, kUnlock, kResetTotp, kRemove };

// One change that can take away an administrator at a time, so two removals
// cannot each believe the other admin remains.
std::mutex& AdminChangeMutex() {
  static std::mutex mu;
  return mu;
}

bool IsAdminRole(const std::string& role) { return role == policy::RoleName(policy::Role::kAdmin); }

// Whether some administrator other than the account `name` can still act:
// another enabled admin account, or an admin token that is neither revoked
// nor expired. JWT and mTLS grants come from the configuration file and are
// not counted: a file can change, the database is what the server controls.
StatusOr<bool> AnotherAdminRemains(const Services& services, const std::string& name) {
  AEGIS_ASSIGN_OR_RETURN(std::vector<auth::UserInfo> users, services.users->ListUsers());
  for (const auto& u : users) {
    if (u.name != name && !u.disabled && IsAdminRole(u.role)) return true;
  }
  const std::string now = FormatRfc3339(services.clock->Now());
  for (const auto& t : services.tokens->List()) {
    if (!t.revoked && IsAdminRole(t.role) && (!t.expires_at || now < *t.expires_at)) return true;
  }
  return false;
}

// Refuses taking away the last administrator (see the top of the file).
Status CheckNotLastAdmin(const Services& services, const std::string& name) {
  AEGIS_ASSIGN_OR_RETURN(std::vector<auth::UserInfo> users, services.users->ListUsers());
  bool target_is_active_admin = false;
  for (const auto& u : users) {
    if (u.name == name) target_is_active_admin = !u.disabled && IsAdminRole(u.role);
  }
  if (!target_is_active_admin) return Status::Ok();
  AEGIS_ASSIGN_OR_RETURN(bool remains, AnotherAdminRemains(services, name));
  if (remains) return Status::Ok();
  return {
      StatusCode::kAlreadyExists,
      "'" + name + "' is the last administrator (no other enabled admin user or live admin token); add another first"};
}

http::Response Done(const std::string& name, const Json& fields) {
  Json out{{"name", name}};
  out.update(fields);
  return http::Response::Json(200, Dump(out));
}

http::Response Apply(const Services& services, Change change, const std::string& name, LateOutcome& late) {
  const auto refuse = [&late](const Status& status) {
    late.reason = status.message();
    return http::Response::Error(status);
  };
  switch (change) {
    case Change::kEnable: {
      const Status done = services.users->EnableUser(name);
      return done.ok() ? Done(name, {{"disabled", false}}) : refuse(done);
    }
    case Change::kUnlock: {
      const Status done = services.users->UnlockUser(name);
      return done.ok() ? Done(name, {{"locked", false}}) : refuse(done);
    }
    case Change::kResetTotp: {
      auto enrolled = services.users->ResetTotp(name);
      if (!enrolled.ok()) return refuse(enrolled.status());
      late.reason = "new TOTP secret; sessions ended";
      return Done(name, {{"totp_uri", enrolled->totp_uri}, {"sessions_ended", true}});
    }
    case Change::kDisable:
    case Change::kRemove: {
      const std::scoped_lock lock(AdminChangeMutex());
      if (Status last = CheckNotLastAdmin(services, name); !last.ok()) return refuse(last);
      if (change == Change::kDisable) {
        const Status done = services.users->DisableUser(name);
        return done.ok() ? Done(name, {{"disabled", true}}) : refuse(done);
      }
      const Status done = services.users->RemoveUser(name);
      if (!done.ok()) return refuse(done);
      // A suspension names the principal, not the person: left behind, it would
      // fall on whoever is given this name next.
      bool lifted = false;
      if (services.suspensions != nullptr) lifted = services.suspensions->Reinstate("user:" + name).ok();
      late.reason = lifted ? "sessions ended; suspension lifted" : "sessions ended";
      return Done(name, {{"removed", true}, {"suspension_lifted", lifted}});
    }
  }
  return http::Response::Error(500, "unknown user change");
}

void Plan(RouteRequest& r, const auth::Principal& principal, Change change) {
  std::string name(r.params.Get("name"));
  if (!auth::UserDirectory::IsValidName(name)) {
    r.event.reason = std::string(auth::kUserNameRule);
    r.plan.immediate = http::Response::Error(400, auth::kUserNameRule);
    return;
  }
  if (change != Change::kDisable && principal.name == "user:" + name) {
    r.event.decision = audit::Decision::kDeny;
    r.event.reason = "an administrator cannot change their own account this way; another administrator must";
    r.plan.immediate = http::Response::Error(403, r.event.reason);
    return;
  }
  const Services services = r.services;
  r.plan.handler = [services, change, name = std::move(name), late = r.Late()](http::Request&) {
    return Apply(services, change, name, *late);
  };
}

}  // namespace

void PlanUserDisable(RouteRequest& r, const auth::Principal& principal) { Plan(r, principal, Change::kDisable); }
void PlanUserEnable(RouteRequest& r, const auth::Principal& principal) { Plan(r, principal, Change::kEnable); }
void PlanUserUnlock(RouteRequest& r, const auth::Principal& principal) { Plan(r, principal, Change::kUnlock); }
void PlanUserResetTotp(RouteRequest& r, const auth::Principal& principal) { Plan(r, principal, Change::kResetTotp); }
void PlanUserRemove(RouteRequest& r, const auth::Principal& principal) { Plan(r, principal, Change::kRemove); }

}  // namespace aegis::api::internal
