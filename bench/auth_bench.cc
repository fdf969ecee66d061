// What each way of proving who you are costs per request, in process: the API
// token (SHA-256 + table lookup), a JWT per algorithm (a signature verification),
// the policy decision, and a login (Argon2id + TOTP). Prints one JSON object
// with medians of repeated batches (the machines are shared: medians, not means).
//
//   build/release/bench/auth_bench [batches=15]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "aegis/auth/jwt.h"
#include "aegis/auth/token_authenticator.h"
#include "aegis/auth/totp.h"
#include "aegis/auth/user_directory.h"
#include "aegis/keys/key_provider.h"
#include "aegis/policy/policy.h"
#include "aegis/store/metadata_store.h"
#include "auth/testing/jwt_test_keys.h"
#include "common/testing/scoped_temp_dir.h"

namespace {

using namespace aegis;
using Steady = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "auth_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(StatusOr<T> v, const char* what) {
  if (!v.ok()) Die(std::string(what) + ": " + v.status().message());
  return std::move(v).value();
}

// Median over `batches` of the mean time of one call within a batch of `per_batch` calls, in µs.
// Every timed call must succeed (`fn` returns true): a failing call is usually much cheaper
// (or dearer) than a good one, so timing it would report the cost of the wrong path.
double MedianMicros(const char* what, int batches, int per_batch, const std::function<bool()>& fn) {
  std::vector<double> samples;
  for (int b = 0; b < batches; ++b) {
    bool all_ok = true;
    const auto start = Steady::now();
    for (int i = 0; i < per_batch; ++i) all_ok &= fn();
    samples.push_back(std::chrono::duration<double, std::micro>(Steady::now() - start).count() / per_batch);
    if (!all_ok) Die(std::string(what) + ": a timed call failed; the figure would time the failure path");
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::max(3, std::atoi(argv[1])) : 15;
  testing::ScopedTempDir dir;
  auto store = Must(store::MetadataStore::Open(dir.path() / "aegis.db"), "store");
  auto kek = Must(keys::LocalKeyProvider::Create(dir.path() / "keys", std::nullopt), "kek");
  const aegis::Clock& clock = aegis::Clock::Real();

  // API token.
  auto tokens = Must(auth::TokenAuthenticator::Create(store.get(), clock), "tokens");
  const std::string token = Must(tokens->Issue({"bench", "consumer", "fraud-*", std::nullopt, "bench"}), "issue").token;
  const double token_us = MedianMicros("api token", batches, 20000, [&] { return tokens->Authenticate(token).ok(); });

  // JWTs, one key per algorithm.
  using auth::testing::KeyKind;
  using auth::testing::TestKey;
  std::vector<TestKey> keys = {TestKey::Generate(KeyKind::kRsa, "rsa"), TestKey::Generate(KeyKind::kEc, "ec"),
                               TestKey::Generate(KeyKind::kEd25519, "ed")};
  auth::JwtConfig config;
  config.issuer = "https://idp.bench";
  config.audience = "aegis";
  auto verifier = Must(
      auth::JwtVerifier::Create(config, auth::testing::JwksOf({keys[0].Jwk(), keys[1].Jwk(), keys[2].Jwk()})), "jwks");
  const auto now = std::chrono::system_clock::now();
  const long exp = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() + 3600;
  std::vector<std::pair<std::string, double>> jwt_us;
  for (const auto& key : keys) {
    const std::string header = R"({"alg":")" + key.alg() + R"(","kid":")" + key.kid() + R"(","typ":"JWT"})";
    const std::string payload = R"({"iss":"https://idp.bench","aud":"aegis","sub":"svc","exp":)" + std::to_string(exp) +
                                R"(,"roles":["consumer"]})";
    const std::string jwt = auth::testing::SignedToken(key, header, payload);
    if (!verifier->Verify(jwt, now).ok()) Die("bench JWT does not verify");
    jwt_us.emplace_back(key.alg(), MedianMicros("jwt", batches, 500, [&] { return verifier->Verify(jwt, now).ok(); }));
  }

  // The policy decision for a scoped consumer.
  policy::Subject subject{{policy::Grant{policy::Role::kConsumer, "fraud-*"}}, false, {}};
  const double policy_us = MedianMicros("policy", batches, 100000, [&] {
    return policy::Authorize(subject, policy::Permission::kInfer, "fraud-mlp", now).allowed;
  });

  // A login: Argon2id verification, TOTP, a session. Each TOTP code works once
  // per user, so each timed login is a different user with the current code.
  auto users = Must(auth::UserDirectory::Create(store.get(), kek.get(), clock), "users");
  const int logins = std::min(batches, 5);
  std::vector<std::pair<std::string, std::string>> people;  // name, TOTP secret
  for (int i = 0; i < logins; ++i) {
    const std::string name = "bench" + std::to_string(i);
    auto enrolled = Must(users->AddUser({name, "consumer", "*", "correct horse battery staple"}, "bench"), "user");
    const auto secret_b32 = enrolled.totp_uri.substr(enrolled.totp_uri.find("secret=") + 7, 32);
    auto secret = auth::Base32Decode(secret_b32);
    if (!secret) Die("cannot read the TOTP secret of " + name);
    people.emplace_back(name, std::move(*secret));
  }
  std::string session;
  size_t next = 0;
  const double login_ms =
      MedianMicros("login", logins, 1,
                   [&] {
                     const auto& [name, secret] = people.at(next++);
                     const std::string code =
                         auth::TotpCode(crypto::AsBytes(secret), auth::TotpStep(std::chrono::system_clock::now()));
                     auto outcome = users->Login({name, "correct horse battery staple", code, "127.0.0.1"});
                     if (!outcome.status.ok()) return false;
                     session = outcome.session;
                     return true;
                   }) /
      1000.0;
  const double session_us =
      MedianMicros("session", batches, 20000, [&] { return users->AuthenticateSession(session).ok(); });

  std::printf("{\"batches\": %d, \"api_token_us\": %.3f, \"session_us\": %.3f, \"policy_us\": %.4f", batches, token_us,
              session_us, policy_us);
  for (const auto& [alg, us] : jwt_us) std::printf(", \"jwt_%s_us\": %.2f", alg.c_str(), us);
  std::printf(", \"login_ms\": %.1f}\n", login_ms);
  return 0;
}
