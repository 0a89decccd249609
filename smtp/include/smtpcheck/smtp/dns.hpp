// Asynchronous host name lookups with c-ares (SPEC 3.2), driven by Asio: the channel's sockets
// are watched by the io_context that runs the tests (no extra thread, no polling), A and AAAA
// are asked in parallel, /etc/hosts and /etc/resolv.conf are read as getaddrinfo reads them,
// and answers are kept for their TTL in a small bounded cache.
//
// One resolver per execution context (dns_resolver::of), never a global. Its channel is used
// only on its own strand, so tests on any thread of the context may share it. A lookup that
// its caller abandons (the deadline, a client that went away) completes at once; the query
// itself goes on inside c-ares until its own timeout and its answer is then only cached.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace smtpcheck::smtp {

struct dns_options {
    /// "address" or "address:port" ("[v6]:port"); empty: the servers of /etc/resolv.conf.
    std::vector<std::string> servers;
    /// c-ares' lookup order: "fb" files then DNS, "b" DNS only; empty: as the system says
    /// (/etc/nsswitch.conf's hosts line, as getaddrinfo).
    std::string lookups;
    /// Per try and server; 0: resolv.conf's `options timeout:` (c-ares' default 5 s).
    std::chrono::milliseconds query_timeout{0};
    int tries = 0;  ///< 0: resolv.conf's `options attempts:`
    /// Answers kept at once (least recently used dropped first); 0: no cache.
    std::size_t cache_entries = 1024;
    std::chrono::seconds max_ttl{300};  ///< an answer is kept for min(its TTL, this)
    /// Lookups in flight at once on the resolver; more fail at once (nothing queues unbounded).
    std::size_t max_lookups = 4096;
};

enum class dns_status {
    ok,
    not_found,      ///< NXDOMAIN, or no such name in /etc/hosts either
    no_address,     ///< the name exists but has no A or AAAA record
    server_failed,  ///< SERVFAIL, REFUSED, or an answer that could not be read
    timeout,        ///< no DNS server answered
    bad_name,
    overloaded,  ///< max_lookups reached
    cancelled,   ///< the caller abandoned the lookup
    failed,      ///< anything else (detail says what)
};

/// What a lookup asks for: the addresses of a host (A and AAAA), or a name's SRV or MX records.
enum class dns_query { address, srv, mx };

/// An SRV record (target, port, priority, weight) or an MX record (target, priority).
struct dns_record {
    std::string target;  ///< a host name, lower-case, without the final dot
    std::uint16_t port = 0;
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
};

struct dns_answer {
    dns_status status = dns_status::failed;
    /// In the order c-ares sorted them (RFC 6724), IPv6 and IPv4 mixed.
    std::vector<boost::asio::ip::address> addresses;
    /// SRV and MX lookups: by priority, lowest first (then SRV weight, highest first). SRV's
    /// "service not available" (target ".") is left out.
    std::vector<dns_record> records;
    bool cached = false;  ///< from the cache, no query sent
    std::string detail;   ///< in English, naming the cause
};

namespace detail {
class dns_core;

/// One caller's wait for an answer. Completed exactly once: by the answer, or by abandon().
class dns_wait {
public:
    using handler_type = boost::asio::any_completion_handler<void(dns_answer)>;
    dns_wait(handler_type h, boost::asio::any_io_executor ex) : handler_(std::move(h)), executor_(std::move(ex)) {}
    /// Thread-safe; the first call wins and posts the handler to the caller's executor.
    void complete(dns_answer answer);
    void abandon();
    bool done() const { return done_.load(std::memory_order_acquire); }
    /// Told when the wait is abandoned: a lookup nobody waits for any more may be dropped.
    std::weak_ptr<dns_core> core;

private:
    std::atomic<bool> done_{false};
    handler_type handler_;
    boost::asio::any_io_executor executor_;
};
}  // namespace detail

class dns_resolver {
public:
    /// `executor`: of the context whose threads run the lookups (the resolver makes a strand).
    /// Throws std::runtime_error when c-ares cannot start (no memory, an invalid server).
    dns_resolver(boost::asio::any_io_executor executor, dns_options options);
    ~dns_resolver();  ///< pending lookups complete with dns_status::failed
    dns_resolver(const dns_resolver&) = delete;
    dns_resolver& operator=(const dns_resolver&) = delete;

    /// The resolver of `executor`'s execution context, made with `options` on first use (the
    /// options of later calls are ignored). Lives until the context shuts down.
    static dns_resolver& of(const boost::asio::any_io_executor& executor, const dns_options& options);

    /// Looks `host` (a name in ASCII, not an address literal) up. Completes with a dns_answer
    /// on the handler's associated executor. `wait`, when given, receives the handle whose
    /// abandon() completes the lookup at once with dns_status::cancelled (for a deadline); a
    /// cancellation signal on the handler's slot does the same.
    template <class Token>
    auto async_resolve(std::string host, Token&& token, std::weak_ptr<detail::dns_wait>* wait = nullptr) {
        return boost::asio::async_initiate<Token, void(dns_answer)>(
            [this, wait](auto handler, std::string host) {
                auto ex = boost::asio::get_associated_executor(handler, executor_);
                auto slot = boost::asio::get_associated_cancellation_slot(handler);
                auto w = std::make_shared<detail::dns_wait>(std::move(handler), ex);
                if (slot.is_connected())
                    slot.assign([weak = std::weak_ptr<detail::dns_wait>(w)](boost::asio::cancellation_type) {
                        if (auto p = weak.lock()) p->abandon();
                    });
                if (wait) *wait = w;
                start(std::move(host), std::move(w));
            },
            token, std::move(host));
    }

    /// Looks up `name`'s SRV or MX records (`type` srv or mx), uncached, with the same channel,
    /// bounds and abandoning as async_resolve. Completes with dns_answer::records.
    template <class Token>
    auto async_lookup(std::string name, dns_query type, Token&& token, std::weak_ptr<detail::dns_wait>* wait = nullptr) {
        return boost::asio::async_initiate<Token, void(dns_answer)>(
            [this, wait, type](auto handler, std::string name) {
                auto ex = boost::asio::get_associated_executor(handler, executor_);
                auto w = std::make_shared<detail::dns_wait>(std::move(handler), ex);
                if (wait) *wait = w;
                start(std::move(name), std::move(w), type);
            },
            token, std::move(name));
    }

    /// Drops every cached answer (for tests and operators).
    void clear_cache();

private:
    void start(std::string host, std::shared_ptr<detail::dns_wait> wait, dns_query type = dns_query::address);
    boost::asio::any_io_executor executor_;
    std::shared_ptr<detail::dns_core> core_;
};

}  // namespace smtpcheck::smtp
