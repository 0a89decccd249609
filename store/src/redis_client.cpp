// The Redis connection: Asio for the socket (TCP or unix) on a strand of the server's
// executor, hiredis for the protocol only (redisFormatCommandArgv writes a command,
// redisReader parses replies). No hiredis context owns the socket, so none of the async
// adapter's hazards (a descriptor closed under Asio, a context freed inside its callback)
// can arise.
#include "smtpcheck/store/redis_client.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/url/parse.hpp>

#include <hiredis/hiredis.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <stdexcept>

namespace smtpcheck::store {

namespace asio = boost::asio;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// --- the URL ------------------------------------------------------------------------------

redis_address parse_redis_url(const std::string& url) {
    redis_address a;
    if (url.starts_with("unix:")) {
        a.socket_path = url.substr(5);
        if (a.socket_path.empty() || a.socket_path.front() != '/' || a.socket_path.size() > 100)
            throw std::invalid_argument("unix:/path with an absolute path of at most 100 bytes");
        a.text = url;
        return a;
    }
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u) throw std::invalid_argument("redis://host:port[/db], rediss://host:port[/db] or unix:/path");
    a.tls = u->scheme() == "rediss";
    if (u->scheme() != "redis" && !a.tls)
        throw std::invalid_argument("redis://host:port[/db], rediss://host:port[/db] or unix:/path");
    if (!u->has_authority() || u->host().empty()) throw std::invalid_argument("redis:// needs a host");
    if (u->has_query() || u->has_fragment()) throw std::invalid_argument("redis:// takes no query or fragment");
    a.host = u->host_type() == boost::urls::host_type::ipv6 ? u->host_address() : u->host();
    a.tls_name = a.host;  // localhost stays localhost for the certificate
    // Numeric, as for server.listen: a name would need a resolver whose wait no timeout ends.
    if (u->host_type() == boost::urls::host_type::name) {
        if (a.host != "localhost") throw std::invalid_argument("redis:// takes a numeric address (or localhost), such as redis://10.0.0.5:6379");
        a.host = "127.0.0.1";
    }
    if (u->has_port()) {
        if (u->port_number() == 0) throw std::invalid_argument("a port from 1 to 65535");
        a.port = std::to_string(u->port_number());
    }
    if (u->has_userinfo()) {
        a.user = u->user();
        a.password = u->password();
    }
    std::string path = u->path();
    if (!path.empty() && path != "/") {
        const auto db = path.substr(1);
        if (db.empty() || db.size() > 2 || db.find_first_not_of("0123456789") != std::string::npos)
            throw std::invalid_argument("the database is a number, as in redis://host:6379/0");
        a.database = static_cast<unsigned>(std::stoul(db));
    }
    // For messages: the address without the password.
    a.text = std::string(a.tls ? "rediss://" : "redis://") + (a.user.empty() ? std::string() : a.user + "@") +
             (u->host_type() == boost::urls::host_type::ipv6 ? "[" + a.host + "]" : a.host) + ":" + a.port +
             (a.database ? "/" + std::to_string(a.database) : "");
    return a;
}

// --- errors -------------------------------------------------------------------------------

namespace {
struct category : boost::system::error_category {
    const char* name() const noexcept override { return "redis"; }
    std::string message(int e) const override {
        switch (static_cast<redis_errc>(e)) {
        case redis_errc::unavailable: return "not connected";
        case redis_errc::timeout: return "no reply in time";
        case redis_errc::connection_lost: return "the connection was lost";
        case redis_errc::server_error: return "an error reply";
        }
        return "redis error";
    }
};
}  // namespace

const boost::system::error_category& redis_category() {
    static const category c;
    return c;
}
boost::system::error_code make_error_code(redis_errc e) { return {static_cast<int>(e), redis_category()}; }

// --- the connection -----------------------------------------------------------------------

namespace {

redis_reply copy_reply(const redisReply& r) {
    redis_reply out;
    switch (r.type) {
    case REDIS_REPLY_STRING: out.type = redis_reply::kind::string; break;
    case REDIS_REPLY_STATUS: out.type = redis_reply::kind::status; break;
    case REDIS_REPLY_ERROR: out.type = redis_reply::kind::error; break;
    case REDIS_REPLY_INTEGER: out.type = redis_reply::kind::integer; break;
    case REDIS_REPLY_ARRAY: out.type = redis_reply::kind::array; break;
    default: out.type = redis_reply::kind::nil; break;
    }
    if (r.type == REDIS_REPLY_INTEGER) out.integer = r.integer;
    if (r.str) out.text.assign(r.str, r.len);
    if (r.type == REDIS_REPLY_ARRAY)
        for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(copy_reply(*r.element[i]));
    return out;
}

struct reader_deleter {
    void operator()(redisReader* r) const { redisReaderFree(r); }
};

}  // namespace

