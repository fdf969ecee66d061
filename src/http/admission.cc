#include "admission.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "connection_registry.h"

namespace aegis::http::internal {

SourceKey SourceOf(const asio::ip::address& address, int ipv6_prefix) {
  SourceKey key{};
  asio::ip::address_v4 v4;
  bool is_v4 = address.is_v4();
  if (is_v4) {
    v4 = address.to_v4();
  } else if (address.to_v6().is_v4_mapped()) {
    // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d: the same host.
    v4 = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    is_v4 = true;
  }
  if (is_v4) {
    key[0] = 4;
    const auto bytes = v4.to_bytes();
    std::copy(bytes.begin(), bytes.end(), key.begin() + 1);
    return key;
  }
  key[0] = 6;
  const auto bytes = address.to_v6().to_bytes();
  const int prefix = std::clamp(ipv6_prefix, 0, 128);
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(prefix - 8 * i, 0, 8);  // leading bits of this byte within the prefix
    const uint8_t mask = keep == 0 ? 0 : static_cast<uint8_t>(0xFF << (8 - keep));
    key[static_cast<size_t>(i) + 1] = bytes[static_cast<size_t>(i)] & mask;
  }
  return key;
}

std::string DescribeSource(const SourceKey& source, int ipv6_prefix) {
  if (source[0] == 4) {
    asio::ip::address_v4::bytes_type b;
    std::copy(source.begin() + 1, source.begin() + 5, b.begin());
    return asio::ip::address_v4(b).to_string();
  }
  asio::ip::address_v6::bytes_type b;
  std::copy(source.begin() + 1, source.end(), b.begin());
  const std::string address = asio::ip::address_v6(b).to_string();
  return ipv6_prefix >= 128 ? address : address + "/" + std::to_string(std::clamp(ipv6_prefix, 0, 128));
}

size_t Admission::SourceHash::operator()(const SourceKey& k) const {
  return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(k.data()), k.size()));
}

std::shared_ptr<Connection> Admission::OldestDisplaceable(const List& among) {
  std::shared_ptr<Connection> oldest_idle;
  for (const auto& c : among) {
    if (c->admission.shed) continue;
    const Phase phase = c->phase.load(std::memory_order_acquire);
    if (phase == Phase::kHandshake || phase == Phase::kAwaitingRequest) return c;
    if (phase == Phase::kIdle && !oldest_idle) oldest_idle = c;
  }
  return oldest_idle;
}

void Admission::MarkShed(Connection& victim) {
  victim.admission.shed = true;
  --live_;
  --sources_.at(victim.admission.source).live;
  ++closing_;
}

AdmissionDecision Admission::Admit(const std::shared_ptr<Connection>& connection, const SourceKey& source) {
  MutexLock lock(mu_);
  AdmissionDecision decision;
  if (closing_ >= kMaxClosing) {
    decision.verdict = Verdict::kRefusedListenerCap;
    return decision;
  }
  auto found = sources_.find(source);
  if (found != sources_.end() && found->second.live >= max_per_source_) {
    decision.victim = OldestDisplaceable(found->second.connections);
    if (!decision.victim) {
      decision.verdict = Verdict::kRefusedSourceCap;
      return decision;
    }
    decision.victim_for_source = true;
    MarkShed(*decision.victim);
  }
  if (live_ >= max_connections_) {
    // Only reached without a per-source victim: one would have made room.
    decision.victim = OldestDisplaceable(all_);
    if (!decision.victim) {
      decision.verdict = Verdict::kRefusedListenerCap;
      return decision;
    }
    MarkShed(*decision.victim);
  }
  Source& entry = sources_[source];
  AdmissionEntry& a = connection->admission;
  a.source = source;
  a.in_all = all_.insert(all_.end(), connection);
  a.in_source = entry.connections.insert(entry.connections.end(), connection);
  a.admitted = true;
  ++entry.live;
  ++live_;
  return decision;
}

void Admission::Release(Connection& connection) {
  MutexLock lock(mu_);
  AdmissionEntry& a = connection.admission;
  if (!a.admitted) return;
  a.admitted = false;
  auto source = sources_.find(a.source);
  if (a.shed) {
    --closing_;
  } else {
    --live_;
    --source->second.live;
  }
  // The lists hold the connection alive: erase last, and keep it alive until done.
  const std::shared_ptr<Connection> keep = *a.in_all;
  all_.erase(a.in_all);
  source->second.connections.erase(a.in_source);
  if (source->second.connections.empty()) sources_.erase(source);
}

int Admission::active() const {
  MutexLock lock(mu_);
  return static_cast<int>(all_.size());
}

}  // namespace aegis::http::internal
