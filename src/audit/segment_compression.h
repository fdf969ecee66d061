// Sealed audit segments compressed with zstd (internal to src/audit).
//
// A segment is sealed once the next one holds an event: the writer never
// appends to it again. Sealed segments are replaced by segment-<seq>.jsonl.zst,
// whose decompressed bytes are exactly the original file's, so every leaf
// hash, root and signed head stays over the canonical uncompressed event
// lines: compression never changes what is signed, and a log verifies the same
// compressed or not (older uncompressed segments keep verifying as they are).
//
// Crash safety, in the order of the steps: compress to .zst.tmp, fsync,
// decompress it and compare with the original, rename to .zst, fsync the
// directory, then unlink the .jsonl and fsync again. A crash leaves either
// the .jsonl alone, or both (readers prefer the .jsonl; the next run redoes the
// .zst), never neither.
//
// Reading is bounded: a compressed segment that decompresses past
// kMaxSegmentBytes (the largest segment the server can write, plus slack), or
// that is truncated or corrupt, is DataLoss — tampering for the verifier, never
// a crash or an unbounded allocation (a zstd bomb).
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "aegis/common/status.h"

namespace aegis::audit::internal {

// [audit] segment_max_bytes is at most 1 GiB; a line may cross it.
inline constexpr uint64_t kMaxSegmentBytes = (uint64_t{1} << 30) + (uint64_t{1} << 20);

// The whole decompressed content of zstd frames in `compressed`; DataLoss when
// it is not valid zstd, is truncated, or would exceed `limit` bytes.
StatusOr<std::string> Decompress(std::string_view compressed, uint64_t limit = kMaxSegmentBytes);
// At most the first `n` decompressed bytes (or all of them if fewer).
StatusOr<std::string> DecompressPrefix(std::string_view compressed, size_t n);

// Compresses every sealed plain segment of `dir` (all but the newest, and only
// those whose successor holds data); returns how many it compressed.
StatusOr<int> CompressSealedSegments(const std::filesystem::path& dir);

}  // namespace aegis::audit::internal
