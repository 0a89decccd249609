#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/server/http_server.hpp"
#include "smtpcheck/server/trusted_proxies.hpp"

#include "smtpcheck/auth/authenticator.hpp"
#include "smtpcheck/serialization/localization.hpp"
#include "smtpcheck/server/error_document.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/logger.h>

#include <atomic>
#include <charconv>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <random>
#include <unordered_map>

namespace smtpcheck::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using local_protocol = asio::local::stream_protocol;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// A connection as the server's shutdown sees it: something it can ask to close.
struct connection_base : std::enable_shared_from_this<connection_base> {
    virtual ~connection_base() = default;
    /// Posts a close to the connection's strand; with only_if_idle, a connection that is
    /// inside a request is left to finish it, otherwise its handler is cancelled too.
    virtual void post_close(bool only_if_idle) = 0;
    /// Bound to the connection's coroutine: a terminal cancellation reaches whatever the
    /// request's handler is waiting for.
    asio::cancellation_signal cancel;
    auth::remembered_credential remembered;  ///< see request_context::remembered
    char peek_byte = 0;  ///< where the disconnect watch peeks
    /// No request in progress: written by the connection, read by the shutdown and by
    /// busy_connections() on other threads.
    std::atomic<bool> idle{true};
};

template <class Stream>
struct connection final : connection_base {
    explicit connection(Stream s) : stream(std::move(s)) {}
    Stream stream;

    void post_close(bool only_if_idle) override {
        auto self = std::static_pointer_cast<connection>(shared_from_this());
        asio::post(stream.get_executor(), [self, only_if_idle] {
            if (only_if_idle && !self->idle.load(std::memory_order_relaxed)) return;
            error_code ignored;
            beast::get_lowest_layer(self->stream).socket().close(ignored);
            if (!only_if_idle) self->cancel.emit(asio::cancellation_type::terminal);
        });
    }
};

using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using unix_stream = beast::basic_stream<local_protocol>;

template <class Stream>
constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

// RFC 9110 IMF-fixdate, rebuilt at most once a second.
class date_header {
public:
    std::string_view now() {
        std::time_t t = std::time(nullptr);
        if (t != second_) {
            second_ = t;
            std::tm tm{};
            gmtime_r(&t, &tm);
            len_ = std::strftime(text_, sizeof text_, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        }
        return {text_, len_};
    }

private:
    std::time_t second_ = -1;
    char text_[40]{};
    std::size_t len_ = 0;
};

void append_number(std::string& out, std::uint64_t n) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    out.append(digits, end);
}

// The status line and headers from prepared pieces; no Beast serializer, no field container.
void serialize(std::string& out, const response& r, std::string_view date, std::string_view request_id,
               bool keep_alive, bool head) {
    out.clear();
    out += "HTTP/1.1 ";
    append_number(out, static_cast<unsigned>(r.status));
    out += ' ';
    auto reason = http::obsolete_reason(r.status);
    out.append(reason.data(), reason.size());
    out += "\r\nDate: ";
    out += date;
    if (!r.content_type.empty()) {
        out += "\r\nContent-Type: ";
        out += r.content_type;
    }
    // RFC 9110 8.6: never on 204; on 304 only the 200's length, which is not at hand here.
    if (r.status != http::status::no_content && r.status != http::status::not_modified) {
        out += "\r\nContent-Length: ";
        append_number(out, r.body.size());
    }
    out += "\r\nX-Request-Id: ";
    out += request_id;
    for (const auto& [name, value] : r.headers) {
        out += "\r\n";
        out += name;
        out += ": ";
        out += value;
    }
    out += keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
    if (!head) out += r.body;
}

// Client-chosen ids are echoed only when they cannot smuggle anything into headers or logs.
bool sane_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (unsigned char c : id)
        if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':')) return false;
    return true;
}

// The target as the access log shows it: the path and the names of query parameters, never
// their values (a query could carry a token).
std::string loggable_target(std::string_view target) {
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) return "(malformed target)";
    std::string out(parsed->encoded_path());
    char sep = '?';
    for (auto p : parsed->encoded_params()) {
        out += sep;
        out += p.key;
        sep = '&';
    }
    return out;
}

