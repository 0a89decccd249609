// Events counted per key in fixed windows: the failed-login limit per client address (SPEC
// 2.2) and the tests-per-user limit (SPEC 3.6) are the same counter.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace smtpcheck::core {

/// Where rate_limiter::take() counted an event, for give_back.
struct rate_limiter_counted_in {
    bool overflow = false;  ///< the shared window of untracked keys
};

/// At most `limit` events per key in a window that starts with the key's first event.
/// Thread-safe. Memory is bounded: at most `max_keys` keys are tracked; a new key past that
/// first drops expired windows, and if the table is still full it shares one overflow window
/// with every other untracked key (so a flood of fresh keys neither grows the table nor wipes
/// the counts of those already in it).
class rate_limiter {
public:
    using clock = std::chrono::steady_clock;

    explicit rate_limiter(unsigned limit, std::size_t max_keys = 100000,
                          clock::duration window = std::chrono::minutes(1));

    /// The wait (whole seconds, rounded up, at least 1) before `key` may count again, or
    /// nothing when it is under the limit. Counts nothing.
    std::optional<std::chrono::seconds> over_limit(std::string_view key, clock::time_point now = clock::now());
    using counted_in = rate_limiter_counted_in;
    /// Counts one event for `key` unless it is at the limit; then the wait instead. `where`,
    /// when given, says which window counted it.
    std::optional<std::chrono::seconds> take(std::string_view key, clock::time_point now = clock::now(),
                                             counted_in* where = nullptr);
    /// Counts one event whatever the limit.
    void add(std::string_view key, clock::time_point now = clock::now());
    /// Gives back one event that take() counted for `key` in the window `where` says (the
    /// table may have changed size since); a window back at zero is dropped, one that has
    /// gone meanwhile (expired) is left gone.
    void give_back(std::string_view key, counted_in where = {});

    /// No window open: callers may skip working out a key.
    bool empty() const;
    std::size_t tracked_keys() const;

private:
    struct window {
        clock::time_point start;
        unsigned count = 0;
    };
    // Looked up by string_view: a lookup on the request path makes no string.
    struct key_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using table = std::unordered_map<std::string, window, key_hash, std::equal_to<>>;
    /// The window `key` counts in (the overflow one when untracked and full); end() if none.
    table::iterator find(std::string_view key);
    window& open(std::string_view key, clock::time_point now, bool* overflow = nullptr);
    std::optional<std::chrono::seconds> wait(const window& w, clock::time_point now) const;
    bool expired(const window& w, clock::time_point now) const { return now - w.start >= window_; }

    const unsigned limit_;
    const std::size_t max_keys_;
    const clock::duration window_;
    mutable std::mutex mutex_;
    table windows_;
};

}  // namespace smtpcheck::core
