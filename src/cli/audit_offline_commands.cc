// `aegis audit verify|prove|consistency`: offline checks of DIR/audit that need
// no server and no secret — only the audit public key (key.json, or the
// auditor's pinned copy with --public-key). Proofs are RFC 6962 / RFC 9162
// proofs; docs/audit.md shows how to check them by hand.
#include <iostream>

#include <nlohmann/json.hpp>

#include "aegis/audit/event_line.h"
#include "aegis/audit/log_verifier.h"
#include "aegis/common/file_util.h"
#include "aegis/crypto/encoding.h"
#include "commands.h"

namespace aegis::cli {
namespace {

using Json = nlohmann::ordered_json;

struct OfflineFlags {
  std::string data_dir;
  std::string public_key;
  bool json = false;
};

void AddOfflineFlags(CLI::App* cmd, OfflineFlags& f) {
  cmd->add_option("--data-dir", f.data_dir, "Installation directory (reads DIR/audit)")->required();
  cmd->add_option("--public-key", f.public_key, "Your own copy of the audit public key (PEM); key.json must match it");
}

audit::VerifyReport Load(const OfflineFlags& f, bool keep_leaves, std::optional<uint64_t> keep_line = std::nullopt) {
  const auto dir = std::filesystem::path(f.data_dir) / "audit";
  if (!std::filesystem::is_directory(dir)) throw CommandError("no audit log at " + dir.string(), 2);
  audit::VerifyOptions options;
  options.keep_leaves = keep_leaves;
  options.keep_line = keep_line;
  if (!f.public_key.empty()) {
    auto pem = ReadFile(f.public_key, size_t{64} * 1024);
    if (!pem.ok()) throw CommandError("--public-key: " + pem.status().message(), 2);
    auto key = crypto::PublicKey::FromPem(*pem);
    if (!key.ok()) throw CommandError("--public-key: " + key.status().message(), 2);
    options.pinned_key = *key;
  }
  auto report = audit::VerifyAuditLog(dir, options);
  if (!report.ok()) throw CommandError("cannot verify the audit log: " + report.status().message(), 2);
  return std::move(*report);
}

Json HeadJson(const audit::SignedTreeHead& head) { return Json::parse(audit::HeadToJson(head)); }

Json Hashes(const std::vector<audit::Hash>& hashes) {
  Json out = Json::array();
  for (const auto& h : hashes) out.push_back(crypto::HexEncode(h));
  return out;
}

void FailVerification(const audit::VerifyReport& r) {
  std::string line = "audit log verification failed";
  if (r.first_bad_event) line += " at event " + std::to_string(*r.first_bad_event);
  throw CommandError(line + ": " + r.error, 1);
}

void RunVerify(const OfflineFlags& f) {
  const auto r = Load(f, false);
  if (f.json) {
    Json j;
    j["ok"] = r.ok;
    j["events"] = r.events;
    j["tree_size"] = r.events;
    j["root"] = r.ok ? Json(crypto::HexEncode(r.root)) : Json(nullptr);
    j["signed_tree_size"] = r.signed_tree_size;
    j["unsigned_events"] = r.unsigned_events;
    j["heads"] = r.heads.size();
    j["key_id"] = r.key_id;
    j["torn_tail_bytes"] = r.torn_tail_bytes;
    j["first_bad_event"] = r.first_bad_event ? Json(*r.first_bad_event) : Json(nullptr);
    j["error"] = r.ok ? Json(nullptr) : Json(r.error);
    j["first_event"] = r.first_event;
    std::cout << j.dump() << std::endl;
  }
  if (!r.ok) FailVerification(r);
  if (!f.json) {
    std::cout << "audit log intact: " << r.events << " events, root " << crypto::HexEncode(r.root) << "\n"
              << (r.first_event > 0
                      ? "events " + std::to_string(r.first_event) + " to " + std::to_string(r.events - 1) +
                            " read; those before are vouched for by the signed checkpoint at " +
                            std::to_string(r.first_event) + " (archived)\n"
                      : "")
              << "signed: " << r.signed_tree_size << " events under " << r.heads.size() << " signed heads"
              << (r.unsigned_events ? ", " + std::to_string(r.unsigned_events) + " not yet signed" : "") << "\n"
              << "audit key: " << r.key_id << std::endl;
    if (r.torn_tail_bytes) std::cout << "a torn last write of " << r.torn_tail_bytes << " bytes was ignored\n";
  }
}

const audit::SignedTreeHead& HeadOfSize(const audit::VerifyReport& r, uint64_t size) {
  for (auto it = r.heads.rbegin(); it != r.heads.rend(); ++it) {
    if (it->tree_size == size) return *it;
  }
  throw CommandError("no signed tree head has tree size " + std::to_string(size) +
                     (r.heads.empty() ? "" : " (the newest is " + std::to_string(r.heads.back().tree_size) + ")"));
}

void RunProve(const OfflineFlags& f, uint64_t event, std::optional<uint64_t> tree_size) {
  const auto r = Load(f, true, event);
  if (!r.ok) FailVerification(r);
  if (r.heads.empty()) throw CommandError("the log has no signed tree head yet");
  const uint64_t size = tree_size.value_or(r.heads.back().tree_size);
  const auto& head = HeadOfSize(r, size);
  if (event >= size) {
    throw CommandError("event " + std::to_string(event) + " is not covered by the signed head of size " +
                       std::to_string(size));
  }
  audit::MerkleHasher hasher;
  const auto leaves = std::span(r.leaves).first(size);
  const auto path = audit::InclusionProof(leaves, event, hasher);
  if (!audit::VerifyInclusion(event, size, r.leaves[event], path, head.root, hasher)) {
    throw CommandError("internal error: the inclusion proof does not verify");
  }
  Json j;
  j["leaf_index"] = event;
  j["tree_size"] = size;
  j["event"] = r.line;
  j["leaf_hash"] = crypto::HexEncode(r.leaves[event]);
  j["audit_path"] = Hashes(path);
  j["root"] = crypto::HexEncode(head.root);
  j["head"] = HeadJson(head);
  std::cout << (f.json ? j.dump() : j.dump(2)) << std::endl;
}

void RunConsistency(const OfflineFlags& f, uint64_t old_size, uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) throw CommandError("need 0 < OLD <= NEW");
  const auto r = Load(f, true);
  if (!r.ok) FailVerification(r);
  const auto& old_head = HeadOfSize(r, old_size);
  const auto& new_head = HeadOfSize(r, new_size);
  audit::MerkleHasher hasher;
  const auto proof = audit::ConsistencyProof(std::span(r.leaves).first(new_size), old_size, hasher);
  if (!audit::VerifyConsistency(old_size, new_size, old_head.root, new_head.root, proof, hasher)) {
    throw CommandError("internal error: the consistency proof does not verify");
  }
  Json j;
  j["old_size"] = old_size;
  j["new_size"] = new_size;
  j["old_root"] = crypto::HexEncode(old_head.root);
  j["new_root"] = crypto::HexEncode(new_head.root);
  j["proof"] = Hashes(proof);
  j["old_head"] = HeadJson(old_head);
  j["new_head"] = HeadJson(new_head);
  std::cout << (f.json ? j.dump() : j.dump(2)) << std::endl;
}

}  // namespace

