// The API: the authenticator's settings from [auth] and [users], and the routes that every
// request reaches through the guard (test_routes.cpp, session_routes.cpp).
#include "smtpcheck/server/api.hpp"

#include "guard.hpp"
#include "smtpcheck/core/system.hpp"
#include "smtpcheck/serialization/localization.hpp"
#include "smtpcheck/store/shared_limiter.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/logger.h>

namespace smtpcheck {
namespace embedded {
std::string_view openapi_json();
}

namespace server {

std::string openapi_document(std::string_view base_path) {
    auto doc = boost::json::parse(embedded::openapi_json()).as_object();
    if (!base_path.empty()) {
        boost::json::object paths;
        for (auto& [path, item] : doc.at("paths").as_object()) {
            const std::string key(path);
            // The API and the admin page (/ and its /app.* assets) move under the base path; the
            // page's path is the base path itself, whose GET redirects to {base_path}/ (as the
            // router matches paths, and OpenAPI linters want no trailing slash).
            const bool based = key.starts_with("/api/") || key == "/" || key.starts_with("/app.");
            paths[!based ? key : key == "/" ? std::string(base_path) : std::string(base_path) + key] = std::move(item);
        }
        doc["paths"] = std::move(paths);
    }
    return boost::json::serialize(doc);
}

namespace {
boost::asio::awaitable<response> openapi_response(const std::string& text) {
    response r{http::status::ok, "application/json", text, {}, false};
    r.headers.emplace_back("Cache-Control", "no-cache");
    co_return r;
}
}  // namespace

namespace {
// Logged-out sessions in Redis, shared by every instance: <prefix>revoked:<id>, kept until the
// session's own expiry (SET ... PXAT), looked up with EXISTS.
class redis_revocations final : public auth::session_revocations {
public:
    redis_revocations(std::shared_ptr<store::redis_client> redis, std::string prefix)
        : redis_(std::move(redis)), prefix_(std::move(prefix) + "revoked:") {}
    boost::asio::awaitable<bool> revoke(std::string id, clock::time_point until) override {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until.time_since_epoch()).count();
        std::vector<std::string> args{"SET", prefix_ + id, "1", "PXAT", std::to_string(ms)};
        auto r = co_await redis_->command(std::move(args));
        co_return !r.error;
    }
    boost::asio::awaitable<std::optional<bool>> revoked(std::string id) override {
        std::vector<std::string> args{"EXISTS", prefix_ + id};
        auto r = co_await redis_->command(std::move(args));
        if (r.error || r.reply.type != store::redis_reply::kind::integer) co_return std::nullopt;
        co_return r.reply.integer == 1;
    }

private:
    std::shared_ptr<store::redis_client> redis_;
    std::string prefix_;
};

// Failed logins per address in Redis, counted by every instance: <prefix>limit:login:<address>,
// the same window as the tests-per-user limit (store::shared_limiter).
class redis_failures final : public auth::shared_failures {
public:
    redis_failures(std::shared_ptr<store::redis_client> redis, const std::string& prefix, unsigned limit)
        : limiter_(std::move(redis), prefix + "limit:login:", limit) {}
    boost::asio::awaitable<std::optional<count>> take(std::string key) override {
        co_return answer(co_await limiter_.take(std::move(key)));
    }
    boost::asio::awaitable<std::optional<count>> add(std::string key) override {
        co_return answer(co_await limiter_.add(std::move(key)));
    }
    boost::asio::awaitable<std::optional<count>> give(std::string key) override {
        co_return answer(co_await limiter_.give(std::move(key)));
    }

private:
    static std::optional<count> answer(const store::shared_limiter::verdict& v) {
        if (v.error) return std::nullopt;
        return count{!v.wait, v.count, v.left};
    }
    store::shared_limiter limiter_;
};
}  // namespace

std::string read_auth_secret(const config& cfg) {
    if (cfg.auth.secret_file.empty()) return {};
    auto secret = read_config_file(cfg.auth.secret_file, "auth.secret_file");
    if (secret.size() < 32) throw config_error("auth.secret_file " + cfg.auth.secret_file + " must hold at least 32 octets");
    return secret;
}

auth::settings make_auth_settings(const config& cfg, spdlog::logger* log, std::shared_ptr<store::redis_client> redis) {
    auth::settings s;
    if (redis) {
        s.revocations = std::make_shared<redis_revocations>(redis, cfg.store.key_prefix);
        if (cfg.auth.failed_logins_per_minute > 0)
            s.failures = std::make_shared<redis_failures>(redis, cfg.store.key_prefix, cfg.auth.failed_logins_per_minute);
        s.failures_fail_open = cfg.store.limits_fail_open;
    }
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
                read_config_file(cfg.auth.jwt_keys_file, "auth.jwt_keys_file"),
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
                    std::shared_ptr<spdlog::logger> log, std::shared_ptr<metrics> counters,
                    std::shared_ptr<store::redis_client> redis) {
    auto g = std::make_shared<const guard>(guard{std::move(authenticator), log, serialization::builtin_catalogs()});
    add_test_routes(routes, cfg, g, std::move(log), std::move(counters), std::move(redis));
    add_session_routes(routes, std::move(g));
    add_web_routes(routes, cfg.server.base_path);
    // The API's description (config/openapi.json), without authentication, as served here.
    routes.add(route_scope::root, "/openapi.json", http::verb::get,
               {nullptr, [text = std::make_shared<const std::string>(openapi_document(cfg.server.base_path))](
                             request_context&, request&) { return openapi_response(*text); }});
}

}  // namespace server
}  // namespace smtpcheck
