#include "smtpcheck/core/rate_limiter.hpp"

namespace smtpcheck::core {
namespace {
// Not a key any caller makes: addresses and user names have no parentheses at the start.
constexpr std::string_view overflow_key = "(keys beyond the tracked limit)";
}  // namespace

rate_limiter::rate_limiter(unsigned limit, std::size_t max_keys, clock::duration window)
    : limit_(limit), max_keys_(max_keys < 1 ? 1 : max_keys), window_(window) {}

rate_limiter::table::iterator rate_limiter::find(std::string_view key) {
    auto it = windows_.find(key);
    if (it == windows_.end() && windows_.size() >= max_keys_) it = windows_.find(overflow_key);
    return it;
}

rate_limiter::window& rate_limiter::open(std::string_view key, clock::time_point now, bool* overflow) {
    auto it = windows_.find(key);  // a key already counting: no string made
    if (it == windows_.end()) {
        if (windows_.size() >= max_keys_) {
            std::erase_if(windows_, [&](const auto& kv) { return expired(kv.second, now); });
            if (windows_.size() >= max_keys_) key = overflow_key;
        }
        it = windows_.find(key);
        if (it == windows_.end()) it = windows_.emplace(std::string(key), window{}).first;
    }
    if (overflow) *overflow = key == overflow_key;
    auto& w = it->second;
    if (w.count == 0 || expired(w, now)) w = {now, 0};
    return w;
}

std::optional<std::chrono::seconds> rate_limiter::wait(const window& w, clock::time_point now) const {
    if (w.count < limit_ || expired(w, now)) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::seconds>(w.start + window_ - now) + std::chrono::seconds(1);
}

std::optional<std::chrono::seconds> rate_limiter::over_limit(std::string_view key, clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (windows_.empty()) return std::nullopt;
    auto it = find(key);
    if (it == windows_.end()) return std::nullopt;
    if (expired(it->second, now)) {
        windows_.erase(it);
        return std::nullopt;
    }
    return wait(it->second, now);
}

std::optional<std::chrono::seconds> rate_limiter::take(std::string_view key, clock::time_point now,
                                                      counted_in* where) {
    std::lock_guard lock(mutex_);
    bool overflow = false;
    auto& w = open(key, now, &overflow);
    if (where) where->overflow = overflow;
    if (auto w8 = wait(w, now)) return w8;
    ++w.count;
    return std::nullopt;
}

void rate_limiter::add(std::string_view key, clock::time_point now) {
    std::lock_guard lock(mutex_);
    ++open(key, now).count;
}

void rate_limiter::give_back(std::string_view key, counted_in where) {
    std::lock_guard lock(mutex_);
    auto it = windows_.find(where.overflow ? overflow_key : key);
    if (it == windows_.end() || it->second.count == 0) return;
    if (--it->second.count == 0) windows_.erase(it);
}

bool rate_limiter::empty() const {
    std::lock_guard lock(mutex_);
    return windows_.empty();
}

std::size_t rate_limiter::tracked_keys() const {
    std::lock_guard lock(mutex_);
    return windows_.size();
}

}  // namespace smtpcheck::core
