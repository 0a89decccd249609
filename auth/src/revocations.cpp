#include "smtpcheck/auth/revocations.hpp"

namespace smtpcheck::auth {

void local_revocations::prune(clock::time_point now) {
    while (!by_expiry_.empty() && (by_expiry_.begin()->first <= now || until_.size() > max_)) {
        until_.erase(by_expiry_.begin()->second);
        by_expiry_.erase(by_expiry_.begin());
    }
}

boost::asio::awaitable<bool> local_revocations::revoke(std::string id, clock::time_point until) {
    {
        std::lock_guard lock(mutex_);
        const auto now = clock::now();
        if (until > now && until_.emplace(id, until).second) by_expiry_.emplace(until, std::move(id));
        prune(now);
    }
    co_return true;
}

boost::asio::awaitable<std::optional<bool>> local_revocations::revoked(std::string id) {
    std::lock_guard lock(mutex_);
    auto it = until_.find(id);
    co_return it != until_.end() && it->second > clock::now();
}

std::size_t local_revocations::size() const {
    std::lock_guard lock(mutex_);
    return until_.size();
}

}  // namespace smtpcheck::auth
