#include "smtpcheck/server/api.hpp"

#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/server/error_document.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/params_view.hpp>
#include <spdlog/logger.h>

#include <fstream>
#include <sstream>

namespace smtpcheck::server {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

std::string slurp(const std::string& path, const char* key) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw config_error(std::string(key) + ": cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The part of a route that checks the caller; one per API route and for nothing else.
struct guard {
    std::shared_ptr<auth::authenticator> authenticator;
    std::shared_ptr<spdlog::logger> log;

    response refusal(const auth::verdict& v, request_context& ctx) const {
        if (log) log->info("auth refused ({}): {} peer={} id={}", v.scheme.empty() ? "-" : v.scheme, v.reason, ctx.peer,
                           ctx.request_id);
        switch (v.what) {
        case auth::verdict::kind::forbidden:
            return error_response(http::status::forbidden, "The request is not allowed.", "auth");
        case auth::verdict::kind::too_many_requests: {
            auto r = error_response(http::status::too_many_requests,
                                    "Too many failed attempts. Try again later.", "auth");
            r.headers.emplace_back("Retry-After", std::to_string(v.retry_after.count()));
            return r;
        }
        default: {
            auto r = error_response(http::status::unauthorized, "Authentication is required.", "auth");
            for (auto& c : authenticator->challenges()) r.headers.emplace_back("WWW-Authenticate", c);
            return r;
        }
        }
    }
};

asio::awaitable<std::optional<response>> authenticate(guard g, request_context& ctx, const request_header& h) {
    auto v = co_await g.authenticator->check(h, std::string(ctx.peer));
    if (v.what != auth::verdict::kind::ok) co_return g.refusal(v, ctx);
    ctx.principal = v.principal;
    co_return std::nullopt;
}

asio::awaitable<response> describe_test_smtp_server() {
    static const std::string body = json::serialize(json::object{
        {"Name", "TestSmtpServer"},
        {"Agent", "CustomerService"},
        {"Method", "POST"},
        {"Parameters", json::array{json::object{{"Name", "SmtpUri"}, {"Type", "string"}},
                                   json::object{{"Name", "From"}, {"Type", "string"}},
                                   json::object{{"Name", "UseStoredPassword"}, {"Type", "bool"}}}},
        {"ReturnType", "SmtpTestResult"},
        {"ReturnProperties", json::array{json::object{{"Name", "Success"}, {"Type", "bool"}},
                                         json::object{{"Name", "ErrorMessage"}, {"Type", "string"}},
                                         json::object{{"Name", "TableRight"}, {"Type", "TableRight"}},
                                         json::object{{"Name", "FieldProperties"}, {"Type", "FieldPropertyDictionary"}}}}});
    co_return response{http::status::ok, "application/json; charset=utf-8", body, {}, false};
}

std::string cookie_attributes(bool tls, long max_age, bool http_only) {
    // A cleared cookie also gets an Expires in the past, for clients older than Max-Age.
    return "; Path=/; SameSite=Strict; Max-Age=" + std::to_string(max_age) +
           (max_age == 0 ? "; Expires=Thu, 01 Jan 1970 00:00:00 GMT" : "") + (http_only ? "; HttpOnly" : "") +
           (tls ? "; Secure" : "");
}

// {Username, Password} from a form or a JSON object (names case-insensitive).
std::optional<std::pair<std::string, std::string>> credentials_of(const request& req) {
    std::string_view type = req[http::field::content_type];
    std::optional<std::string> user, password;
    if (type.starts_with("application/x-www-form-urlencoded")) {
        try {
            // A form encodes spaces as '+'.
            boost::urls::params_view params(req.body(), boost::urls::encoding_opts(true));
            for (auto p : params) {
                if (boost::beast::iequals(p.key, "Username")) user = p.value;
                if (boost::beast::iequals(p.key, "Password")) password = p.value;
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
            if (boost::beast::iequals(kv.key(), "Username")) user = std::string(kv.value().as_string());
            if (boost::beast::iequals(kv.key(), "Password")) password = std::string(kv.value().as_string());
        }
    }
    if (!user || !password) return std::nullopt;
    return std::pair{*user, *password};
}

asio::awaitable<response> login(guard g, request_context& ctx, request& req) {
    auto creds = credentials_of(req);
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
        s.secret = auth::random_bytes(32);
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

void add_api_routes(router& routes, const config&, std::shared_ptr<auth::authenticator> authenticator,
                    std::shared_ptr<spdlog::logger> log) {
    guard g{std::move(authenticator), std::move(log)};
    auto check = [g](request_context& ctx, const request_header& h) { return authenticate(g, ctx, h); };
    routes.add(route_scope::api, "/api/v1/Agents/CustomerService/TestSmtpServer", http::verb::get,
               {check, [](request_context&, request&) { return describe_test_smtp_server(); }});
    routes.add(route_scope::root, "/login", http::verb::post,
               {nullptr, [g](request_context& ctx, request& req) { return login(g, ctx, req); }});
    routes.add(route_scope::root, "/logout", http::verb::post,
               {nullptr, [](request_context& ctx, request&) { return logout(ctx); }});
}

}  // namespace smtpcheck::server
