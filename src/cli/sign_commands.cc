// `aegis model sign|verify|keygen`: OpenSSF Model Signing (OMS v1.0) bundles
// made and checked offline, without a server. Bundles are interchangeable with
// the `model_signing` tool's key-based ones.
//
// Verification re-hashes the model exactly as the signed manifest says
// (method, shard size, symlink policy, ignore paths) and fails with one line:
// "aegis: verification failed: <reason>".
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "aegis/common/file_util.h"
#include "aegis/crypto/encoding.h"
#include "aegis/crypto/secure_buffer.h"
#include "aegis/signing/bundle.h"
#include "commands.h"

namespace aegis::cli {
namespace {

// "1 file", "3 files".
std::string Files(size_t n) { return std::to_string(n) + (n == 1 ? " file" : " files"); }

namespace fs = std::filesystem;
using signing::HashOptions;
using signing::Manifest;

constexpr size_t kMaxKeyFileBytes = size_t{64} * 1024;

struct SignOptions {
  std::string path, key, output;
  uint64_t shard_size = 0;
  bool allow_symlinks = false, force = false, json = false;
  std::vector<std::string> ignore_paths;
  int threads = 0;
};

struct VerifyOptions {
  std::string path, bundle, public_key;
  int threads = 0;
  bool json = false;
};

struct KeygenOptions {
  std::string type = "ecdsa-p256", private_key, public_key;
  bool json = false;
};

// Reads a private key file into wiped memory, refusing anything but a small
// regular file.
StatusOr<crypto::SecureBuffer> ReadKeyFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Status::NotFound("cannot open " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) {
    ::close(fd);
    return Status::InvalidArgument(path + " is not a key file");
  }
  crypto::SecureBuffer buffer(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < buffer.size()) {
    const ssize_t n = ::read(fd, buffer.data() + got, buffer.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != buffer.size()) return Status::Internal("cannot read " + path);
  return buffer;
}

// A progress bar on stderr, only when stderr is a terminal (the look of `model push`).
std::function<void(uint64_t, uint64_t)> ProgressBar() {
  if (!::isatty(STDERR_FILENO)) return {};
  return [](uint64_t done, uint64_t total) {
    const int width = 40;
    const int filled = total ? static_cast<int>(width * done / total) : width;
    std::fprintf(stderr, "\r[%.*s%*s] %3d%% %llu MiB", filled,
                 "========================================", width - filled, "",
                 total ? static_cast<int>(100 * done / total) : 100, static_cast<unsigned long long>(done >> 20));
    if (done == total) std::fprintf(stderr, "\n");
  };
}

// `file` relative to the model folder when it lies inside it ("sig/model.sig").
std::optional<std::string> InsideModel(const fs::path& model, const fs::path& file) {
  std::error_code ec;
  if (!fs::is_directory(model, ec)) return std::nullopt;
  const fs::path root = fs::weakly_canonical(model, ec);
  const fs::path target = fs::weakly_canonical(file, ec);
  if (ec) return std::nullopt;
  const fs::path relative = target.lexically_relative(root);
  if (relative.empty() || *relative.begin() == "..") return std::nullopt;
  return relative.generic_string();
}

std::string Hex(const crypto::Sha256Digest& d) { return crypto::HexEncode(d); }

void RunSign(const SignOptions& o) {
  auto pem = Check(ReadKeyFile(o.key), "cannot read private key");
  const auto key = Check(crypto::PrivateKey::FromPem(pem.view()), "cannot load private key " + o.key);
  std::error_code ec;
  if (!o.force && fs::exists(fs::symlink_status(o.output, ec))) {
    throw CommandError("output " + o.output + " exists (use --force to replace it)");
  }
  HashOptions options;
  options.threads = o.threads;
  options.progress = ProgressBar();
  options.serialization.method =
      o.shard_size ? signing::SerializationMethod::kShards : signing::SerializationMethod::kFiles;
  options.serialization.shard_size = o.shard_size;
  options.serialization.allow_symlinks = o.allow_symlinks;
  for (const std::string& p : o.ignore_paths) {
    // A path given from the current directory into the model also works.
    auto inside = fs::exists(p, ec) ? InsideModel(o.path, p) : std::nullopt;
    options.serialization.ignore_paths.push_back(inside ? *inside : p);
  }
  if (fs::is_directory(o.path, ec)) {
    for (std::string_view p : signing::kDefaultIgnorePaths) options.serialization.ignore_paths.emplace_back(p);
  }
  // OMS: a bundle written into the model folder is not part of the model.
  if (auto inside = InsideModel(o.path, o.output)) options.serialization.ignore_paths.push_back(*inside);
  const Manifest manifest = Check(signing::HashModel(o.path, options), "signing failed");
  const std::string bundle = Check(signing::SignManifest(manifest, key), "signing failed");
  Check(WriteFileAtomic(o.output, bundle, 0644), "cannot write bundle");
  const std::string subject = Hex(manifest.SubjectDigest());
  if (o.json) {
    std::cout << nlohmann::json{{"signed", true},
                                {"model", manifest.model_name},
                                {"bundle", o.output},
                                {"files", manifest.FileCount()},
                                {"resources", manifest.resources.size()},
                                {"method", o.shard_size ? "shards" : "files"},
                                {"subject_sha256", subject},
                                {"key_type", crypto::KeyTypeName(key.type())},
                                {"key_fingerprint", key.public_key().fingerprint()}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "signed: " << manifest.model_name << " (" << Files(manifest.FileCount()) << ", subject sha256 "
              << subject << ") -> " << o.output << std::endl;
  }
}

void RunVerify(const VerifyOptions& o) {
  const auto fail = [](const Status& status) {
    if (!status.ok()) throw CommandError("verification failed: " + status.message());
  };
  auto key_pem = ReadFile(o.public_key, kMaxKeyFileBytes);
  fail(key_pem.status().WithContext("cannot read public key"));
  auto key = crypto::PublicKey::FromPem(*key_pem);
  fail(key.status().WithContext("cannot load public key"));
  auto bundle = ReadFile(o.bundle, signing::kMaxBundleBytes);
  fail(bundle.status().WithContext("cannot read bundle"));
  auto signed_manifest = signing::VerifyBundle(*bundle, *key);
  fail(signed_manifest.status());

  HashOptions options;
  options.threads = o.threads;
  options.progress = ProgressBar();
  options.serialization = signed_manifest->serialization;
  auto& ignore = options.serialization.ignore_paths;
  if (auto inside = InsideModel(o.path, o.bundle)) ignore.push_back(*inside);
  // Default exclusions apply to bundles that predate recording them, unless
  // the signer chose to sign such a path after all.
  for (std::string_view p : signing::kDefaultIgnorePaths) {
    const bool signed_inside = std::any_of(
        signed_manifest->resources.begin(), signed_manifest->resources.end(), [&](const signing::Resource& r) {
          return r.name == p || r.name.starts_with(std::string(p) + "/") || r.name.starts_with(std::string(p) + ":");
        });
    if (!signed_inside) ignore.emplace_back(p);
  }
  auto actual = signing::HashModel(o.path, options);
  fail(actual.status());
  fail(signing::CompareManifests(*signed_manifest, *actual));

  const Manifest& m = *signed_manifest;
  const std::string subject = Hex(m.SubjectDigest());
  if (o.json) {
    std::cout << nlohmann::json{{"verified", true},
                                {"model", m.model_name},
                                {"files", m.FileCount()},
                                {"resources", m.resources.size()},
                                {"method",
                                 m.serialization.method == signing::SerializationMethod::kShards ? "shards" : "files"},
                                {"subject_sha256", subject},
                                {"key_fingerprint", key->fingerprint()}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "verified: " << m.model_name << " (" << Files(m.FileCount()) << ", subject sha256 " << subject << ")"
              << std::endl;
  }
}

void RunKeygen(const KeygenOptions& o) {
  static const std::map<std::string, crypto::KeyType> kTypes = {{"ecdsa-p256", crypto::KeyType::kEcdsaP256},
                                                                {"ecdsa-p384", crypto::KeyType::kEcdsaP384},
                                                                {"ed25519", crypto::KeyType::kEd25519}};
  std::error_code ec;
  for (const std::string& p : {o.private_key, o.public_key}) {
    if (fs::exists(fs::symlink_status(p, ec))) throw CommandError(p + " already exists (keys are never overwritten)");
  }
  const auto key = Check(crypto::PrivateKey::Generate(kTypes.at(o.type)), "cannot generate key");
  Check(WriteFileExclusive(o.private_key, key.ToPem().view(), 0600), "cannot write private key");
  const Status pub = WriteFileExclusive(o.public_key, key.public_key().ToPem(), 0644);
  if (!pub.ok()) {
    ::unlink(o.private_key.c_str());  // ours, created just above: no half-made pair left behind
    Check(pub, "cannot write public key");
  }
  if (o.json) {
    std::cout << nlohmann::json{{"type", o.type},
                                {"private_key", o.private_key},
                                {"public_key", o.public_key},
                                {"fingerprint", key.public_key().fingerprint()}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "generated " << o.type << " key pair: private " << o.private_key << " (mode 0600), public "
              << o.public_key << ", fingerprint " << key.public_key().fingerprint() << std::endl;
  }
}

}  // namespace

void RegisterModelSigningCommands(CLI::App& model) {
  auto sign = std::make_shared<SignOptions>();
  CLI::App* s = model.add_subcommand("sign", "Sign a model file or folder offline (OMS v1.0 sigstore bundle)");
  s->add_option("path", sign->path, "Model file or folder")->required();
  s->add_option("--key", sign->key, "Private key PEM (ECDSA P-256/P-384 or Ed25519)")->required();
  s->add_option("--output", sign->output, "Bundle to write (e.g. model.sig)")->required();
  s->add_option("--shard-size", sign->shard_size, "Hash in shards of this many bytes (serialization \"shards\")")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 50));
  s->add_flag("--allow-symlinks", sign->allow_symlinks, "Follow symlinks that stay inside the model folder");
  s->add_option("--ignore-path", sign->ignore_paths, "Leave out this path, relative to the model folder (repeatable)");
  s->add_flag("--force", sign->force, "Replace an existing output file");
  s->add_option("--threads", sign->threads, "Hashing threads (default: one per core)")->check(CLI::Range(0, 256));
  AddJsonFlag(s, sign->json);
  s->callback([sign] { RunSign(*sign); });

  auto verify = std::make_shared<VerifyOptions>();
  CLI::App* v = model.add_subcommand("verify", "Verify a model against an OMS bundle and a public key");
  v->add_option("path", verify->path, "Model file or folder")->required();
  v->add_option("--bundle", verify->bundle, "Bundle (sigstore bundle v0.3 JSON)")->required();
  v->add_option("--public-key", verify->public_key, "Public key PEM of the signer")->required();
  v->add_option("--threads", verify->threads, "Hashing threads (default: one per core)")->check(CLI::Range(0, 256));
  AddJsonFlag(v, verify->json);
  v->callback([verify] { RunVerify(*verify); });

  auto keygen = std::make_shared<KeygenOptions>();
  CLI::App* k = model.add_subcommand("keygen", "Create a signing key pair (private key file mode 0600)");
  k->add_option("--type", keygen->type, "ecdsa-p256 (default) | ecdsa-p384 | ed25519")
      ->check(CLI::IsMember({"ecdsa-p256", "ecdsa-p384", "ed25519"}));
  k->add_option("--private-key", keygen->private_key, "Private key PEM to create")->required();
  k->add_option("--public-key", keygen->public_key, "Public key PEM to create")->required();
  AddJsonFlag(k, keygen->json);
  k->callback([keygen] { RunKeygen(*keygen); });
}

}  // namespace aegis::cli
