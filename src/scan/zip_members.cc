// Zip members: local headers checked against the central directory, byte ranges,
// overlaps and size limits; extraction with zlib (raw deflate) under a size cap
// and CRC-32 verification.
#define ZLIB_CONST
#include <algorithm>

#include <zlib.h>

#include "zip_reader.h"

namespace aegis::scan::internal {
namespace {

constexpr size_t kLocalHeaderSize = 30;
constexpr uint64_t kRatioFloor = 64u << 10;  // tiny members cannot be bombs: not ratio-checked
constexpr size_t kZlibChunk = 1u << 30;      // zlib counts in 32-bit units

uint64_t Le(std::span<const uint8_t> b, size_t at, int width) {
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = v << 8 | b[at + static_cast<size_t>(i)];
  return v;
}
std::string Where(const ZipEntry& e) { return "zip entry '" + Printable(e.name) + "'"; }

// The local copy of sizes and CRC must match the central one (unless bit 3 says
// they follow the data, in which case they are zero here).
bool LocalFieldsAgree(std::span<const uint8_t> b, size_t lho, std::span<const uint8_t> extra, const ZipEntry& e) {
  uint64_t crc = Le(b, lho + 14, 4), csize = Le(b, lho + 18, 4), usize = Le(b, lho + 22, 4);
  if (csize == 0xFFFFFFFF || usize == 0xFFFFFFFF) {  // ZIP64: both sizes are in the extra field
    for (size_t i = 0; i + 4 <= extra.size();) {
      uint64_t id = Le(extra, i, 2), size = Le(extra, i + 2, 2);
      if (size > extra.size() - i - 4) return false;
      if (id == 1 && size >= 16) {
        usize = Le(extra, i + 4, 8);
        csize = Le(extra, i + 12, 8);
        break;
      }
      i += 4 + static_cast<size_t>(size);
    }
  }
  bool deferred = (Le(b, lho + 6, 2) & 8) != 0;
  auto same = [deferred](uint64_t local, uint64_t central) { return local == central || (deferred && local == 0); };
  return same(crc, e.crc32) && same(csize, e.compressed_size) && same(usize, e.uncompressed_size);
}

struct Range {
  uint64_t begin, end;
  size_t entry;
};

// Bytes between an entry's data and the next local header (or the central
// directory): only a data descriptor (flag bit 3; 12 to 24 bytes) belongs there.
// Anything else is data no listed entry owns, and a local header in it is an entry
// that streaming readers see but the central directory hides.
template <typename Problem>
void CheckGap(std::span<const uint8_t> b, uint64_t at, uint64_t size, const ZipEntry& e, Problem problem) {
  bool descriptor = (e.flags & 8) != 0 && (size == 12 || size == 16 || size == 20 || size == 24);
  if (descriptor) return;
  std::string_view gap(reinterpret_cast<const char*>(b.data() + at), static_cast<size_t>(size));
  if (gap.find(std::string_view("PK\x03\x04", 4)) != std::string_view::npos) {
    problem(Severity::kCritical, e, "a local header not listed in the central directory follows this entry");
  } else {
    problem(Severity::kMedium, e, std::to_string(size) + " bytes after this entry belong to no entry");
  }
}

}  // namespace

void CheckLocalHeaders(std::span<const uint8_t> b, uint64_t cd_offset, const ScanLimits& limits, ZipDirectory* dir) {
  std::vector<Range> ranges;
  auto problem = [dir](Severity s, const ZipEntry& e, std::string why) {
    dir->problems.push_back({s, Where(e), std::move(why), ""});
  };
  for (size_t i = 0; i < dir->entries.size(); ++i) {
    ZipEntry& e = dir->entries[i];
    uint64_t lho = e.local_header_offset;
    if (lho > cd_offset || cd_offset - lho < kLocalHeaderSize || b[lho] != 'P' || b[lho + 1] != 'K' ||
        b[lho + 2] != 3 || b[lho + 3] != 4) {
      problem(Severity::kCritical, e, "no local header at offset " + std::to_string(lho));
      continue;
    }
    size_t at = static_cast<size_t>(lho);
    uint64_t name_len = Le(b, at + 26, 2), extra_len = Le(b, at + 28, 2);
    if (kLocalHeaderSize + name_len + extra_len > cd_offset - lho) {
      problem(Severity::kCritical, e, "local header runs into the central directory");
      continue;
    }
    std::string_view local_name(reinterpret_cast<const char*>(b.data() + at + kLocalHeaderSize), name_len);
    std::span<const uint8_t> extra = b.subspan(at + kLocalHeaderSize + name_len, extra_len);
    e.data_offset = lho + kLocalHeaderSize + name_len + extra_len;
    bool ok = true;
    if (local_name != e.name) {
      problem(Severity::kCritical, e, "local header names a different file '" + Printable(local_name) + "'");
      ok = false;
    }
    if (Le(b, at + 8, 2) != e.method || !LocalFieldsAgree(b, at, extra, e)) {
      problem(Severity::kCritical, e, "local header disagrees with the central directory (method, sizes or CRC)");
      ok = false;
    }
    if (e.compressed_size > cd_offset - e.data_offset) {
      problem(Severity::kCritical, e, "entry data runs past the archive data");
      continue;
    }
    ranges.push_back({lho, e.data_offset + e.compressed_size, i});
    if (e.flags & 1) {
      problem(Severity::kHigh, e, "encrypted entry cannot be scanned");
      ok = false;
    }
    if (e.method != 0 && e.method != 8) {
      problem(Severity::kHigh, e, "unsupported compression method " + std::to_string(e.method));
      ok = false;
    }
    if (e.uncompressed_size > limits.max_entry_bytes) {
      problem(Severity::kCritical, e,
              "entry is " + std::to_string(e.uncompressed_size) + " bytes uncompressed (limit " +
                  std::to_string(limits.max_entry_bytes) + ")");
      ok = false;
    }
    if (e.method == 0 && e.compressed_size != e.uncompressed_size) {
      problem(Severity::kCritical, e, "stored entry whose compressed and uncompressed sizes differ");
      ok = false;
    }
    if (e.method == 8 && e.uncompressed_size >= kRatioFloor &&
        (e.compressed_size == 0 || e.uncompressed_size / e.compressed_size > limits.max_compression_ratio)) {
      uint64_t ratio = e.compressed_size ? e.uncompressed_size / e.compressed_size : e.uncompressed_size;
      problem(Severity::kCritical, e,
              "compression ratio " + std::to_string(ratio) + ":1 exceeds the limit of " +
                  std::to_string(limits.max_compression_ratio) + ":1 (zip bomb?)");
      ok = false;
    }
    e.readable = ok;
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) { return x.begin < y.begin; });
  for (size_t i = 0; i < ranges.size(); ++i) {
    const Range& r = ranges[i];
    uint64_t next = i + 1 < ranges.size() ? ranges[i + 1].begin : cd_offset;
    if (next < r.end) {
      ZipEntry& e = dir->entries[ranges[i + 1].entry];
      problem(Severity::kCritical, e, "entry overlaps entry '" + Printable(dir->entries[r.entry].name) + "'");
      e.readable = false;
      dir->entries[r.entry].readable = false;
    } else if (next > r.end) {
      CheckGap(b, r.end, next - r.end, dir->entries[r.entry], problem);
    }
  }
  dir->first_entry_offset = ranges.empty() ? cd_offset : std::min(ranges.front().begin, cd_offset);
}

