// `aegis token …`, `aegis user …`, `aegis login`, `aegis logout`: service
// credentials, people, and people's sessions (control plane).
#include <cstdio>
#include <iostream>
#include <iterator>

#include "aegis/common/clock.h"
#include "client_options.h"
#include "commands.h"
#include "session_file.h"
#include "terminal_qr.h"

namespace aegis::cli {
namespace {

constexpr size_t kMaxPasswordBytes = 1024;

struct IdentityOptions {
  ClientFlags client;
  std::string name, role, models, ttl, id, user, totp;
  std::string rate, quota;  // "N/s|N/m|N/h" and "N/d" (checked by the server / here)
  uint64_t burst = 0;
  bool password_stdin = false;
  bool json = false;
};

// "90s", "30m", "12h", "7d" → seconds. A unit is required: "3600" could mean
// seconds or hours to different readers.
int64_t ParseDuration(const std::string& text) {
  if (text.size() < 2 || text.size() > 12) throw CommandError("--ttl must look like 90s, 30m, 12h or 7d");
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') throw CommandError("--ttl must look like 90s, 30m, 12h or 7d");
    n = n * 10 + (text[i] - '0');
  }
  switch (text.back()) {
    case 's':
      return n;
    case 'm':
      return n * 60;
    case 'h':
      return n * 3600;
    case 'd':
      return n * 86400;
    default:
      throw CommandError("--ttl must look like 90s, 30m, 12h or 7d");
  }
}

// The whole of stdin without one trailing newline (what `echo` or a heredoc adds).
std::string ReadPasswordFromStdin() {
  std::string password;
  char buf[512];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
    password.append(buf, n);
    if (password.size() > kMaxPasswordBytes + 2) throw CommandError("the password is over 1024 bytes");
  }
  if (!password.empty() && password.back() == '\n') password.pop_back();
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) throw CommandError("no password on stdin");
  return password;
}

// --rate, --burst and --quota into a create request. The rate's syntax is the
// server's to check (it names the problem); a quota is "N/d".
void AddLimits(const IdentityOptions& o, nlohmann::json& request) {
  if (!o.rate.empty()) request["rate"] = o.rate;
  if (o.burst != 0) request["burst"] = o.burst;
  if (!o.quota.empty()) {
    const std::string digits = o.quota.ends_with("/d") ? o.quota.substr(0, o.quota.size() - 2) : "";
    if (digits.empty() || digits.size() > 13 || digits.find_first_not_of("0123456789") != std::string::npos ||
        std::stoull(digits) == 0) {
      throw CommandError("--quota must look like 10000/d (requests per UTC day)");
    }
    request["quota"] = std::stoull(digits);
  }
}

std::string LimitsText(const nlohmann::json& limits) {
  if (!limits.is_object()) return "server defaults";
  std::string out;
  if (limits["rate"].is_string()) out += limits["rate"].get<std::string>();
  if (limits["burst"].is_number()) out += (out.empty() ? "burst " : ", burst ") + limits["burst"].dump();
  if (limits["quota"].is_number()) out += (out.empty() ? "" : ", ") + limits["quota"].dump() + "/d";
  return out;
}

void Print(const nlohmann::json& body) { std::cout << body.dump() << std::endl; }

// The TOTP enrolment, as `user add` and `user reset-totp` show it: once.
void PrintEnrolment(const std::string& uri) {
  std::cout << "Enrol an authenticator app (TOTP) by scanning the code, or enter this URI:\n"
            << uri << "\n\n"
            << RenderQrCode(uri) << "Shown once: the secret cannot be retrieved later." << std::endl;
}