struct redis_client::impl : std::enable_shared_from_this<impl> {
    // One command: the caller waits on `timer` (on the caller's executor) until the reply
    // cancels it or command_timeout ends it.
    struct op {
        explicit op(asio::any_io_executor ex) : timer(std::move(ex)) {}
        asio::steady_timer timer;
        std::atomic<bool> done{false};
        boost::system::error_code error;
        redis_reply reply;
    };

    impl(asio::any_io_executor ex, redis_settings s)
        : strand(asio::make_strand(ex)), settings(std::move(s)), address(parse_redis_url(settings.url)),
          tls_context(address.tls ? make_tls_context(settings.tls_ca_file) : nullptr),
          socket(strand), retry_timer(strand), connect_timer(strand), heartbeat_timer(strand), ended(strand) {}

    // rediss://: the system's CAs and tls_ca_file, TLS 1.2 at least, the peer verified.
    static std::shared_ptr<asio::ssl::context> make_tls_context(const std::string& ca_file) {
        auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
        ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        boost::system::error_code ec;
        ctx->set_default_verify_paths(ec);
        if (!ca_file.empty()) {
            ctx->load_verify_file(ca_file, ec);
            if (ec) throw std::invalid_argument("store.tls_ca_file " + ca_file + ": " + ec.message());
        }
        ctx->set_verify_mode(asio::ssl::verify_peer);
        return ctx;
    }

    asio::strand<asio::any_io_executor> strand;
    const redis_settings settings;
    const redis_address address;
    const std::shared_ptr<asio::ssl::context> tls_context;  // rediss:// only
    asio::generic::stream_protocol::socket socket;
    // rediss://: the connection's TLS, over the socket moved into it once connected.
    std::optional<asio::ssl::stream<asio::generic::stream_protocol::socket>> tls;
    asio::generic::stream_protocol::socket& lowest() { return tls ? tls->next_layer() : socket; }
    asio::steady_timer retry_timer, connect_timer, heartbeat_timer, ended;
    std::unique_ptr<redisReader, reader_deleter> reader;
    std::string out, writing;
    bool write_pending = false;
    bool open = false;   // connected: the handshake's commands may go out
    bool ready = false;  // handshake done: every command may go out
    bool stopped = false;
    unsigned generation = 0;  // of the connection, so that a late handler of an old one does nothing
    boost::system::error_code end_error;
    std::string end_detail;
    std::deque<std::shared_ptr<op>> inflight;
    mutable std::mutex reason_mutex;
    std::optional<std::string> reason{"not connected yet"};

    void set_reason(std::optional<std::string> r) {
        std::lock_guard lock(reason_mutex);
        reason = std::move(r);
    }

    static void complete(const std::shared_ptr<op>& o, boost::system::error_code ec, redis_reply r = {}) {
        if (o->done.load(std::memory_order_acquire)) return;
        o->error = ec;
        o->reply = std::move(r);
        o->done.store(true, std::memory_order_release);
        asio::post(o->timer.get_executor(), [o] { o->timer.cancel(); });
    }

