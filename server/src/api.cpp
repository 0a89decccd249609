#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/core/rate_limiter.hpp"
#include "smtpcheck/core/system.hpp"
#include "smtpcheck/server/api.hpp"

#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/serialization/document.hpp"
#include "smtpcheck/serialization/localization.hpp"
#include "smtpcheck/serialization/report.hpp"
#include "smtpcheck/serialization/request_body.hpp"
#include "smtpcheck/server/error_document.hpp"
#include "smtpcheck/server/smtp_settings.hpp"
#include "smtpcheck/smtp/engine.hpp"

#include <boost/asio/this_coro.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/params_view.hpp>
#include <spdlog/logger.h>

#include <atomic>
#include <map>
#include <variant>

namespace smtpcheck::server {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

std::string slurp(const std::string& path, const char* key) {
    auto text = core::read_file(path);
    if (!text) throw config_error(std::string(key) + ": cannot read " + path);
    return std::move(*text);
}

// The part of a route that checks the caller; one per API route and for nothing else. Held
// by the route's handlers for the server's life, so requests take it by reference.
struct guard {
    std::shared_ptr<auth::authenticator> authenticator;
    std::shared_ptr<spdlog::logger> log;
    const serialization::catalogs& texts;

    // An error document's message in the caller's language, or its reference in raw mode.
    std::string words(request_context& ctx, std::string_view key, std::string_view detail = {}) const {
        return serialization::error_message(texts, ctx.language(), key, detail);
    }

    // A refusal in the caller's language and format.
    response refusal(const auth::verdict& v, request_context& ctx) const {
        if (log) log->info("auth refused ({}): {} peer={} id={}", v.scheme.empty() ? "-" : v.scheme, v.reason, ctx.peer,
                           ctx.request_id);
        const auto media = ctx.media();
        switch (v.what) {
        case auth::verdict::kind::forbidden:
            return error_response(http::status::forbidden, words(ctx, "Forbidden"), "auth", media);
        case auth::verdict::kind::too_many_requests: {
            auto r = error_response(http::status::too_many_requests, words(ctx, "TooManyRequests"), "auth", media);
            r.headers.emplace_back("Retry-After", std::to_string(v.retry_after.count()));
            return r;
        }
        default: {
            auto r = error_response(http::status::unauthorized, words(ctx, "Unauthorized"), "auth", media);
            for (auto& c : authenticator->challenges()) r.headers.emplace_back("WWW-Authenticate", c);
            return r;
        }
        }
    }

    // The caller's verdict into the request: its name, or the refusal to send.
    boost::asio::awaitable<std::optional<response>> admit(request_context& ctx) const {
        const auto v = co_await authenticator->check(ctx.header->credentials, std::string(ctx.peer), ctx.remembered);
        if (v.what != auth::verdict::kind::ok) co_return refusal(v, ctx);
        ctx.principal = v.principal;
        co_return std::nullopt;
    }
};

// What POST TestSmtpServer and Diagnose share: settings made once, the limits of SPEC 3.6/7.
struct test_endpoint {
    smtp::test_settings settings;
    /// `settings` with the test message in each catalog's language, made once: a test holds
    /// these instead of a copy of its own. TestSmtpServer's keep no transcript (its answer
    /// never shows one); Diagnose's do.
    std::map<std::string, std::shared_ptr<const smtp::test_settings>, std::less<>> by_language, diagnose_by_language;
    std::size_t max_concurrent = 10000;
    std::size_t max_document = 65536;  ///< server.body_limit: what a JSON patch may build
    std::chrono::milliseconds slow_threshold{5000};
    std::shared_ptr<spdlog::logger> log;
    const serialization::catalogs& texts = serialization::builtin_catalogs();
    std::shared_ptr<metrics> counters;  ///< tests in flight (the limit) and tests by outcome
    /// Tests per user per minute; null: no limit (api.tests_per_minute_per_user = 0).
    std::unique_ptr<core::rate_limiter> per_user;

    void make_message_settings() {
        for (const auto& language : texts.languages()) {
            auto s = std::make_shared<smtp::test_settings>(settings);
            s->subject = texts.text(language, "message", "subject");
            s->body = texts.text(language, "message", "body");
            diagnose_by_language[language] = s;
            auto quiet = std::make_shared<smtp::test_settings>(*s);
            quiet->keep_transcript = false;
            by_language[language] = std::move(quiet);
        }
    }
    std::shared_ptr<const smtp::test_settings> settings_for(std::string_view language, bool diagnose) const {
        const auto& table = diagnose ? diagnose_by_language : by_language;
        auto it = table.find(language);
        if (it == table.end()) it = table.find(std::string_view("en"));
        return it->second;
    }

