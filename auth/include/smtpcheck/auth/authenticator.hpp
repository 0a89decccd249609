// Who is calling (SPEC 2.2): Basic, SOTicket, Bearer JWT, or a browser session with
// X-XSRF-TOKEN; SO-AppToken; failed attempts limited per client address.
#pragma once

#include "smtpcheck/auth/credentials.hpp"
#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/auth/jwt.hpp"
#include "smtpcheck/auth/revocations.hpp"
#include "smtpcheck/auth/shared_failures.hpp"
#include "smtpcheck/core/rate_limiter.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace smtpcheck::auth {

struct settings {
    bool basic = true, soticket = true, bearer = true, session = true;
    std::string secret;  ///< HMAC key of tickets and sessions (>= 32 octets)
    std::chrono::seconds ticket_ttl{28800};
    std::chrono::seconds session_ttl{28800};
    std::shared_ptr<const jwt_verifier> jwt;  ///< null: Bearer is refused
    std::vector<std::string> app_tokens;
    bool require_app_token = false;
    unsigned failed_logins_per_minute = 20;
    std::map<std::string, std::string> users;  ///< name -> hash_password() string
    std::chrono::seconds cache_ttl{60};        ///< how long a verified Basic credential is remembered
    /// Sessions logged out; null: this process's own list (local_revocations).
    std::shared_ptr<session_revocations> revocations;
    /// Failed logins counted across instances; null: in this process only.
    std::shared_ptr<shared_failures> failures;
    /// When `failures` cannot answer: count in this process (true) or refuse with 503 (false).
    bool failures_fail_open = true;
};

struct verdict {
    /// unavailable: the shared failure count could not answer and auth.failures_fail_open is off (503)
    enum class kind { ok, unauthorized, forbidden, too_many_requests, unavailable };
    kind what = kind::unauthorized;
    std::string principal;
    std::string scheme;  ///< "basic", "soticket", "bearer", "session"
    std::string reason;  ///< for the log, never for the client
    std::chrono::seconds retry_after{0};
};

/// What one connection remembers of the Basic credential it last had accepted, so that a
/// keep-alive client's next request with the same Authorization value skips the keyed hash of
/// the shared cache. Owned by the connection (it already held that header); never outlives
/// the cache entry it stands for.
struct remembered_credential {
    std::string authorization;
    std::string principal;
    std::chrono::steady_clock::time_point expires;
};

class authenticator {
public:
    explicit authenticator(settings s);
    /// Joins the PBKDF2 pool. Destroy the authenticator before the execution contexts its
    /// callers run on: a pool thread still holds a caller's executor (a strand, say) for a
    /// moment after it has posted a completion, and a strand's destructor uses its context
    /// (ASan, scripts/sanitize asan, caught a unit test that destroyed the io_context first).
    ~authenticator();

    /// The check every API request passes before its body is read. What `sent` views must
    /// outlive the check. `remembered`, when given, is the connection's: read for a shortcut
    /// and updated after a Basic success.
    boost::asio::awaitable<verdict> check(credentials sent, std::string peer, remembered_credential* remembered = nullptr);

    /// POST /login: the session cookie's value and its XSRF token, or a verdict saying why not.
    struct login_result {
        verdict outcome;
        std::string session_cookie;
        std::string xsrf;
    };
    boost::asio::awaitable<login_result> login(std::string user, std::string password, std::string peer);

    /// POST /logout: the session of `cookies` (a Cookie header), if it is one of ours and
    /// unexpired, is refused from now on wherever the revocation list is shared. False when
    /// the list could not record it; true otherwise (also when there was no session).
    boost::asio::awaitable<bool> logout(std::string cookies);

    /// One WWW-Authenticate value per enabled header scheme.
    std::vector<std::string> challenges() const;
    const settings& config() const { return s_; }
    struct in_progress;  ///< not API: a verification other requests wait for

    /// How many PBKDF2 verifications ran (the cache's effect, for tests and metrics).
    std::uint64_t password_hashes_computed() const { return hashes_; }

private:
    boost::asio::awaitable<verdict> check_basic(std::string_view credentials, std::string peer,
                                                std::chrono::steady_clock::time_point* valid_until);
    struct password_check {
        bool ok = false;
        std::optional<verdict> refused;  ///< 429: the address's limit or too many checks in progress
    };
    boost::asio::awaitable<password_check> password_ok(const std::string& user, const std::string& password,
                                                       std::string_view peer,
                                                       std::chrono::steady_clock::time_point* valid_until = nullptr);
    boost::asio::awaitable<std::optional<bool>> verify_shared(const std::string& key, bool known_user, const std::string& user,
                                               const std::string& password, const std::string& encoded,
                                               std::chrono::steady_clock::time_point* valid_until);
    verdict limited(std::string_view peer);
    boost::asio::awaitable<void> failed(std::string_view peer);
    struct attempt {
        bool shared = false;                  ///< counted by settings::failures, not failures_
        core::rate_limiter::counted_in where;  ///< failures_'s window a success is given back to
    };
    boost::asio::awaitable<std::optional<verdict>> begin_attempt(std::string_view peer, attempt& counted);
    boost::asio::awaitable<void> end_attempt(std::string_view peer, bool succeeded, attempt counted);
    /// What a reply of settings::failures says of the address, for limited() to read without I/O.
    void note_shared(const std::string& key, const shared_failures::count& c);

    settings s_;
    keyed_hmac cache_key_;   ///< random key per process: the cache never holds a password, only its keyed hash
    keyed_hmac secret_mac_;  ///< settings::secret, keyed once: tickets, sessions, XSRF tokens
    std::string decoy_;      ///< a hash checked for unknown users, made once at start
    std::atomic<std::uint64_t> hashes_{0};
    boost::asio::thread_pool pool_;

    std::mutex mutex_;
    struct cached {
        std::string user;
        std::chrono::steady_clock::time_point expires;
    };
    std::unordered_map<std::string, cached> cache_;
    // Verifications running now, by cache key: a burst of requests with the same credential
    // shares one PBKDF2 instead of running it once each.
    std::unordered_map<std::string, std::shared_ptr<in_progress>> running_;
    /// Failed attempts per client address (limit_key), those in progress included; with
    /// settings::failures, only those counted while it could not answer.
    core::rate_limiter failures_;
    /// With settings::failures: addresses its replies found at the limit, until their window
    /// ends, so that every request's limited() stays free of round trips. At most
    /// max_tracked_addresses; past that an address is refused at its next password check.
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> blocked_until_;
    std::atomic<std::size_t> blocked_{0};  ///< blocked_until_.size(), read without the lock
};

}  // namespace smtpcheck::auth