bool is_resource_exhaustion(const error_code& ec) {
    return ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
           ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

header_facts read_header(const request_header& h) {
    header_facts f;
    auto first = [](std::string_view& slot, std::string_view value) {
        if (slot.data() == nullptr) slot = value;
    };
    std::size_t content_lengths = 0, transfer_encodings = 0;
    std::string_view content_length, te;
    for (const auto& field : h) {
        const auto value = field.value();
        switch (field.name()) {
        case http::field::accept: first(f.accept, value); break;
        case http::field::accept_language: first(f.accept_language, value); break;
        case http::field::content_type: first(f.content_type, value); break;
        case http::field::expect: first(f.expect, value); break;
        case http::field::origin: first(f.origin, value); break;
        case http::field::authorization: first(f.credentials.authorization, value); break;
        case http::field::cookie: first(f.credentials.cookie, value); break;
        case http::field::content_length:
            ++content_lengths;
            content_length = value;
            if (value.find(',') != std::string_view::npos) f.framing_problem = "a list in Content-Length";
            break;
        case http::field::transfer_encoding:
            ++transfer_encodings;
            te = value;
            break;
        case http::field::unknown: {
            const auto name = field.name_string();
            if (core::iequals_ascii(name, "SO-Language")) first(f.so_language, value);
            else if (core::iequals_ascii(name, "SO-Culture")) first(f.so_culture, value);
            else if (core::iequals_ascii(name, "SO-TimeZone")) first(f.so_timezone, value);
            else if (core::iequals_ascii(name, "SO-AppToken")) first(f.credentials.app_token, value);
            else if (core::iequals_ascii(name, "X-XSRF-TOKEN")) first(f.credentials.xsrf_token, value);
            else if (core::iequals_ascii(name, "X-Request-Id")) first(f.request_id, value);
            else if (core::iequals_ascii(name, "X-Requested-With")) f.from_script = core::iequals_ascii(value, "XMLHttpRequest");
            break;
        }
        default: break;
        }
    }
    f.has_body = transfer_encodings > 0 || (content_lengths > 0 && content_length != "0");
    if (!f.framing_problem.empty()) return f;
    if (content_lengths > 1) f.framing_problem = "more than one Content-Length";
    else if (transfer_encodings > 1) f.framing_problem = "more than one Transfer-Encoding";
    else if (content_lengths && transfer_encodings) f.framing_problem = "both Content-Length and Transfer-Encoding";
    else if (transfer_encodings) {
        while (!te.empty() && (te.back() == ' ' || te.back() == '\t')) te.remove_suffix(1);
        auto last = te.substr(te.find_last_of(", \t") == std::string_view::npos ? 0 : te.find_last_of(", \t") + 1);
        if (!core::iequals_ascii(last, "chunked")) f.framing_problem = "a Transfer-Encoding that does not end in chunked";
    }
    return f;
}

serialization::media_type request_context::media() {
    if (!media_) media_ = header ? serialization::negotiate(header->accept) : serialization::media_type::json;
    return *media_;
}

const serialization::language_choice& request_context::language() {
    if (!language_)
        language_ = header ? serialization::choose_language(header->so_language, header->accept_language,
                                                            header->so_culture, default_language)
                           : serialization::choose_language({}, {}, {}, default_language);
    return *language_;
}

struct tcp_listener {
    tcp::acceptor acceptor;
    bool tls;
};
struct unix_listener {
    local_protocol::acceptor acceptor;
    std::string path;
};

struct http_server::impl : std::enable_shared_from_this<impl> {
    impl(asio::any_io_executor ex, config c, router r, std::shared_ptr<spdlog::logger> l, std::shared_ptr<metrics> m)
        : counters(m ? std::move(m) : std::make_shared<metrics>()),
          executor(std::move(ex)),
          strand(asio::make_strand(executor)),
          cfg(std::move(c)),
          routes(std::move(r)),
          log(std::move(l)),
          done_timer(strand, asio::steady_timer::time_point::max()),
          grace_timer(strand) {
        single_threaded = cfg.server.threads == 1;
        std::random_device rd;
        char prefix[16];
        std::snprintf(prefix, sizeof prefix, "%08x-", static_cast<unsigned>(rd()));
        request_id_prefix = prefix;
    }

    std::shared_ptr<metrics> counters;
    asio::any_io_executor executor;
    asio::strand<asio::any_io_executor> strand;  // listeners and the shutdown sequence
    bool single_threaded = false;                // server.threads == 1: no strand per connection
    config cfg;
    router routes;
    trusted_proxies proxies{cfg.server.trusted_proxies};  // whose X-Forwarded-For names the client
    std::shared_ptr<spdlog::logger> log;
    std::optional<asio::ssl::context> tls_context;
    std::vector<tcp_listener> tcp_listeners;
    std::vector<unix_listener> unix_listeners;
    std::vector<std::string> bound;

    std::atomic<bool> is_draining{false};
    /// What else must be up for /readyz (add_readiness_check, before start()).
    std::vector<std::function<std::optional<std::string>()>> readiness_checks;
    std::atomic<std::size_t> connection_count{0};
    std::mutex connections_mutex;
    std::unordered_map<std::uint64_t, std::weak_ptr<connection_base>> connections;
    std::uint64_t next_connection_id = 0;
    std::string request_id_prefix;
    std::atomic<std::uint64_t> request_counter{0};
    const serialization::catalogs& texts = serialization::builtin_catalogs();

    asio::steady_timer done_timer;   // cancelled when the shutdown has finished
    asio::steady_timer grace_timer;  // ends the grace period of requests in flight
    bool stopping = false;           // on strand
    bool finished = false;           // on strand

    template <class... Args>
    void log_at(spdlog::level::level_enum level, spdlog::format_string_t<Args...> fmt, Args&&... args) const {
        if (log) log->log(level, fmt, std::forward<Args>(args)...);
    }

    std::uint64_t register_connection(const std::shared_ptr<connection_base>& c) {
        std::lock_guard lock(connections_mutex);
        auto id = next_connection_id++;
        connections.emplace(id, c);
        ++connection_count;
        return id;
    }

    void unregister_connection(std::uint64_t id) {
        {
            std::lock_guard lock(connections_mutex);
            connections.erase(id);
        }
        if (--connection_count == 0 && is_draining)
            asio::post(strand, [self = shared_from_this()] { self->check_finished(); });
    }

    std::size_t busy_connections() {
        std::lock_guard lock(connections_mutex);
        std::size_t n = 0;
        for (const auto& [id, weak] : connections)
            if (auto c = weak.lock(); c && !c->idle.load(std::memory_order_relaxed)) ++n;
        return n;
    }

    void close_connections(bool only_if_idle) {
        std::vector<std::shared_ptr<connection_base>> open;
        {
            std::lock_guard lock(connections_mutex);
            for (auto& [id, weak] : connections)
                if (auto c = weak.lock()) open.push_back(std::move(c));
        }
        for (auto& c : open) c->post_close(only_if_idle);
    }

    // On strand.
    void begin_stop() {
        if (stopping) return;
        stopping = true;
        is_draining = true;
        error_code ignored;
        for (auto& l : tcp_listeners) l.acceptor.close(ignored);
        for (auto& l : unix_listeners) {
            l.acceptor.close(ignored);
            std::filesystem::remove(l.path, ignored);
        }
        log_at(spdlog::level::info, "draining: {} connection(s) open, grace {} ms", connection_count.load(),
               cfg.server.shutdown_grace.count());
        close_connections(true);
        grace_timer.expires_after(cfg.server.shutdown_grace);
        grace_timer.async_wait([self = shared_from_this()](error_code ec) {
            if (ec || self->finished) return;
            self->log_at(spdlog::level::warn, "grace period over: closing {} connection(s)",
                         self->connection_count.load());
            self->close_connections(false);
        });
        check_finished();
    }

    // On strand.
    void check_finished() {
        if (!stopping || finished || connection_count != 0) return;
        finished = true;
        grace_timer.cancel();
        done_timer.cancel();
        log_at(spdlog::level::info, "stopped");
    }

    std::string_view make_request_id(std::string& buffer, std::string_view from_client) {
        // Copied, never viewed: the header it came from is gone before the response is written.
        if (sane_request_id(from_client)) {
            buffer.assign(from_client);
            return buffer;
        }
        buffer = request_id_prefix;
        char digits[20];
        auto [end, ec] = std::to_chars(digits, digits + sizeof digits, ++request_counter, 16);
        buffer.append(digits, end);
        return buffer;
    }

    // An error document of the front end, in the request's language and format when its
    // header was read, else in api.default_language and JSON.
    response front_error(http::status status, std::string_view key, std::string_view source,
                         request_context& ctx) const {
        return error_response(status, serialization::error_message(texts, ctx.language(), key), source, ctx.media());
    }

    response builtin_health() const {
        return response{http::status::ok, "text/plain; charset=utf-8", "ok", {}, false};
    }
    response builtin_metrics() const {
        return response{http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                        counters->prometheus_text(connection_count.load()), {}, false};
    }
    response builtin_ready() const {
        auto not_ready = [](std::string why) {
            return response{http::status::service_unavailable, "text/plain; charset=utf-8", std::move(why),
                            {{"Retry-After", "1"}}, false};
        };
        if (is_draining) return not_ready("draining");
        for (const auto& check : readiness_checks)
            if (auto why = check()) return not_ready(std::move(*why));
        return response{http::status::ok, "text/plain; charset=utf-8", "ready", {}, false};
    }
};

namespace {

awaitable<response> respond_now(response r) { co_return r; }

// After a response that ends the connection while the client may still be sending (an
// unread body, an error), half-close and read what is left for a bounded time: closing a
// socket with unread data makes the kernel send RST, which can destroy the response before
// the client has read it.
template <class Stream>
awaitable<void> linger_close(Stream& stream) {
    auto& lowest = beast::get_lowest_layer(stream);
    error_code ec;
    lowest.socket().shutdown(asio::socket_base::shutdown_send, ec);
    if (!ec) {
        lowest.expires_after(std::chrono::milliseconds(500));
        char sink[4096];
        std::size_t total = 0;
        while (total < (1u << 20)) {
            auto [rec, n] = co_await lowest.async_read_some(asio::buffer(sink), use_tuple);
            if (rec) break;
            total += n;
        }
    }
    lowest.socket().close(ec);
}

// Feeds the parser what is buffered and reads more only when it needs more: Beast's parser
// is sans-I/O, and driving it here spares a composed operation (and the post of its
// immediate completion) per request when a pipelined or already-read request is waiting.
template <class Stream>
awaitable<error_code> read_message_part(Stream& stream, beast::flat_buffer& buffer,
                                        http::request_parser<http::string_body>& parser, bool header_only) {
    parser.eager(!header_only);
    for (;;) {
        if (buffer.size() > 0) {
            error_code ec;
            auto used = parser.put(buffer.data(), ec);
            buffer.consume(used);
            if (ec && ec != http::error::need_more) co_return ec;
            if (header_only ? parser.is_header_done() : parser.is_done()) co_return error_code{};
            if (used > 0 && buffer.size() > 0) continue;
        }
        if (buffer.size() == buffer.max_size()) co_return http::error::buffer_overflow;
        auto room = std::min<std::size_t>(16384, buffer.max_size() - buffer.size());
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(room), use_tuple);
        if (ec == asio::error::eof) {
            if (!parser.got_some()) co_return http::error::end_of_stream;
            error_code eof_ec;
            parser.put_eof(eof_ec);
            co_return eof_ec ? eof_ec : error_code(http::error::partial_message);
        }
        if (ec) co_return ec;
        buffer.commit(n);
    }
}

// Sends what the socket takes at once, without a trip through the scheduler, as nginx does;
// the caller awaits write_all only for what is left (a large body, a full send buffer). A
// plain connection's socket is non-blocking (serve_connection). TLS goes through write_all.
//
// Why it matters (issue 17): an awaited write that completes at once is posted to the back of
// the scheduler's queue. The connection came back to read only after a whole pass over the
// queue, found the client's next request already there, and took it with a speculative read,
// never waiting in the reactor. Under 10,000 connections those connections went round the
// queue again and again, while connections that did wait in the reactor were taken from
// epoll at most 128 per pass (Asio's batch) and starved for seconds: 5,000 sockets held an
// unread request for over a second, and wrk timed out in multiples of 128.
template <class Stream>
std::size_t send_now(Stream& stream, std::string_view bytes, error_code& ec) {
    if constexpr (is_tls<Stream>) {
        return 0;
    } else {
        auto n = beast::get_lowest_layer(stream).socket().write_some(asio::buffer(bytes), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again || ec == asio::error::interrupted) ec = {};
        return ec ? 0 : n;
    }
}

template <class Stream>
awaitable<void> write_all(Stream& stream, std::string_view bytes, milliseconds timeout, error_code& ec) {
    beast::get_lowest_layer(stream).expires_after(timeout);
    auto [wec, n] = co_await asio::async_write(stream, asio::buffer(bytes), use_tuple);
    ec = wec;
}

// While a handler runs the connection reads nothing, so this watches the socket instead: a
// client that closes (a peek that reads 0 bytes) cancels the handler, and with it the SMTP
// test it is waiting for. Bytes that arrive (a pipelined request, TLS records) end the watch.
template <class Stream>
void watch_for_disconnect(std::shared_ptr<connection<Stream>> conn, std::shared_ptr<bool> active) {
    // A plain completion handler, not a coroutine: one of these waits per test in flight, and
    // a spawned coroutine costs two frames (P3). A one-byte receive with MSG_PEEK, not
    // async_wait(wait_read): with two threads (strands) the wait-and-cancel stalled the
    // reactor for seconds now and then (bench/notes.md); a peeking read op does not. The
    // peeked byte stays in the socket for the next request.
    auto& socket = beast::get_lowest_layer(conn->stream).socket();
    socket.async_receive(asio::buffer(&conn->peek_byte, 1), asio::socket_base::message_peek,
                         [conn, active](error_code ec, std::size_t n) {
                             if (!*active || ec == asio::error::operation_aborted) return;
                             if ((!ec && n == 0) || ec == asio::error::eof || ec == asio::error::connection_reset)
                                 conn->cancel.emit(asio::cancellation_type::terminal);
                         });
}

// The request's Origin when server.cors_origins lists it (compared case-insensitively), or
// "*" when only the wildcard admits it: any page may then call the API, but without the
// browser's credentials (cookies), which a wildcard never gets (it reflected any Origin with
// Allow-Credentials, so any site could act with a logged-in admin's session, issue 11).
std::optional<std::string> allowed_origin(const server_settings& settings, std::string_view origin) {
    if (origin.empty()) return std::nullopt;
    bool wildcard = false;
    for (const auto& o : settings.cors_origins) {
        if (core::iequals_ascii(o, origin)) return std::string(origin);
        wildcard = wildcard || o == "*";
    }
    if (wildcard) return std::string("*");
    return std::nullopt;
}

// A read error after which nobody waits for an answer: the client left, the server is
// stopping, or a slowloris ran out of time.
bool client_gone(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
           ec == beast::error::timeout || ec == asio::error::connection_reset;
}

// The front end's answer to a header it could not read or frame safely (RFC 9112 6.3, 11.2),
// into `res`; false when the request may go on to the router. (The helpers below answer into
// the connection's response too: an optional<response> moved about cost ~100 instructions.)
bool refuse_unreadable(const http_server::impl& srv, const error_code& hec, request_context& ctx, response& res) {
    if (!hec && ctx.header->framing_problem.empty()) return false;  // nearly every request
    if (hec == http::error::header_limit || hec == http::error::buffer_overflow)
        res = srv.front_error(http::status::request_header_fields_too_large, "RequestHeaderFieldsTooLarge", "http", ctx);
    else if (hec == http::error::body_limit)
        res = srv.front_error(http::status::payload_too_large, "PayloadTooLarge", "http", ctx);
    else if (hec)
        res = srv.front_error(http::status::bad_request, "MalformedRequest", "http", ctx);
    else if (!ctx.header->framing_problem.empty()) {
        srv.log_at(spdlog::level::debug, "refused request from {}: {}", ctx.peer, ctx.header->framing_problem);
        res = srv.front_error(http::status::bad_request, "AmbiguousFraming", "http", ctx);
    } else
        return false;
    return true;
}

// What the router answers itself, into `res`: a CORS preflight or plain OPTIONS (without
// authentication), 404, 405 with Allow, a target that does not parse. False when a handler
// takes the request.
bool route_without_handler(const http_server::impl& srv, const router::match_result& match, http::verb method,
                           request_context& ctx, const std::optional<std::string>& cors_origin, response& res) {
    if (method == http::verb::options && match.status == http::status::method_not_allowed) {
        res = response{http::status::no_content, {}, {}, {}, false};
        res.headers.emplace_back("Allow", std::string(match.allow) + ", OPTIONS");
        if (cors_origin) {
            res.headers.emplace_back("Access-Control-Allow-Methods", std::string(match.allow) + ", OPTIONS");
            res.headers.emplace_back("Access-Control-Allow-Headers",
                                     "Authorization, Content-Type, Accept, Accept-Language, X-XSRF-TOKEN, "
                                     "X-Request-Id, SO-Language, SO-Culture, SO-TimeZone, SO-AppToken");
            res.headers.emplace_back("Access-Control-Max-Age", "600");
        }
        return true;
    }
    if (match.handler) return false;
    if (match.status == http::status::method_not_allowed) {
        res = srv.front_error(match.status, "MethodNotAllowed", "router", ctx);
        res.headers.emplace_back("Allow", match.allow);
    } else if (match.status == http::status::not_found) {
        res = srv.front_error(match.status, "NotFound", "router", ctx);
    } else {
        res = srv.front_error(match.status, "MalformedRequest", "router", ctx);
    }
    return true;
}

enum class body_state { complete, need_more, refused, client_gone };

// A failed body read: the client gone, or the refusal (413, 400) in `res`.
body_state body_refusal(const http_server::impl& srv, const error_code& ec, request_context& ctx, response& res) {
    if (ec == beast::error::timeout || ec == asio::error::operation_aborted || ec == http::error::end_of_stream ||
        ec == asio::error::eof)
        return body_state::client_gone;
    res = ec == http::error::body_limit
              ? srv.front_error(http::status::payload_too_large, "PayloadTooLarge", "http", ctx)
              : srv.front_error(http::status::bad_request, "MalformedRequest", "http", ctx);
    return body_state::refused;
}

// The body from what is already buffered, without I/O: most bodies arrive with their header.
// need_more when more must be read (read_body).
body_state body_from_buffer(const http_server::impl& srv, beast::flat_buffer& buffer,
                            http::request_parser<http::string_body>& parser, request_context& ctx, response& res) {
    if (parser.is_done()) return body_state::complete;
    if (buffer.size() == 0) return body_state::need_more;
    parser.eager(true);
    error_code ec;
    buffer.consume(parser.put(buffer.data(), ec));
    if (ec && ec != http::error::need_more) return body_refusal(srv, ec, ctx, res);
    return parser.is_done() ? body_state::complete : body_state::need_more;
}

// The body after the header when it is not all buffered: `100 Continue` first when the client
// asked for it, then the rest within body_timeout.
template <class Stream>
awaitable<body_state> read_body(const http_server::impl& srv, Stream& stream, beast::flat_buffer& buffer,
                                 http::request_parser<http::string_body>& parser, request_context& ctx, response& res) {
    const auto& limits = srv.cfg.server;
    if (core::iequals_ascii(ctx.header->expect, "100-continue")) {
        error_code wec;
        static const std::string continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await write_all(stream, continue_line, limits.body_timeout, wec);
        if (wec) co_return body_state::client_gone;
    }
    beast::get_lowest_layer(stream).expires_after(limits.body_timeout);
    const error_code bec = co_await read_message_part(stream, buffer, parser, false);
    co_return bec ? body_refusal(srv, bec, ctx, res) : body_state::complete;
}

// While a handler of a route with cancel_on_disconnect runs: the handler may call
// ctx.watch_for_disconnect when it starts a long wait, and from then on a client that goes
// away cancels it. A scope rather than a coroutine around the handler: no frame per request.
template <class Stream>
class disconnect_watch {
public:
    disconnect_watch(const std::shared_ptr<connection<Stream>>& conn, beast::flat_buffer& buffer,
                     const route_handler& handler, request_context& ctx)
        : conn_(conn), buffer_(buffer), ctx_(ctx) {
        if (handler.cancel_on_disconnect && buffer.size() == 0)
            // One pointer: fits std::function's own storage, no allocation.
            ctx.watch_for_disconnect = [this] { begin(); };
    }
    ~disconnect_watch() {
        ctx_.watch_for_disconnect = nullptr;  // it refers to this object
        if (watching_) {
            *watching_ = false;
            error_code ignored;
            beast::get_lowest_layer(conn_->stream).socket().cancel(ignored);
        }
    }
    disconnect_watch(const disconnect_watch&) = delete;
    disconnect_watch& operator=(const disconnect_watch&) = delete;

private:
    // Called by the handler only when it leaves for the network, so a request answered at once
    // pays for neither.
    void begin() {
        if (watching_) return;
        buffer_.shrink_to_fit();  // give the idle read buffer back meanwhile
        watching_ = std::make_shared<bool>(true);
        watch_for_disconnect(conn_, watching_);
    }
    const std::shared_ptr<connection<Stream>>& conn_;
    beast::flat_buffer& buffer_;
    request_context& ctx_;
    std::shared_ptr<bool> watching_;
};

// The cross-origin headers every response gets when server.cors_origins is set.
void add_cors_headers(response& res, const std::optional<std::string>& cors_origin) {
    if (cors_origin) {
        res.headers.emplace_back("Access-Control-Allow-Origin", *cors_origin);
        if (*cors_origin != "*") res.headers.emplace_back("Access-Control-Allow-Credentials", "true");
        res.headers.emplace_back("Access-Control-Expose-Headers", "X-Request-Id");
    }
    res.headers.emplace_back("Vary", "Origin");
}

// One connection: requests in turn (pipelined ones from the buffer), under the deadlines of
// server_settings. Runs on the connection's strand.
template <class Stream>
awaitable<void> serve_connection(std::shared_ptr<http_server::impl> srv, std::shared_ptr<connection<Stream>> conn,
                                 std::string peer) {
    auto& stream = conn->stream;
    auto& lowest = beast::get_lowest_layer(stream);
    const server_settings& limits = srv->cfg.server;
    const bool access_log = srv->cfg.log.access && srv->log;
    // Unregistered when the frame goes, however the coroutine ends.
    struct registration {
        http_server::impl& srv;
        std::uint64_t id;
        ~registration() { srv.unregister_connection(id); }
    } registered{*srv, srv->register_connection(conn)};
    // After a cancellation the remaining operations fail on the closed socket instead of
    // throwing, so the connection still ends through the normal path.
    co_await asio::this_coro::throw_if_cancelled(false);
    // send_now needs a non-blocking socket: where that cannot be set, every write is awaited.
    bool send_at_once = false;
    if constexpr (!is_tls<Stream>) {
        error_code nbec;
        lowest.socket().non_blocking(true, nbec);
        send_at_once = !nbec;
    }

    beast::flat_buffer buffer(limits.header_limit + limits.body_limit + 16384);
    std::string out;  // grows with the first response, then is reused
    std::string id_buffer;
    date_header date;
    bool linger = false;
    unsigned pipelined = 0;  // requests served since the last read
    auto previous_response_end = std::chrono::steady_clock::now();

    try {
        // The first header (and the TLS handshake before it) must arrive within
        // header_timeout counted from accept.
        lowest.expires_after(limits.header_timeout);
        if constexpr (is_tls<Stream>) {
            auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
            if (ec) {
                srv->log_at(spdlog::level::debug, "TLS handshake with {} failed: {}", peer, ec.message());
                co_return;
            }
        }

        // A trusted proxy's requests name their client in X-Forwarded-For (server.trusted_proxies):
        // whether the peer is one is decided once for the connection.
        const bool from_proxy = !srv->proxies.empty() && srv->proxies.trusts(peer);
        for (bool first = true;; first = false) {
            // Idle until the first byte of a request arrives: a stopping server closes idle
            // connections at once and lets the others finish their request.
            conn->idle.store(true, std::memory_order_relaxed);
            if (srv->is_draining) break;
            if (buffer.size() == 0) {
                if (!first) lowest.expires_after(limits.idle_timeout);
                auto room = std::min<std::size_t>(4096, buffer.max_size() - buffer.size());
                auto [ec, n] = co_await stream.async_read_some(buffer.prepare(room), use_tuple);
                if (ec) break;
                buffer.commit(n);
                pipelined = 0;
            }
            conn->idle.store(false, std::memory_order_relaxed);
            // Requests already in the buffer (pipelined) are served without a read, and a
            // response sent at once does not pass through the scheduler either: after every 16
            // such requests the other connections get a turn.
            if (++pipelined % 16 == 0) co_await asio::post(stream.get_executor(), use_tuple);
            // The whole header within header_timeout of its first byte, and, on a kept-alive
            // connection, never later than idle_timeout after the previous response ended:
            // a slowloris that sent its first byte just before the idle deadline had a further
            // header_timeout to dribble in (issue 11, SPEC 4).
            if (!first)
                lowest.expires_at(std::min(std::chrono::steady_clock::now() + limits.header_timeout,
                                           previous_response_end + limits.idle_timeout));

            // read: the header, and what it says
            http::request_parser<http::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
            parser.body_limit(limits.body_limit);
            const error_code hec = co_await read_message_part(stream, buffer, parser, true);
            const auto started = std::chrono::steady_clock::now();
            std::string forwarded_client;  // behind a trusted proxy: the client it names
            request_context ctx;
            ctx.peer = peer;
            ctx.tls = is_tls<Stream>;
            ctx.remembered = &conn->remembered;
            ctx.default_language = srv->cfg.api.default_language;
            const bool header_read = !hec || parser.is_header_done();
            const header_facts facts = header_read ? read_header(parser.get().base()) : header_facts{};
            if (header_read) ctx.header = &facts;
            if (header_read && from_proxy) {
                std::vector<std::string_view> forwarded;
                for (const auto& field : parser.get().base())
                    if (core::iequals_ascii(field.name_string(), "X-Forwarded-For")) forwarded.push_back(field.value());
                if (auto client = srv->proxies.forwarded_client(forwarded)) {
                    forwarded_client = std::move(*client);
                    ctx.peer = forwarded_client;
                }
            }
            if (hec && client_gone(hec)) break;
            const http::verb method = hec ? http::verb::unknown : parser.get().method();
            const bool head = method == http::verb::head;
            const bool request_keep_alive = !hec && parser.get().keep_alive();
            const std::string logged_target =
                access_log && !hec ? loggable_target(parser.get().target()) : std::string("-");
            ctx.request_id = srv->make_request_id(id_buffer, hec ? std::string_view() : facts.request_id);

            // dispatch: a refusal of the front end or the router, else the route's handler
            const auto cors_origin = hec || srv->cfg.server.cors_origins.empty()
                                         ? std::nullopt
                                         : allowed_origin(srv->cfg.server, facts.origin);
            response res;
            std::size_t route_index = static_cast<std::size_t>(-1);
            bool early = refuse_unreadable(*srv, hec, ctx, res);
            if (!early) {
                const auto match = srv->routes.match(method, parser.get().target());
                route_index = match.resource;
                early = route_without_handler(*srv, match, method, ctx, cors_origin, res);
                if (!early && match.handler->on_header) {
                    if (auto refused = co_await match.handler->on_header(ctx, parser.get().base())) {
                        res = std::move(*refused);
                        early = true;
                    }
                }
                if (!early) {
                    auto body = body_from_buffer(*srv, buffer, parser, ctx, res);
                    if (body == body_state::need_more) body = co_await read_body(*srv, stream, buffer, parser, ctx, res);
                    if (body == body_state::client_gone) break;
                    early = body == body_state::refused;
                }
                if (!early) {
                    lowest.expires_never();
                    request req = parser.release();
                    disconnect_watch<Stream> watch(conn, buffer, *match.handler, ctx);
                    try {
                        res = co_await match.handler->on_request(ctx, req);
                    } catch (const std::exception& e) {
                        srv->log_at(srv->is_draining ? spdlog::level::info : spdlog::level::err,
                                    "request {} failed: {}", ctx.request_id, e.what());
                        ctx.forget_header();  // the request may be gone: answer in the defaults
                        res = srv->front_error(http::status::internal_server_error, "InternalError", "server", ctx);
                    }
                }
            }
            // An unread body, or a request that could not be framed: no further request can
            // follow on this connection.
            if (early && (hec || !facts.framing_problem.empty() || !parser.is_done())) res.close = linger = true;

            // write: the response, then the metrics and the access log line
            if (!hec && !srv->cfg.server.cors_origins.empty()) add_cors_headers(res, cors_origin);
            const bool keep_alive = !res.close && !hec && request_keep_alive && !srv->is_draining;
            serialize(out, res, date.now(), ctx.request_id, keep_alive, head);
            error_code wec;
            const std::size_t sent = send_at_once ? send_now(stream, out, wec) : 0;
            if (!wec && sent < out.size())
                co_await write_all(stream, std::string_view(out).substr(sent), limits.body_timeout, wec);
            srv->counters->record_request(route_index, static_cast<unsigned>(res.status),
                                          std::chrono::steady_clock::now() - started);
            if (access_log) {
                auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started);
                srv->log->info("access {} {} {} {}B {:.1f}ms id={} peer={}{}{}",
                               hec ? std::string_view("-") : std::string_view(http::to_string(method)),
                               logged_target,
                               static_cast<unsigned>(res.status), head ? 0 : res.body.size(), ms.count(),
                               ctx.request_id, ctx.peer, forwarded_client.empty() ? "" : " via=",
                               forwarded_client.empty() ? std::string_view() : std::string_view(peer));
            }
            if (wec || !keep_alive) break;
            previous_response_end = std::chrono::steady_clock::now();
        }
    } catch (const std::exception& e) {
        srv->log_at(spdlog::level::err, "connection from {} failed: {}", peer, e.what());
    }

    if (linger) co_await linger_close(stream);
    error_code ignored;
    lowest.socket().shutdown(asio::socket_base::shutdown_both, ignored);
    lowest.socket().close(ignored);
}

