#include "smtpcheck/auth/authenticator.hpp"
#include "smtpcheck/core/base64.hpp"
#include "smtpcheck/core/system.hpp"
#include "smtpcheck/core/ascii.hpp"

#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/auth/tokens.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <mutex>

namespace smtpcheck::auth {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t max_cache_entries = 10000;
constexpr std::size_t max_tracked_addresses = 100000;
// PBKDF2 verifications running or queued, from every address together (requests with the same
// credential share one): past this a new one is refused at once (429, Retry-After 1) instead
// of queueing behind seconds of hashing.
constexpr std::size_t max_verifications_in_progress = 32;

// The value of one cookie in a Cookie header, exactly as the client sent it.
std::optional<std::string_view> cookie(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        auto semi = header.find(';');
        auto pair = core::trim(header.substr(0, semi));
        header.remove_prefix(semi == std::string_view::npos ? header.size() : semi + 1);
        auto eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    }
    return std::nullopt;
}

// The key an address is limited by: IPv4 as it is, IPv6 by its /64, the smallest network a
// client is usually given (keying each /128 gave one client endless fresh limits).
std::string limit_key(std::string_view peer) {
    if (peer.find(':') == std::string_view::npos) return std::string(peer);  // IPv4: the address itself
    boost::system::error_code ec;
    auto address = asio::ip::make_address(peer, ec);
    if (ec || !address.is_v6()) return std::string(peer);
    auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
    return asio::ip::network_v6(v6, 64).canonical().to_string();
}

verdict deny(verdict::kind k, std::string reason, std::string scheme = {}) {
    verdict v;
    v.what = k;
    v.reason = std::move(reason);
    v.scheme = std::move(scheme);
    return v;
}

verdict allow(std::string principal, std::string scheme) {
    verdict v;
    v.what = verdict::kind::ok;
    v.principal = std::move(principal);
    v.scheme = std::move(scheme);
    return v;
}

// Runs PBKDF2 on the pool and completes on the caller's executor.
template <class Token>
auto async_verify(asio::thread_pool& pool, std::string password, std::string hash, Token&& token) {
    return asio::async_initiate<Token, void(bool)>(
        [&pool](auto handler, std::string pw, std::string h) {
            auto work = asio::make_work_guard(asio::get_associated_executor(handler));
            asio::post(pool, [handler = std::move(handler), work = std::move(work), pw = std::move(pw),
                              h = std::move(h)]() mutable {
                bool ok = verify_password(pw, h);
                auto ex = work.get_executor();
                asio::post(ex, [handler = std::move(handler), ok]() mutable { std::move(handler)(ok); });
            });
        },
        token, std::move(password), std::move(hash));
}

}  // namespace

// Guarded by the authenticator's mutex: with server.threads > 1 a waiter joins on one thread
// while the verification finishes on another (issue 11 found the join unlocked).
struct authenticator::in_progress {
    std::vector<asio::any_completion_handler<void(bool)>> waiters;
    bool finished = false;
    bool result = false;
};

namespace {
// Waits for a verification another request started; completes on the caller's executor. If it
// finished between the lookup and this join, the result is posted at once.
template <class Token>
auto async_join(std::mutex& mutex, std::shared_ptr<authenticator::in_progress> p, Token&& token) {
    return asio::async_initiate<Token, void(bool)>(
        [&mutex](auto handler, std::shared_ptr<authenticator::in_progress> p) {
            // Completes on the waiter's own executor, kept alive meanwhile.
            auto work = asio::make_work_guard(asio::get_associated_executor(handler));
            auto complete = [handler = std::move(handler), work = std::move(work)](bool ok) mutable {
                auto ex = work.get_executor();
                asio::post(ex, [handler = std::move(handler), ok]() mutable { std::move(handler)(ok); });
            };
            std::unique_lock lock(mutex);
            if (p->finished) {
                bool ok = p->result;
                lock.unlock();
                complete(ok);
                return;
            }
            p->waiters.emplace_back(std::move(complete));
        },
        token, std::move(p));
}
}  // namespace

authenticator::authenticator(settings s)
    : s_(std::move(s)), cache_key_(core::random_bytes(32)), secret_mac_(s_.secret),
      decoy_(hash_password(core::base64_encode(core::random_bytes(12)))),
      pool_(2),
      failures_(s_.failed_logins_per_minute, max_tracked_addresses) {
    if (!s_.revocations) s_.revocations = std::make_shared<local_revocations>();
}

authenticator::~authenticator() {
    pool_.stop();
    pool_.join();
}

std::vector<std::string> authenticator::challenges() const {
    std::vector<std::string> out;
    if (s_.basic) out.emplace_back("Basic realm=\"smtpcheck\", charset=\"UTF-8\"");
    if (s_.soticket) out.emplace_back("SOTicket");
    if (s_.bearer) out.emplace_back("Bearer");
    return out;
}

