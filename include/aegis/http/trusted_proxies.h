// TrustedProxies: the client address of a request that came through reverse
// proxies the operator trusts (`[server] trusted_proxies`, CIDR blocks).
//
// Only when the TCP peer is inside one of the blocks is X-Forwarded-For read
// at all. It is walked from the right (the entry the nearest proxy appended)
// past every address that is itself a trusted proxy; the first address that is
// not is the client. Anything the walk cannot trust — a malformed entry, an
// empty or over-long header, more than kMaxHops proxies — falls back to the
// peer, silently: a client cannot make the server fail, or pick an address,
// by sending a header. Without blocks (the default) the peer is the client.
//
// Addresses are compared as numbers: "::ffff:10.0.0.1" (an IPv4 peer on a
// dual-stack listener) is 10.0.0.1.
//
// Thread-safety: immutable after Parse; safe for concurrent use.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::http {

class TrustedProxies {
 public:
  static constexpr size_t kMaxHops = 16;           // trusted proxies skipped at most
  static constexpr size_t kMaxHeaderBytes = 4096;  // longer X-Forwarded-For: the peer
  static constexpr size_t kMaxBlocks = 1024;

  // "10.0.0.0/8", "fd00::/8", "192.0.2.7" (a single address). InvalidArgument
  // naming the entry for anything else (host bits set count as a typo: refused).
  static StatusOr<TrustedProxies> Parse(const std::vector<std::string>& cidrs);

  bool empty() const { return blocks_.empty(); }
  // Whether `ip` (a literal without brackets or port) is inside a block.
  bool Contains(std::string_view ip) const;

  // The client address: `peer_ip` unless it is trusted and `forwarded_for`
  // (every X-Forwarded-For field of the request, joined by ", ") names one.
  // Returned in canonical text form (inet_ntop).
  std::string ClientAddress(std::string_view peer_ip, std::string_view forwarded_for) const;

 private:
  struct Block {
    std::array<uint8_t, 16> network{};  // IPv4 as ::ffff:a.b.c.d
    int prefix = 0;                     // over the 128 bits
  };
  bool Contains(const std::array<uint8_t, 16>& address) const;

  std::vector<Block> blocks_;
};

}  // namespace aegis::http
