// A limit of events per key in a window shared by every instance through Redis: the same
// counting as core::rate_limiter::take (a window of `window` that starts with the key's first
// event; a refused event does not count; Retry-After is the whole seconds left plus one),
// done by one Lua script in one round trip, so that two instances cannot both let the last
// event through.
#pragma once

#include "smtpcheck/store/redis_client.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace smtpcheck::store {

class shared_limiter {
public:
    /// Keys are `<prefix><key>`.
    shared_limiter(std::shared_ptr<redis_client> redis, std::string prefix, unsigned limit,
                   std::chrono::milliseconds window = std::chrono::minutes(1));

    struct verdict {
        /// Redis did not answer (in time, or at all): the event may or may not have been counted.
        boost::system::error_code error;
        std::optional<std::chrono::seconds> wait;  ///< over the limit: the wait; else counted
        long long count = 0;                       ///< events in the window afterwards
        std::chrono::milliseconds left{0};         ///< until the window ends
    };
    /// Counts one event for `key` unless it is at the limit. Never waits past the client's
    /// command_timeout, nor do the two below.
    boost::asio::awaitable<verdict> take(std::string key) const;
    /// Counts one event whatever the limit (core::rate_limiter::add).
    boost::asio::awaitable<verdict> add(std::string key) const;
    /// Un-counts one event (core::rate_limiter::give_back); a window back at none is dropped.
    /// Unlike give_back it cannot tell windows apart: a give that comes after the window
    /// ended un-counts one of the next window's.
    boost::asio::awaitable<verdict> give(std::string key) const;

private:
    boost::asio::awaitable<verdict> run(std::string_view op, std::string key) const;

    std::shared_ptr<redis_client> redis_;
    std::string prefix_;
    std::string limit_, window_ms_;
};

}  // namespace smtpcheck::store
