// PushSession: streams an upload into an encrypted blob, then runs the integrity
// gate (signed digest, scanner) and the engine before anything is recorded.
#include <unistd.h>

#include <chrono>

#include "aegis/common/log.h"
#include "aegis/crypto/encoding.h"
#include "aegis/signing/manifest.h"
#include "aegis/store/artifact_copy.h"
#include "push_session_impl.h"

namespace aegis::registry {
namespace {

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

PushSession::PushSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PushSession::~PushSession() { Abort(); }

void PushSession::Abort() {
  if (!impl_ || impl_->done) return;
  impl_->done = true;
  impl_->writer.reset();  // removes the partial blob
  impl_->registry->ReleaseReservation(impl_->reservation);
}

Status PushSession::Write(std::span<const uint8_t> chunk) {
  if (impl_->done) return Status::Internal("push session already finished");
  impl_->hasher.Update(chunk);
  impl_->plaintext.append(chunk.data(), chunk.size());
  return impl_->writer->Append(chunk);
}

StatusOr<std::shared_ptr<const ServedModel>> PushSession::Finish() {
  Impl& s = *impl_;
  if (s.done) return Status::Internal("push session already finished");
  Registry& r = *s.registry;
  auto fail = [&](Status st) -> Status {
    Abort();
    return r.CountIntegrity(std::move(st));
  };
  if (s.plaintext.empty()) return fail(Status::InvalidArgument("empty model file"));

  // Integrity first: the bytes must be exactly what the publisher signed, and
  // the scanner must pass them, before any engine parses a byte.
  const crypto::Sha256Digest digest = s.hasher.Finish();  // hashed as the upload streamed in
  if (s.signature) {
    Status matches = signing::CheckSingleFile(s.signature->manifest, s.plaintext.span(), digest);
    if (!matches.ok())
      return fail(internal::IntegrityFailure("the uploaded bytes are not the signed model: " + matches.message()));
    s.record.signature = s.signature->record;
  }
  auto started = std::chrono::steady_clock::now();
  const auto load_started = started;
  size_t findings = 0;
  Status scanned = internal::ScanArtifact(s.format, s.plaintext.span(), findings);
  r.scan_findings_ += findings;
  if (!scanned.ok()) return fail(scanned);
  double scan_ms = MillisSince(started);

  // The engine decides whether these bytes are a model it can run.
  started = std::chrono::steady_clock::now();
  auto instances =
      runtime::ModelInstances::Load(s.format, s.plaintext.span(), r.RuntimeFor(s.record.name, s.record.version));
  if (!instances.ok()) {
    r.CountLoadFailure(s.record.name);
    return fail(instances.status().WithContext("the engine refused the model"));
  }
  const auto load_time = std::chrono::steady_clock::now() - load_started;
  double engine_ms = MillisSince(started);

  auto size = s.writer->Commit();
  if (!size.ok()) return fail(size.status());
  const auto blob_path = r.BlobPath(s.record.artifact_id);
  auto remove_blob = [&] {
    ::unlink(blob_path.c_str());
    if (r.store_->KeepsArtifacts()) r.store_->DeleteArtifact(s.record.artifact_id).IgnoreError();
  };
  // Where the store keeps artifacts (PostgreSQL), the ciphertext is in the
  // database before the version is recorded: no replica ever finds a record
  // whose bytes it cannot fetch.
  if (r.store_->KeepsArtifacts()) {
    const Status uploaded = store::UploadArtifact(*r.store_, s.record.artifact_id, blob_path);
    if (!uploaded.ok()) {
      ::unlink(blob_path.c_str());
      return fail(uploaded.WithContext("storing the artifact in the database"));
    }
  }

  auto wrapped = r.kek_->Wrap(s.dek.span(), s.artifact_id);
  if (!wrapped.ok()) {
    remove_blob();
    return fail(wrapped.status());
  }
  s.record.sha256 = crypto::HexEncode(digest);
  s.record.size_bytes = *size;
  s.record.wrapped_dek = std::move(*wrapped);
  s.record.kek_id = r.kek_->KeyId();
  s.record.created_at = FormatRfc3339(r.clock_.Now());
  auto sequence = r.store_->InsertModelVersion(s.record);
  if (!sequence.ok()) {
    remove_blob();
    return fail(sequence.status());
  }
  // The push order decides which version is the newest one served.
  s.record.sequence = *sequence;

  auto model = std::make_shared<ServedModel>(ServedModel{s.record, std::move(*instances), load_time});
  const Status published = r.Publish(model);
  s.done = true;
  r.ReleaseReservation(s.reservation);
  if (!published.ok()) {
    // Its signer was removed while it uploaded: recorded, but never served.
    r.MarkFailed({s.record.name, s.record.version}, published);
    return r.CountIntegrity(published);
  }
  log::Info({.model = s.record.name, .version = s.record.version},
            "pushed model {} version {} ({} bytes, signed by {}, scan {:.1f} ms, engine load {:.1f} ms)", s.record.name,
            s.record.version, s.record.size_bytes, s.record.signature ? s.record.signature->signer : "nobody", scan_ms,
            engine_ms);
  return std::shared_ptr<const ServedModel>(model);
}

}  // namespace aegis::registry
