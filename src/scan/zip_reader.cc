// Zip structures (APPNOTE.TXT 6.3): end of central directory (EOCD, 22 bytes plus a
// comment), ZIP64 EOCD locator (20 bytes, just before the EOCD) and record (56+),
// central directory headers (46 + name + extra + comment), local headers (30 +
// name + extra). All integers little-endian.
#include "zip_reader.h"

namespace aegis::scan::internal {
namespace {

constexpr size_t kEocdSize = 22;
constexpr size_t kMaxCommentSize = 0xFFFF;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kZip64EocdSize = 56;
constexpr size_t kCentralHeaderSize = 46;

uint64_t Le(std::span<const uint8_t> b, size_t at, int width) {
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = v << 8 | b[at + static_cast<size_t>(i)];
  return v;
}
bool Sig(std::span<const uint8_t> b, size_t at, uint8_t c, uint8_t d) {
  return at + 4 <= b.size() && b[at] == 'P' && b[at + 1] == 'K' && b[at + 2] == c && b[at + 3] == d;
}
Status Corrupt(const std::string& why) { return Status::Unprocessable("malformed zip archive: " + why); }

struct EndRecord {
  size_t eocd = 0;  // offset of the EOCD
  uint64_t entries = 0, cd_size = 0, cd_offset = 0;
  uint64_t cd_limit = 0;  // where the central directory must end (EOCD or ZIP64 record)
  uint64_t archive_end = 0;
  bool zip64 = false;
  bool records_disagree = false;  // the EOCD and the ZIP64 record name different directories
};

// The last EOCD signature whose comment stays inside the file (as miniz and
// Python's zipfile pick it).
bool FindEocd(std::span<const uint8_t> b, size_t* at) {
  if (b.size() < kEocdSize) return false;
  size_t lowest = b.size() > kEocdSize + kMaxCommentSize ? b.size() - kEocdSize - kMaxCommentSize : 0;
  for (size_t i = b.size() - kEocdSize + 1; i-- > lowest;) {
    if (Sig(b, i, 5, 6) && i + kEocdSize + Le(b, i + 20, 2) <= b.size()) {
      *at = i;
      return true;
    }
  }
  return false;
}

StatusOr<EndRecord> ReadEndRecord(std::span<const uint8_t> b) {
  EndRecord r;
  if (!FindEocd(b, &r.eocd)) return Corrupt("no end of central directory record");
  size_t e = r.eocd;
  if (Le(b, e + 4, 2) != 0 || Le(b, e + 6, 2) != 0 || Le(b, e + 8, 2) != Le(b, e + 10, 2)) {
    return Corrupt("multi-disk archives are not supported");
  }
  r.entries = Le(b, e + 10, 2);
  r.cd_size = Le(b, e + 12, 4);
  r.cd_offset = Le(b, e + 16, 4);
  r.cd_limit = e;
  r.archive_end = e + kEocdSize + Le(b, e + 20, 2);
  if (e >= kZip64LocatorSize && Sig(b, e - kZip64LocatorSize, 6, 7)) {
    size_t loc = e - kZip64LocatorSize;
    uint64_t z = Le(b, loc + 8, 8);
    if (Le(b, loc + 4, 4) != 0 || Le(b, loc + 16, 4) > 1) return Corrupt("multi-disk archives are not supported");
    if (z > loc || loc - z < kZip64EocdSize || !Sig(b, static_cast<size_t>(z), 6, 6)) {
      return Corrupt("ZIP64 end of central directory record out of place");
    }
    size_t zr = static_cast<size_t>(z);
    if (Le(b, zr + 16, 4) != 0 || Le(b, zr + 20, 4) != 0 || Le(b, zr + 24, 8) != Le(b, zr + 32, 8)) {
      return Corrupt("multi-disk archives are not supported");
    }
    r.zip64 = true;
    auto differs = [](uint64_t classic, uint64_t wide, uint64_t placeholder) {
      return classic != placeholder && classic != wide;
    };
    r.records_disagree = differs(r.entries, Le(b, zr + 32, 8), 0xFFFF) ||
                         differs(r.cd_size, Le(b, zr + 40, 8), 0xFFFFFFFF) ||
                         differs(r.cd_offset, Le(b, zr + 48, 8), 0xFFFFFFFF);
    r.entries = Le(b, zr + 32, 8);
    r.cd_size = Le(b, zr + 40, 8);
    r.cd_offset = Le(b, zr + 48, 8);
    r.cd_limit = z;
  }
  if (r.cd_offset > r.cd_limit || r.cd_size > r.cd_limit - r.cd_offset) {
    return Corrupt("central directory lies outside the archive");
  }
  return r;
}

// Reads the ZIP64 extended-information extra field (0x0001) for the fields whose
// 32-bit (or 16-bit) value is the 0xFFFF... placeholder, in the order APPNOTE fixes.
Status ApplyZip64Extra(std::span<const uint8_t> extra, ZipEntry* e, bool need_usize, bool need_csize,
                       bool need_offset) {
  size_t i = 0;
  while (i + 4 <= extra.size()) {
    uint64_t id = Le(extra, i, 2), size = Le(extra, i + 2, 2);
    if (size > extra.size() - i - 4) return Corrupt("extra field runs past its header");
    if (id == 1) {
      std::span<const uint8_t> field = extra.subspan(i + 4, static_cast<size_t>(size));
      size_t at = 0;
      auto take = [&](uint64_t* out) {
        if (at + 8 > field.size()) return false;
        *out = Le(field, at, 8);
        at += 8;
        return true;
      };
      if ((need_usize && !take(&e->uncompressed_size)) || (need_csize && !take(&e->compressed_size)) ||
          (need_offset && !take(&e->local_header_offset))) {
        return Corrupt("ZIP64 extra field too short");
      }
      return Status::Ok();
    }
    i += 4 + static_cast<size_t>(size);
  }
  if (need_usize || need_csize || need_offset) return Corrupt("ZIP64 sizes without a ZIP64 extra field");
  return Status::Ok();
}

Status ReadCentralDirectory(std::span<const uint8_t> b, const EndRecord& r, ZipDirectory* dir) {
  size_t p = static_cast<size_t>(r.cd_offset);
  size_t end = static_cast<size_t>(r.cd_offset + r.cd_size);
  if (r.entries > (end - p) / kCentralHeaderSize) return Corrupt("more entries than the central directory can hold");
  dir->entries.reserve(static_cast<size_t>(r.entries));
  for (uint64_t i = 0; i < r.entries; ++i) {
    if (end - p < kCentralHeaderSize || !Sig(b, p, 1, 2)) return Corrupt("bad central directory header");
    size_t name_len = Le(b, p + 28, 2), extra_len = Le(b, p + 30, 2), comment_len = Le(b, p + 32, 2);
    if (name_len + extra_len + comment_len > end - p - kCentralHeaderSize) {
      return Corrupt("central directory header runs past the directory");
    }
    if (Le(b, p + 34, 2) != 0) return Corrupt("multi-disk archives are not supported");
    ZipEntry e;
    e.flags = static_cast<uint16_t>(Le(b, p + 8, 2));
    e.method = static_cast<uint16_t>(Le(b, p + 10, 2));
    e.crc32 = static_cast<uint32_t>(Le(b, p + 16, 4));
    e.compressed_size = Le(b, p + 20, 4);
    e.uncompressed_size = Le(b, p + 24, 4);
    e.local_header_offset = Le(b, p + 42, 4);
    e.name.assign(reinterpret_cast<const char*>(b.data() + p + kCentralHeaderSize), name_len);
    AEGIS_RETURN_IF_ERROR(ApplyZip64Extra(b.subspan(p + kCentralHeaderSize + name_len, extra_len), &e,
                                          e.uncompressed_size == 0xFFFFFFFF, e.compressed_size == 0xFFFFFFFF,
                                          e.local_header_offset == 0xFFFFFFFF));
    dir->entries.push_back(std::move(e));
    p += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
  if (p != end) {
    dir->problems.push_back({Severity::kHigh, "zip central directory",
                             std::to_string(end - p) + " unexpected bytes inside the central directory", ""});
  }
  return Status::Ok();
}

}  // namespace

bool HasZipEndRecord(std::span<const uint8_t> bytes) {
  auto record = ReadEndRecord(bytes);
  return record.ok() && record->entries <= record->cd_size / kCentralHeaderSize &&
         (record->entries == 0 || Sig(bytes, static_cast<size_t>(record->cd_offset), 1, 2));
}

StatusOr<ZipDirectory> ReadZipDirectory(std::span<const uint8_t> bytes, const ScanLimits& limits) {
  AEGIS_ASSIGN_OR_RETURN(EndRecord record, ReadEndRecord(bytes));
  ZipDirectory dir;
  dir.archive_end = record.archive_end;
  if (record.entries > limits.max_zip_entries) {
    dir.problems.push_back({Severity::kCritical, "zip central directory",
                            "archive has " + std::to_string(record.entries) + " entries (limit " +
                                std::to_string(limits.max_zip_entries) + ")",
                            ""});
    dir.first_entry_offset = record.cd_offset;
    return dir;
  }
  AEGIS_RETURN_IF_ERROR(ReadCentralDirectory(bytes, record, &dir));
  if (record.records_disagree) {
    dir.problems.push_back({Severity::kCritical, "zip central directory",
                            "the end record and the ZIP64 end record describe different central directories", ""});
  }
  if (record.cd_offset + record.cd_size != record.cd_limit) {
    dir.problems.push_back({Severity::kCritical, "zip central directory",
                            "central directory does not end at the end record (" +
                                std::to_string(record.cd_limit - record.cd_offset - record.cd_size) +
                                " bytes between: shifted offsets?)",
                            ""});
  }
  if (record.archive_end < bytes.size()) {
    dir.problems.push_back(
        {Severity::kMedium, "offset " + std::to_string(record.archive_end),
         std::to_string(bytes.size() - record.archive_end) + " bytes after the end of the zip archive", ""});
  }
  CheckLocalHeaders(bytes, record.cd_offset, limits, &dir);
  return dir;
}

}  // namespace aegis::scan::internal
