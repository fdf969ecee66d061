// `aegis audit verify|prove|consistency`: offline checks of DIR/audit that need
// no server and no secret — only the audit public key (key.json, or the
// auditor's pinned copy with --public-key). Proofs are RFC 6962 / RFC 9162
// proofs; docs/audit.md shows how to check them by hand.
#include <iostream>

#include <nlohmann/json.hpp>

#include "aegis/audit/audit_log.h"
#include "aegis/audit/event_line.h"
#include "aegis/audit/log_verifier.h"
#include "aegis/common/clock.h"
#include "aegis/common/file_util.h"
#include "aegis/crypto/encoding.h"
#include "commands.h"
#include "passphrase.h"

namespace aegis::cli {
namespace {

using Json = nlohmann::ordered_json;

struct OfflineFlags {
  std::string data_dir;
  std::string archive;  // verify only: an archive folder (aegis audit archive)
  std::string public_key;
  std::string replica;  // verify only: the replica whose log this must be
  bool json = false;
};

void AddOfflineFlags(CLI::App* cmd, OfflineFlags& f, bool data_dir_required = true) {
  auto* data_dir = cmd->add_option("--data-dir", f.data_dir, "Installation directory (reads DIR/audit)");
  if (data_dir_required) data_dir->required();
  cmd->add_option("--public-key", f.public_key, "Your own copy of the audit public key (PEM); key.json must match it");
}

audit::VerifyReport Load(const OfflineFlags& f, bool keep_leaves, std::optional<uint64_t> keep_line = std::nullopt) {
  if (f.data_dir.empty() && f.archive.empty()) throw CommandError("give --data-dir, --archive, or both", 2);
  const auto dir = f.archive.empty() ? std::filesystem::path(f.data_dir) / "audit" : std::filesystem::path(f.archive);
  if (!std::filesystem::is_directory(dir)) {
    throw CommandError((f.archive.empty() ? "no audit log at " : "no archive folder at ") + dir.string(), 2);
  }
  audit::VerifyOptions options;
  options.keep_leaves = keep_leaves;
  options.keep_line = keep_line;
  if (!f.archive.empty() && f.public_key.empty() && !f.data_dir.empty()) {
    // An archive is checked against the installation's key, not only its own copy.
    auto key = audit::ReadAuditPublicKey(std::filesystem::path(f.data_dir) / "audit");
    if (!key.ok()) throw CommandError("--data-dir: " + key.status().message(), 2);
    options.pinned_key = *key;
  }
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
  auto r = Load(f, false);
  if (r.ok && !f.replica.empty() && r.replica != f.replica) {
    // An intact log, but another replica's (or a single server's): for a
    // fleet, each copy must be the log of the replica it is said to be.
    r.ok = false;
    r.error = "the log is " +
              (r.replica.empty() ? std::string("not a replica's (its signed heads name none)")
                                 : "replica \"" + r.replica + "\"'s") +
              ", not replica \"" + f.replica + "\"'s";
  }
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
    j["replica"] = r.replica.empty() ? Json(nullptr) : Json(r.replica);
    j["torn_tail_bytes"] = r.torn_tail_bytes;
    j["first_bad_event"] = r.first_bad_event ? Json(*r.first_bad_event) : Json(nullptr);
    j["error"] = r.ok ? Json(nullptr) : Json(r.error);
    j["first_event"] = r.first_event;
    if (!f.archive.empty()) j["archive"] = true;
    std::cout << j.dump() << std::endl;
  }
  if (!r.ok) FailVerification(r);
  if (!f.json && !f.archive.empty()) {
    std::cout << "audit archive intact: events " << r.first_event << " to " << (r.events ? r.events - 1 : 0)
              << ", signed root " << crypto::HexEncode(r.root) << "\n"
              << "signed: " << r.heads.size() << " heads; audit key: " << r.key_id
              << (f.public_key.empty() && f.data_dir.empty() ? " (the archive's own key.json: pass --data-dir or "
                                                               "--public-key to check it is the installation's)"
                                                             : " (pinned)")
              << std::endl;
    return;
  }
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
    if (!r.replica.empty()) std::cout << "replica: " << r.replica << " (named in its signed heads)\n";
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

// "--before": RFC 3339, or a duration back from now ("90d", "12h").
std::chrono::system_clock::time_point BeforeArgument(const std::string& text) {
  if (auto t = ParseRfc3339(text)) return *t;
  if (text.size() >= 2 && text.size() <= 8) {
    const char unit = text.back();
    const std::string digits = text.substr(0, text.size() - 1);
    const int64_t scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
    if (scale > 0 && !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos) {
      return std::chrono::system_clock::now() - std::chrono::seconds(std::stoll(digits) * scale);
    }
  }
  throw CommandError("--before must be an RFC 3339 time (2026-09-01T00:00:00Z) or a duration back (90d, 12h)");
}

void RunArchive(const std::string& data_dir, const std::string& before, const std::string& output, bool keep_live,
                bool json) {
  const auto until = BeforeArgument(before);
  auto kek = OpenKek(std::filesystem::path(data_dir) / "keys");
  audit::AuditLogOptions options = AuditOptions(data_dir, *kek);
  options.verify_interval = std::chrono::seconds(0);  // checked at open; the archive is verified on its own
  auto log = audit::AuditLog::Open(options);
  if (!log.ok() && log.status().code() == StatusCode::kUnavailable &&
      log.status().message().find("in use") != std::string::npos) {
    throw CommandError("the server is running on " + data_dir +
                       ": stop it first, or set [audit] archive_dir and archive_after_days to let it archive "
                       "while it serves");
  }
  auto opened = Check(std::move(log), "opening the audit log");
  auto summary = opened->Archive(until, output, keep_live);
  if (!summary.ok() && summary.status().code() == StatusCode::kNotFound)
    throw CommandError(summary.status().message(), 1);
  const auto s = Check(std::move(summary), "archiving");
  if (json) {
    Json j;
    j["first_event"] = s.first_event;
    j["end_event"] = s.end_event;
    j["segments"] = s.segments;
    j["root"] = s.root;
    j["output"] = std::filesystem::absolute(output).string();
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << "archived events " << s.first_event << " to " << s.end_event - 1 << " (" << s.segments
              << " segments) into " << output << "\n"
              << (keep_live ? "the segments stay in the live log until [audit] retention_days prunes them"
                            : "the live log now starts at event " + std::to_string(s.end_event))
              << "; check the archive with: aegis audit verify --archive " << output << " --data-dir " << data_dir
              << std::endl;
  }
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
  AddOfflineFlags(verify, *vf, /*data_dir_required=*/false);
  verify->add_option("--archive", vf->archive,
                     "Verify an archive folder (aegis audit archive) instead, against --data-dir's or --public-key's "
                     "key; reports the events it covers");
  verify->add_option("--replica", vf->replica,
                     "Also require the log to be this replica's: its newest signed head names it (docs/scale-out.md, "
                     "verifying a fleet)");
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

  auto archive_dir = std::make_shared<std::string>();
  auto archive_before = std::make_shared<std::string>();
  auto archive_output = std::make_shared<std::string>();
  auto archive_json = std::make_shared<bool>(false);
  auto archive_keep = std::make_shared<bool>(false);
  CLI::App* archive = audit.add_subcommand(
      "archive",
      "Offline (server stopped): move sealed segments older than TIME, with their heads and checkpoints, to DIR");
  archive->add_option("--data-dir", *archive_dir, "Installation directory")->required();
  archive->add_option("--before", *archive_before, "RFC 3339 time or duration back (90d): segments sealed before it")
      ->required();
  archive->add_option("--output", *archive_output, "A new folder for the archive (cold storage)")->required();
  archive->add_flag("--keep-live", *archive_keep,
                    "Copy only: the segments stay live until [audit] retention_days prunes them");
  AddJsonFlag(archive, *archive_json);
  archive->callback([archive_dir, archive_before, archive_output, archive_keep, archive_json] {
    RunArchive(*archive_dir, *archive_before, *archive_output, *archive_keep, *archive_json);
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
