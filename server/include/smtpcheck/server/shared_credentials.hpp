// Stored SMTP passwords in Redis ([store] backend = redis, issue 14), so that a password set
// through one instance's configuration is used by a test on any other: one hash,
// `<prefix>credentials`, whose fields are `user NUL host NUL port` and whose values are the
// sealed text of smtp::credential_store::seal_text. The key that seals them stays in each
// instance's smtp.secret_key_file (every instance needs a copy of the same key); Redis never
// holds it nor a password in clear.
#pragma once

#include "smtpcheck/server/config.hpp"
#include "smtpcheck/smtp/credential_store.hpp"
#include "smtpcheck/store/redis_client.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace smtpcheck {

class redis_credentials final : public smtp::shared_passwords {
public:
    redis_credentials(std::shared_ptr<store::redis_client> redis, const std::string& key_prefix,
                      std::shared_ptr<const smtp::credential_store> keys);

    /// One HGET. Throws smtp::credential_error when Redis does not answer or the password
    /// cannot be opened with this instance's key.
    boost::asio::awaitable<std::optional<std::string>> password_for(smtp::credential_key key) const override;
    /// HSET, HDEL, HKEYS; each throws smtp::credential_error when Redis does not answer.
    boost::asio::awaitable<void> set(smtp::credential_key key, std::string password) const;
    boost::asio::awaitable<bool> remove(smtp::credential_key key) const;
    boost::asio::awaitable<std::vector<smtp::credential_key>> list() const;

private:
    boost::asio::awaitable<store::redis_client::result> run(std::vector<std::string> args) const;
    std::shared_ptr<store::redis_client> redis_;
    std::string hash_;
    std::shared_ptr<const smtp::credential_store> keys_;
};

/// The connection's settings from [store].
store::redis_settings redis_settings_of(const config& cfg);

/// For the command line (`credentials`, `probe`): connects to store.redis_url on a private
/// io_context, waits at most store.connect_timeout_ms for the connection, then runs `body`
/// to its end. Throws smtp::credential_error when Redis cannot be reached; what `body` throws
/// comes out of it.
void run_with_redis(const config& cfg,
                    std::function<boost::asio::awaitable<void>(std::shared_ptr<store::redis_client>)> body);

}  // namespace smtpcheck
