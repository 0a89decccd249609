// What every API route checks first: the caller (SPEC 2.2), refused in the caller's language
// and format. Private to the server's route files.
#pragma once

#include "smtpcheck/auth/authenticator.hpp"
#include "smtpcheck/serialization/localization.hpp"
#include "smtpcheck/server/config.hpp"
#include "smtpcheck/server/error_document.hpp"
#include "smtpcheck/server/metrics.hpp"
#include "smtpcheck/server/router.hpp"
#include "smtpcheck/store/redis_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <string>

namespace smtpcheck::server {

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
        case auth::verdict::kind::unavailable: {  // store.limits_on_error = closed, Redis away
            auto r = error_response(http::status::service_unavailable, words(ctx, "ServiceUnavailable"), "auth", media);
            r.headers.emplace_back("Retry-After", std::to_string(v.retry_after.count()));
            return r;
        }
        default: {
            auto r = error_response(http::status::unauthorized, words(ctx, "Unauthorized"), "auth", media);
            // A page's script (the admin page) handles a 401 itself: a Basic challenge would make
            // the browser ask for a password in its own dialog (as ASP.NET leaves it out too).
            const bool from_script = ctx.header && ctx.header->from_script;
            for (auto& c : authenticator->challenges())
                if (!(from_script && c.starts_with("Basic"))) r.headers.emplace_back("WWW-Authenticate", c);
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

/// The routes of TestSmtpServer (its description and the test) and Diagnose (test_routes.cpp).
void add_test_routes(router& routes, const config& cfg, std::shared_ptr<const guard> g,
                     std::shared_ptr<spdlog::logger> log, std::shared_ptr<metrics> counters,
                     std::shared_ptr<store::redis_client> redis);
/// POST /login and /logout (session_routes.cpp).
void add_session_routes(router& routes, std::shared_ptr<const guard> g);
/// The admin page at {base_path}/ and its assets (web_routes.cpp).
void add_web_routes(router& routes, std::string_view base_path);

}  // namespace smtpcheck::server
