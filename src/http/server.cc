// HttpsServer: owns the io_context, the I/O threads, the worker pool and the
// listeners, and runs the stop/drain sequence (see connection_registry.h).
#include "aegis/http/server.h"

#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "aegis/http/host_port.h"
#include "asio_types.h"
#include "connection_registry.h"
#include "io_event_loop.h"
#include "listener.h"
#include "spinning_runner.h"
#include "tls_context.h"

namespace aegis::http {

using namespace internal;  // NOLINT: the implementation's own namespace

namespace {

// Default: half the cores each for I/O and for the worker pool, so the server's
// threads never outnumber the cores (measured on 2 cores: one I/O thread and one
// worker halve the p50 latency of two each, at the same throughput).
int ThreadsOr(int requested) {
  if (requested > 0) return requested;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency() / 2));
}

StatusOr<tcp::endpoint> ResolveListenAddress(const std::string& host_port) {
  AEGIS_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(host_port));
  error_code ec;
  const auto address = asio::ip::make_address(hp.host, ec);
  if (!ec) return tcp::endpoint(address, hp.port);
  // A host name ("localhost"): resolve once at start-up, blocking is fine here.
  asio::io_context io;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("cannot resolve listen address '" + host_port + "': " + ec.message());
  }
  return results.begin()->endpoint();
}

}  // namespace

struct HttpsServer::Impl {
  explicit Impl(ServerOptions o)
      : options(std::move(o)),  // the members below read `options`: it is declared first
        io_threads(ThreadsOr(options.io_threads)),
        io(io_threads),
        loop(io),
        worker_threads(ThreadsOr(options.worker_threads)),
        workers(worker_threads),
        worker_guard(asio::make_work_guard(workers)) {
    // Worker threads start with the server so handlers can run as soon as a
    // listener accepts; they poll briefly before sleeping (see spinning_runner.h).
    for (int i = 0; i < worker_threads; ++i) worker_pool.emplace_back([this] { RunSpinning(workers); });
  }

  // Stops the worker pool after the handlers already queued have run.
  void StopWorkers() {
    worker_guard.reset();
    for (auto& t : worker_pool) {
      if (t.joinable()) t.join();
    }
  }

  ServerOptions options;
  int io_threads;
  asio::io_context io;  // declared before the listeners: their acceptors use it
  IoEventLoop loop;     // the I/O threads, for descriptors of other modules
  int worker_threads;
  asio::io_context workers;  // the worker pool's queue
  asio::executor_work_guard<asio::io_context::executor_type> worker_guard;
  std::vector<std::thread> worker_pool;
  ConnectionRegistry registry;
  mutable std::mutex mu;  // guards `listeners` against a concurrent Stop()
  std::map<ListenerKind, std::unique_ptr<Listener>> listeners;
  bool ran = false;
};

Status CheckTlsFiles(const TlsFiles& tls) { return MakeServerTlsContext(tls).status(); }

HttpsServer::HttpsServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpsServer::~HttpsServer() {
  // Run() never ran (or has returned): no coroutine is alive. Make sure pool
  // threads are gone before the listeners they might reference.
  impl_->workers.stop();
  impl_->StopWorkers();
}

Status HttpsServer::AddListener(ListenerKind kind, const std::string& host_port, const TlsFiles& tls,
                                const Limits& limits, Dispatcher* dispatcher) {
  const std::string what = "listener " + std::string(ListenerName(kind));
  if (dispatcher == nullptr) return Status::InvalidArgument(what + ": no dispatcher");
  if (limits.max_connections < 1) return Status::InvalidArgument(what + ": max_connections must be positive");
  if (limits.max_connections_per_source < 1) {
    return Status::InvalidArgument(what + ": max_connections_per_source must be positive");
  }
  if (limits.ipv6_source_prefix < 1 || limits.ipv6_source_prefix > 128) {
    return Status::InvalidArgument(what + ": ipv6_source_prefix must be between 1 and 128");
  }
  if (limits.handshake_timeout.count() < 1 || limits.first_byte_timeout.count() < 1) {
    return Status::InvalidArgument(what + ": handshake and first-byte timeouts must be at least 1 s");
  }
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->listeners.contains(kind)) return Status::AlreadyExists(what + " already exists");
  }
  AEGIS_ASSIGN_OR_RETURN(auto context, MakeServerTlsContext(tls));
  AEGIS_ASSIGN_OR_RETURN(const tcp::endpoint endpoint, ResolveListenAddress(host_port));

  tcp::acceptor acceptor(asio::make_strand(impl_->io));
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable(what + ": cannot listen on " + host_port + ": " + ec.message());

  const auto bound = acceptor.local_endpoint(ec);
  auto listener = std::make_unique<Listener>(kind, limits, dispatcher, std::move(context), std::move(acceptor));
  spdlog::info("{} listening on https://{}", what,
               bound.address().is_v6() ? "[" + bound.address().to_string() + "]:" + std::to_string(bound.port())
                                       : bound.address().to_string() + ":" + std::to_string(bound.port()));
  std::lock_guard lock(impl_->mu);
  impl_->listeners.emplace(kind, std::move(listener));
  return Status::Ok();
}

