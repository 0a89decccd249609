#include "smtpcheck/store/shared_limiter.hpp"


namespace smtpcheck::store {

namespace {

// KEYS[1]: the window's counter. ARGV[1]: the limit, ARGV[2]: the window in ms.
// Returns {counted 1|0, count, ms left in the window}.
constexpr std::string_view take_script = R"(local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if n >= tonumber(ARGV[1]) and ttl >= 0 then return {0, n, ttl} end
n = redis.call('INCR', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {1, n, ttl}
)";

}  // namespace

shared_limiter::shared_limiter(std::shared_ptr<redis_client> redis, std::string prefix, unsigned limit,
                               std::chrono::milliseconds window)
    : redis_(std::move(redis)), prefix_(std::move(prefix)), limit_(std::to_string(limit)),
      window_ms_(std::to_string(window.count())) {}

boost::asio::awaitable<shared_limiter::verdict> shared_limiter::take(std::string key) const {
    // EVAL, not EVALSHA with a fallback: one command, so one timeout (Redis keeps the
    // compiled script by its SHA-1 either way; the text is 300 octets).
    std::vector<std::string> args{"EVAL", std::string(take_script), "1", prefix_ + key, limit_, window_ms_};
    auto r = co_await redis_->command(std::move(args));
    if (r.error) co_return verdict{r.error, std::nullopt};
    const auto& e = r.reply.elements;
    if (r.reply.type != redis_reply::kind::array || e.size() != 3)
        co_return verdict{make_error_code(redis_errc::server_error), std::nullopt};
    if (e[0].integer == 1) co_return verdict{};
    co_return verdict{{}, std::chrono::seconds(e[2].integer / 1000 + 1)};
}

}  // namespace smtpcheck::store