    // Counts a test for the principal; the seconds to wait when over the limit.
    std::optional<std::chrono::seconds> over_user_limit(const std::string& principal) {
        return per_user ? per_user->take(principal) : std::nullopt;
    }
};

// The header checks of a test route: the caller first, then a body type we can read (415
// before any 100 Continue).
asio::awaitable<std::optional<response>> check_test_request(const guard& g, request_context& ctx) {
    if (auto refused = co_await g.admit(ctx)) co_return refused;
    if (ctx.header->has_body) {
        if (auto e = serialization::check_content_type(ctx.header->content_type))
            co_return error_response(http::status::unsupported_media_type,
                                     g.words(ctx, "UnsupportedMediaType", e->message), "request", ctx.media());
    }
    co_return std::nullopt;
}

// run_smtp_test is split like smtp::run_test: GCC 12 keeps every local and temporary of a
// coroutine in its frame for the whole test, so what happens before and after the test
// (decoding, limits, refusals, the answer) is in plain functions.

struct test_to_run {
    smtp::test_request test;
    serialization::language_choice lang;
    serialization::media_type media;
    std::optional<std::string> select;  ///< $select of the target
};

// Before the test: the body decoded and the limits passed (the test then counts as in
// flight), or the refusal to send.
std::variant<test_to_run, response> prepare_test(test_endpoint& ep, request_context& ctx, const request& req) {
    const header_facts& h = *ctx.header;
    const auto media = ctx.media();
    const auto& lang = ctx.language();
    if (!h.so_timezone.empty() && !serialization::valid_time_zone(h.so_timezone) && ep.log)
        ep.log->debug("ignored an invalid SO-TimeZone id={}", ctx.request_id);
    auto decoded = serialization::decode_request(h.content_type, req.body(), ep.max_document);
    if (auto* e = std::get_if<serialization::decode_error>(&decoded)) {
        bool media_error = e->status == 415;
        return error_response(media_error ? http::status::unsupported_media_type : http::status::bad_request,
                              serialization::error_message(ep.texts, lang, media_error ? "UnsupportedMediaType" : "BadRequest",
                                                           e->message),
                              "request", media);
    }
    auto& body = std::get<serialization::test_request_body>(decoded);

    if (auto wait = ep.over_user_limit(ctx.principal)) {
        auto r = error_response(http::status::too_many_requests, serialization::error_message(ep.texts, lang, "TooManyTests"), "api", media);
        r.headers.emplace_back("Retry-After", std::to_string(wait->count()));
        return r;
    }
    if (ep.counters->tests_in_flight.fetch_add(1) >= ep.max_concurrent) {
        --ep.counters->tests_in_flight;
        auto r = error_response(http::status::service_unavailable, serialization::error_message(ep.texts, lang, "ServiceUnavailable"), "api",
                                media);
        r.headers.emplace_back("Retry-After", "1");
        return r;
    }
    return test_to_run{{std::move(body.smtp_uri).value_or(""), std::move(body.from).value_or(""), body.use_stored_password},
                       std::move(lang), media, serialization::select_parameter(req.target())};
}

// After the test: counted, logged when slow, answered.
response answer_test(test_endpoint& ep, const request_context& ctx, const test_to_run& t,
                     const smtp::test_report& report, bool diagnose) {
    ep.counters->record_test(report.success ? smtp::outcome_code::none : report.code);
    if (report.total_ms > static_cast<double>(ep.slow_threshold.count()) && ep.log) {
        std::string timings;
        for (const auto& p : report.timings)
            timings += std::string(smtp::phase_name(p.which)) + "=" + std::to_string(static_cast<int>(p.ms)) + "ms ";
        ep.log->warn("slow SMTP test id={} host={}:{} total={}ms {}", ctx.request_id, report.host, report.port,
                     static_cast<int>(report.total_ms), timings);
    }
    // Words only for what $select keeps (composing ErrorMessage is most of a failed test's answer).
    auto wanted = [&](std::string_view name) { return !t.select || serialization::selects(*t.select, name); };
    const auto message = wanted("ErrorMessage")
                             ? serialization::report_message(report, t.lang, ep.texts, ep.settings.deadline)
                             : std::nullopt;
    // The document lives until it is written: its nodes go into a stack arena, not the heap.
    unsigned char arena_buffer[1024];
    json::monotonic_resource arena(arena_buffer, sizeof arena_buffer);
    serialization::document doc =
        diagnose ? serialization::report_document(
                       report, message,
                       wanted("Hint") ? serialization::report_hint(report, t.lang, ep.texts) : std::nullopt)
                 : serialization::test_result_document(report, message, &arena);
    if (t.select) serialization::apply_select(doc.body, *t.select);
    return response{http::status::ok, serialization::content_type_of(t.media), serialization::write(doc, t.media), {},
                    false};
}

asio::awaitable<response> run_smtp_test(std::shared_ptr<test_endpoint> ep, request_context& ctx, request& req,
                                        bool diagnose) {
    auto prepared = prepare_test(*ep, ctx, req);
    if (auto* refusal = std::get_if<response>(&prepared)) co_return std::move(*refusal);
    auto& t = std::get<test_to_run>(prepared);
    // Everything needed from the request is in `t` now: its header fields and body are given
    // back for the seconds the test may take (P3: memory per test in flight).
    req = request{};
    struct in_flight_guard {
        std::atomic<std::size_t>& n;
        ~in_flight_guard() { --n; }
    } counted{ep->counters->tests_in_flight};

    auto executor = co_await asio::this_coro::executor;
    auto settings = ep->settings_for(t.lang.language, diagnose);  // the message in the caller's language
    std::function<void()> before_network = ctx.watch_for_disconnect;
    smtp::test_report report = co_await smtp::run_test(executor, std::move(t.test), std::move(settings), std::move(before_network));
    co_return answer_test(*ep, ctx, t, report, diagnose);
}

asio::awaitable<response> describe_test_smtp_server(serialization::media_type media) {
    co_return response{http::status::ok, serialization::content_type_of(media),
                       serialization::write(serialization::test_smtp_server_description(), media), {}, false};
}

std::string cookie_attributes(bool tls, long max_age, bool http_only) {
    // A cleared cookie also gets an Expires in the past, for clients older than Max-Age.
    return "; Path=/; SameSite=Strict; Max-Age=" + std::to_string(max_age) +
           (max_age == 0 ? "; Expires=Thu, 01 Jan 1970 00:00:00 GMT" : "") + (http_only ? "; HttpOnly" : "") +
           (tls ? "; Secure" : "");
}

// {Username, Password} from a form or a JSON object (names case-insensitive).
std::optional<std::pair<std::string, std::string>> credentials_of(std::string_view type, const request& req) {
    std::optional<std::string> user, password;
    if (type.starts_with("application/x-www-form-urlencoded")) {
        try {
            // A form encodes spaces as '+'.
            // req.body() is a std::string, NUL-terminated, as Boost.URL 1.81's parse_query needs.
            boost::urls::params_view params(req.body(), boost::urls::encoding_opts(true));
            for (auto p : params) {
                if (core::iequals_ascii(p.key, "Username")) user = p.value;
                if (core::iequals_ascii(p.key, "Password")) password = p.value;
            }
        } catch (const std::exception&) {
            return std::nullopt;
        }
    } else if (type.starts_with("application/json") || type.starts_with("text/json")) {
        boost::system::error_code ec;
        auto v = json::parse(req.body(), ec);
        if (ec || !v.is_object()) return std::nullopt;
        for (const auto& kv : v.as_object()) {
            if (!kv.value().is_string()) continue;
            if (core::iequals_ascii(kv.key(), "Username")) user = std::string(kv.value().as_string());
            if (core::iequals_ascii(kv.key(), "Password")) password = std::string(kv.value().as_string());
        }
    }
    if (!user || !password) return std::nullopt;
    return std::pair{*user, *password};
}

asio::awaitable<response> login(const guard& g, request_context& ctx, request& req) {
    auto creds = credentials_of(ctx.header->content_type, req);
    if (!creds)
        co_return error_response(http::status::bad_request,
                                 "Send Username and Password as a form or a JSON object.", "auth");
    auto result = co_await g.authenticator->login(creds->first, creds->second, std::string(ctx.peer));
    if (result.outcome.what != auth::verdict::kind::ok) co_return g.refusal(result.outcome, ctx);
    auto ttl = static_cast<long>(g.authenticator->config().session_ttl.count());
    response r{http::status::no_content, {}, {}, {}, false};
    r.headers.emplace_back("Set-Cookie", "smtpcheck_session=" + result.session_cookie + cookie_attributes(ctx.tls, ttl, true));
    r.headers.emplace_back("Set-Cookie", "XSRF-TOKEN=" + result.xsrf + cookie_attributes(ctx.tls, ttl, false));
    r.headers.emplace_back("Cache-Control", "no-store");
    if (g.log) g.log->info("login user={} peer={} id={}", creds->first, ctx.peer, ctx.request_id);
    co_return r;
}

asio::awaitable<response> logout(request_context& ctx) {
    response r{http::status::no_content, {}, {}, {}, false};
    r.headers.emplace_back("Set-Cookie", "smtpcheck_session=" + cookie_attributes(ctx.tls, 0, true));
    r.headers.emplace_back("Set-Cookie", "XSRF-TOKEN=" + cookie_attributes(ctx.tls, 0, false));
    co_return r;
}

}  // namespace

