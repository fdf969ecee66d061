// A bounded zip reader for scanning: it reads the central directory (ZIP64 too),
// checks every entry's local header against it and keeps every range inside the
// file, and extracts members (stored or deflate) with their sizes and CRC-32
// verified. It never trusts one copy of a field when the format stores two.
//
// Structural problems that still let the archive be read (a local header that
// disagrees with the central directory, overlapping entries, an entry too big or
// compressed too well) are returned as findings in ZipDirectory::problems; an
// archive whose end record or central directory cannot be read is a Status error.
//
// Thread-safety: stateless functions over caller-owned bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "scan_internal.h"

namespace aegis::scan::internal {

struct ZipEntry {
  std::string name;  // raw bytes from the central directory
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
  uint64_t data_offset = 0;  // first byte of the member's (compressed) data
  bool readable = false;     // headers agree, data in range, method supported, within limits
};

struct ZipDirectory {
  std::vector<ZipEntry> entries;    // central directory order
  std::vector<Finding> problems;    // locations are "zip entry '...'" or "zip ..."
  uint64_t first_entry_offset = 0;  // bytes before it belong to no entry
  uint64_t archive_end = 0;         // end of the end-of-central-directory record and its comment
};

// True if the last 64 KiB + 22 bytes hold a plausible end-of-central-directory record.
bool HasZipEndRecord(std::span<const uint8_t> bytes);

StatusOr<ZipDirectory> ReadZipDirectory(std::span<const uint8_t> bytes, const ScanLimits& limits);

// The member's uncompressed bytes: a view into `archive` for stored members, or
// inflated into `*buffer`. Refuses members above `max_bytes`; checks the size and
// CRC-32 against the central directory. Only for entries with `readable` set.
StatusOr<std::span<const uint8_t>> ReadZipMember(std::span<const uint8_t> archive, const ZipEntry& entry,
                                                 uint64_t max_bytes, std::vector<uint8_t>* buffer);

// Part of ReadZipDirectory (zip_members.cc): checks each entry's local header
// against the central directory, ranges, overlaps and the size limits; sets
// `readable` and `first_entry_offset`.
void CheckLocalHeaders(std::span<const uint8_t> bytes, uint64_t cd_offset, const ScanLimits& limits, ZipDirectory* dir);

// Up to `n` first uncompressed bytes (no CRC check: the member is not read whole).
std::vector<uint8_t> ReadZipMemberHead(std::span<const uint8_t> archive, const ZipEntry& entry, size_t n);

}  // namespace aegis::scan::internal
