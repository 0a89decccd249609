// The HTTP/1.1 front end: listeners, connections, graceful shutdown.
//
// It runs on the executor it is given and never owns an io_context, so a host program can run
// several servers (or mount their routes elsewhere) on its own executor and threads.
#pragma once

#include "smtpcheck/server/config.hpp"
#include "smtpcheck/server/metrics.hpp"
#include "smtpcheck/server/router.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace smtpcheck::server {

class http_server {
public:
    /// `routes` holds the API routes; /healthz, /readyz and /metrics are added here. When
    /// `log` is null nothing is logged; when `counters` is null the server keeps its own.
    http_server(boost::asio::any_io_executor executor, config cfg, router routes,
                std::shared_ptr<spdlog::logger> log, std::shared_ptr<metrics> counters = nullptr);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    /// Every route it answers: those it was given, and /healthz, /readyz and /metrics.
    const router& routes() const;

    /// Binds every listener of server.listen and server.tls_listen and starts accepting.
    /// Throws std::system_error (or config_error for TLS files) when one cannot be bound.
    void start();

    /// The bound addresses in config order, port 0 resolved: "http://127.0.0.1:34567",
    /// "https://[::1]:8443", "unix:/run/smtpcheck.sock".
    std::vector<std::string> local_addresses() const;

    /// Graceful stop: stops accepting, /readyz answers 503, idle keep-alive connections are
    /// closed, requests in flight finish within server.shutdown_grace (answered with
    /// Connection: close), then whatever is left is cancelled. Safe from any thread.
    void stop();

    /// Completes once stop() has finished and every connection is closed.
    boost::asio::awaitable<void> wait();

    bool draining() const;
    std::size_t open_connections() const;
    /// Connections with a request in progress: its first byte read, its response not yet
    /// written. Safe from any thread.
    std::size_t busy_connections() const;

    /// /readyz answers 503 with the reason while `check` gives one (e.g. the shared store
    /// unreachable). Call before start(); `check` must be cheap and safe from any thread.
    void add_readiness_check(std::function<std::optional<std::string>()> check);

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace smtpcheck::server
