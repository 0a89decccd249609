#include "smtpcheck/smtp/dns.hpp"

#include "smtpcheck/core/ascii.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <list>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace smtpcheck::smtp {

namespace asio = boost::asio;
using boost::system::error_code;

namespace detail {

void dns_wait::complete(dns_answer answer) {
    if (done_.exchange(true, std::memory_order_acq_rel)) return;
    auto ex = asio::prefer(executor_, asio::execution::outstanding_work.tracked);
    asio::post(ex, [h = std::move(handler_), a = std::move(answer)]() mutable { std::move(h)(std::move(a)); });
}

namespace {

dns_answer failure(int status) {
    dns_answer a;
    switch (status) {
    case ARES_ENOTFOUND:
        a.status = dns_status::not_found;
        a.detail = "the name does not exist (NXDOMAIN)";
        break;
    case ARES_ENODATA:
        a.status = dns_status::no_address;
        a.detail = "the name has no A or AAAA record";
        break;
    case ARES_ESERVFAIL:
        a.status = dns_status::server_failed;
        a.detail = "the DNS server failed to answer (SERVFAIL)";
        break;
    case ARES_EREFUSED:
        a.status = dns_status::server_failed;
        a.detail = "the DNS server refused the query (REFUSED)";
        break;
    case ARES_EFORMERR:
    case ARES_EBADRESP:
        a.status = dns_status::server_failed;
        a.detail = "the DNS server's answer could not be read";
        break;
    case ARES_ETIMEOUT:
        a.status = dns_status::timeout;
        a.detail = "no DNS server answered in time";
        break;
    case ARES_ECONNREFUSED:
        // c-ares 1.18 tries the next server after a SERVFAIL or REFUSED and, when none is
        // left, says only this: the cause is one of the three.
        a.status = dns_status::server_failed;
        a.detail = "no DNS server gave an answer (SERVFAIL, REFUSED or unreachable)";
        break;
    case ARES_EBADNAME:
        a.status = dns_status::bad_name;
        a.detail = "the host name is not valid";
        break;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        a.status = dns_status::failed;
        a.detail = "the resolver was shut down";
        break;
    default:
        a.status = dns_status::failed;
        a.detail = std::string("the lookup failed: ") + ares_strerror(status);
    }
    return a;
}

}  // namespace

// The channel and everything around it; used only on `strand`.
class dns_core : public std::enable_shared_from_this<dns_core> {
public:
    dns_core(asio::any_io_executor ex, dns_options options)
        : strand_(asio::make_strand(ex)), timer_(strand_), options_(std::move(options)) {}

    ~dns_core() { close(); }

    void open() {
        static std::once_flag library;
        std::call_once(library, [] { ares_library_init(ARES_LIB_INIT_ALL); });
        ares_options o{};
        int mask = ARES_OPT_SOCK_STATE_CB;
        o.sock_state_cb = &dns_core::socket_state;
        o.sock_state_cb_data = this;
        if (options_.query_timeout.count() > 0) {  // otherwise resolv.conf's timeout and attempts
            o.timeout = static_cast<int>(options_.query_timeout.count());
            mask |= ARES_OPT_TIMEOUTMS;
        }
        if (options_.tries > 0) {
            o.tries = options_.tries;
            mask |= ARES_OPT_TRIES;
        }
        std::string lookups = options_.lookups;
        if (!lookups.empty()) {
            o.lookups = lookups.data();
            mask |= ARES_OPT_LOOKUPS;
        }
        if (int rc = ares_init_options(&channel_, &o, mask); rc != ARES_SUCCESS)
            throw std::runtime_error(std::string("c-ares: ") + ares_strerror(rc));
        if (!options_.servers.empty()) {
            std::string csv;
            for (const auto& s : options_.servers) csv += (csv.empty() ? "" : ",") + s;
            if (int rc = ares_set_servers_ports_csv(channel_, csv.c_str()); rc != ARES_SUCCESS) {
                close();
                throw std::runtime_error("c-ares: invalid DNS server list \"" + csv + "\": " + ares_strerror(rc));
            }
        }
    }