    // On the strand.
    void enqueue(const std::shared_ptr<op>& o, const std::vector<std::string>& args, bool handshake) {
        if (stopped || !open || (!ready && !handshake)) return complete(o, redis_errc::unavailable);
        std::vector<const char*> argv;
        std::vector<std::size_t> lengths;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lengths.push_back(a.size());
        }
        char* cmd = nullptr;
        const int n = redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), argv.data(), lengths.data());
        if (n < 0 || !cmd) return complete(o, redis_errc::unavailable);
        out.append(cmd, static_cast<std::size_t>(n));
        redisFreeCommand(cmd);
        inflight.push_back(o);
        kick_write();
    }

    void kick_write() {
        if (write_pending || out.empty() || !open) return;
        writing.swap(out);
        write_pending = true;
        auto written = asio::bind_executor(
            strand, [self = shared_from_this(), gen = generation](boost::system::error_code ec, std::size_t) {
                self->write_pending = false;
                self->writing.clear();
                if (gen == self->generation && ec) return self->close_connection(ec);
                self->kick_write();
            });
        if (tls) asio::async_write(*tls, asio::buffer(writing), std::move(written));
        else asio::async_write(socket, asio::buffer(writing), std::move(written));
    }

    // Ends the connection (once per connection): every command sent on it fails.
    void close_connection(boost::system::error_code ec, std::string detail = {}) {
        if (!open) return;
        open = ready = false;
        end_error = ec;
        end_detail = std::move(detail);
        set_reason(stopped ? "redis client stopped" : describe(end_error, end_detail));
        boost::system::error_code ignored;
        lowest().close(ignored);
        out.clear();
        auto lost = std::move(inflight);
        inflight.clear();
        for (auto& o : lost) complete(o, redis_errc::connection_lost);
        heartbeat_timer.cancel();
        ended.expires_at(asio::steady_timer::time_point::min());  // a wait now or later ends at once
    }

    // A command whose caller stopped waiting: its connection is late, and replies come in
    // order, so the connection cannot be trusted any more.
    void timed_out(const std::shared_ptr<op>& o) {
        for (auto& i : inflight)
            if (i == o) return close_connection(redis_errc::timeout);
    }

    // The caller's executor must be a strand or run by one thread (the timer's cancel is
    // posted to it): every connection of http_server is one or the other.
    asio::awaitable<result> command(std::vector<std::string> args, bool handshake) {
        auto self = shared_from_this();
        auto o = std::make_shared<op>(co_await asio::this_coro::executor);
        o->timer.expires_after(settings.command_timeout);
        asio::dispatch(strand, [self, o, args = std::move(args), handshake] { self->enqueue(o, args, handshake); });
        boost::system::error_code ec;
        if (!o->done.load(std::memory_order_acquire)) std::tie(ec) = co_await o->timer.async_wait(use_tuple);
        if (o->done.load(std::memory_order_acquire)) co_return result{o->error, std::move(o->reply)};
        // The caller was cancelled (a client gone, the drain): its reply is dropped when it
        // comes, in order; the connection is not to blame.
        if (ec == asio::error::operation_aborted) co_return result{ec, {}};
        asio::dispatch(strand, [self, o] { self->timed_out(o); });
        co_return result{redis_errc::timeout, {}};
    }

    // On the strand, for the connection `gen`: replies in order to the commands in flight.
    asio::awaitable<void> read_loop(unsigned gen) {
        std::array<char, 16384> buffer;
        for (;;) {
            boost::system::error_code ec;
            std::size_t n = 0;
            if (tls) std::tie(ec, n) = co_await tls->async_read_some(asio::buffer(buffer), use_tuple);
            else std::tie(ec, n) = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
            if (gen != generation) co_return;
            // A TLS connection the server ended with or without close_notify is lost like any other.
            if (ec == asio::ssl::error::stream_truncated) ec = asio::error::eof;
            if (ec) co_return close_connection(ec == asio::error::eof ? make_error_code(redis_errc::connection_lost) : ec);
            if (redisReaderFeed(reader.get(), buffer.data(), n) != REDIS_OK)
                co_return close_connection(redis_errc::connection_lost, "a reply that is not RESP");
            for (;;) {
                void* raw = nullptr;
                if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK)
                    co_return close_connection(redis_errc::connection_lost, "a reply that is not RESP");
                if (!raw) break;
                auto reply = copy_reply(*static_cast<redisReply*>(raw));
                freeReplyObject(raw);
                if (inflight.empty()) co_return close_connection(redis_errc::connection_lost, "a reply to no command");
                auto o = std::move(inflight.front());
                inflight.pop_front();
                const bool error = reply.type == redis_reply::kind::error;
                complete(o, error ? make_error_code(redis_errc::server_error) : boost::system::error_code{},
                         std::move(reply));
            }
        }
    }

    // Connects within connect_timeout; the socket is closed when it runs out.
    asio::awaitable<boost::system::error_code> connect() {
        ++generation;
        reader.reset(redisReaderCreate());
        tls.reset();
        socket = asio::generic::stream_protocol::socket(strand);
        // expired: the timer closed the socket; finished: the connect ended first (the timer's
        // handler may already be queued when it is cancelled).
        auto expired = std::make_shared<bool>(false), finished = std::make_shared<bool>(false);
        connect_timer.expires_after(settings.connect_timeout);
        connect_timer.async_wait([this, expired, finished, self = shared_from_this()](boost::system::error_code ec) {
            if (ec || *finished) return;
            *expired = true;
            boost::system::error_code ignored;
            lowest().close(ignored);  // the TCP connect, or the TLS handshake over it
        });
        boost::system::error_code ec;
        if (!address.socket_path.empty()) {
            std::tie(ec) = co_await socket.async_connect(
                asio::generic::stream_protocol::endpoint(asio::local::stream_protocol::endpoint(address.socket_path)),
                use_tuple);
        } else {
            // A numeric host (parse_redis_url): no resolver, whose getaddrinfo no timeout can end.
            const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(address.host),
                                                   static_cast<unsigned short>(std::stoul(address.port)));
            std::tie(ec) = co_await socket.async_connect(asio::generic::stream_protocol::endpoint(endpoint), use_tuple);
            boost::system::error_code ignored;
            if (!ec) socket.set_option(asio::ip::tcp::no_delay(true), ignored);
            if (!ec && address.tls && !*expired) {  // within the same connect_timeout
                tls.emplace(std::move(socket), *tls_context);
                tls->set_verify_callback(asio::ssl::host_name_verification(address.tls_name));
                boost::system::error_code parse;
                (void)asio::ip::make_address(address.tls_name, parse);
                if (parse) SSL_set_tlsext_host_name(tls->native_handle(), address.tls_name.c_str());  // SNI: names only
                std::tie(ec) = co_await tls->async_handshake(asio::ssl::stream_base::client, use_tuple);
            }
        }
        *finished = true;
        connect_timer.cancel();
        if (*expired) co_return make_error_code(redis_errc::timeout);
        if (!ec && stopped) co_return make_error_code(asio::error::operation_aborted);
        co_return ec;
    }

    // AUTH and SELECT as the URL asks, then a PING.
    asio::awaitable<std::pair<boost::system::error_code, std::string>> handshake() {
        std::vector<std::vector<std::string>> steps;
        if (!address.password.empty()) {
            if (address.user.empty()) steps.push_back({"AUTH", address.password});
            else steps.push_back({"AUTH", address.user, address.password});
        }
        if (address.database) steps.push_back({"SELECT", std::to_string(address.database)});
        steps.push_back({"PING"});
        for (auto& step : steps) {
            const std::string name = step.front();
            auto r = co_await command(std::move(step), true);
            if (r.error) co_return std::pair{r.error, name + (r.reply.text.empty() ? "" : ": " + r.reply.text)};
        }
        co_return std::pair{boost::system::error_code{}, std::string()};
    }

    asio::awaitable<void> heartbeat(unsigned gen) {
        for (;;) {
            heartbeat_timer.expires_after(settings.heartbeat);
            auto [ec] = co_await heartbeat_timer.async_wait(use_tuple);
            if (ec || gen != generation || !ready) co_return;
            if (!inflight.empty()) continue;  // a command is on its way: its timeout watches
            std::vector<std::string> ping{"PING"};  // named: GCC 12 and braced temporaries in co_await
            auto r = co_await command(std::move(ping), true);
            if (gen != generation) co_return;
            if (r.error) co_return close_connection(r.error);
        }
    }

    std::string describe(boost::system::error_code ec, const std::string& detail) const {
        return "redis at " + address.text + ": " + (detail.empty() ? ec.message() : detail + " (" + ec.message() + ")");
    }

    asio::awaitable<void> supervise() {
        auto backoff = std::chrono::milliseconds(100);
        while (!stopped) {
            ended.expires_at(asio::steady_timer::time_point::max());
            auto ec = co_await connect();
            if (stopped) break;
            if (!ec) {
                open = true;
                asio::co_spawn(strand, [self = shared_from_this(), gen = generation] { return self->read_loop(gen); },
                               asio::detached);
                auto [hec, what] = co_await handshake();
                if (hec) {
                    close_connection(hec, what);
                } else if (open) {
                    ready = true;
                    backoff = std::chrono::milliseconds(100);
                    set_reason(std::nullopt);
                    asio::co_spawn(strand, [self = shared_from_this(), gen = generation] { return self->heartbeat(gen); },
                                   asio::detached);
                }
                co_await ended.async_wait(use_tuple);
                ec = end_error;
                set_reason(describe(ec, end_detail));
            } else {
                set_reason(describe(ec, {}));
            }
            if (stopped) break;
            retry_timer.expires_after(backoff);
            co_await retry_timer.async_wait(use_tuple);
            backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        }
        set_reason("redis client stopped");
    }
};

std::shared_ptr<redis_client> redis_client::create(asio::any_io_executor executor, redis_settings settings) {
    return std::shared_ptr<redis_client>(new redis_client(std::make_shared<impl>(std::move(executor), std::move(settings))));
}

redis_client::~redis_client() { stop(); }

void redis_client::start() {
    asio::co_spawn(impl_->strand, [self = impl_] { return self->supervise(); }, asio::detached);
}

void redis_client::stop() {
    asio::dispatch(impl_->strand, [self = impl_] {
        self->stopped = true;
        self->close_connection(asio::error::operation_aborted);
        self->retry_timer.cancel();
        self->connect_timer.cancel();
        self->heartbeat_timer.cancel();
        self->ended.expires_at(asio::steady_timer::time_point::min());
        boost::system::error_code ignored;
        self->lowest().close(ignored);  // also a connect or TLS handshake in progress
    });
}

asio::awaitable<redis_client::result> redis_client::command(std::vector<std::string> args) {
    return impl_->command(std::move(args), false);
}

std::optional<std::string> redis_client::not_ready() const {
    std::lock_guard lock(impl_->reason_mutex);
    return impl_->reason;
}

const redis_address& redis_client::address() const { return impl_->address; }

}  // namespace smtpcheck::store
