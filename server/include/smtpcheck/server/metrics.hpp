// Counters for GET /metrics (Prometheus text format): requests by route and status, latency
// histograms by route, SMTP tests by outcome, tests in flight, open connections. Lock-free
// on the request path: a few relaxed atomic increments per request.
#pragma once

#include "smtpcheck/smtp/report.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace smtpcheck::server {

class metrics {
public:
    /// Route labels, in the router's order; called once, before any request.
    void set_routes(std::vector<std::string> routes);
    /// `route` is the router's resource index, or routes().size() for a request no route took.
    void record_request(std::size_t route, unsigned status, std::chrono::steady_clock::duration elapsed);
    void record_test(smtp::outcome_code code);

    std::atomic<std::size_t> tests_in_flight{0};
    /// Tests cancelled before their end, because the caller closed the connection or a stop
    /// outlasted server.shutdown_grace_ms: not an outcome of the SMTP server's, so not in
    /// smtpcheck_smtp_tests_total (they would read as SR_SMTP_TIMEOUT).
    std::atomic<std::uint64_t> tests_cancelled{0};
    /// [store] backend = redis: whether the shared store is up (set once, before any request;
    /// cheap and safe from any thread), and the limits it could not answer.
    std::function<bool()> store_up;
    std::atomic<std::uint64_t> store_limit_errors{0};

    std::string prometheus_text(std::size_t open_connections) const;

private:
    // No 408: a deadline closes the connection without an answer (docs/design.md).
    static constexpr std::array<unsigned, 14> statuses{200, 204, 400, 401, 403, 404, 405,
                                                       413, 415, 429, 431, 500, 503, 0};
    static std::size_t status_slot(unsigned status);
    static constexpr std::array<double, 11> bounds_seconds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                           0.05,   0.1,   0.5,    1,     5};
    struct route_stats {
        std::array<std::atomic<std::uint64_t>, statuses.size()> by_status{};
        std::array<std::atomic<std::uint64_t>, bounds_seconds.size()> buckets{};
        std::atomic<std::uint64_t> count{0};
        std::atomic<std::uint64_t> sum_ns{0};
    };
    std::vector<std::string> routes_;
    std::unique_ptr<route_stats[]> stats_;  ///< routes_.size() + 1 (the last: no route)
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(smtp::last_outcome_code) + 1> tests_{};
};

}  // namespace smtpcheck::server