// Connections accepted without waiting, after each accept that had to wait: at most this many.
constexpr int max_accepts_per_wakeup = 4096;

template <class Protocol, class Acceptor, class Spawn>
awaitable<void> accept_loop(std::shared_ptr<http_server::impl> srv, Acceptor& acceptor, Spawn spawn) {
    asio::steady_timer backoff(srv->strand);
    // A strand per connection only when several threads run the context: with one thread the
    // executor already serializes everything, and a strand costs a type-erased copy and a
    // dispatch on every operation.
    auto connection_executor = [&] {
        return srv->single_threaded ? srv->executor : asio::any_io_executor(asio::make_strand(srv->executor));
    };
    auto admit = [&](typename Protocol::socket socket) {
        if (srv->connection_count >= srv->cfg.server.max_connections) {
            srv->log_at(spdlog::level::warn, "refused a connection: server.max_connections ({}) reached",
                        srv->cfg.server.max_connections);
            error_code ignored;
            socket.close(ignored);
            return;
        }
        spawn(std::move(socket));
    };
    error_code ignored;
    acceptor.non_blocking(true, ignored);  // for the accepts that must not wait, below
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(connection_executor(), use_tuple);
        if (!acceptor.is_open() || srv->is_draining) break;
        if (ec) {
            if (is_resource_exhaustion(ec)) {
                // EMFILE and friends: the pending connection stays queued; try again shortly
                // instead of spinning or giving up.
                srv->log_at(spdlog::level::warn, "accept: {}; retrying in 100 ms", ec.message());
                backoff.expires_after(std::chrono::milliseconds(100));
                co_await backoff.async_wait(use_tuple);
            }
            continue;
        }
        admit(std::move(socket));
        // Then every connection already queued, until the kernel has none (as nginx does when
        // the listener is readable). One accept per wakeup put each new connection of a burst
        // behind a whole pass of the scheduler over every connection accepted before it: a
        // fresh server took 1,000 connections in about a second (issue 17).
        for (int i = 0; i < max_accepts_per_wakeup; ++i) {
            error_code aec;
            auto more = acceptor.accept(connection_executor(), aec);
            if (aec) break;  // would_block: the queue is empty; anything else: the async accept says it
            admit(std::move(more));
        }
    }
}

