#include "smtpcheck/server/shared_credentials.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>

namespace smtpcheck {

redis_credentials::redis_credentials(std::shared_ptr<store::redis_client> redis, const std::string& key_prefix,
                                     std::shared_ptr<const smtp::credential_store> keys)
    : redis_(std::move(redis)), hash_(key_prefix + "credentials"), keys_(std::move(keys)) {}

boost::asio::awaitable<store::redis_client::result> redis_credentials::run(std::vector<std::string> args) const {
    auto r = co_await redis_->command(std::move(args));
    if (r.error) {
        auto why = redis_->not_ready();
        std::string reason = r.error == store::redis_errc::server_error ? r.reply.text
                             : why                                    ? *why
                                                                      : redis_->address().text + ": " + r.error.message();
        throw smtp::credential_error("the stored passwords are in Redis, which did not answer: " + reason);
    }
    co_return r;
}

boost::asio::awaitable<std::optional<std::string>> redis_credentials::password_for(smtp::credential_key key) const {
    std::vector<std::string> args{"HGET", hash_, smtp::credential_store::field_of(key)};  // named: GCC 12
    auto r = co_await run(std::move(args));
    if (r.reply.type != store::redis_reply::kind::string) co_return std::nullopt;
    auto password = keys_->open_text(key, r.reply.text);
    if (!password)
        throw smtp::credential_error(
            "the stored password cannot be opened with this instance's key (smtp.secret_key_file): every instance "
            "needs a copy of the key it was stored with");
    co_return password;
}

boost::asio::awaitable<void> redis_credentials::set(smtp::credential_key key, std::string password) const {
    auto sealed = keys_->seal_text(key, password);
    std::vector<std::string> args{"HSET", hash_, smtp::credential_store::field_of(key), std::move(sealed)};
    co_await run(std::move(args));
}

boost::asio::awaitable<bool> redis_credentials::remove(smtp::credential_key key) const {
    std::vector<std::string> args{"HDEL", hash_, smtp::credential_store::field_of(key)};
    auto r = co_await run(std::move(args));
    co_return r.reply.integer > 0;
}

boost::asio::awaitable<std::vector<smtp::credential_key>> redis_credentials::list() const {
    std::vector<std::string> args{"HKEYS", hash_};
    auto r = co_await run(std::move(args));
    std::vector<smtp::credential_key> out;
    for (const auto& e : r.reply.elements)
        if (auto k = smtp::credential_store::key_of_field(e.text)) out.push_back(std::move(*k));
    co_return out;
}

store::redis_settings redis_settings_of(const config& cfg) {
    store::redis_settings s;
    s.url = cfg.store.redis_url;
    s.connect_timeout = cfg.store.connect_timeout;
    s.command_timeout = cfg.store.command_timeout;
    s.tls_ca_file = cfg.store.tls_ca_file;
    return s;
}

void run_with_redis(const config& cfg,
                    std::function<boost::asio::awaitable<void>(std::shared_ptr<store::redis_client>)> body) {
    boost::asio::io_context io;
    auto redis = store::redis_client::create(io.get_executor(), redis_settings_of(cfg));
    redis->start();
    std::exception_ptr failure;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            // The client connects in the background; its first try is bounded by connect_timeout.
            boost::asio::steady_timer wait(io);
            const auto until = std::chrono::steady_clock::now() + cfg.store.connect_timeout + std::chrono::milliseconds(100);
            while (redis->not_ready() && std::chrono::steady_clock::now() < until) {
                wait.expires_after(std::chrono::milliseconds(10));
                co_await wait.async_wait(boost::asio::use_awaitable);
            }
            if (auto why = redis->not_ready()) throw smtp::credential_error("cannot reach Redis: " + *why);
            co_await body(redis);
        },
        [&](std::exception_ptr e) {
            failure = e;
            redis->stop();
        });
    io.run();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace smtpcheck