std::string read_auth_secret(const config& cfg) {
    if (cfg.auth.secret_file.empty()) return {};
    auto secret = slurp(cfg.auth.secret_file, "auth.secret_file");
    if (secret.size() < 32) throw config_error("auth.secret_file " + cfg.auth.secret_file + " must hold at least 32 octets");
    return secret;
}

auth::settings make_auth_settings(const config& cfg, spdlog::logger* log) {
    auth::settings s;
    s.basic = cfg.auth.basic;
    s.soticket = cfg.auth.soticket;
    s.bearer = cfg.auth.bearer;
    s.session = cfg.auth.session;
    s.secret = read_auth_secret(cfg);
    if (s.secret.empty()) {
        s.secret = core::random_bytes(32);
        if (log)
            log->warn("auth.secret_file is empty: tickets and sessions are signed with a random key and die with "
                      "this process");
    }
    s.ticket_ttl = cfg.auth.ticket_ttl;
    s.session_ttl = cfg.auth.ticket_ttl;
    if (!cfg.auth.jwt_keys_file.empty()) {
        try {
            s.jwt = std::make_shared<auth::jwt_verifier>(
                slurp(cfg.auth.jwt_keys_file, "auth.jwt_keys_file"),
                auth::jwt_options{cfg.auth.jwt_issuer, cfg.auth.jwt_audience, cfg.auth.jwt_leeway, 8192});
        } catch (const std::runtime_error& e) {
            throw config_error(e.what());
        }
    }
    s.app_tokens = cfg.auth.app_tokens;
    s.require_app_token = cfg.auth.require_app_token;
    s.failed_logins_per_minute = cfg.auth.failed_logins_per_minute;
    s.users = cfg.users;
    return s;
}

