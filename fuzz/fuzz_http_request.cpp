// The HTTP front end without sockets: Beast's request parser configured as
// server/src/http_server.cpp configures it (header_limit and body_limit from [server], eager
// off for the header and on for the body, a fresh parser per pipelined request), then what the
// server and the API routes apply to a request and can be called from public headers: the
// header's one reading (read_header, with its framing checks), the route match, content
// negotiation, language choice, SO-TimeZone, $select, the Content-Type check, the body decoder,
// the authenticator's check (SOTicket, Bearer, session cookie; Basic off, its PBKDF2 is slow by
// design), the client named by X-Forwarded-For behind a trusted proxy, and the error and result
// documents.
// (allowed_origin and loggable_target are internal to http_server.cpp.)
#include "fuzz_keys.hpp"
#include "smtpcheck/auth/authenticator.hpp"
#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/server/trusted_proxies.hpp"
#include "smtpcheck/serialization/document.hpp"
#include "smtpcheck/serialization/localization.hpp"
#include "smtpcheck/serialization/request_body.hpp"
#include "smtpcheck/server/config.hpp"
#include "smtpcheck/server/error_document.hpp"
#include "smtpcheck/server/router.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
namespace ser = smtpcheck::serialization;
using namespace smtpcheck::server;

// The shipped defaults (config/defaults.ini), as the server would run with them.
const smtpcheck::config& defaults() {
    static const smtpcheck::config c = smtpcheck::load_config_text("");
    return c;
}

asio::awaitable<response> unused_handler(request_context&, request&) { co_return response{}; }

// The route table of add_api_routes and http_server, with handlers that are never run.
const router& routes() {
    static const router r = [] {
        router t("/Cust12345");
        route_handler h{nullptr, unused_handler, false};
        t.add(route_scope::api, "/api/v1/Agents/CustomerService/TestSmtpServer", http::verb::get, h);
        t.add(route_scope::api, "/api/v1/Agents/CustomerService/TestSmtpServer", http::verb::post, h);
        t.add(route_scope::api, "/api/v1/smtpcheck/Diagnose", http::verb::post, h);
        t.add(route_scope::root, "/login", http::verb::post, h);
        t.add(route_scope::root, "/logout", http::verb::post, h);
        t.add(route_scope::root, "/healthz", http::verb::get, h);
        t.add(route_scope::root, "/readyz", http::verb::get, h);
        t.add(route_scope::root, "/metrics", http::verb::get, h);
        return t;
    }();
    return r;
}

const ser::catalogs& texts() {
    static const ser::catalogs c;
    return c;
}

// Made once and never destroyed (its PBKDF2 decoy and thread pool are costly to repeat).
smtpcheck::auth::authenticator& authenticator() {
    static smtpcheck::auth::authenticator* a = [] {
        smtpcheck::auth::settings s;
        s.basic = false;
        s.secret = std::string(smtpcheck_fuzz::secret);
        s.jwt = std::make_shared<smtpcheck::auth::jwt_verifier>(
            smtpcheck_fuzz::jwks, smtpcheck::auth::jwt_options{std::string(smtpcheck_fuzz::issuer),
                                                               std::string(smtpcheck_fuzz::audience),
                                                               std::chrono::seconds(60), 8192});
        s.failed_logins_per_minute = 0xFFFFFFFFu;  // a constant peer must never be throttled
        s.users = {{"tim", "pbkdf2-sha256$1$AAAA$AAAA"}, {"jane@example.com", "pbkdf2-sha256$1$AAAA$AAAA"}};
        return new smtpcheck::auth::authenticator(std::move(s));
    }();
    return *a;
}

asio::io_context& io() {
    static auto* c = new asio::io_context(1);
    return *c;
}

void check_authentication(const smtpcheck::auth::credentials& sent) {
    bool done = false;
    asio::co_spawn(
        io(),
        [&]() -> asio::awaitable<void> {
            auto v = co_await authenticator().check(sent, "192.0.2.1");
            if (v.what == smtpcheck::auth::verdict::kind::ok && v.principal.empty()) __builtin_trap();
            done = true;
        },
        asio::detached);
    io().restart();
    io().run();
    if (!done) __builtin_trap();  // the check never waits for anything without Basic
}

ser::document sample_document() {
    json::object body;
    body.emplace("Success", false);
    body.emplace("ErrorMessage", "Could not connect to smtp.example.com:25");
    body.emplace("TableRight", nullptr);
    body.emplace("FieldProperties", json::object());
    json::object report;
    report.emplace("Host", "smtp.example.com");
    report.emplace("Port", 25);
    report.emplace("Timings", json::object{{"Connect", 12.5}, {"Ehlo", 3}});
    report.emplace("Extensions", json::array{"PIPELINING", "SIZE 1000"});
    body.emplace("Report", std::move(report));
    return {"SmtpTestResult", std::move(body)};
}