    // Ends every lookup and gives the sockets back to c-ares, which closes them.
    void close() {
        if (!channel_) return;
        error_code ignored;
        timer_.cancel();
        for (auto& [fd, w] : watches_) {
            w->closed = true;
            w->descriptor.cancel(ignored);
            w->descriptor.release();
        }
        watches_.clear();
        auto* ch = channel_;
        channel_ = nullptr;
        ares_destroy(ch);  // callbacks run with ARES_EDESTRUCTION
        for (auto& [host, p] : pending_)
            for (auto& w : p.waiters) w->complete(failure(ARES_EDESTRUCTION));
        pending_.clear();
    }

    void resolve(std::string host, std::shared_ptr<dns_wait> wait, dns_query type) {
        asio::dispatch(strand_, [self = shared_from_this(), host = std::move(host), wait = std::move(wait), type]() mutable {
            if (type == dns_query::address) self->resolve_on_strand(core::lower_ascii(host), std::move(wait));
            else self->records_on_strand(core::lower_ascii(host), type, std::move(wait));
        });
    }

    // When no lookup has a caller left (all abandoned: deadlines, clients gone), the queries
    // are dropped rather than left to run to c-ares' own timeout: a `probe` exits at once and
    // nothing is held for answers nobody reads. (c-ares 1.18 cancels all queries or none.)
    void sweep() {
        asio::dispatch(strand_, [self = shared_from_this()] {
            if (!self->channel_ || self->pending_.empty()) return;
            for (const auto& [host, p] : self->pending_)
                for (const auto& w : p.waiters)
                    if (!w->done()) return;
            ares_cancel(self->channel_);  // the callbacks run now, with ARES_ECANCELLED
            self->arm_timer();
        });
    }

    void clear_cache() {
        asio::dispatch(strand_, [self = shared_from_this()] {
            self->cache_.clear();
            self->lru_.clear();
        });
    }

private:
    struct watch {
        explicit watch(const asio::strand<asio::any_io_executor>& s, int fd) : descriptor(s, fd) {}
        asio::posix::stream_descriptor descriptor;
        bool want_read = false, want_write = false;
        bool reading = false, writing = false;
        bool closed = false;
    };

    struct cache_entry {
        std::vector<asio::ip::address> addresses;
        std::chrono::steady_clock::time_point expires;
        std::list<std::string>::iterator position;
    };

    struct lookup {
        std::vector<std::shared_ptr<dns_wait>> waiters;
    };

    struct query_context {
        std::weak_ptr<dns_core> core;
        std::string host;
    };

    void resolve_on_strand(std::string host, std::shared_ptr<dns_wait> wait) {
        if (wait->done()) return;
        if (!channel_) {
            wait->complete(failure(ARES_EDESTRUCTION));
            return;
        }
        if (auto hit = cache_.find(host); hit != cache_.end()) {
            if (hit->second.expires > std::chrono::steady_clock::now()) {
                lru_.splice(lru_.begin(), lru_, hit->second.position);
                dns_answer a;
                a.status = dns_status::ok;
                a.addresses = hit->second.addresses;
                a.cached = true;
                wait->complete(std::move(a));
                return;
            }
            lru_.erase(hit->second.position);
            cache_.erase(hit);
        }
        if (!admit(host, wait)) return;
        ares_addrinfo_hints hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        auto* ctx = new query_context{weak_from_this(), host};
        ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &dns_core::answered, ctx);
        arm_timer();
    }

    // Lookups of one key started together share one query: joins the one in flight, or refuses
    // past max_lookups (nothing queues unbounded). True: the caller starts the query.
    bool admit(const std::string& key, std::shared_ptr<dns_wait>& wait) {
        if (auto p = pending_.find(key); p != pending_.end()) {
            auto& ws = p->second.waiters;
            ws.erase(std::remove_if(ws.begin(), ws.end(), [](const auto& w) { return w->done(); }), ws.end());
            ws.push_back(std::move(wait));
            return false;
        }
        if (pending_.size() >= options_.max_lookups) {
            dns_answer a;
            a.status = dns_status::overloaded;
            a.detail = "too many lookups in flight";
            wait->complete(std::move(a));
            return false;
        }
        pending_[key].waiters.push_back(std::move(wait));
        return true;
    }

