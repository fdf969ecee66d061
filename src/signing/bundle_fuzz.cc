// libFuzzer target: sigstore bundles and the in-toto statements inside them
// are the untrusted input of `aegis model verify` and of model loading.
//
// Each input is tried three ways: as a bundle verified with a fixed key (the
// seed corpus is signed with it, so mutations reach every envelope check), as
// the statement carried by whatever envelope parses (the signature would stop
// mutated payloads before the statement parser otherwise), and as a statement
// on its own. Beyond "no crash": whatever parses satisfies the manifest rules
// and re-serializes into a statement that parses to the same subject.
#include "aegis/signing/bundle.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "envelope.h"
#include "manifest_rules.h"
#include "statement.h"

namespace {

// The public half of the key the seed bundles in fuzz_corpus/bundle were signed with.
constexpr char kSeedKey[] = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/qkpQV+Ce/D0N5LolYi8q2KmfB2T
5bIHwJoI1aZMefw6aoXUkme7QqSFM4ZivfWwXj/FZCYFV8fWPDsmcpWFCA==
-----END PUBLIC KEY-----
)";

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckManifest(const aegis::StatusOr<aegis::signing::Manifest>& manifest) {
  if (!manifest.ok()) return;
  Check(aegis::signing::internal::ValidateManifest(*manifest).ok());
  for (const auto& r : manifest->resources) {
    const auto path = aegis::signing::internal::ResourcePath(*manifest, r);
    Check(path == "." || aegis::signing::IsSafeResourceName(path));
  }
  auto again = aegis::signing::internal::ParseStatement(aegis::signing::StatementJson(*manifest));
  Check(again.ok() && again->SubjectDigest() == manifest->SubjectDigest());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto key = aegis::crypto::PublicKey::FromPem(kSeedKey);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (key.ok()) CheckManifest(aegis::signing::VerifyBundle(input, *key));
  if (auto envelope = aegis::signing::internal::ParseEnvelope(input); envelope.ok()) {
    CheckManifest(aegis::signing::internal::ParseStatement(envelope->payload));
  }
  CheckManifest(aegis::signing::internal::ParseStatement(input));
  return 0;
}