StatusOr<std::span<const uint8_t>> ReadZipMember(std::span<const uint8_t> archive, const ZipEntry& entry,
                                                 uint64_t max_bytes, std::vector<uint8_t>* buffer) {
  if (!entry.readable) return Status::Unprocessable("entry cannot be read");
  if (entry.uncompressed_size > max_bytes) {
    return Status::TooLarge("member is " + std::to_string(entry.uncompressed_size) + " bytes (scan limit " +
                            std::to_string(max_bytes) + ")");
  }
  std::span<const uint8_t> data =
      archive.subspan(static_cast<size_t>(entry.data_offset), static_cast<size_t>(entry.compressed_size));
  std::span<const uint8_t> out = data;
  if (entry.method == 8) {
    size_t size = static_cast<size_t>(entry.uncompressed_size);
    buffer->assign(size, 0);
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return Status::Internal("zlib initialisation failed");
    size_t in_pos = 0, out_pos = 0;
    uint8_t spare = 0;
    Status result;
    while (result.ok()) {
      if (zs.avail_in == 0 && in_pos < data.size()) {
        size_t chunk = std::min(data.size() - in_pos, kZlibChunk);
        zs.next_in = data.data() + in_pos;
        zs.avail_in = static_cast<uInt>(chunk);
        in_pos += chunk;
      }
      bool past_end = out_pos >= size;
      zs.next_out = past_end ? &spare : buffer->data() + out_pos;
      zs.avail_out = past_end ? 1 : static_cast<uInt>(std::min(size - out_pos, kZlibChunk));
      uInt before = zs.avail_out;
      int rc = inflate(&zs, Z_NO_FLUSH);
      size_t produced = before - zs.avail_out;
      if (past_end && produced > 0) {
        result = Status::Unprocessable("member inflates to more than its declared size");
      } else if (rc == Z_STREAM_END) {
        out_pos += produced;
        break;
      } else if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_pos < data.size()) {
        // Needs more input: refilled on the next round.
      } else if (rc != Z_OK) {
        result = Status::Unprocessable(rc == Z_BUF_ERROR ? "deflate stream is truncated" : "deflate stream is corrupt");
      }
      out_pos += produced;
    }
    inflateEnd(&zs);
    AEGIS_RETURN_IF_ERROR(result);
    if (out_pos != size) return Status::Unprocessable("member inflates to fewer bytes than its declared size");
    out = std::span<const uint8_t>(*buffer);
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t i = 0; i < out.size(); i += kZlibChunk) {
    size_t n = std::min(out.size() - i, kZlibChunk);
    crc = crc32(crc, out.data() + i, static_cast<uInt>(n));
  }
  if (crc != entry.crc32) return Status::DataLoss("CRC-32 mismatch");
  return out;
}

std::vector<uint8_t> ReadZipMemberHead(std::span<const uint8_t> archive, const ZipEntry& entry, size_t n) {
  std::vector<uint8_t> head;
  if (!entry.readable) return head;
  std::span<const uint8_t> data =
      archive.subspan(static_cast<size_t>(entry.data_offset), static_cast<size_t>(entry.compressed_size));
  if (entry.method == 0) {
    const auto stored = data.first(std::min(n, data.size()));
    return std::vector<uint8_t>(stored.begin(), stored.end());
  }
  head.resize(n);
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return {};
  zs.next_in = data.data();
  zs.avail_in = static_cast<uInt>(std::min(data.size(), kZlibChunk));
  zs.next_out = head.data();
  zs.avail_out = static_cast<uInt>(n);
  int rc = Z_OK;
  while (zs.avail_out > 0 && rc == Z_OK) rc = inflate(&zs, Z_NO_FLUSH);
  head.resize(n - zs.avail_out);
  inflateEnd(&zs);
  return head;
}

}  // namespace aegis::scan::internal