void RunTokenCreate(const IdentityOptions& o) {
  nlohmann::json request = {{"name", o.name}, {"role", o.role}};
  if (!o.models.empty()) request["models"] = o.models;
  if (!o.ttl.empty()) request["ttl_seconds"] = ParseDuration(o.ttl);
  AddLimits(o, request);
  auto client = ConnectClient(o.client);
  auto body = ExpectJson(Check(client->Request("POST", "/v1/tokens", request.dump()), "token create failed"));
  if (o.json) return Print(body);
  std::cout << "token " << body.value("id", "") << " (" << body.value("name", "") << ", " << body.value("role", "")
            << " on '" << body.value("models", "") << "', expires "
            << (body["expires_at"].is_string() ? body["expires_at"].get<std::string>() : std::string("never"))
            << ", limits: " << LimitsText(body["limits"]) << ")\n"
            << body.value("token", "") << "\n"
            << "Shown once: store it in a secret manager." << std::endl;
}

void RunTokenList(const IdentityOptions& o) {
  auto client = ConnectClient(o.client);
  auto body = ExpectJson(Check(client->Request("GET", "/v1/tokens"), "token list failed"));
  if (o.json) return Print(body);
  std::printf("%-16s %-20s %-9s %-16s %-8s %-27s %s\n", "ID", "NAME", "ROLE", "MODELS", "STATE", "EXPIRES",
              "CREATED BY");
  // The server writes times as FormatRfc3339 does, so the text compares as the time.
  const std::string now = FormatRfc3339(std::chrono::system_clock::now());
  for (const auto& t : body.value("tokens", nlohmann::json::array())) {
    const bool expiring = t["expires_at"].is_string();
    const std::string expires = expiring ? t["expires_at"].get<std::string>() : "never";
    const char* state = t.value("revoked", false) ? "revoked" : (expiring && expires <= now) ? "expired" : "active";
    std::printf("%-16s %-20s %-9s %-16s %-8s %-27s %s\n", t.value("id", "").c_str(), t.value("name", "").c_str(),
                t.value("role", "").c_str(), t.value("models", "").c_str(), state, expires.c_str(),
                t.value("created_by", "").c_str());
  }
}

void RunTokenRevoke(const IdentityOptions& o) {
  auto client = ConnectClient(o.client);
  auto body =
      ExpectJson(Check(client->Request("DELETE", "/v1/tokens/" + EncodePathSegment(o.id)), "token revoke failed"));
  if (o.json) return Print(body);
  std::cout << "revoked token " << o.id << std::endl;
}

void RunUserAdd(const IdentityOptions& o) {
  if (!o.password_stdin) throw CommandError("pass the password on stdin with --password-stdin");
  nlohmann::json request = {{"name", o.name}, {"role", o.role}, {"password", ReadPasswordFromStdin()}};
  if (!o.models.empty()) request["models"] = o.models;
  AddLimits(o, request);
  auto client = ConnectClient(o.client);
  auto body = ExpectJson(Check(client->Request("POST", "/v1/users", request.dump()), "user add failed"));
  if (o.json) return Print(body);
  std::cout << "added user " << body.value("name", "") << " (" << body.value("role", "") << " on '"
            << body.value("models", "") << "', limits: " << LimitsText(body["limits"]) << ")\n";
  PrintEnrolment(body.value("totp_uri", ""));
}

void RunUserList(const IdentityOptions& o) {
  auto client = ConnectClient(o.client);
  auto body = ExpectJson(Check(client->Request("GET", "/v1/users"), "user list failed"));
  if (o.json) return Print(body);
  std::printf("%-24s %-9s %-16s %-9s %s\n", "NAME", "ROLE", "MODELS", "STATE", "CREATED");
  for (const auto& u : body.value("users", nlohmann::json::array())) {
    const char* state = u.value("disabled", false) ? "disabled" : u.value("locked", false) ? "locked" : "active";
    std::printf("%-24s %-9s %-16s %-9s %s by %s\n", u.value("name", "").c_str(), u.value("role", "").c_str(),
                u.value("models", "").c_str(), state, u.value("created_at", "").c_str(),
                u.value("created_by", "").c_str());
  }
}

// One change to one account (`user disable|enable|unlock|remove|reset-totp NAME`).
nlohmann::json ChangeUser(const IdentityOptions& o, const char* method, const std::string& suffix,
                          const std::string& what) {
  auto client = ConnectClient(o.client);
  return ExpectJson(
      Check(client->Request(method, "/v1/users/" + EncodePathSegment(o.name) + suffix), "user " + what + " failed"));
}