Status HttpsServer::ReloadTls(const std::vector<std::pair<ListenerKind, TlsFiles>>& tls) {
  std::lock_guard lock(impl_->mu);
  std::vector<std::pair<Listener*, std::shared_ptr<ssl::context>>> loaded;
  for (const auto& [kind, files] : tls) {
    const auto it = impl_->listeners.find(kind);
    if (it == impl_->listeners.end()) continue;
    auto context = MakeServerTlsContext(files);
    if (!context.ok()) {
      return Status::InvalidArgument("listener " + std::string(ListenerName(kind)) + ": " + context.status().message());
    }
    loaded.emplace_back(it->second.get(), std::move(context).value());
  }
  for (auto& [listener, context] : loaded) listener->ReplaceTls(std::move(context));
  return Status::Ok();
}

uint16_t HttpsServer::BoundPort(ListenerKind kind) const {
  std::lock_guard lock(impl_->mu);
  const auto it = impl_->listeners.find(kind);
  if (it == impl_->listeners.end()) return 0;
  error_code ec;
  const auto endpoint = it->second->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

EventLoop& HttpsServer::event_loop() { return impl_->loop; }

ListenerStats HttpsServer::Stats(ListenerKind kind) const {
  std::lock_guard lock(impl_->mu);
  const auto it = impl_->listeners.find(kind);
  if (it == impl_->listeners.end()) return {};
  return it->second->Stats();
}

void HttpsServer::Run() {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    if (d.ran) return;  // one life per server
    d.ran = true;
    const ServerContext context{&d.io, d.workers.get_executor(), &d.registry, &d.options};
    for (auto& [kind, listener] : d.listeners) {
      d.registry.AddTask();
      asio::co_spawn(listener->acceptor.get_executor(), AcceptLoop(*listener, context), asio::detached);
    }
  }
  auto work = asio::make_work_guard(d.io);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(d.io_threads));
  for (int i = 0; i < d.io_threads; ++i) {
    threads.emplace_back([&d] {
      for (;;) {
        try {
          RunSpinning(d.io);
          return;
        } catch (const std::exception& e) {
          // Sessions catch their own errors; this is a last line of defence.
          spdlog::error("I/O thread: {}", e.what());
        }
      }
    });
  }

  d.registry.WaitForStopRequest();
  const auto deadline = std::chrono::steady_clock::now() + d.options.drain_timeout;
  if (!d.registry.WaitUntilEmpty(deadline)) {
    spdlog::warn("drain timeout: closing {} connections", d.registry.size());
    d.registry.CloseAll();
    if (d.options.on_drain_timeout) d.options.on_drain_timeout();
    // Requests inside handlers cannot be interrupted; their sessions end as
    // soon as the handler returns (the answer cannot be sent any more).
    d.registry.WaitUntilEmpty(std::nullopt);
  }
  work.reset();
  d.io.stop();
  for (auto& t : threads) t.join();
  d.StopWorkers();
  spdlog::info("server stopped");
}

void HttpsServer::Stop() {
  Impl& d = *impl_;
  if (!d.registry.RequestStop()) return;
  {
    std::lock_guard lock(d.mu);
    for (auto& [kind, listener] : d.listeners) {
      Listener* l = listener.get();
      asio::post(l->acceptor.get_executor(), [l] {
        error_code ec;
        l->acceptor.close(ec);
      });
    }
  }
  d.registry.DrainAll();
}

}  // namespace aegis::http
