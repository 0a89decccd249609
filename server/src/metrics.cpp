#include "smtpcheck/server/metrics.hpp"

#include <cstdio>

namespace smtpcheck::server {

void metrics::set_routes(std::vector<std::string> routes) {
    routes_ = std::move(routes);
    stats_ = std::make_unique<route_stats[]>(routes_.size() + 1);
}

// The slot of a status in `statuses`; the last one is "other". A scan of 14, so that the list
// is written once (a switch repeated it).
std::size_t metrics::status_slot(unsigned status) {
    for (std::size_t i = 0; i + 1 < statuses.size(); ++i)
        if (statuses[i] == status) return i;
    return statuses.size() - 1;
}

void metrics::record_request(std::size_t route, unsigned status, std::chrono::steady_clock::duration elapsed) {
    if (!stats_) return;
    auto& s = stats_[std::min(route, routes_.size())];
    s.by_status[status_slot(status)].fetch_add(1, std::memory_order_relaxed);
    const auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
    static constexpr std::array<std::uint64_t, bounds_seconds.size()> bounds_ns{
        500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 25'000'000, 50'000'000, 100'000'000,
        500'000'000, 1'000'000'000, 5'000'000'000};
    for (std::size_t i = 0; i < bounds_ns.size(); ++i)
        if (ns <= bounds_ns[i]) {
            s.buckets[i].fetch_add(1, std::memory_order_relaxed);  // cumulated when written
            break;
        }
    s.count.fetch_add(1, std::memory_order_relaxed);
    s.sum_ns.fetch_add(ns, std::memory_order_relaxed);
}

void metrics::record_test(smtp::outcome_code code) {
    tests_[static_cast<std::size_t>(code)].fetch_add(1, std::memory_order_relaxed);
}

std::string metrics::prometheus_text(std::size_t open_connections) const {
    std::string out;
    char line[512];
    auto label = [&](std::size_t i) { return i < routes_.size() ? routes_[i] : std::string("(none)"); };
    out += "# HELP smtpcheck_http_requests_total HTTP requests by route and status.\n"
           "# TYPE smtpcheck_http_requests_total counter\n";
    for (std::size_t r = 0; stats_ && r <= routes_.size(); ++r)
        for (std::size_t i = 0; i < statuses.size(); ++i) {
            auto n = stats_[r].by_status[i].load(std::memory_order_relaxed);
            if (!n) continue;
            std::snprintf(line, sizeof line, "smtpcheck_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                          label(r).c_str(), statuses[i] ? std::to_string(statuses[i]).c_str() : "other",
                          static_cast<unsigned long long>(n));
            out += line;
        }
    out += "# HELP smtpcheck_http_request_duration_seconds Time from a request's header to its response.\n"
           "# TYPE smtpcheck_http_request_duration_seconds histogram\n";
    for (std::size_t r = 0; stats_ && r <= routes_.size(); ++r) {
        auto count = stats_[r].count.load(std::memory_order_relaxed);
        if (!count) continue;
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < bounds_seconds.size(); ++i) {
            cumulative += stats_[r].buckets[i].load(std::memory_order_relaxed);
            std::snprintf(line, sizeof line, "smtpcheck_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                          label(r).c_str(), bounds_seconds[i], static_cast<unsigned long long>(cumulative));
            out += line;
        }
        std::snprintf(line, sizeof line,
                      "smtpcheck_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                      "smtpcheck_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                      "smtpcheck_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                      label(r).c_str(), static_cast<unsigned long long>(count), label(r).c_str(),
                      static_cast<double>(stats_[r].sum_ns.load(std::memory_order_relaxed)) / 1e9, label(r).c_str(),
                      static_cast<unsigned long long>(count));
        out += line;
    }
    out += "# HELP smtpcheck_smtp_tests_total SMTP tests by outcome.\n# TYPE smtpcheck_smtp_tests_total counter\n";
    for (std::size_t c = 0; c < tests_.size(); ++c) {
        auto n = tests_[c].load(std::memory_order_relaxed);
        if (!n) continue;
        auto name = smtp::resource_name(static_cast<smtp::outcome_code>(c));
        std::snprintf(line, sizeof line, "smtpcheck_smtp_tests_total{outcome=\"%s\"} %llu\n",
                      name.empty() ? "success" : std::string(name).c_str(), static_cast<unsigned long long>(n));
        out += line;
    }
    std::snprintf(line, sizeof line,
                  "# HELP smtpcheck_smtp_tests_cancelled_total SMTP tests cancelled before their end: the caller "
                  "closed the connection, or a stop outlasted server.shutdown_grace_ms (not in smtpcheck_smtp_tests_total).\n"
                  "# TYPE smtpcheck_smtp_tests_cancelled_total counter\nsmtpcheck_smtp_tests_cancelled_total %llu\n",
                  static_cast<unsigned long long>(tests_cancelled.load(std::memory_order_relaxed)));
    out += line;
    std::snprintf(line, sizeof line,
                  "# HELP smtpcheck_smtp_tests_in_flight SMTP tests running now.\n"
                  "# TYPE smtpcheck_smtp_tests_in_flight gauge\nsmtpcheck_smtp_tests_in_flight %zu\n"
                  "# HELP smtpcheck_http_open_connections Open HTTP connections.\n"
                  "# TYPE smtpcheck_http_open_connections gauge\nsmtpcheck_http_open_connections %zu\n",
                  tests_in_flight.load(), open_connections);
    out += line;
    if (store_up) {
        std::snprintf(line, sizeof line,
                      "# HELP smtpcheck_store_up Whether the shared store (Redis) answers: 1 or 0.\n"
                      "# TYPE smtpcheck_store_up gauge\nsmtpcheck_store_up %d\n"
                      "# HELP smtpcheck_store_limit_errors_total Limits the shared store could not answer "
                      "(store.limits_on_error decided).\n"
                      "# TYPE smtpcheck_store_limit_errors_total counter\nsmtpcheck_store_limit_errors_total %llu\n",
                      store_up() ? 1 : 0, static_cast<unsigned long long>(store_limit_errors.load()));
        out += line;
    }
    return out;
}

}  // namespace smtpcheck::server