void RunUserDisable(const IdentityOptions& o) {
  auto body = ChangeUser(o, "POST", "/disable", "disable");
  if (o.json) return Print(body);
  std::cout << "disabled user " << o.name << "; their sessions have ended" << std::endl;
}

void RunUserEnable(const IdentityOptions& o) {
  auto body = ChangeUser(o, "POST", "/enable", "enable");
  if (o.json) return Print(body);
  std::cout << "enabled user " << o.name << std::endl;
}

void RunUserUnlock(const IdentityOptions& o) {
  auto body = ChangeUser(o, "POST", "/unlock", "unlock");
  if (o.json) return Print(body);
  std::cout << "unlocked user " << o.name << "; failed logins reset" << std::endl;
}

void RunUserRemove(const IdentityOptions& o) {
  auto body = ChangeUser(o, "DELETE", "", "remove");
  if (o.json) return Print(body);
  std::cout << "removed user " << o.name << "; their sessions have ended"
            << (body.value("suspension_lifted", false) ? " and their suspension was lifted" : "") << std::endl;
}

void RunUserResetTotp(const IdentityOptions& o) {
  auto body = ChangeUser(o, "POST", "/reset-totp", "reset-totp");
  if (o.json) return Print(body);
  std::cout << "new TOTP secret for " << o.name << "; their sessions have ended\n";
  PrintEnrolment(body.value("totp_uri", ""));
}

void RunLogin(const IdentityOptions& o) {
  if (!o.password_stdin) throw CommandError("pass the password on stdin with --password-stdin");
  nlohmann::json request = {{"user", o.user}, {"password", ReadPasswordFromStdin()}, {"totp", o.totp}};
  auto client = ConnectClient(o.client, Credential::kNone);
  auto body = ExpectJson(Check(client->Request("POST", "/v1/login", request.dump()), "login failed"));
  const auto path = SessionFilePath();
  SaveSession(path, SavedSession{ServerUrl(o.client), body.value("session", ""), body.value("user", ""),
                                 body.value("expires_at", "")});
  if (o.json) {
    return Print({{"session", body.value("session", "")},
                  {"user", body.value("user", "")},
                  {"role", body.value("role", "")},
                  {"expires_at", body.value("expires_at", "")},
                  {"session_file", path.string()}});
  }
  std::cout << "logged in as " << body.value("user", "") << " (" << body.value("role", "") << "); session saved to "
            << path.string() << ", ends after 15 minutes idle or at " << body.value("expires_at", "") << std::endl;
}

void RunLogout(const IdentityOptions& o) {
  const auto path = SessionFilePath();
  auto saved = LoadSession(path);
  if (!saved) throw CommandError("not logged in (no session file at " + path.string() + ")");
  ClientFlags flags = o.client;
  flags.server = saved->server;
  flags.token = saved->session;
  auto client = ConnectClient(flags);
  auto response = Check(client->Request("POST", "/v1/logout", "{}"), "logout failed");
  // An expired session (401) is logged out already; the file goes either way.
  RemoveSession(path);
  if (response.status != 401) ExpectJson(response);
  std::cout << "logged out" << std::endl;
}

CLI::App* Sub(CLI::App* parent, const char* name, const char* help, const std::shared_ptr<IdentityOptions>& o) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  AddClientFlags(cmd, o->client);
  AddJsonFlag(cmd, o->json);
  return cmd;
}

void AddLimitOptions(CLI::App* command, IdentityOptions& o) {
  command->add_option("--rate", o.rate, "Its own request rate: N/s, N/m or N/h (default: [guard] rate)");
  command->add_option("--burst", o.burst, "Requests it may make at once (default: the N of --rate)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  command->add_option("--quota", o.quota, "Requests per UTC day: N/d (default: [guard] quota)");
}

}  // namespace

