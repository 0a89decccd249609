#include "smtpcheck/store/shared_limiter.hpp"

#include <algorithm>

namespace smtpcheck::store {

namespace {

// KEYS[1]: the window's counter. ARGV[1]: take|add|give, ARGV[2]: the limit, ARGV[3]: the
// window in ms. Returns {counted 1|0, count, ms left in the window}.
constexpr std::string_view count_script = R"(local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if ARGV[1] == 'give' then
  if n <= 1 then
    redis.call('DEL', KEYS[1])
    return {1, 0, 0}
  end
  return {1, redis.call('DECR', KEYS[1]), ttl}
end
if ARGV[1] == 'take' and n >= tonumber(ARGV[2]) and ttl >= 0 then return {0, n, ttl} end
n = redis.call('INCR', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  ttl = tonumber(ARGV[3])
end
return {1, n, ttl}
)";

}  // namespace

shared_limiter::shared_limiter(std::shared_ptr<redis_client> redis, std::string prefix, unsigned limit,
                               std::chrono::milliseconds window)
    : redis_(std::move(redis)), prefix_(std::move(prefix)), limit_(std::to_string(limit)),
      window_ms_(std::to_string(window.count())) {}

boost::asio::awaitable<shared_limiter::verdict> shared_limiter::take(std::string key) const {
    return run("take", std::move(key));
}

boost::asio::awaitable<shared_limiter::verdict> shared_limiter::add(std::string key) const {
    return run("add", std::move(key));
}

boost::asio::awaitable<shared_limiter::verdict> shared_limiter::give(std::string key) const {
    return run("give", std::move(key));
}

boost::asio::awaitable<shared_limiter::verdict> shared_limiter::run(std::string_view op, std::string key) const {
    // EVAL, not EVALSHA with a fallback: one command, so one timeout (Redis keeps the
    // compiled script by its SHA-1 either way; the text is 400 octets).
    std::vector<std::string> args{"EVAL", std::string(count_script), "1", prefix_ + key, std::string(op), limit_,
                                  window_ms_};
    auto r = co_await redis_->command(std::move(args));
    if (r.error) co_return verdict{r.error, std::nullopt};
    const auto& e = r.reply.elements;
    if (r.reply.type != redis_reply::kind::array || e.size() != 3)
        co_return verdict{make_error_code(redis_errc::server_error), std::nullopt};
    verdict v{{}, std::nullopt, e[1].integer, std::chrono::milliseconds(std::max<long long>(e[2].integer, 0))};
    if (e[0].integer != 1) v.wait = std::chrono::seconds(e[2].integer / 1000 + 1);
    co_return v;
}

}  // namespace smtpcheck::store
