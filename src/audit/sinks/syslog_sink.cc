#include "aegis/audit/syslog_sink.h"

#include <unistd.h>

#include <atomic>
#include <deque>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "queued_sink.h"
#include "syslog_format.h"
#include "syslog_transport.h"

namespace aegis::audit {
namespace {

using internal::SinkItem;
using internal::SinkQueue;
using internal::SteadyTime;
using Steady = std::chrono::steady_clock;

constexpr size_t kPopBatch = 256;

class SyslogSinkImpl final : public internal::QueuedSink<SyslogSink> {
 public:
  SyslogSinkImpl(SyslogOptions o, std::unique_ptr<internal::SyslogTransport> transport, internal::SyslogOrigin origin)
      : QueuedSink(o.queue_size, o.stop_drain),
        o_(std::move(o)),
        transport_(std::move(transport)),
        origin_(std::move(origin)) {
    Start();
  }
  ~SyslogSinkImpl() override { Stop(); }

  std::string_view name() const override { return "syslog"; }

 private:
  bool udp() const { return o_.transport == SyslogTransportKind::kUdp; }

  void Run() override {
    internal::DropReporter reporter(o_.on_drop);
    internal::Backoff backoff(o_.backoff_initial, o_.backoff_max);
    std::vector<SinkItem> items;
    std::deque<std::string> messages;  // formatted, in order; the front is being sent
    for (;;) {
      if (messages.empty()) {
        items.clear();
        queue_.Pop(items, kPopBatch, 1, Steady::now() + std::chrono::seconds(1));
        for (const auto& item : items) messages.push_back(Format(item));
        in_hand_ = messages.size();
      }
      reporter.Poll(queue_.dropped(), Steady::now());
      if (messages.empty()) {
        if (queue_.closed()) break;
        continue;
      }
      if (Steady::now() >= queue_.drain_deadline()) break;
      Status sent = transport_->Send(messages.front());
      if (sent.ok()) {
        ++delivered_;
        if (failing_) spdlog::info("audit syslog: delivering to {}:{} again", o_.host, o_.port);
        failing_ = false;
        backoff.Reset();
      } else {
        ++failures_;
        if (!failing_) spdlog::warn("audit syslog: {}{}", sent.message(), udp() ? "" : "; retrying with back-off");
        failing_ = true;
        if (!udp()) {
          // Keep the message and reconnect after a pause.
          WaitBeforeRetry(backoff, reporter);
          continue;
        }
        queue_.AddDropped(1);  // a datagram is not retried: the next one may be refused alike
      }
      messages.pop_front();
      in_hand_ = messages.size();
    }
    queue_.AddDropped(messages.size());
    queue_.DropAll();
    in_hand_ = 0;
    transport_->Close();
    reporter.Final(queue_.dropped());
  }

  std::string Format(const SinkItem& item) {
    const auto now = std::chrono::system_clock::now();
    std::string m = item.head ? internal::FormatHeadMessage(origin_, item.json, ++seq_, now)
                              : internal::FormatEventMessage(origin_, item.json, ++seq_, now);
    internal::TruncateUtf8(m, o_.max_message_bytes);
    return m;
  }

  const SyslogOptions o_;
  const std::unique_ptr<internal::SyslogTransport> transport_;
  const internal::SyslogOrigin origin_;
  uint64_t seq_ = 0;      // sink thread only
  bool failing_ = false;  // sink thread only
};

}  // namespace

StatusOr<std::pair<std::string, uint16_t>> ParseSyslogAddress(std::string_view address) {
  return internal::ParseEndpoint(address);
}

bool IsLoopbackSyslogHost(std::string_view host) { return internal::IsLoopbackHost(host); }

StatusOr<int> ParseSyslogFacility(std::string_view name) {
  if (name == "user") return 1;
  if (name == "daemon") return 3;
  if (name == "auth") return 4;
  if (name == "authpriv") return 10;
  if (name.size() == 6 && name.substr(0, 5) == "local" && name[5] >= '0' && name[5] <= '7') return 16 + (name[5] - '0');
  return Status::InvalidArgument("unknown syslog facility '" + std::string(name) +
                                 "' (auth, authpriv, daemon, user, local0..local7)");
}

StatusOr<std::shared_ptr<SyslogSink>> SyslogSink::Create(SyslogOptions o) {
  if (o.host.empty() || o.port == 0)
    return Status::InvalidArgument("syslog collector needs a host and a non-zero port");
  if (o.facility < 0 || o.facility > 23) return Status::InvalidArgument("syslog facility must be 0..23");
  if (o.max_message_bytes < 480) return Status::InvalidArgument("max_message_bytes must be at least 480");
  if (o.transport == SyslogTransportKind::kUdp && o.max_message_bytes > 65507) {
    return Status::InvalidArgument("max_message_bytes must be at most 65507 for UDP (one datagram)");
  }
  if (o.queue_size == 0) return Status::InvalidArgument("queue_size must be positive");
  const bool plaintext = o.transport != SyslogTransportKind::kTls;
  if (plaintext && !o.allow_plaintext && !internal::IsLoopbackHost(o.host)) {
    return Status::InvalidArgument("plaintext syslog to the non-loopback address " + o.host +
                                   " needs allow_plaintext = true (or use transport = \"tls\")");
  }
  if (plaintext && !(o.ca_file.empty() && o.cert_file.empty() && o.key_file.empty())) {
    return Status::InvalidArgument("ca, cert and key apply to transport = \"tls\" only");
  }
  internal::TransportOptions t{o.host, o.port, plaintext && !o.allow_plaintext, o.timeout};
  std::unique_ptr<internal::SyslogTransport> transport;
  switch (o.transport) {
    case SyslogTransportKind::kUdp:
      transport = internal::MakeUdpTransport(t);
      break;
    case SyslogTransportKind::kTcp:
      transport = internal::MakeTcpTransport(t);
      break;
    case SyslogTransportKind::kTls: {
      AEGIS_ASSIGN_OR_RETURN(transport, internal::MakeTlsTransport(t, o.ca_file, o.cert_file, o.key_file));
      break;
    }
  }
  internal::SyslogOrigin origin;
  origin.facility = o.facility;
  std::string hostname = o.hostname;
  if (hostname.empty()) {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) == 0) hostname = buf;
  }
  origin.hostname = internal::SanitizeHeaderField(hostname, 255);
  origin.app_name = internal::SanitizeHeaderField(o.app_name, 48);
  origin.procid = std::to_string(::getpid());
  return std::shared_ptr<SyslogSink>(
      std::make_shared<SyslogSinkImpl>(std::move(o), std::move(transport), std::move(origin)));
}

}  // namespace aegis::audit