void RegisterIdentityCommands(CLI::App& app) {
  auto o = std::make_shared<IdentityOptions>();
  CLI::App* token = app.add_subcommand("token", "API tokens for services (admin)");
  token->require_subcommand(1);
  CLI::App* create = Sub(token, "create", "Issue a token; it is shown once", o);
  create->footer(
      "Examples:\n"
      "  aegis token create --name scorer --role consumer --models 'fraud-*' --ttl 90d\n"
      "  aegis token create --name ci --role deployer --models 'fraud-*' --rate 10/s --json");
  create->add_option("--name", o->name, "What the token is for (shown in the audit log)")->required();
  create->add_option("--role", o->role, "admin, deployer, approver, auditor or consumer")->required();
  create->add_option("--models", o->models, "Glob of the models the role applies to (default *)");
  create->add_option("--ttl", o->ttl, "Lifetime: 90s, 30m, 12h, 7d (default: no expiry)");
  AddLimitOptions(create, *o);
  create->callback([o] { RunTokenCreate(*o); });
  Sub(token, "list", "List tokens (never their secrets)", o)->callback([o] { RunTokenList(*o); });
  CLI::App* revoke = Sub(token, "revoke", "Revoke a token; effective on its next request", o);
  revoke->add_option("ID", o->id, "Token id (see token list)")->required();
  revoke->callback([o] { RunTokenRevoke(*o); });

  CLI::App* user = app.add_subcommand("user", "People who log in with a password and TOTP (admin)");
  user->require_subcommand(1);
  CLI::App* add = Sub(user, "add", "Add a user; prints the TOTP enrolment URI and QR code once", o);
  add->footer(
      "Examples:\n"
      "  aegis user add alice --role admin --password-stdin < alice.pw\n"
      "  printf '%s' \"$PW\" | aegis user add bob --role deployer --models 'fraud-*' --password-stdin");
  add->add_option("NAME", o->name, "User name")->required();
  add->add_option("--role", o->role, "admin, deployer, approver, auditor or consumer")->required();
  add->add_option("--models", o->models, "Glob of the models the role applies to (default *)");
  AddLimitOptions(add, *o);
  add->add_flag("--password-stdin", o->password_stdin, "Read the password (at least 12 characters) from stdin")
      ->required();
  add->callback([o] { RunUserAdd(*o); });
  Sub(user, "list", "List users", o)->callback([o] { RunUserList(*o); });
  const auto change = [&](const char* name, const char* help, void (*run)(const IdentityOptions&)) {
    CLI::App* cmd = Sub(user, name, help, o);
    cmd->add_option("NAME", o->name, "User name")->required();
    cmd->callback([o, run] { run(*o); });
  };
  change("disable", "Disable a user and end their sessions (refused for the last administrator)", RunUserDisable);
  change("enable", "Let a disabled user log in again", RunUserEnable);
  change("unlock", "End a user's lockout after failed logins (not your own)", RunUserUnlock);
  change("reset-totp",
         "Give a user a new TOTP secret, shown once as at user add, and end their sessions (not your own)",
         RunUserResetTotp);
  change("remove", "Delete a user and end their sessions (not your own; never the last administrator)", RunUserRemove);

  CLI::App* login = Sub(&app, "login", "Log in with password and TOTP; saves a session for later commands", o);
  login->footer(
      "Examples:\n"
      "  aegis login --user alice --password-stdin --totp 123456 < alice.pw\n"
      "  AEGIS_SERVER=https://aegis.internal:9443 aegis login --user alice --password-stdin --totp 123456");
  login->add_option("--user", o->user, "User name")->required();
  login->add_flag("--password-stdin", o->password_stdin, "Read the password from stdin")->required();
  login->add_option("--totp", o->totp, "The 6-digit code of your authenticator app")->required();
  login->callback([o] { RunLogin(*o); });
  CLI::App* logout = app.add_subcommand("logout", "End the saved session and delete its file");
  AddClientFlags(logout, o->client);
  logout->callback([o] { RunLogout(*o); });
}

}  // namespace aegis::cli
