// libFuzzer target for the audit verifier: an attacker who can write the data
// directory controls every byte of the segments, heads and checkpoints it
// reads. Input = segment bytes, "\0\0", heads.jsonl bytes, "\0\0",
// checkpoints.jsonl bytes; verified from event 0 and from the newest checkpoint. The verifier must never
// crash, hang or read out of bounds, and an altered log must never verify unless
// it is a valid log (checked by the invariant below).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "aegis/audit/event_line.h"
#include "aegis/audit/log_verifier.h"
#include "aegis/common/file_util.h"
#include "aegis/crypto/signature.h"
#include "archive.h"
#include "checkpoint.h"
#include "segment_compression.h"

namespace {

// Plain writes: WriteFileAtomic's fsyncs would cost the fuzzer 99% of its runs.
void Put(const std::filesystem::path& path, std::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) std::abort();
  std::fclose(f);
}

std::filesystem::path MakeDir() {
  char tmpl[] = "/tmp/aegis-audit-fuzz-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) std::abort();
  std::filesystem::path d(tmpl);
  auto key = aegis::crypto::PrivateKey::Generate(aegis::crypto::KeyType::kEd25519);
  if (!key.ok()) std::abort();
  const std::string json = "{\"key_id\":\"" + key->public_key().fingerprint() + "\",\"public_key\":" + "\"" + [&] {
    std::string pem = key->public_key().ToPem(), out;
    for (char c : pem) out += c == '\n' ? std::string("\\n") : std::string(1, c);
    return out;
  }() + "\"}";
  if (!aegis::WriteFileAtomic(d / "key.json", json, 0600).ok()) std::abort();
  return d;
}

const std::filesystem::path& Dir() {
  static const std::filesystem::path dir = MakeDir();
  return dir;
}

// The same, where the fuzzed segment is a sealed, zstd-compressed one.
const std::filesystem::path& CompressedDir() {
  static const std::filesystem::path dir = MakeDir();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find(std::string_view("\0\0", 2));
  const std::string_view segment = input.substr(0, split);
  std::string_view heads = split == std::string_view::npos ? std::string_view() : input.substr(split + 2);
  const size_t split2 = heads.find(std::string_view("\0\0", 2));
  const std::string_view checkpoints = split2 == std::string_view::npos ? std::string_view() : heads.substr(split2 + 2);
  heads = heads.substr(0, split2);
  // The line parsers on their own.
  aegis::audit::ParseLinePrefix(segment);
  aegis::audit::LineTime(segment);
  aegis::audit::HeadFromJson(heads).IgnoreError();  // any answer, no crash
  aegis::audit::internal::CheckpointFromJson(checkpoints).IgnoreError();
  // Bounded: 1 MiB here, so a bomb is refused fast.
  aegis::audit::internal::Decompress(segment, 1u << 20).IgnoreError();
  // The whole verifier over files.
  const auto& dir = Dir();
  Put(dir / "segment-00000000000000000000.jsonl", segment);
  Put(dir / "heads.jsonl", heads);
  Put(dir / "checkpoints.jsonl", checkpoints);
  // Invariant: heads (and checkpoints, which carry one) are signed by a key only
  // this process knows, so any input can only verify if nothing is signed.
  for (bool from_newest : {false, true}) {
    aegis::audit::VerifyOptions options;
    options.from_newest_checkpoint = from_newest;
    auto report = aegis::audit::VerifyAuditLog(dir, options);
    if (report.ok() && report->ok && (!report->heads.empty() || report->first_event > 0)) std::abort();
  }
  // The live list of archives (a crash between recording an archive and removing its segments).
  Put(dir / "archives.jsonl", checkpoints);
  aegis::audit::internal::FinishArchivedRemovals(dir).IgnoreError();
  const auto& zdir = CompressedDir();
  Put(zdir / "segment-00000000000000000000.jsonl.zst", segment);
  Put(zdir / "heads.jsonl", heads);
  auto zreport = aegis::audit::VerifyAuditLog(zdir);
  if (zreport.ok() && zreport->ok && !zreport->heads.empty()) std::abort();
  return 0;
}
