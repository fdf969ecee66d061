// Test support for the scan module: byte helpers, a zip writer that can produce
// broken archives on purpose, a protobuf writer for ONNX messages, and the example
// models. Test code only.
#pragma once

#define ZLIB_CONST
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include <zlib.h>

#include "aegis/scan/scanner.h"
#include "common/testing/examples.h"

namespace aegis::scan::testing {

inline std::span<const uint8_t> Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

using ::aegis::testing::ReadExample;

inline void PutLe(std::string& out, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

inline std::string DeflateRaw(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<const Bytef*>(data.data());
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

struct ZipMember {
  std::string name;
  std::string data;
  uint16_t method = 0;
  std::string local_name;  // empty: same as name
  bool bad_crc = false;
  int64_t header_offset_override = -1;
  std::string trailing;  // raw bytes written after the member's data
};

class ZipBuilder {
 public:
  ZipMember& Add(std::string name, std::string data, uint16_t method = 0) {
    members_.push_back(ZipMember{std::move(name), std::move(data), method});
    return members_.back();
  }

  std::string Build(bool zip64 = false, const std::string& prefix = "") const {
    std::string out = prefix, cd;
    for (const ZipMember& m : members_) {
      std::string compressed = m.method == 8 ? DeflateRaw(m.data) : m.data;
      uint32_t crc = static_cast<uint32_t>(
          crc32(0, reinterpret_cast<const Bytef*>(m.data.data()), static_cast<uInt>(m.data.size())));
      if (m.bad_crc) crc ^= 1;
      uint64_t offset = out.size();
      const std::string& local_name = m.local_name.empty() ? m.name : m.local_name;
      out += std::string("PK\x03\x04", 4);
      PutLe(out, 20, 2);
      PutLe(out, 0, 2);
      PutLe(out, m.method, 2);
      PutLe(out, 0, 4);
      PutLe(out, crc, 4);
      PutLe(out, compressed.size(), 4);
      PutLe(out, m.data.size(), 4);
      PutLe(out, local_name.size(), 2);
      PutLe(out, 0, 2);
      out += local_name + compressed + m.trailing;
      cd += std::string("PK\x01\x02", 4);
      PutLe(cd, 20, 2);
      PutLe(cd, 20, 2);
      PutLe(cd, 0, 2);
      PutLe(cd, m.method, 2);
      PutLe(cd, 0, 4);
      PutLe(cd, crc, 4);
      PutLe(cd, compressed.size(), 4);
      PutLe(cd, m.data.size(), 4);
      PutLe(cd, m.name.size(), 2);
      PutLe(cd, 0, 2);
      PutLe(cd, 0, 2);
      PutLe(cd, 0, 2);
      PutLe(cd, 0, 2);
      PutLe(cd, 0, 4);
      PutLe(cd, m.header_offset_override >= 0 ? static_cast<uint64_t>(m.header_offset_override) : offset, 4);
      cd += m.name;
    }
    uint64_t cd_offset = out.size();
    out += cd;
    if (zip64) {
      uint64_t record = out.size();
      out += std::string("PK\x06\x06", 4);
      PutLe(out, 44, 8);
      PutLe(out, 45, 2);
      PutLe(out, 45, 2);
      PutLe(out, 0, 4);
      PutLe(out, 0, 4);
      PutLe(out, members_.size(), 8);
      PutLe(out, members_.size(), 8);
      PutLe(out, cd.size(), 8);
      PutLe(out, cd_offset, 8);
      out += std::string("PK\x06\x07", 4);
      PutLe(out, 0, 4);
      PutLe(out, record, 8);
      PutLe(out, 1, 4);
    }
    out += std::string("PK\x05\x06", 4);
    PutLe(out, 0, 2);
    PutLe(out, 0, 2);
    PutLe(out, zip64 ? 0xFFFF : members_.size(), 2);
    PutLe(out, zip64 ? 0xFFFF : members_.size(), 2);
    PutLe(out, zip64 ? 0xFFFFFFFF : cd.size(), 4);
    PutLe(out, zip64 ? 0xFFFFFFFF : cd_offset, 4);
    PutLe(out, 0, 2);
    return out;
  }

 private:
  std::vector<ZipMember> members_;
};

// Protobuf messages for ONNX tests.
class Proto {
 public:
  Proto& Varint(uint32_t field, uint64_t v) {
    Key(field, 0);
    Raw(v);
    return *this;
  }
  Proto& Bytes(uint32_t field, const std::string& data) {
    Key(field, 2);
    Raw(data.size());
    out_ += data;
    return *this;
  }
  Proto& Message(uint32_t field, const Proto& m) { return Bytes(field, m.str()); }
  const std::string& str() const { return out_; }

 private:
  void Key(uint32_t field, uint32_t wire) { Raw(uint64_t{field} << 3 | wire); }
  void Raw(uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>(v | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  std::string out_;
};

inline bool HasFinding(const ScanReport& report, std::string_view reason_part, std::string_view callable = "") {
  for (const Finding& f : report.findings) {
    if (f.reason.find(reason_part) != std::string::npos && (callable.empty() || f.callable == callable)) return true;
  }
  return false;
}

inline std::string Describe(const ScanReport& report) {
  std::string out;
  for (const Finding& f : report.findings) {
    out += std::string(SeverityName(f.severity)) + " | " + f.location + " | " + f.reason + " | " + f.callable + "\n";
  }
  return out;
}

}  // namespace aegis::scan::testing