namespace {
verdict too_many(std::string_view peer, std::chrono::seconds wait) {
    auto v = deny(verdict::kind::too_many_requests, "too many failed attempts from " + std::string(peer));
    v.retry_after = wait;
    return v;
}
}  // namespace

verdict authenticator::limited(std::string_view peer) {
    // Nothing counted here and no address blocked: no address to work out (every request).
    if (failures_.empty() && blocked_.load(std::memory_order_relaxed) == 0) return allow({}, {});
    const auto key = limit_key(peer);
    if (auto wait = failures_.over_limit(key)) return too_many(peer, *wait);
    {
        std::lock_guard lock(mutex_);
        auto it = blocked_until_.find(key);
        if (it != blocked_until_.end()) {
            const auto now = steady::now();
            if (it->second > now)
                return too_many(peer, std::chrono::duration_cast<std::chrono::seconds>(it->second - now) +
                                          std::chrono::seconds(1));
            blocked_until_.erase(it);
            blocked_ = blocked_until_.size();
        }
    }
    return allow({}, {});
}

void authenticator::note_shared(const std::string& key, const shared_failures::count& c) {
    std::lock_guard lock(mutex_);
    if (c.failures < static_cast<long long>(s_.failed_logins_per_minute) || c.left.count() <= 0) {
        blocked_until_.erase(key);
    } else {
        const auto now = steady::now();
        if (blocked_until_.size() >= max_tracked_addresses && !blocked_until_.contains(key))
            std::erase_if(blocked_until_, [&](const auto& kv) { return kv.second <= now; });
        // Full of live blocks: this one is not kept, and its next take() is refused anyway.
        if (blocked_until_.size() < max_tracked_addresses || blocked_until_.contains(key))
            blocked_until_[key] = now + c.left;
    }
    blocked_ = blocked_until_.size();
}

namespace {
verdict unavailable() {
    auto v = deny(verdict::kind::unavailable, "the shared count of failed logins did not answer");
    v.retry_after = std::chrono::seconds(1);
    return v;
}
}  // namespace

asio::awaitable<void> authenticator::failed(std::string_view peer) {
    auto key = limit_key(peer);
    if (s_.failures) {
        auto c = co_await s_.failures->add(key);
        if (c) {
            note_shared(key, *c);
            co_return;
        }
    }
    failures_.add(key);  // not shared, or the store did not answer: counted here at least
}

// A password check counts as a failure from the moment it starts and is given back when it
// succeeds: 300 concurrent wrong passwords from one address got 300 verdicts of 401 when only
// finished failures counted (issue 11). The address's window then bounds its verifications
// in progress too.
asio::awaitable<std::optional<verdict>> authenticator::begin_attempt(std::string_view peer, attempt& counted) {
    auto key = limit_key(peer);
    if (s_.failures) {
        auto c = co_await s_.failures->take(key);
        if (c) {
            note_shared(key, *c);
            if (!c->counted)
                co_return too_many(peer, std::chrono::duration_cast<std::chrono::seconds>(c->left) + std::chrono::seconds(1));
            counted.shared = true;
            co_return std::nullopt;
        }
        if (!s_.failures_fail_open) co_return unavailable();
    }
    if (auto wait = failures_.take(key, core::rate_limiter::clock::now(), &counted.where)) co_return too_many(peer, *wait);
    co_return std::nullopt;
}

// A window left at no failures is dropped, so that the limiter costs nothing more on the
// requests that follow a good login (each looked its address up again).
asio::awaitable<void> authenticator::end_attempt(std::string_view peer, bool succeeded, attempt counted) {
    if (!succeeded) co_return;
    auto key = limit_key(peer);
    if (!counted.shared) {
        failures_.give_back(key, counted.where);
        co_return;
    }
    // Not given back when the store does not answer: one failure too many, for one window.
    if (auto c = co_await s_.failures->give(key)) note_shared(key, *c);
}

