// auth/authenticator.hpp: the check every API request passes, its cache and its limits.
#include "smtpcheck/core/base64.hpp"
#include "smtpcheck/auth/authenticator.hpp"
#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/auth/tokens.hpp"

#include "coroutine_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <thread>
#include <atomic>
#include <boost/test/unit_test.hpp>

using namespace smtpcheck::auth;
using smtpcheck::core::base64_encode;
namespace asio = boost::asio;
using std::chrono::seconds;
using sys = std::chrono::system_clock;

namespace {

const std::string secret(32, 's');

using smtpcheck::test::run;

// The Cookie header a browser sends after a login.
std::string cookie_header(const authenticator::login_result& l) {
    return "smtpcheck_session=" + l.session_cookie + "; XSRF-TOKEN=" + l.xsrf;
}

// Settings with user alice (password "pw") and the test secret.
settings alice_settings() {
    settings s;
    s.secret = secret;
    s.users["alice"] = hash_password("pw", 100000);
    return s;
}

// What a client sends for authentication. check() views these texts: they outlive it.
struct sent {
    std::string authorization, cookie, xsrf_token, app_token;
    operator credentials() const { return {authorization, cookie, xsrf_token, app_token}; }
};

sent with(std::initializer_list<std::pair<std::string, std::string>> fields) {
    sent s;
    for (auto& [name, value] : fields) {
        if (name == "Authorization") s.authorization = value;
        else if (name == "Cookie") s.cookie = value;
        else if (name == "X-XSRF-TOKEN") s.xsrf_token = value;
        else if (name == "SO-AppToken") s.app_token = value;
        else BOOST_FAIL("no credential header " + name);
    }
    return s;
}

// Fault injection for settings::failures: one count that several authenticators (instances)
// share, as Redis is shared, and a switch that makes it stop answering. The real one is
// store::shared_limiter against a real redis-server (shared_limits, integration.cluster).
struct shared_count final : shared_failures {
    unsigned limit = 3;
    long long n = 0;
    bool down = false;
    int calls = 0;
    std::optional<count> reply(bool counted) {
        return count{counted, n, std::chrono::milliseconds(n ? 60000 : 0)};
    }
    asio::awaitable<std::optional<count>> take(std::string) override {
        ++calls;
        if (down) co_return std::nullopt;
        if (n >= limit) co_return reply(false);
        ++n;
        co_return reply(true);
    }
    asio::awaitable<std::optional<count>> add(std::string) override {
        ++calls;
        if (down) co_return std::nullopt;
        ++n;
        co_return reply(true);
    }
    asio::awaitable<std::optional<count>> give(std::string) override {
        ++calls;
        if (down) co_return std::nullopt;
        n = n > 0 ? n - 1 : 0;
        co_return reply(true);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(authentication)

BOOST_AUTO_TEST_CASE(basic_is_verified_once_then_cached) {
    asio::io_context io;
    authenticator a(alice_settings());
    auto basic = with({{"Authorization", "bAsIc " + base64_encode("alice:pw")}});
    for (int i = 0; i < 5; ++i) BOOST_TEST((run(io, a.check(basic, "10.0.0.1")).what == verdict::kind::ok));
    BOOST_TEST(a.password_hashes_computed() == 1u);
    auto wrong = with({{"Authorization", "Basic " + base64_encode("alice:nope")}});
    BOOST_TEST((run(io, a.check(wrong, "10.0.0.1")).what == verdict::kind::unauthorized));
    BOOST_TEST(a.password_hashes_computed() == 2u);
    auto unknown = with({{"Authorization", "Basic " + base64_encode("mallory:pw")}});
    BOOST_TEST((run(io, a.check(unknown, "10.0.0.1")).what == verdict::kind::unauthorized));
}

BOOST_AUTO_TEST_CASE(a_connection_remembers_only_the_credential_it_had_accepted) {
    auto s = alice_settings();
    s.cache_ttl = seconds(60);
    asio::io_context io;
    authenticator a(s);
    remembered_credential connection;
    auto basic = with({{"Authorization", "Basic " + base64_encode("alice:pw")}});
    auto v = run(io, a.check(basic, "10.0.0.1", &connection));
    BOOST_TEST((v.what == verdict::kind::ok));
    BOOST_TEST(connection.principal == "alice");
    BOOST_TEST(connection.authorization == "Basic " + base64_encode("alice:pw"));
    // The same value again on this connection: accepted as alice, without another hash.
    v = run(io, a.check(basic, "10.0.0.1", &connection));
    BOOST_TEST((v.what == verdict::kind::ok));
    BOOST_TEST(v.principal == "alice");
    BOOST_TEST(v.scheme == "basic");
    BOOST_TEST(a.password_hashes_computed() == 1u);
    // Another value on the same connection is checked for itself and leaves the memory alone.
    auto wrong = with({{"Authorization", "Basic " + base64_encode("alice:nope")}});
    BOOST_TEST((run(io, a.check(wrong, "10.0.0.1", &connection)).what == verdict::kind::unauthorized));
    BOOST_TEST(connection.authorization == "Basic " + base64_encode("alice:pw"));
    // Once the cache entry it stands for has expired, the connection's memory is not used.
    connection.expires = std::chrono::steady_clock::now() - seconds(1);
    connection.principal = "mallory";
    v = run(io, a.check(basic, "10.0.0.1", &connection));
    BOOST_TEST(v.principal == "alice");
    BOOST_TEST(connection.principal == "alice");
}

// One PBKDF2 for a burst with one credential, and the burst never limited: counting every
// request at its start made 64 requests of one client's right password, before the cache held
// it, 429 past the limit (seen as failed requests in bench/dns); only a verification that
// starts is an attempt.
BOOST_AUTO_TEST_CASE(a_burst_with_one_credential_shares_one_verification) {
    asio::io_context io;
    auto s = alice_settings();
    s.failed_logins_per_minute = 5;
    authenticator a(s);
    auto basic = with({{"Authorization", "Basic " + base64_encode("alice:pw")}});
    int ok = 0;
    for (int i = 0; i < 64; ++i)
        asio::co_spawn(io, a.check(basic, "10.0.0.1"), [&](std::exception_ptr, verdict v) {
            ok += v.what == verdict::kind::ok;
        });
    io.run();
    BOOST_TEST(ok == 64);
    BOOST_TEST(a.password_hashes_computed() == 1u);
}

BOOST_AUTO_TEST_CASE(failures_per_address_are_limited) {
    auto s = alice_settings();
    s.failed_logins_per_minute = 3;
    asio::io_context io;
    authenticator a(s);
    auto bad = with({{"Authorization", "SOTicket 7T:forged.sig"}});
    for (int i = 0; i < 3; ++i) BOOST_TEST((run(io, a.check(bad, "192.0.2.1")).what == verdict::kind::unauthorized));
    auto v = run(io, a.check(bad, "192.0.2.1"));
    BOOST_TEST((v.what == verdict::kind::too_many_requests));
    BOOST_TEST(v.retry_after.count() > 0);
    BOOST_TEST(v.retry_after.count() <= 61);
    // Even good credentials wait; another address does not.
    auto good = with({{"Authorization", "SOTicket " + mint_ticket(secret, "alice", sys::now() + seconds(60))}});
    BOOST_TEST((run(io, a.check(good, "192.0.2.1")).what == verdict::kind::too_many_requests));
    BOOST_TEST((run(io, a.check(good, "192.0.2.2")).what == verdict::kind::ok));
}

// Issue 11: only finished failures counted, so a concurrent burst of wrong passwords from one
// address all got 401 (300 of them against a limit of 20).
BOOST_AUTO_TEST_CASE(concurrent_wrong_passwords_count_from_their_start) {
    auto s = alice_settings();
    s.failed_logins_per_minute = 5;
    asio::io_context io;
    authenticator a(s);
    int unauthorized = 0, limited = 0;
    std::vector<sent> headers;  // check() holds a reference until it runs
    for (int i = 0; i < 50; ++i)
        headers.push_back(with({{"Authorization", "Basic " + base64_encode("alice:wrong" + std::to_string(i))}}));
    for (const auto& bad : headers) {
        asio::co_spawn(io, a.check(bad, "192.0.2.7"), [&](std::exception_ptr, verdict v) {
            unauthorized += v.what == verdict::kind::unauthorized;
            limited += v.what == verdict::kind::too_many_requests;
        });
    }
    io.run();
    BOOST_TEST(unauthorized == 5);
    BOOST_TEST(limited == 45);
    BOOST_TEST(a.password_hashes_computed() == 5u);
    // The right password from another address in the same /64 waits too; IPv4 elsewhere does not.
    auto good = with({{"Authorization", "Basic " + base64_encode("alice:pw")}});
    auto v6 = with({{"Authorization", "Basic " + base64_encode("alice:wrong")}});
    for (int i = 0; i < 5; ++i) run(io, a.check(v6, "2001:db8:1:2::" + std::to_string(i + 1)));
    BOOST_TEST((run(io, a.check(good, "2001:db8:1:2:ffff::9")).what == verdict::kind::too_many_requests));
    BOOST_TEST((run(io, a.check(good, "2001:db8:1:3::1")).what == verdict::kind::ok));
    BOOST_TEST((run(io, a.check(good, "192.0.2.8")).what == verdict::kind::ok));
}

// Issue 11: the PBKDF2 queue had no bound, so every uncached login waited for seconds.
BOOST_AUTO_TEST_CASE(at_most_32_verifications_run_or_wait) {
    asio::io_context io;
    authenticator a(alice_settings());
    int unauthorized = 0, busy = 0;
    std::vector<sent> headers;
    for (int i = 0; i < 40; ++i)
        headers.push_back(with({{"Authorization", "Basic " + base64_encode("alice:guess" + std::to_string(i))}}));
    for (int i = 0; i < 40; ++i) {
        const auto& bad = headers[static_cast<std::size_t>(i)];
        asio::co_spawn(io, a.check(bad, "198.51.100." + std::to_string(i)), [&](std::exception_ptr, verdict v) {
            unauthorized += v.what == verdict::kind::unauthorized;
            if (v.what == verdict::kind::too_many_requests && v.retry_after == seconds(1)) ++busy;
        });
    }
    io.run();
    BOOST_TEST(unauthorized == 32);
    BOOST_TEST(busy == 8);
    BOOST_TEST(a.password_hashes_computed() == 32u);
}

// Issue 11: with several threads a waiter joined a running verification without the lock
// while another thread finished it (scripts/sanitize tsan reports the old code).
BOOST_AUTO_TEST_CASE(a_burst_on_two_threads_shares_verifications_safely) {
    asio::io_context io(2);
    authenticator a(alice_settings());
    std::atomic<int> ok{0};
    const auto right = with({{"Authorization", "Basic " + base64_encode("alice:pw")}});
    const auto wrong = with({{"Authorization", "Basic " + base64_encode("alice:pw ")}});
    for (int i = 0; i < 200; ++i) {
        asio::co_spawn(asio::make_strand(io), a.check(i % 2 ? right : wrong, "10.0." + std::to_string(i) + ".1"),
                       [&](std::exception_ptr, verdict v) { ok += v.what == verdict::kind::ok; });
    }
    std::thread other([&] { io.run(); });
    io.run();
    other.join();
    BOOST_TEST(ok.load() == 100);
}

BOOST_AUTO_TEST_CASE(a_session_needs_the_xsrf_header_bound_to_it) {
    asio::io_context io;
    authenticator a(alice_settings());
    auto login = run(io, a.login("alice", "pw", "10.0.0.9"));
    BOOST_REQUIRE((login.outcome.what == verdict::kind::ok));
    std::string cookies = cookie_header(login);
    BOOST_TEST((run(io, a.check(with({{"Cookie", cookies}, {"X-XSRF-TOKEN", login.xsrf}}), "p")).what == verdict::kind::ok));
    BOOST_TEST((run(io, a.check(with({{"Cookie", cookies}}), "p")).what == verdict::kind::unauthorized));
    BOOST_TEST((run(io, a.check(with({{"Cookie", cookies}, {"X-XSRF-TOKEN", "x" + login.xsrf}}), "p")).what ==
                verdict::kind::forbidden));
    // A token from another session, matched by a planted cookie, is still refused.
    auto other = run(io, a.login("alice", "pw", "10.0.0.9"));
    std::string planted = "smtpcheck_session=" + login.session_cookie + "; XSRF-TOKEN=" + other.xsrf;
    BOOST_TEST((run(io, a.check(with({{"Cookie", planted}, {"X-XSRF-TOKEN", other.xsrf}}), "p")).what ==
                verdict::kind::forbidden));
    BOOST_TEST((run(io, a.login("alice", "bad", "10.0.0.9")).outcome.what == verdict::kind::unauthorized));
}

// Issue 14: a session cookie is signed and carries its expiry, so a copy stayed good after
// /logout until then. Now the logout records the session and the check refuses it.
BOOST_AUTO_TEST_CASE(a_logged_out_session_is_refused_even_from_a_copy_of_its_cookie) {
    asio::io_context io;
    authenticator a(alice_settings());
    auto login = run(io, a.login("alice", "pw", "10.0.0.9"));
    BOOST_REQUIRE((login.outcome.what == verdict::kind::ok));
    std::string cookies = cookie_header(login);
    auto request = with({{"Cookie", cookies}, {"X-XSRF-TOKEN", login.xsrf}});
    BOOST_TEST((run(io, a.check(request, "p")).what == verdict::kind::ok));
    BOOST_TEST(run(io, a.logout(cookies)));
    auto after = run(io, a.check(request, "p"));
    BOOST_TEST((after.what == verdict::kind::unauthorized));
    BOOST_TEST(after.reason == "session logged out");
    // Another session of the same user is not touched; nothing to log out is not an error.
    auto other = run(io, a.login("alice", "pw", "10.0.0.9"));
    std::string other_cookies = cookie_header(other);
    BOOST_TEST((run(io, a.check(with({{"Cookie", other_cookies}, {"X-XSRF-TOKEN", other.xsrf}}), "p")).what ==
                verdict::kind::ok));
    BOOST_TEST(run(io, a.logout("")));
    BOOST_TEST(run(io, a.logout("smtpcheck_session=forged.value")));
}

// Issue 14: each instance counted failed logins on its own, so N instances gave an address N
// times the limit.
BOOST_AUTO_TEST_CASE(failed_logins_count_across_instances_that_share_the_count) {
    auto shared = std::make_shared<shared_count>();
    auto s = alice_settings();
    s.failed_logins_per_minute = 3;
    s.failures = shared;
    asio::io_context io;
    authenticator a(s), b(s);
    auto wrong = with({{"Authorization", "Basic " + base64_encode("alice:wrong")}});
    auto forged = with({{"Authorization", "SOTicket 7T:forged.sig"}});
    BOOST_TEST((run(io, a.check(wrong, "192.0.2.1")).what == verdict::kind::unauthorized));
    BOOST_TEST((run(io, b.check(forged, "192.0.2.1")).what == verdict::kind::unauthorized));
    // A right password is given back: it is not a failure.
    BOOST_TEST((run(io, b.login("alice", "pw", "192.0.2.1")).outcome.what == verdict::kind::ok));
    BOOST_TEST(shared->n == 2);
    BOOST_TEST((run(io, a.check(wrong, "192.0.2.1")).what == verdict::kind::unauthorized));
    // The fourth, wherever it lands: b learns it from the shared count's refusal...
    auto v = run(io, b.check(with({{"Authorization", "Basic " + base64_encode("alice:other")}}), "192.0.2.1"));
    BOOST_TEST((v.what == verdict::kind::too_many_requests));
    BOOST_TEST(v.retry_after.count() >= 1);
    BOOST_TEST(v.retry_after.count() <= 61);
    // ...and a, whose own reply said the limit was reached, refuses without asking.
    const int calls = shared->calls;
    auto ticket = with({{"Authorization", "SOTicket " + mint_ticket(secret, "alice", sys::now() + seconds(60))}});
    BOOST_TEST((run(io, a.check(ticket, "192.0.2.1")).what == verdict::kind::too_many_requests));
    BOOST_TEST(shared->calls == calls);
    BOOST_TEST((run(io, a.check(ticket, "192.0.2.2")).what == verdict::kind::ok));
}

BOOST_AUTO_TEST_CASE(a_shared_count_that_does_not_answer_fails_open_or_closed) {
    auto shared = std::make_shared<shared_count>();
    shared->down = true;
    auto s = alice_settings();
    s.failed_logins_per_minute = 3;
    s.failures = shared;
    asio::io_context io;
    {
        s.failures_fail_open = false;
        authenticator closed(s);
        auto v = run(io, closed.login("alice", "pw", "192.0.2.1"));
        BOOST_TEST((v.outcome.what == verdict::kind::unavailable));
        BOOST_TEST(v.outcome.retry_after.count() == 1);
        // A check that needs no password check is not held up.
        auto ticket = with({{"Authorization", "SOTicket " + mint_ticket(secret, "alice", sys::now() + seconds(60))}});
        BOOST_TEST((run(io, closed.check(ticket, "192.0.2.1")).what == verdict::kind::ok));
    }
    s.failures_fail_open = true;
    authenticator open(s);
    BOOST_TEST((run(io, open.login("alice", "pw", "192.0.2.1")).outcome.what == verdict::kind::ok));
    auto wrong = with({{"Authorization", "Basic " + base64_encode("alice:wrong")}});
    for (int i = 0; i < 3; ++i) BOOST_TEST((run(io, open.check(wrong, "192.0.2.1")).what == verdict::kind::unauthorized));
    // Counted in this process meanwhile: the limit still holds per instance.
    BOOST_TEST((run(io, open.check(wrong, "192.0.2.1")).what == verdict::kind::too_many_requests));
}

BOOST_AUTO_TEST_CASE(app_tokens_and_disabled_schemes) {
    auto s = alice_settings();
    s.require_app_token = true;
    s.app_tokens = {"tokenA", "tokenB"};
    s.soticket = false;
    asio::io_context io;
    authenticator a(s);
    std::string basic = "Basic " + base64_encode("alice:pw");
    BOOST_TEST((run(io, a.check(with({{"Authorization", basic}}), "p")).what == verdict::kind::forbidden));
    BOOST_TEST((run(io, a.check(with({{"Authorization", basic}, {"SO-AppToken", "tokenX"}}), "p")).what == verdict::kind::forbidden));
    BOOST_TEST((run(io, a.check(with({{"Authorization", basic}, {"SO-AppToken", "tokenB"}}), "p")).what == verdict::kind::ok));
    auto ticket = "SOTicket " + mint_ticket(secret, "alice", sys::now() + seconds(60));
    BOOST_TEST((run(io, a.check(with({{"Authorization", ticket}, {"SO-AppToken", "tokenA"}}), "p")).what ==
                verdict::kind::unauthorized));
    BOOST_TEST((a.challenges() == std::vector<std::string>{"Basic realm=\"smtpcheck\", charset=\"UTF-8\"", "Bearer"}));
}

BOOST_AUTO_TEST_SUITE_END()
