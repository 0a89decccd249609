// Sessions logged out before their expiry (POST /logout, issue 14): a session cookie is signed
// and carries its own expiry, so without this list a copy of it stays good until then. Every
// instance that shares the list (Redis, server/src/shared_sessions.cpp) refuses it.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace smtpcheck::auth {

class session_revocations {
public:
    using clock = std::chrono::system_clock;
    virtual ~session_revocations() = default;
    /// Records the session `id` as logged out until `until` (its own expiry). False when the
    /// list could not record it.
    virtual boost::asio::awaitable<bool> revoke(std::string id, clock::time_point until) = 0;
    /// Whether `id` was logged out; nullopt when the list cannot tell (the session is then
    /// refused: a logout must hold).
    virtual boost::asio::awaitable<std::optional<bool>> revoked(std::string id) = 0;
};

/// This process's own list (the default, [store] backend = file): a map pruned of what has
/// expired, at most `max_entries` (past that the entry that expires first is dropped, which is
/// the one whose cookie would die first anyway).
class local_revocations final : public session_revocations {
public:
    explicit local_revocations(std::size_t max_entries = 100000) : max_(max_entries) {}
    boost::asio::awaitable<bool> revoke(std::string id, clock::time_point until) override;
    boost::asio::awaitable<std::optional<bool>> revoked(std::string id) override;
    std::size_t size() const;

private:
    void prune(clock::time_point now);
    const std::size_t max_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, clock::time_point> until_;
    std::multimap<clock::time_point, std::string> by_expiry_;
};

}  // namespace smtpcheck::auth
