// The API routes and the authentication every one of them passes (SPEC 2.1, 2.2).
#pragma once

#include "smtpcheck/auth/authenticator.hpp"
#include "smtpcheck/server/config.hpp"
#include "smtpcheck/server/metrics.hpp"
#include "smtpcheck/server/router.hpp"
#include "smtpcheck/store/redis_client.hpp"

#include <memory>

namespace spdlog {
class logger;
}

namespace smtpcheck::server {

/// [auth] and [users] as the authenticator's settings: reads auth.secret_file (>= 32 octets;
/// empty: a random key for this process, with a warning) and auth.jwt_keys_file.
/// Throws config_error on a file that cannot be used. With `redis`, logged-out sessions are
/// recorded there and refused by every instance sharing it.
auth::settings make_auth_settings(const config& cfg, spdlog::logger* log,
                                  std::shared_ptr<store::redis_client> redis = nullptr);

/// The secret of auth.secret_file, as make_auth_settings reads it (for `smtpcheck ticket`).
std::string read_auth_secret(const config& cfg);

/// The OpenAPI 3.1 document of every route (config/openapi.json, embedded), with the API
/// routes and the admin page under `base_path`. add_api_routes serves it at GET /openapi.json.
std::string openapi_document(std::string_view base_path);

/// Adds the API routes (TestSmtpServer, Diagnose), /login and /logout, all guarded by
/// `authenticator`; GET /openapi.json; and the admin page at {base_path}/ with its assets
/// (web/, embedded), which need no authentication. With `redis` (a started client, [store]
/// backend = redis) the tests-per-user limit is counted across every instance sharing it.
void add_api_routes(router& routes, const config& cfg, std::shared_ptr<auth::authenticator> authenticator,
                    std::shared_ptr<spdlog::logger> log, std::shared_ptr<metrics> counters,
                    std::shared_ptr<store::redis_client> redis = nullptr);

}  // namespace smtpcheck::server