asio::awaitable<authenticator::password_check> authenticator::password_ok(const std::string& user,
                                                                         const std::string& password,
                                                                         std::string_view peer,
                                                                         steady::time_point* valid_until) {
    auto hash = s_.users.find(user);
    // An unknown user costs the same PBKDF2 as a known one, so timing does not tell them apart.
    const std::string& encoded = hash == s_.users.end() ? decoy_ : hash->second;
    const std::string key = cache_key_(user + '\0' + password + '\0' + encoded);
    {
        std::lock_guard lock(mutex_);
        auto it = cache_.find(key);
        if (it != cache_.end() && it->second.expires > steady::now() && hash != s_.users.end()) {
            if (valid_until) *valid_until = it->second.expires;
            co_return password_check{true, std::nullopt};
        }
    }
    // A request that joins a running verification of the same credential is the same guess,
    // not a new one: only a verification that starts counts. (Counting every request made a
    // burst of one client's right password, before the cache held it, 429 past the limit.)
    bool counted = true;
    {
        std::lock_guard lock(mutex_);
        counted = !running_.contains(key);
    }
    attempt where;  // the count a success is given back to
    if (counted)
        if (auto refused = co_await begin_attempt(peer, where)) co_return password_check{false, std::move(refused)};
    auto ok = co_await verify_shared(key, hash != s_.users.end(), user, password, encoded, valid_until);
    if (!ok) {  // too many verifications running: not a guess, so not a failure
        if (counted) co_await end_attempt(peer, true, where);
        auto v = deny(verdict::kind::too_many_requests, "too many password checks in progress");
        v.retry_after = std::chrono::seconds(1);
        co_return password_check{false, std::move(v)};
    }
    if (counted) co_await end_attempt(peer, *ok, where);
    co_return password_check{*ok, std::nullopt};
}

// One PBKDF2 per key at a time: requests with the same credential wait for the one running.
// nullopt when max_verifications_in_progress PBKDF2 runs are going on already; requests with
// the credential of one that runs join it and cost nothing more.
asio::awaitable<std::optional<bool>> authenticator::verify_shared(const std::string& key, bool known_user,
                                                                  const std::string& user, const std::string& password,
                                                                  const std::string& encoded,
                                                                  steady::time_point* valid_until) {
    std::shared_ptr<in_progress> running;
    {
        std::lock_guard lock(mutex_);
        auto it = running_.find(key);
        if (it != running_.end()) running = it->second;
        else if (running_.size() >= max_verifications_in_progress) co_return std::nullopt;
        else running_.emplace(key, std::make_shared<in_progress>());
    }
    if (running) co_return co_await async_join(mutex_, std::move(running), asio::use_awaitable);

    ++hashes_;
    bool ok = co_await async_verify(pool_, password, encoded, asio::use_awaitable);
    ok = ok && known_user;
    std::vector<asio::any_completion_handler<void(bool)>> waiters;
    {
        std::lock_guard lock(mutex_);
        auto it = running_.find(key);
        it->second->finished = true;
        it->second->result = ok;
        waiters = std::move(it->second->waiters);
        running_.erase(it);
        if (ok) {
            auto now = steady::now();
            if (cache_.size() >= max_cache_entries) {
                std::erase_if(cache_, [&](const auto& kv) { return kv.second.expires <= now; });
                if (cache_.size() >= max_cache_entries) cache_.clear();
            }
            cache_[key] = {user, now + s_.cache_ttl};
            if (valid_until) *valid_until = now + s_.cache_ttl;
        }
    }
    for (auto& w : waiters) std::move(w)(ok);
    co_return ok;
}

asio::awaitable<verdict> authenticator::check_basic(std::string_view credentials, std::string peer,
                                                    steady::time_point* valid_until) {
    auto decoded = core::base64_decode(core::trim(credentials));
    if (!decoded) co_return deny(verdict::kind::unauthorized, "Basic credentials are not base64", "basic");
    auto colon = decoded->find(':');
    if (colon == std::string::npos) co_return deny(verdict::kind::unauthorized, "Basic credentials without ':'", "basic");
    std::string user = decoded->substr(0, colon), password = decoded->substr(colon + 1);
    auto checked = co_await password_ok(user, password, peer, valid_until);
    if (checked.refused) co_return std::move(*checked.refused);
    if (checked.ok) co_return allow(user, "basic");
    co_return deny(verdict::kind::unauthorized, "wrong user name or password for '" + user + "'", "basic");
}

