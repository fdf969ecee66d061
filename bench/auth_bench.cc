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

// Median over `batches` of the mean time of one call within a batch of `per_batch` calls, in µs.
double MedianMicros(int batches, int per_batch, const std::function<void()>& fn) {
  std::vector<double> samples;
  for (int b = 0; b < batches; ++b) {
    const auto start = Steady::now();
    for (int i = 0; i < per_batch; ++i) fn();
    samples.push_back(std::chrono::duration<double, std::micro>(Steady::now() - start).count() / per_batch);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "auth_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(StatusOr<T> v, const char* what) {
  if (!v.ok()) Die(std::string(what) + ": " + v.status().message());
  return std::move(v).value();
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
  volatile bool ok = true;
  const double token_us = MedianMicros(batches, 20000, [&] { ok = tokens->Authenticate(token).ok(); });

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
    jwt_us.emplace_back(key.alg(), MedianMicros(batches, 500, [&] { ok = verifier->Verify(jwt, now).ok(); }));
  }

  // The policy decision for a scoped consumer.
  policy::Subject subject{{policy::Grant{policy::Role::kConsumer, "fraud-*"}}, false, {}};
  const double policy_us = MedianMicros(
      batches, 100000, [&] { ok = policy::Authorize(subject, policy::Action::kInfer, "fraud-mlp", now).allowed; });

  // A login: Argon2id verification, TOTP, a session.
  auto users = Must(auth::UserDirectory::Create(store.get(), kek.get(), clock), "users");
  auto enrolled = Must(users->AddUser({"bench", "consumer", "*", "correct horse battery staple"}, "bench"), "user");
  const auto secret_b32 = enrolled.totp_uri.substr(enrolled.totp_uri.find("secret=") + 7, 32);
  const auto secret = *auth::Base32Decode(secret_b32);
  int64_t step = auth::TotpStep(std::chrono::system_clock::now()) - 1;
  std::string session;
  const double login_ms = MedianMicros(std::min(batches, 5), 1,
                                       [&] {
                                         // Each code works once: the next login uses the next step of the ±1 window.
                                         auto outcome =
                                             users->Login({"bench", "correct horse battery staple",
                                                           auth::TotpCode(crypto::AsBytes(secret), step), "127.0.0.1"});
                                         if (outcome.status.ok()) {
                                           session = outcome.session;
                                           ++step;
                                         }
                                       }) /
                          1000.0;
  if (session.empty()) Die("no login succeeded");
  const double session_us = MedianMicros(batches, 20000, [&] { ok = users->AuthenticateSession(session).ok(); });

  std::printf("{\"batches\": %d, \"api_token_us\": %.3f, \"session_us\": %.3f, \"policy_us\": %.4f", batches, token_us,
              session_us, policy_us);
  for (const auto& [alg, us] : jwt_us) std::printf(", \"jwt_%s_us\": %.2f", alg.c_str(), us);
  std::printf(", \"login_ms\": %.1f}\n", login_ms);
  return 0;
}
