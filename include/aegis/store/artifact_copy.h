// Moves an artifact's encrypted blob file between a data folder's blobs/ and
// a store that keeps artifacts (MetadataStore::KeepsArtifacts: PostgreSQL), so
// replicas need no shared file system. Only ciphertext moves: the blob is
// decrypted and its digest checked where it is loaded, so bytes altered in
// the database are refused there (DataLoss), never served.
//
// Thread-safety: each call is independent; the store serializes its own use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "aegis/common/status.h"
#include "aegis/store/metadata_store.h"

namespace aegis::store {

// Copies the committed blob file into the store in chunks. On failure, the
// chunks written so far are deleted (best effort) and the error returned.
Status UploadArtifact(MetadataStore& store, const std::string& artifact_id, const std::filesystem::path& blob);

// Writes the stored chunks to `blob` unless it exists: into a temporary file
// (0600) renamed into place after fsync, so a reader never sees half a blob.
// NotFound when the store has no chunk of it; DataLoss when the chunks add up
// to more than `max_bytes`.
Status FetchArtifact(MetadataStore& store, const std::string& artifact_id, const std::filesystem::path& blob,
                     uint64_t max_bytes);

}  // namespace aegis::store