void add_api_routes(router& routes, const config& cfg, std::shared_ptr<auth::authenticator> authenticator,
                    std::shared_ptr<spdlog::logger> log, std::shared_ptr<metrics> counters) {
    auto ep = std::make_shared<test_endpoint>();
    ep->counters = std::move(counters);
    auto g = std::make_shared<const guard>(
        guard{std::move(authenticator), log, serialization::builtin_catalogs()});
    ep->settings = make_test_settings(cfg);
    ep->make_message_settings();
    ep->max_concurrent = cfg.api.max_concurrent_tests;
    ep->max_document = cfg.server.body_limit;
    if (cfg.api.tests_per_minute_per_user > 0)
        ep->per_user = std::make_unique<core::rate_limiter>(cfg.api.tests_per_minute_per_user);
    ep->slow_threshold = cfg.api.slow_threshold;
    ep->log = log;

    auto check = [g](request_context& ctx, const request_header&) { return g->admit(ctx); };
    auto check_test = [g](request_context& ctx, const request_header&) { return check_test_request(*g, ctx); };
    const std::string test_path = "/api/v1/Agents/CustomerService/TestSmtpServer";
    routes.add(route_scope::api, test_path, http::verb::get,
               {check, [](request_context& ctx, request&) { return describe_test_smtp_server(ctx.media()); }});
    routes.add(route_scope::api, test_path, http::verb::post,
               {check_test, [ep](request_context& ctx, request& req) { return run_smtp_test(ep, ctx, req, false); }, true});
    routes.add(route_scope::api, "/api/v1/smtpcheck/Diagnose", http::verb::post,
               {check_test, [ep](request_context& ctx, request& req) { return run_smtp_test(ep, ctx, req, true); }, true});
    routes.add(route_scope::root, "/login", http::verb::post,
               {nullptr, [g](request_context& ctx, request& req) { return login(*g, ctx, req); }});
    routes.add(route_scope::root, "/logout", http::verb::post,
               {nullptr, [](request_context& ctx, request&) { return logout(ctx); }});
}

}  // namespace smtpcheck::server