template <class Stream>
void spawn_connection(std::shared_ptr<http_server::impl> srv, Stream stream, std::string peer) {
    auto c = std::make_shared<connection<Stream>>(std::move(stream));
    auto executor = c->stream.get_executor();
    auto slot = c->cancel.slot();
    asio::co_spawn(executor, serve_connection(std::move(srv), std::move(c), std::move(peer)),
                   asio::bind_cancellation_slot(slot, asio::detached));
}

std::string endpoint_text(const tcp::endpoint& ep) {
    auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

}  // namespace

http_server::http_server(asio::any_io_executor executor, config cfg, router routes,
                         std::shared_ptr<spdlog::logger> log, std::shared_ptr<metrics> counters)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(cfg), std::move(routes), std::move(log),
                                   std::move(counters))) {
    impl* self = impl_.get();
    // The router lives inside impl, so these raw pointers never outlive it.
    impl_->routes.add(route_scope::root, "/healthz", http::verb::get,
                      {nullptr, [self](request_context&, request&) { return respond_now(self->builtin_health()); }});
    impl_->routes.add(route_scope::root, "/readyz", http::verb::get,
                      {nullptr, [self](request_context&, request&) { return respond_now(self->builtin_ready()); }});
    impl_->routes.add(route_scope::root, "/metrics", http::verb::get,
                      {nullptr, [self](request_context&, request&) { return respond_now(self->builtin_metrics()); }});
    impl_->counters->set_routes(impl_->routes.paths());
}

