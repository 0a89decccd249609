// The configuration's view of an SMTP test: what [smtp] and [api] say, as test_settings.
#pragma once

#include "smtpcheck/server/config.hpp"
#include "smtpcheck/smtp/engine.hpp"
#include "smtpcheck/store/redis_client.hpp"

#include <memory>

namespace smtpcheck {

/// Builds the settings once (the TLS context loads the system store and smtp.ca_file).
/// Throws std::runtime_error when smtp.ca_file cannot be loaded. With `redis` ([store]
/// backend = redis), stored passwords are looked up there (shared_credentials.hpp).
smtp::test_settings make_test_settings(const config& cfg, std::shared_ptr<store::redis_client> redis = nullptr);

}  // namespace smtpcheck