audit::AuditLogOptions AuditOptions(const std::filesystem::path& data_dir, const keys::KeyProvider& kek) {
  audit::AuditLogOptions o;
  o.dir = data_dir / "audit";
  o.signing_key_file = data_dir / "keys" / "audit-signing.key";
  o.kek = &kek;
  return o;
}

void RegisterAuditOfflineCommands(CLI::App& audit) {
  auto vf = std::make_shared<OfflineFlags>();
  CLI::App* verify = audit.add_subcommand(
      "verify", "Offline: recompute the Merkle tree, check every signed head; exit 0 intact, 1 tampered");
  AddOfflineFlags(verify, *vf);
  AddJsonFlag(verify, vf->json);
  verify->callback([vf] { RunVerify(*vf); });

  auto pf = std::make_shared<OfflineFlags>();
  auto event = std::make_shared<uint64_t>(0);
  auto size = std::make_shared<uint64_t>(0);
  CLI::App* prove = audit.add_subcommand("prove", "Offline: an inclusion proof that event N is in a signed tree head");
  AddOfflineFlags(prove, *pf);
  prove->add_option("--event", *event, "The event's seq")->required();
  auto* size_opt = prove->add_option("--tree-size", *size, "A signed head's tree size (default: the newest)");
  AddJsonFlag(prove, pf->json);
  prove->callback([pf, event, size, size_opt] {
    RunProve(*pf, *event, size_opt->count() ? std::optional<uint64_t>(*size) : std::nullopt);
  });

  auto cf = std::make_shared<OfflineFlags>();
  auto old_size = std::make_shared<uint64_t>(0);
  auto new_size = std::make_shared<uint64_t>(0);
  CLI::App* consistency = audit.add_subcommand(
      "consistency", "Offline: a consistency proof between two signed heads (tree sizes OLD and NEW)");
  AddOfflineFlags(consistency, *cf);
  consistency->add_option("OLD", *old_size, "Tree size of the older signed head")->required();
  consistency->add_option("NEW", *new_size, "Tree size of the newer signed head")->required();
  AddJsonFlag(consistency, cf->json);
  consistency->callback([cf, old_size, new_size] { RunConsistency(*cf, *old_size, *new_size); });
}

}  // namespace aegis::cli