    // SRV or MX: never cached (asked only after a failed test); lookups of one name and type
    // in flight together share one query, keyed apart from the address lookups.
    void records_on_strand(std::string name, dns_query type, std::shared_ptr<dns_wait> wait) {
        if (wait->done()) return;
        if (!channel_) {
            wait->complete(failure(ARES_EDESTRUCTION));
            return;
        }
        std::string key = (type == dns_query::srv ? "SRV " : "MX ") + name;
        // Asked after failures, often when DNS itself is failing: they may hold an eighth of
        // max_lookups, so the address lookups of new tests always have room.
        if (!pending_.contains(key) && records_pending_ >= std::max<std::size_t>(1, options_.max_lookups / 8)) {
            dns_answer a;
            a.status = dns_status::overloaded;
            a.detail = "too many record lookups in flight";
            wait->complete(std::move(a));
            return;
        }
        if (!admit(key, wait)) return;
        auto* ctx = new query_context{weak_from_this(), key};
        // ares_query, not ares_search: the name as given, never with resolv.conf's search
        // domains (with ndots:5 those came first, and a wildcard there answered for them).
        ++records_pending_;
        ares_query(channel_, name.c_str(), 1 /* IN */, type == dns_query::srv ? 33 : 15, &dns_core::records_answered, ctx);
        arm_timer();
    }

    static void records_answered(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
        std::unique_ptr<query_context> ctx(static_cast<query_context*>(arg));
        auto self = ctx->core.lock();
        if (!self) return;
        --self->records_pending_;
        auto p = self->pending_.find(ctx->host);
        if (p == self->pending_.end()) return;  // closed meanwhile
        auto waiters = std::move(p->second.waiters);
        self->pending_.erase(p);
        dns_answer a = status == ARES_SUCCESS ? parse_records(ctx->host.starts_with("SRV "), abuf, alen) : failure(status);
        if (a.status == dns_status::no_address) a.detail = "the name has no such record";
        for (std::size_t i = 0; i < waiters.size(); ++i)
            waiters[i]->complete(i + 1 == waiters.size() ? std::move(a) : a);
    }

