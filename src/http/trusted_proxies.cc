#include "aegis/http/trusted_proxies.h"

#include <arpa/inet.h>

#include <charconv>

namespace aegis::http {
namespace {

using Address = std::array<uint8_t, 16>;

// An IPv4 or IPv6 literal as 16 bytes (IPv4 mapped into ::ffff:0:0/96).
std::optional<Address> ParseAddress(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  Address out{};
  uint8_t v4[4];
  if (inet_pton(AF_INET, s.c_str(), v4) == 1) {
    out[10] = out[11] = 0xff;
    std::copy(v4, v4 + 4, out.begin() + 12);
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) return out;
  return std::nullopt;
}

bool IsMappedV4(const Address& a) {
  for (int i = 0; i < 10; ++i) {
    if (a[i] != 0) return false;
  }
  return a[10] == 0xff && a[11] == 0xff;
}

std::string Format(const Address& a) {
  char buf[INET6_ADDRSTRLEN];
  if (IsMappedV4(a)) return inet_ntop(AF_INET, a.data() + 12, buf, sizeof buf);
  return inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
}

bool Matches(const Address& a, const Address& network, int prefix) {
  for (int bit = 0; bit < prefix; ++bit) {
    const uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((a[bit / 8] & mask) != (network[bit / 8] & mask)) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

StatusOr<TrustedProxies> TrustedProxies::Parse(const std::vector<std::string>& cidrs) {
  if (cidrs.size() > kMaxBlocks) return Status::InvalidArgument("more than 1024 trusted proxy blocks");
  TrustedProxies out;
  for (const std::string& cidr : cidrs) {
    const auto bad = [&cidr](const char* why) {
      return Status::InvalidArgument("trusted proxy '" + cidr + "': " + why);
    };
    const size_t slash = cidr.find('/');
    const auto address = ParseAddress(std::string_view(cidr).substr(0, slash));
    if (!address) return bad("not an IP address or CIDR block (e.g. 10.0.0.0/8, fd00::/8)");
    const bool v4 = IsMappedV4(*address) && cidr.find(':') == std::string::npos;
    int prefix = v4 ? 32 : 128;
    if (slash != std::string::npos) {
      const std::string_view digits = std::string_view(cidr).substr(slash + 1);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 ||
          prefix > (v4 ? 32 : 128)) {
        return bad(v4 ? "the prefix length must be 0-32" : "the prefix length must be 0-128");
      }
    }
    Block block{*address, v4 ? prefix + 96 : prefix};
    Address masked = block.network;
    for (int bit = block.prefix; bit < 128; ++bit) masked[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    if (masked != block.network) return bad("host bits are set after the prefix length (a typo?)");
    out.blocks_.push_back(block);
  }
  return out;
}

bool TrustedProxies::Contains(const Address& address) const {
  for (const Block& b : blocks_) {
    if (Matches(address, b.network, b.prefix)) return true;
  }
  return false;
}

bool TrustedProxies::Contains(std::string_view ip) const {
  const auto address = ParseAddress(ip);
  return address && Contains(*address);
}

std::string TrustedProxies::ClientAddress(std::string_view peer_ip, std::string_view forwarded_for) const {
  if (blocks_.empty()) return std::string(peer_ip);
  const auto peer_address = ParseAddress(peer_ip);
  if (!peer_address || !Contains(*peer_address)) return std::string(peer_ip);
  if (forwarded_for.empty() || forwarded_for.size() > kMaxHeaderBytes) return Format(*peer_address);
  std::string_view rest = forwarded_for;
  for (size_t hop = 0; hop <= kMaxHops && !rest.empty(); ++hop) {
    const size_t comma = rest.rfind(',');
    const std::string_view entry = Trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    const auto address = ParseAddress(entry);
    if (!address) break;  // malformed: nothing to its left can be trusted either
    if (!Contains(*address) || rest.empty()) return Format(*address);
  }
  return Format(*peer_address);
}

}  // namespace aegis::http
