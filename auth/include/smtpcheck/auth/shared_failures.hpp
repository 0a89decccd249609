// Failed logins per client address counted where every instance sees them (issue 14): with
// N instances each counting on its own, an address had N times auth.failed_logins_per_minute
// guesses. The server supplies the store (Redis, server/src/api.cpp); without one the
// authenticator counts in this process only.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace smtpcheck::auth {

class shared_failures {
public:
    /// The window's state after an operation.
    struct count {
        bool counted = true;            ///< false: take() refused, the address is at its limit
        long long failures = 0;         ///< in the window, those in progress included
        std::chrono::milliseconds left{0};  ///< until the window ends
    };
    virtual ~shared_failures() = default;
    /// A password check begins: counted as a failure unless the address is at its limit
    /// (auth.failed_logins_per_minute). nullopt: the store did not answer (within its timeout).
    virtual boost::asio::awaitable<std::optional<count>> take(std::string key) = 0;
    /// A failure no take() counted (a bad ticket, token or session).
    virtual boost::asio::awaitable<std::optional<count>> add(std::string key) = 0;
    /// The check that take() counted succeeded: not a failure after all.
    virtual boost::asio::awaitable<std::optional<count>> give(std::string key) = 0;
};

}  // namespace smtpcheck::auth