http_server::~http_server() { stop(); }

const router& http_server::routes() const { return impl_->routes; }

void http_server::start() {
    auto& s = *impl_;
    const auto& cfg = s.cfg.server;
    if (!cfg.tls_listen.empty()) {
        s.tls_context.emplace(asio::ssl::context::tls_server);
        auto& ctx = *s.tls_context;
        ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
        try {
            ctx.use_certificate_chain_file(cfg.tls_cert);
            ctx.use_private_key_file(cfg.tls_key, asio::ssl::context::pem);
        } catch (const boost::system::system_error& e) {
            throw config_error("server.tls_cert / server.tls_key: " + std::string(e.what()));
        }
    }

    auto bind_tcp = [&](const listen_address& a, bool tls) {
        tcp::endpoint ep(asio::ip::make_address(a.host), a.port);
        tcp::acceptor acceptor(s.strand);
        acceptor.open(ep.protocol());
        acceptor.set_option(asio::socket_base::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen(asio::socket_base::max_listen_connections);
        s.bound.push_back((tls ? "https://" : "http://") + endpoint_text(acceptor.local_endpoint()));
        s.tcp_listeners.push_back({std::move(acceptor), tls});
    };
    s.tcp_listeners.reserve(cfg.listen.size() + cfg.tls_listen.size());
    for (const auto& a : cfg.listen) {
        if (a.type == listen_address::kind::tcp) {
            bind_tcp(a, false);
            continue;
        }
        std::error_code fec;
        if (std::filesystem::is_socket(a.path, fec)) std::filesystem::remove(a.path, fec);  // stale
        local_protocol::acceptor acceptor(s.strand);
        local_protocol::endpoint ep(a.path);
        acceptor.open(ep.protocol());
        acceptor.bind(ep);
        acceptor.listen(asio::socket_base::max_listen_connections);
        s.bound.push_back("unix:" + a.path);
        s.unix_listeners.push_back({std::move(acceptor), a.path});
    }
    for (const auto& a : cfg.tls_listen) {
        if (a.type != listen_address::kind::tcp) throw config_error("server.tls_listen: unix sockets are not served with TLS");
        bind_tcp(a, true);
    }

    auto self = impl_;
    for (auto& l : s.tcp_listeners) {
        auto on_accept = [self, tls = l.tls](tcp::socket socket) {
            error_code ec;
            socket.set_option(tcp::no_delay(true), ec);
            auto peer = socket.remote_endpoint(ec).address().to_string();
            if (tls)
                spawn_connection(self, tls_stream(beast::tcp_stream(std::move(socket)), *self->tls_context),
                                 std::move(peer));
            else
                spawn_connection(self, beast::tcp_stream(std::move(socket)), std::move(peer));
        };
        asio::co_spawn(s.strand, accept_loop<tcp>(self, l.acceptor, on_accept), asio::detached);
    }
    for (auto& l : s.unix_listeners) {
        auto on_accept = [self](local_protocol::socket socket) {
            spawn_connection(self, unix_stream(std::move(socket)), "unix");
        };
        asio::co_spawn(s.strand, accept_loop<local_protocol>(self, l.acceptor, on_accept), asio::detached);
    }
    for (const auto& b : s.bound) s.log_at(spdlog::level::info, "listening on {}", b);
}

std::vector<std::string> http_server::local_addresses() const { return impl_->bound; }

void http_server::stop() {
    asio::post(impl_->strand, [self = impl_] { self->begin_stop(); });
}

namespace {
awaitable<void> wait_on_strand(std::shared_ptr<http_server::impl> self) {
    while (!self->finished) co_await self->done_timer.async_wait(use_tuple);
}
}  // namespace

awaitable<void> http_server::wait() { co_await asio::co_spawn(impl_->strand, wait_on_strand(impl_), asio::use_awaitable); }

bool http_server::draining() const { return impl_->is_draining; }

void http_server::add_readiness_check(std::function<std::optional<std::string>()> check) {
    impl_->readiness_checks.push_back(std::move(check));
}

std::size_t http_server::open_connections() const { return impl_->connection_count; }

std::size_t http_server::busy_connections() const { return impl_->busy_connections(); }

}  // namespace smtpcheck::server
