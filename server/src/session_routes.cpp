// The browser session (SPEC 2.2): POST /login sets the session and XSRF-TOKEN cookies, POST
// /logout clears them.
#include "guard.hpp"

#include "smtpcheck/core/ascii.hpp"

#include <boost/json/parse.hpp>
#include <boost/url/params_view.hpp>

namespace smtpcheck::server {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

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

asio::awaitable<response> logout(const guard& g, request_context& ctx) {
    // The session is refused from now on by every instance sharing the revocation list; the
    // cookies are cleared either way. When the list could not record it, 503 says so: a copy
    // of the cookie would still be good.
    // Named first: GCC 12 destroys a conditional's temporary twice inside a co_await.
    std::string cookies = ctx.header ? std::string(ctx.header->credentials.cookie) : std::string();
    const bool recorded = co_await g.authenticator->logout(std::move(cookies));
    response r = recorded ? response{http::status::no_content, {}, {}, {}, false}
                          : error_response(http::status::service_unavailable, g.words(ctx, "ServiceUnavailable"), "auth",
                                           ctx.media());
    if (!recorded) r.headers.emplace_back("Retry-After", "1");
    r.headers.emplace_back("Set-Cookie", "smtpcheck_session=" + cookie_attributes(ctx.tls, 0, true));
    r.headers.emplace_back("Set-Cookie", "XSRF-TOKEN=" + cookie_attributes(ctx.tls, 0, false));
    co_return r;
}

}  // namespace

void add_session_routes(router& routes, std::shared_ptr<const guard> g) {
    routes.add(route_scope::root, "/login", http::verb::post,
               {nullptr, [g](request_context& ctx, request& req) { return login(*g, ctx, req); }});
    routes.add(route_scope::root, "/logout", http::verb::post,
               {nullptr, [g](request_context& ctx, request&) { return logout(*g, ctx); }});
}

}  // namespace smtpcheck::server