    static dns_answer parse_records(bool srv, const unsigned char* abuf, int alen) {
        dns_answer a;
        // A target becomes part of a URI: only a host name (letters, digits, '-', '.') counts.
        auto name_of = [](const char* host) {
            std::string n = core::lower_ascii(host ? host : "");
            while (!n.empty() && n.back() == '.') n.pop_back();
            if (n.size() > 253 || n.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") != std::string::npos)
                return std::string();
            return n;
        };
        if (srv) {
            ares_srv_reply* list = nullptr;
            if (int rc = ares_parse_srv_reply(abuf, alen, &list); rc != ARES_SUCCESS) return failure(rc);
            for (auto* r = list; r; r = r->next)
                if (auto n = name_of(r->host); !n.empty()) a.records.push_back({n, r->port, r->priority, r->weight});
            ares_free_data(list);
        } else {
            ares_mx_reply* list = nullptr;
            if (int rc = ares_parse_mx_reply(abuf, alen, &list); rc != ARES_SUCCESS) return failure(rc);
            for (auto* r = list; r; r = r->next)
                if (auto n = name_of(r->host); !n.empty()) a.records.push_back({n, 0, r->priority, 0});
            ares_free_data(list);
        }
        std::stable_sort(a.records.begin(), a.records.end(), [](const dns_record& x, const dns_record& y) {
            return x.priority != y.priority ? x.priority < y.priority : x.weight > y.weight;
        });
        if (a.records.empty()) return failure(ARES_ENODATA);
        a.status = dns_status::ok;
        return a;
    }

    static void answered(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
        std::unique_ptr<query_context> ctx(static_cast<query_context*>(arg));
        std::unique_ptr<ares_addrinfo, decltype(&ares_freeaddrinfo)> info(result, &ares_freeaddrinfo);
        auto self = ctx->core.lock();
        if (!self) return;
        self->finish(ctx->host, status, info.get());
    }

    void finish(const std::string& host, int status, const ares_addrinfo* info) {
        auto p = pending_.find(host);
        if (p == pending_.end()) return;  // closed meanwhile
        auto waiters = std::move(p->second.waiters);
        pending_.erase(p);

        dns_answer a;
        int ttl = -1;
        if (status == ARES_SUCCESS && info) {
            for (const auto* n = info->nodes; n; n = n->ai_next) {
                if (n->ai_family == AF_INET && n->ai_addrlen >= sizeof(sockaddr_in)) {
                    const auto* sin = reinterpret_cast<const sockaddr_in*>(n->ai_addr);
                    a.addresses.emplace_back(asio::ip::address_v4(ntohl(sin->sin_addr.s_addr)));
                } else if (n->ai_family == AF_INET6 && n->ai_addrlen >= sizeof(sockaddr_in6)) {
                    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(n->ai_addr);
                    asio::ip::address_v6::bytes_type b;
                    std::copy(sin6->sin6_addr.s6_addr, sin6->sin6_addr.s6_addr + 16, b.begin());
                    a.addresses.emplace_back(asio::ip::address_v6(b));
                } else {
                    continue;
                }
                ttl = ttl < 0 ? n->ai_ttl : std::min(ttl, n->ai_ttl);
            }
            if (a.addresses.empty()) {
                a = failure(ARES_ENODATA);
            } else {
                a.status = dns_status::ok;
            }
        } else {
            a = failure(status);
        }

        // Answers from /etc/hosts come with TTL 0: they are cheap to read again, not cached.
        if (a.status == dns_status::ok && ttl > 0 && options_.cache_entries > 0)
            remember(host, a.addresses, std::min<std::chrono::seconds>(std::chrono::seconds(ttl), options_.max_ttl));

        for (std::size_t i = 0; i < waiters.size(); ++i)
            waiters[i]->complete(i + 1 == waiters.size() ? std::move(a) : a);
    }

    void remember(const std::string& host, const std::vector<asio::ip::address>& addresses, std::chrono::seconds ttl) {
        auto expires = std::chrono::steady_clock::now() + ttl;
        if (auto hit = cache_.find(host); hit != cache_.end()) {
            hit->second.addresses = addresses;
            hit->second.expires = expires;
            lru_.splice(lru_.begin(), lru_, hit->second.position);
            return;
        }
        while (cache_.size() >= options_.cache_entries && !lru_.empty()) {
            cache_.erase(lru_.back());
            lru_.pop_back();
        }
        lru_.push_front(host);
        cache_.emplace(host, cache_entry{addresses, expires, lru_.begin()});
    }

    // c-ares opened, changed or is closing one of its sockets.
    static void socket_state(void* data, ares_socket_t fd, int readable, int writable) {
        static_cast<dns_core*>(data)->socket_changed(fd, readable != 0, writable != 0);
    }

    void socket_changed(int fd, bool readable, bool writable) {
        auto it = watches_.find(fd);
        if (!readable && !writable) {  // closing: hand the descriptor back before c-ares closes it
            if (it == watches_.end()) return;
            error_code ignored;
            it->second->closed = true;
            it->second->descriptor.cancel(ignored);
            it->second->descriptor.release();
            watches_.erase(it);
            return;
        }
        if (it == watches_.end()) it = watches_.emplace(fd, std::make_shared<watch>(strand_, fd)).first;
        it->second->want_read = readable;
        it->second->want_write = writable;
        start_waits(fd, it->second);
    }

    void start_waits(int fd, const std::shared_ptr<watch>& w) {
        if (w->want_read && !w->reading) {
            w->reading = true;
            w->descriptor.async_wait(asio::posix::descriptor_base::wait_read,
                                     [weak = weak_from_this(), w, fd](error_code ec) {
                                         w->reading = false;
                                         auto self = weak.lock();
                                         if (!self || w->closed || ec) return;
                                         self->process(fd, ARES_SOCKET_BAD, w);
                                     });
        }
        if (w->want_write && !w->writing) {
            w->writing = true;
            w->descriptor.async_wait(asio::posix::descriptor_base::wait_write,
                                     [weak = weak_from_this(), w, fd](error_code ec) {
                                         w->writing = false;
                                         auto self = weak.lock();
                                         if (!self || w->closed || ec) return;
                                         self->process(ARES_SOCKET_BAD, fd, w);
                                     });
        }
    }

    void process(ares_socket_t read_fd, ares_socket_t write_fd, const std::shared_ptr<watch>& w) {
        if (!channel_) return;
        ares_process_fd(channel_, read_fd, write_fd);
        // c-ares read until EAGAIN; wait again unless it closed the socket meanwhile.
        if (!w->closed) start_waits(read_fd != ARES_SOCKET_BAD ? read_fd : write_fd, w);
        arm_timer();
    }

    void arm_timer() {
        if (!channel_) return;
        timeval tv{};
        if (!ares_timeout(channel_, nullptr, &tv)) {
            if (timer_armed_) timer_.cancel();
            timer_armed_ = false;
            return;
        }
        auto due = std::chrono::steady_clock::now() + std::chrono::seconds(tv.tv_sec) +
                   std::chrono::microseconds(tv.tv_usec);
        // Re-armed only when c-ares wants to be woken earlier than already planned.
        if (timer_armed_ && timer_.expiry() <= due) return;
        timer_armed_ = true;
        timer_.expires_at(due);
        timer_.async_wait([weak = weak_from_this()](error_code ec) {
            auto self = weak.lock();
            if (!self || ec) return;
            self->timer_armed_ = false;
            if (!self->channel_) return;
            // Asio's waits do not look at readiness that came while none was queued (epoll is
            // edge-triggered, waits are never speculative). With one thread none is missed:
            // each wait is queued again in the handler that drained its socket. With several,
            // another thread may take an edge in between; reading every socket here, before
            // c-ares retries, picks up such an answer at the next timeout at the latest.
            std::vector<int> readable;
            for (const auto& [fd, w] : self->watches_)
                if (w->want_read) readable.push_back(fd);
            for (int fd : readable)
                if (self->channel_ && self->watches_.contains(fd)) ares_process_fd(self->channel_, fd, ARES_SOCKET_BAD);
            if (self->channel_) ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            self->arm_timer();
        });
    }

    asio::strand<asio::any_io_executor> strand_;
    asio::steady_timer timer_;
    bool timer_armed_ = false;
    dns_options options_;
    ares_channel channel_ = nullptr;
    std::unordered_map<int, std::shared_ptr<watch>> watches_;
    std::unordered_map<std::string, lookup> pending_;
    std::size_t records_pending_ = 0;  ///< SRV and MX queries in flight
    std::unordered_map<std::string, cache_entry> cache_;
    std::list<std::string> lru_;
};

void dns_wait::abandon() {
    if (done()) return;
    dns_answer a;
    a.status = dns_status::cancelled;
    a.detail = "the lookup was abandoned";
    complete(std::move(a));
    if (auto c = core.lock()) c->sweep();
}

}  // namespace detail