void forwarded_client(const request_header& h);

void inspect_header(const request_header& h, bool body_done, const std::string* body) {
    auto match = routes().match(h.method(), h.target());
    if (match.handler == nullptr && match.status == http::status::ok) __builtin_trap();

    const header_facts facts = read_header(h);
    // What read_header finds is what a lookup by name finds (the first of a repeated field).
    if (facts.accept != h[http::field::accept] || facts.so_language != h["SO-Language"] ||
        facts.credentials.authorization != h[http::field::authorization] ||
        facts.credentials.xsrf_token != h["X-XSRF-TOKEN"] || facts.content_type != h[http::field::content_type])
        __builtin_trap();
    request_context ctx;
    ctx.header = &facts;
    ctx.default_language = defaults().api.default_language;
    const auto media = ctx.media();
    const auto& lang = ctx.language();
    (void)ser::valid_time_zone(facts.so_timezone);
    const std::string_view content_type = facts.content_type;
    std::string detail;
    if (auto e = ser::check_content_type(content_type)) detail = e->message;

    if (body_done && body) {
        auto decoded = ser::decode_request(content_type, *body);
        if (auto* e = std::get_if<ser::decode_error>(&decoded)) detail = e->message;
    }
    auto message = ser::error_message(texts(), lang, detail.empty() ? "NotFound" : "BadRequest", detail);
    auto r = error_response(http::status::bad_request, message, "request", media);
    if (!ser::is_xml(media)) {
        boost::system::error_code ec;
        (void)json::parse(r.body, ec);
        if (ec) __builtin_trap();  // an error document that is not JSON
    }

    if (auto select = ser::select_parameter(h.target())) {
        auto doc = sample_document();
        ser::apply_select(doc.body, *select);
        (void)ser::write(doc, media);
    }
    check_authentication(facts.credentials);
    forwarded_client(h);
}

// X-Forwarded-For as http_server.cpp reads it behind a trusted proxy (server.trusted_proxies):
// the client it names is an address that is not trusted, or a trusted hop, never other text.
void forwarded_client(const request_header& h) {
    static const smtpcheck::server::trusted_proxies proxies({"127.0.0.1", "10.0.0.0/8", "fd00::/8"});
    std::vector<std::string_view> forwarded;
    for (const auto& field : h)
        if (smtpcheck::core::iequals_ascii(field.name_string(), "X-Forwarded-For")) forwarded.push_back(field.value());
    const auto client = proxies.client_of("127.0.0.1", forwarded);
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(client, ec);
    if (ec) __builtin_trap();
    if (proxies.client_of("192.0.2.7", forwarded) != "192.0.2.7") __builtin_trap();  // not a proxy: ignored
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& limits = defaults().server;
    std::string_view input(reinterpret_cast<const char*>(data), size);
    // What the connection has read and not yet given to a parser. An odd-sized input arrives
    // in small reads, an even-sized one in reads of the server's 16384 octets.
    const std::size_t read_size = size % 2 ? 1 + size % 13 : 16384;
    std::string buffer;

    for (int request_count = 0; request_count < 8; ++request_count) {  // pipelined requests
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
        parser.body_limit(limits.body_limit);
        bool header_only = true;
        parser.eager(false);
        boost::system::error_code ec;
        for (;;) {
            if (!buffer.empty()) {
                auto used = parser.put(asio::buffer(buffer), ec);
                buffer.erase(0, used);
                if (ec && ec != http::error::need_more) break;
                ec = {};
                if (header_only && parser.is_header_done()) {
                    header_only = false;
                    parser.eager(true);
                    if (!parser.is_done()) continue;
                }
                if (parser.is_done()) break;
                if (used > 0 && !buffer.empty()) continue;
            }
            if (input.empty()) {
                if (!parser.got_some()) return 0;
                parser.put_eof(ec);
                if (!ec && !parser.is_done()) ec = http::error::partial_message;
                break;
            }
            auto n = std::min(read_size, input.size());
            buffer.append(input.substr(0, n));
            input.remove_prefix(n);
        }
        if (!parser.is_header_done()) return 0;
        inspect_header(parser.get().base(), !ec && parser.is_done(), &parser.get().body());
        if (ec || !parser.get().keep_alive()) return 0;
    }
    return 0;
}
