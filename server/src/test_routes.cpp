// TestSmtpServer and Diagnose (SPEC 3): auth -> body -> limits -> the test -> the document.
#include "guard.hpp"

#include "smtpcheck/core/rate_limiter.hpp"
#include "smtpcheck/serialization/document.hpp"
#include "smtpcheck/serialization/report.hpp"
#include "smtpcheck/serialization/request_body.hpp"
#include "smtpcheck/server/config.hpp"
#include "smtpcheck/server/metrics.hpp"
#include "smtpcheck/server/smtp_settings.hpp"
#include "smtpcheck/smtp/engine.hpp"
#include "smtpcheck/store/shared_limiter.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/json/monotonic_resource.hpp>

#include <atomic>
#include <map>
#include <variant>

namespace smtpcheck::server {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

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
    /// Tests per user per minute; null: no limit (api.tests_per_minute_per_user = 0). With
    /// Redis it is only the fallback of `shared_per_user` when Redis cannot answer.
    std::unique_ptr<core::rate_limiter> per_user;
    /// The same limit counted across every instance ([store] backend = redis); null: local.
    std::unique_ptr<store::shared_limiter> shared_per_user;
    bool limits_fail_open = true;  ///< store.limits_on_error

    void make_message_settings() {
        for (const auto& language : texts.languages()) {
            auto s = std::make_shared<smtp::test_settings>(settings);
            s->subject = texts.text(language, "message", "subject");
            s->body = texts.text(language, "message", "body");
            diagnose_by_language[language] = s;
            auto quiet = std::make_shared<smtp::test_settings>(*s);
            quiet->keep_transcript = false;
            quiet->suggest = false;  // SmtpTestResult has no place for them
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
    std::optional<serialization::selection> select;  ///< $select of the target, parsed once
};

std::optional<serialization::selection> select_of(std::string_view target) {
    auto text = serialization::select_parameter(target);
    if (!text) return std::nullopt;
    return serialization::selection(*text);
}

response too_many_tests(const test_endpoint& ep, const serialization::language_choice& lang,
                         serialization::media_type media, std::chrono::seconds wait) {
    auto r = error_response(http::status::too_many_requests, serialization::error_message(ep.texts, lang, "TooManyTests"),
                            "api", media);
    r.headers.emplace_back("Retry-After", std::to_string(wait.count()));
    return r;
}

// The tests-per-user limit counted across instances (Redis): a refusal, or nothing. When
// Redis cannot answer (within store.command_timeout_ms), store.limits_on_error decides: this
// instance counts on its own, or the test is refused with 503.
asio::awaitable<std::optional<response>> check_shared_user_limit(test_endpoint& ep, const request_context& ctx,
                                                                 const test_to_run& t) {
    auto v = co_await ep.shared_per_user->take(ctx.principal);
    auto wait = v.wait;
    if (v.error) {
        ++ep.counters->store_limit_errors;
        if (ep.log)
            ep.log->debug("tests-per-user limit: redis did not answer ({}) id={}", v.error.message(), ctx.request_id);
        if (!ep.limits_fail_open) {
            auto r = error_response(http::status::service_unavailable,
                                    serialization::error_message(ep.texts, t.lang, "ServiceUnavailable"), "api", t.media);
            r.headers.emplace_back("Retry-After", "1");
            co_return r;
        }
        wait = ep.over_user_limit(ctx.principal);
    }
    if (wait) co_return too_many_tests(ep, t.lang, t.media, *wait);
    co_return std::nullopt;
}

// Before the test: the body decoded and the limits passed (the test then counts as in
// flight), or the refusal to send.
std::variant<test_to_run, response> accept_test(test_endpoint& ep, request_context& ctx, const request& req) {
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

    if (auto wait = ep.shared_per_user ? std::nullopt : ep.over_user_limit(ctx.principal))
        return too_many_tests(ep, lang, media, *wait);
    if (ep.counters->tests_in_flight.fetch_add(1) >= ep.max_concurrent) {
        --ep.counters->tests_in_flight;
        auto r = error_response(http::status::service_unavailable, serialization::error_message(ep.texts, lang, "ServiceUnavailable"), "api",
                                media);
        r.headers.emplace_back("Retry-After", "1");
        return r;
    }
    return test_to_run{{std::move(body.smtp_uri).value_or(""), std::move(body.from).value_or(""), body.use_stored_password},
                       std::move(lang), media, select_of(req.target())};
}

// After the test: counted, logged when slow, answered. A cancelled test (its caller closed the
// connection, or a stop outlasted the grace) is counted as such, not by the outcome the
// cancellation gave it (SR_SMTP_TIMEOUT), nor logged as slow. It is still answered as before:
// a client that only half-closed its side may be reading.
response answer_test(test_endpoint& ep, const request_context& ctx, const test_to_run& t,
                     const smtp::test_report& report, bool diagnose, bool cancelled = false) {
    if (cancelled)
        ++ep.counters->tests_cancelled;
    else
        ep.counters->record_test(report.success ? smtp::outcome_code::none : report.code);
    if (!cancelled && report.total_ms > static_cast<double>(ep.slow_threshold.count()) && ep.log) {
        std::string timings;
        for (const auto& p : report.timings)
            timings += std::string(smtp::phase_name(p.which)) + "=" + std::to_string(static_cast<int>(p.ms)) + "ms ";
        ep.log->warn("slow SMTP test id={} host={}:{} total={}ms {}", ctx.request_id, report.host, report.port,
                     static_cast<int>(report.total_ms), timings);
    }
    // Words only for what $select keeps (composing ErrorMessage is most of a failed test's answer).
    auto wanted = [&](std::string_view name) { return !t.select || t.select->keeps(name); };
    const auto message = wanted("ErrorMessage")
                             ? serialization::report_message(report, t.lang, ep.texts, ep.settings.deadline)
                             : std::nullopt;
    // The document lives until it is written: its nodes go into a stack arena, not the heap.
    unsigned char arena_buffer[1024];
    json::monotonic_resource arena(arena_buffer, sizeof arena_buffer);
    serialization::document doc =
        diagnose ? serialization::report_document(
                       report, message,
                       wanted("Hint") ? serialization::report_hint(report, t.lang, ep.texts) : std::nullopt,
                       wanted("Warnings") ? serialization::report_warnings(report, t.lang, ep.texts)
                                          : std::vector<serialization::worded_warning>{},
                       wanted("Suggestions") ? serialization::report_suggestions(report, t.lang, ep.texts)
                                             : std::vector<serialization::worded_suggestion>{})
                 : serialization::test_result_document(report, message, &arena);
    if (t.select) t.select->apply(doc.body);
    return response{http::status::ok, serialization::content_type_of(t.media), serialization::write(doc, t.media), {},
                    false};
}

asio::awaitable<response> run_smtp_test(std::shared_ptr<test_endpoint> ep, request_context& ctx, request& req,
                                        bool diagnose) {
    auto accepted = accept_test(*ep, ctx, req);
    if (auto* refusal = std::get_if<response>(&accepted)) co_return std::move(*refusal);
    auto& t = std::get<test_to_run>(accepted);
    // Everything needed from the request is in `t` now: its header fields and body are given
    // back for the seconds the test may take (P3: memory per test in flight).
    req = request{};
    struct in_flight_guard {
        std::atomic<std::size_t>& n;
        ~in_flight_guard() { --n; }
    } counted{ep->counters->tests_in_flight};
    if (ep->shared_per_user)
        if (auto refused = co_await check_shared_user_limit(*ep, ctx, t)) co_return std::move(*refused);

    auto settings = ep->settings_for(t.lang.language, diagnose);  // the message in the caller's language
    // Validation needs no I/O: a request refused by it is answered without watching the client.
    auto ready = smtp::prepare_test(t.test, *settings);
    if (auto* refused = std::get_if<smtp::test_report>(&ready)) co_return answer_test(*ep, ctx, t, *refused, diagnose);
    if (ctx.watch_for_disconnect) ctx.watch_for_disconnect();  // the seconds on the network begin
    auto executor = co_await asio::this_coro::executor;
    smtp::test_report report =
        co_await smtp::run_test(executor, std::get<smtp::prepared_test>(std::move(ready)), std::move(settings));
    const auto cancelled = (co_await asio::this_coro::cancellation_state).cancelled();
    co_return answer_test(*ep, ctx, t, report, diagnose, cancelled != asio::cancellation_type::none);
}

asio::awaitable<response> describe_test_smtp_server(serialization::media_type media) {
    co_return response{http::status::ok, serialization::content_type_of(media),
                       serialization::write(serialization::test_smtp_server_description(), media), {}, false};
}

}  // namespace

void add_test_routes(router& routes, const config& cfg, std::shared_ptr<const guard> g,
                     std::shared_ptr<spdlog::logger> log, std::shared_ptr<metrics> counters,
                     std::shared_ptr<store::redis_client> redis) {
    auto ep = std::make_shared<test_endpoint>();
    ep->counters = std::move(counters);
    ep->settings = make_test_settings(cfg, redis);
    ep->make_message_settings();
    ep->max_concurrent = cfg.api.max_concurrent_tests;
    ep->max_document = cfg.server.body_limit;
    if (cfg.api.tests_per_minute_per_user > 0)
        ep->per_user = std::make_unique<core::rate_limiter>(cfg.api.tests_per_minute_per_user);
    if (redis && cfg.api.tests_per_minute_per_user > 0)
        ep->shared_per_user = std::make_unique<store::shared_limiter>(
            std::move(redis), cfg.store.key_prefix + "limit:tests:", cfg.api.tests_per_minute_per_user);
    ep->limits_fail_open = cfg.store.limits_fail_open;
    ep->slow_threshold = cfg.api.slow_threshold;
    ep->log = std::move(log);

    auto check = [g](request_context& ctx, const request_header&) { return g->admit(ctx); };
    auto check_test = [g](request_context& ctx, const request_header&) { return check_test_request(*g, ctx); };
    const std::string test_path = "/api/v1/Agents/CustomerService/TestSmtpServer";
    routes.add(route_scope::api, test_path, http::verb::get,
               {check, [](request_context& ctx, request&) { return describe_test_smtp_server(ctx.media()); }});
    routes.add(route_scope::api, test_path, http::verb::post,
               {check_test, [ep](request_context& ctx, request& req) { return run_smtp_test(ep, ctx, req, false); }, true});
    routes.add(route_scope::api, "/api/v1/smtpcheck/Diagnose", http::verb::post,
               {check_test, [ep](request_context& ctx, request& req) { return run_smtp_test(ep, ctx, req, true); }, true});
}

}  // namespace smtpcheck::server