dns_resolver::dns_resolver(asio::any_io_executor executor, dns_options options)
    : executor_(executor), core_(std::make_shared<detail::dns_core>(std::move(executor), std::move(options))) {
    core_->open();
}

dns_resolver::~dns_resolver() {
    if (core_) core_->close();
}

void dns_resolver::start(std::string host, std::shared_ptr<detail::dns_wait> wait, dns_query type) {
    wait->core = core_;
    core_->resolve(std::move(host), std::move(wait), type);
}

void dns_resolver::clear_cache() { core_->clear_cache(); }

namespace {

// The execution context's resolver, destroyed when the context shuts down.
class dns_service : public asio::execution_context::service {
public:
    static inline asio::execution_context::id id;
    explicit dns_service(asio::execution_context& ctx) : asio::execution_context::service(ctx) {}

    dns_resolver& get(const asio::any_io_executor& ex, const dns_options& options) {
        std::lock_guard lock(mutex_);
        if (!resolver_) resolver_ = std::make_unique<dns_resolver>(ex, options);
        return *resolver_;
    }

private:
    void shutdown() override {
        std::lock_guard lock(mutex_);
        resolver_.reset();
    }
    std::mutex mutex_;
    std::unique_ptr<dns_resolver> resolver_;
};

}  // namespace

dns_resolver& dns_resolver::of(const asio::any_io_executor& executor, const dns_options& options) {
    auto& ctx = asio::query(executor, asio::execution::context);
    // The context's own executor when it is an io_context: `executor` may be one test's strand,
    // which the resolver's strand must not be tied to.
    asio::any_io_executor base = executor;
    if (const auto* s = executor.target<asio::strand<asio::any_io_executor>>())
        base = s->get_inner_executor();
    else if (const auto* s2 = executor.target<asio::strand<asio::io_context::executor_type>>())
        base = s2->get_inner_executor();
    return asio::use_service<dns_service>(ctx).get(base, options);
}

}  // namespace smtpcheck::smtp