asio::awaitable<verdict> authenticator::check(credentials sent, std::string peer, remembered_credential* remembered) {
    if (auto v = limited(peer); v.what != verdict::kind::ok) co_return v;

    if (s_.require_app_token) {
        const std::string_view token = sent.app_token;
        bool known = false;
        for (const auto& t : s_.app_tokens) known = constant_time_equal(t, token) || known;
        if (!known) co_return deny(verdict::kind::forbidden, token.empty() ? "no SO-AppToken" : "unknown SO-AppToken");
    }

    const std::string_view authorization = sent.authorization;
    if (!authorization.empty()) {
        auto space = authorization.find(' ');
        std::string_view scheme = authorization.substr(0, space);
        std::string_view credentials = space == std::string_view::npos ? "" : core::trim(authorization.substr(space + 1));
        if (s_.basic && core::iequals_ascii(scheme, "Basic")) {
            // The same value this connection had accepted, while the cache would still hold it:
            // a comparison instead of a keyed hash and a locked lookup.
            if (remembered && remembered->expires > steady::now() &&
                constant_time_equal(remembered->authorization, authorization))
                co_return allow(remembered->principal, "basic");
            steady::time_point valid_until{};
            auto v = co_await check_basic(credentials, peer, &valid_until);
            if (remembered && v.what == verdict::kind::ok && valid_until != steady::time_point{})
                *remembered = {std::string(authorization), v.principal, valid_until};
            co_return v;
        }
        if (s_.soticket && core::iequals_ascii(scheme, "SOTicket")) {
            auto user = verify_ticket(secret_mac_, credentials, std::chrono::system_clock::now());
            if (user && s_.users.contains(*user)) co_return allow(*user, "soticket");
            co_await failed(peer);
            co_return deny(verdict::kind::unauthorized,
                           user ? "ticket for unknown user '" + *user + "'" : "ticket with a bad signature or expired",
                           "soticket");
        }
        if (s_.bearer && core::iequals_ascii(scheme, "Bearer")) {
            if (!s_.jwt) {
                co_await failed(peer);
                co_return deny(verdict::kind::unauthorized, "Bearer token but no auth.jwt_keys_file", "bearer");
            }
            auto r = s_.jwt->verify(credentials, std::chrono::system_clock::now());
            if (r.subject) co_return allow(*r.subject, "bearer");
            co_await failed(peer);
            co_return deny(verdict::kind::unauthorized, "JWT refused: " + r.error, "bearer");
        }
        co_await failed(peer);
        co_return deny(verdict::kind::unauthorized, "scheme '" + std::string(scheme.substr(0, 20)) + "' not enabled");
    }

    if (!s_.session) co_return deny(verdict::kind::unauthorized, "no Authorization header");
    const std::string_view cookies = sent.cookie;
    auto session_cookie = cookie(cookies, "smtpcheck_session");
    if (!session_cookie) co_return deny(verdict::kind::unauthorized, "no Authorization header and no session");
    auto sess = verify_session(secret_mac_, *session_cookie, std::chrono::system_clock::now());
    if (!sess || !s_.users.contains(sess->user)) {
        co_await failed(peer);
        co_return deny(verdict::kind::unauthorized, "session cookie with a bad signature, expired, or unknown user",
                       "session");
    }
    const std::string_view header_token = sent.xsrf_token;
    if (header_token.empty()) co_return deny(verdict::kind::unauthorized, "session without X-XSRF-TOKEN", "session");
    auto cookie_token = cookie(cookies, "XSRF-TOKEN");
    bool matches_cookie = cookie_token && constant_time_equal(*cookie_token, header_token);
    bool bound = constant_time_equal(xsrf_token(secret_mac_, sess->id), header_token);
    if (!matches_cookie || !bound) {
        co_await failed(peer);
        co_return deny(verdict::kind::forbidden, "X-XSRF-TOKEN does not match the session", "session");
    }
    // Last, so that only a session that is otherwise good costs a look-up (Redis: a round trip).
    auto revoked = co_await s_.revocations->revoked(sess->id);
    if (!revoked) co_return deny(verdict::kind::unauthorized, "the session store cannot tell whether the session was logged out", "session");
    if (*revoked) co_return deny(verdict::kind::unauthorized, "session logged out", "session");
    co_return allow(sess->user, "session");
}

asio::awaitable<bool> authenticator::logout(std::string cookies) {
    auto session_cookie = cookie(cookies, "smtpcheck_session");
    if (!session_cookie) co_return true;
    // Only a session we signed and that has not expired is recorded: anything else cannot be
    // used anyway, and recording it would let anyone fill the list.
    auto sess = verify_session(secret_mac_, *session_cookie, std::chrono::system_clock::now());
    if (!sess) co_return true;
    std::string id = sess->id;  // named: no temporaries inside the co_await (GCC 12)
    const bool recorded = co_await s_.revocations->revoke(std::move(id), sess->expires);
    co_return recorded;
}

asio::awaitable<authenticator::login_result> authenticator::login(std::string user, std::string password,
                                                                  std::string peer) {
    login_result out;
    if (auto v = limited(peer); v.what != verdict::kind::ok) {
        out.outcome = v;
        co_return out;
    }
    auto checked = co_await password_ok(user, password, peer);
    if (checked.refused) {
        out.outcome = std::move(*checked.refused);
        co_return out;
    }
    if (!checked.ok) {
        out.outcome = deny(verdict::kind::unauthorized, "login refused for '" + user + "'", "session");
        co_return out;
    }
    std::string id;
    out.session_cookie = mint_session(secret_mac_, user, std::chrono::system_clock::now() + s_.session_ttl, &id);
    out.xsrf = xsrf_token(secret_mac_, id);
    out.outcome = allow(user, "session");
    co_return out;
}

}  // namespace smtpcheck::auth
