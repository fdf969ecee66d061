#include "listener.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "session.h"

namespace aegis::http::internal {
namespace {

constexpr auto kReportInterval = std::chrono::minutes(1);

ListenerStats Minus(const ListenerStats& a, const ListenerStats& b) {
  return {a.connections_accepted - b.connections_accepted,
          a.connections_refused - b.connections_refused,
          a.connections_refused_per_source - b.connections_refused_per_source,
          a.connections_shed - b.connections_shed,
          a.connections_shed_per_source - b.connections_shed_per_source,
          a.handshake_timeouts - b.handshake_timeouts,
          a.first_byte_timeouts - b.first_byte_timeouts,
          a.connections_active};
}

// Closes a connection admission displaced, on its own strand. One that has not
// asked for anything is closed outright; an idle one is cancelled so that its
// session says goodbye with close_notify; one that started a request since it
// was chosen finishes that request and then closes.
void Displace(const std::shared_ptr<Connection>& victim) {
  asio::post(victim->stream.get_executor(), [victim] {
    victim->stopping = true;
    const Phase phase = victim->phase.load(std::memory_order_acquire);
    if (phase == Phase::kHandshake || phase == Phase::kAwaitingRequest) {
      victim->transport().close();
    } else if (phase == Phase::kIdle) {
      victim->transport().cancel();
    }
  });
}

// Tells ServerOptions::on_connection_limit, at most once per kReportInterval
// (the first time at once), what the limits did since the last report.
void ReportLimit(Listener& listener, const ServerContext& context, const SourceKey& source) {
  if (context.options == nullptr || !context.options->on_connection_limit) return;
  const auto now = std::chrono::steady_clock::now();
  if (listener.last_report && now - *listener.last_report < kReportInterval) return;
  listener.last_report = now;
  const ListenerStats stats = listener.Stats();
  ConnectionLimitReport report{listener.kind, DescribeSource(source, listener.limits.ipv6_source_prefix),
                               Minus(stats, listener.reported)};
  listener.reported = stats;
  asio::post(context.workers, [report = std::move(report), options = context.options] {
    try {
      options->on_connection_limit(report);
    } catch (const std::exception& e) {
      spdlog::error("on_connection_limit threw: {}", e.what());
    }
  });
}

}  // namespace

ListenerStats Listener::Stats() const {
  return {accepted.load(),
          refused.load(),
          refused_per_source.load(),
          shed.load(),
          shed_per_source.load(),
          handshake_timeouts.load(),
          first_byte_timeouts.load(),
          admission.active()};
}

asio::awaitable<void> AcceptLoop(Listener& listener, ServerContext context) {
  struct TaskGuard {
    ConnectionRegistry* registry;
    ~TaskGuard() { registry->RemoveTask(); }
  } task_guard{context.registry};

  for (;;) {
    error_code ec;
    // Each connection gets its own strand: several I/O threads share the
    // io_context, and a connection's operations must never run concurrently.
    tcp::socket socket = co_await listener.acceptor.async_accept(asio::any_io_executor(asio::make_strand(*context.io)),
                                                                 asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !listener.acceptor.is_open()) break;
      // Typically EMFILE/ENFILE: back off instead of spinning on the error.
      spdlog::warn("listener {}: accept failed: {}", listener.name, ec.message());
      asio::steady_timer backoff(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!listener.acceptor.is_open()) break;
      continue;
    }
    // The source is read before the TLS objects exist; a peer already gone is dropped.
    const tcp::endpoint remote = socket.remote_endpoint(ec);
    if (ec) {
      socket.close(ec);
      continue;
    }
    const SourceKey source = SourceOf(remote.address(), listener.limits.ipv6_source_prefix);
    socket.set_option(tcp::no_delay(true), ec);
    auto connection = std::make_shared<Connection>(std::move(socket), listener.tls());
    const AdmissionDecision decision = listener.admission.Admit(connection, source);
    if (decision.verdict != Verdict::kAdmitted) {
      const bool for_source = decision.verdict == Verdict::kRefusedSourceCap;
      const uint64_t refused = (for_source ? listener.refused_per_source : listener.refused).fetch_add(1) + 1;
      // Logged sparsely: a flood of refusals must not become a flood of logs.
      if ((refused & (refused - 1)) == 0) {
        spdlog::warn("listener {}: {} reached, every connection in a request ({} refused so far)", listener.name,
                     for_source ? "per-source connection limit" : "connection limit", refused);
      }
      connection->transport().close();
      ReportLimit(listener, context, source);
      continue;
    }
    if (decision.victim) {
      (decision.victim_for_source ? listener.shed_per_source : listener.shed).fetch_add(1);
      Displace(decision.victim);
      ReportLimit(listener, context, source);
    }
    listener.accepted.fetch_add(1);
    asio::co_spawn(connection->stream.get_executor(), RunSession(connection, listener, context), asio::detached);
  }
}

}  // namespace aegis::http::internal
