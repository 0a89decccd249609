#include "smtpcheck/core/base64.hpp"
#include "smtpcheck/auth/authenticator.hpp"
#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/auth/jwt.hpp"
#include "smtpcheck/auth/tokens.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <thread>
#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

using namespace smtpcheck::auth;
using smtpcheck::core::base64_encode;
using smtpcheck::core::base64url_encode;
namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::seconds;
using sys = std::chrono::system_clock;

namespace {

const std::string secret(32, 's');

// Keys made at test time, and tokens signed with them.
struct keypair {
    EVP_PKEY* pkey;
    explicit keypair(const char* type) {
        pkey = std::string(type) == "RSA" ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    }
    ~keypair() { EVP_PKEY_free(pkey); }
    std::string public_pem() const {
        BIO* bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PUBKEY(bio, pkey);
        char* data;
        long n = BIO_get_mem_data(bio, &data);
        std::string out(data, static_cast<std::size_t>(n));
        BIO_free(bio);
        return out;
    }
    std::string sign(std::string_view input) const {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        std::size_t len = 0;
        EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey);
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
        std::string sig(len, '\0');
        EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size());
        sig.resize(len);
        EVP_MD_CTX_free(ctx);
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) return sig;
        // DER -> r || s, as JWS wants it.
        const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
        ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
        std::string raw(64, '\0');
        BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
        ECDSA_SIG_free(es);
        return raw;
    }
};

long long now_s() { return std::chrono::duration_cast<seconds>(sys::now().time_since_epoch()).count(); }

json::object claims(long long exp_offset = 3600) {
    return json::object{{"sub", "alice"}, {"exp", now_s() + exp_offset}, {"iss", "https://idp.example"},
                        {"aud", "smtpcheck"}};
}

std::string token(const json::object& header, const json::object& body, const std::function<std::string(std::string_view)>& sign) {
    auto input = base64url_encode(json::serialize(header)) + "." + base64url_encode(json::serialize(body));
    return input + "." + base64url_encode(sign(input));
}

jwt_options strict() { return {"https://idp.example", "smtpcheck", seconds(60), 8192}; }

template <class T>
T run(asio::io_context& io, asio::awaitable<T> a) {
    std::optional<T> out;
    asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
        if (e) std::rethrow_exception(e);
        out = std::move(v);
    });
    io.restart();
    io.run();
    return *out;
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

}  // namespace

BOOST_AUTO_TEST_SUITE(authentication)

BOOST_AUTO_TEST_CASE(password_hashes_verify_only_their_password) {
    auto h = hash_password("correct horse", 100000);
    BOOST_TEST(h.starts_with("pbkdf2-sha256$100000$"));
    BOOST_TEST(verify_password("correct horse", h));
    BOOST_TEST(!verify_password("correct horsE", h));
    BOOST_TEST(hash_password("correct horse", 100000) != h);  // a fresh salt each time
    for (std::string_view bad : {"", "pbkdf2-sha256$100000$x", "md5$1$a$b", "pbkdf2-sha256$1000$AAAA$AAAA"})
        BOOST_TEST(!verify_password("x", bad), bad);
}

BOOST_AUTO_TEST_CASE(tickets_carry_user_and_expiry_under_the_signature) {
    auto t = mint_ticket(secret, "alice", sys::now() + seconds(60));
    BOOST_TEST(t.starts_with("7T:"));
    BOOST_TEST(verify_ticket(secret, t, sys::now()).value_or("") == "alice");
    BOOST_TEST(!verify_ticket(secret, t, sys::now() + seconds(61)));
    BOOST_TEST(!verify_ticket(std::string(32, 'x'), t, sys::now()));
    auto tampered = t;
    tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
    BOOST_TEST(!verify_ticket(secret, tampered, sys::now()));
    BOOST_TEST(!verify_ticket(secret, "7T:garbage", sys::now()));
    BOOST_TEST(!verify_ticket(secret, std::string(5000, 'a'), sys::now()));
}

BOOST_AUTO_TEST_CASE(sessions_and_tickets_cannot_stand_in_for_each_other) {
    std::string id;
    auto s = mint_session(secret, "alice", sys::now() + seconds(60), &id);
    auto ok = verify_session(secret, s, sys::now());
    BOOST_REQUIRE(ok);
    BOOST_TEST(ok->user == "alice");
    BOOST_TEST(ok->id == id);
    BOOST_TEST(!verify_ticket(secret, s, sys::now()));
    BOOST_TEST(!verify_session(secret, mint_ticket(secret, "alice", sys::now() + seconds(60)).substr(3), sys::now()));
    std::string other;
    mint_session(secret, "alice", sys::now() + seconds(60), &other);
    BOOST_TEST(xsrf_token(secret, id) != xsrf_token(secret, other));
}

BOOST_AUTO_TEST_CASE(jwt_rs256_and_es256_with_pem_keys) {
    keypair rsa("RSA"), ec("EC");
    json::object rs_header{{"alg", "RS256"}, {"typ", "JWT"}};
    json::object es_header{{"alg", "ES256"}, {"typ", "JWT"}};
    jwt_verifier rs_verifier(rsa.public_pem(), strict());
    jwt_verifier es_verifier(ec.public_pem(), strict());
    auto rs = token(rs_header, claims(), [&](auto in) { return rsa.sign(in); });
    auto es = token(es_header, claims(), [&](auto in) { return ec.sign(in); });
    BOOST_TEST(rs_verifier.verify(rs, sys::now()).subject.value_or("") == "alice");
    BOOST_TEST(es_verifier.verify(es, sys::now()).subject.value_or("") == "alice");
    BOOST_TEST(!rs_verifier.verify(es, sys::now()).subject);  // an ES256 token, an RSA key
}

BOOST_AUTO_TEST_CASE(jwt_refusals) {
    keypair rsa("RSA");
    jwt_verifier v(rsa.public_pem(), strict());
    json::object header{{"alg", "RS256"}};
    auto sign = [&](std::string_view in) { return rsa.sign(in); };
    auto refused = [&](const std::string& t) { return !v.verify(t, sys::now()).subject.has_value(); };

    BOOST_TEST(refused(token(header, claims(-120), sign)));  // expired beyond the leeway
    BOOST_TEST(!refused(token(header, claims(-30), sign)));  // expired within the leeway
    auto future = claims();
    future["nbf"] = now_s() + 600;
    BOOST_TEST(refused(token(header, future, sign)));
    auto wrong_aud = claims();
    wrong_aud["aud"] = json::array{"other", "another"};
    BOOST_TEST(refused(token(header, wrong_aud, sign)));
    auto right_aud = claims();
    right_aud["aud"] = json::array{"other", "smtpcheck"};
    BOOST_TEST(!refused(token(header, right_aud, sign)));
    auto wrong_iss = claims();
    wrong_iss["iss"] = "https://evil.example";
    BOOST_TEST(refused(token(header, wrong_iss, sign)));
    auto no_sub = claims();
    no_sub.erase("sub");
    BOOST_TEST(refused(token(header, no_sub, sign)));

    auto good = token(header, claims(), sign);
    auto tampered = good;
    tampered[good.find('.') + 3] ^= 1;
    BOOST_TEST(refused(tampered));
    // alg none, with and without a signature.
    auto none = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(json::serialize(claims())) + ".";
    BOOST_TEST(refused(none));
    // Algorithm confusion: HS256 "signed" with the RSA public key as the HMAC secret.
    auto pem = rsa.public_pem();
    auto confused = token(json::object{{"alg", "HS256"}}, claims(), [&](auto in) { return hmac_sha256(pem, in); });
    BOOST_TEST(refused(confused));
    BOOST_TEST(refused("only.two"));
    BOOST_TEST(refused("a.b.c.d"));
    BOOST_TEST(refused("!!!.@@@.###"));
    auto big = claims();
    big["pad"] = std::string(9000, 'x');
    BOOST_TEST(refused(token(header, big, sign)));
}

BOOST_AUTO_TEST_CASE(jwks_keys_are_chosen_by_kid_and_hs256_needs_an_oct_key) {
    keypair a("EC"), b("EC");
    auto jwk_of = [](EVP_PKEY* k, std::string kid) {
        unsigned char point[65];
        std::size_t len = 0;
        EVP_PKEY_get_octet_string_param(k, "pub", point, sizeof point, &len);
        return json::object{{"kty", "EC"}, {"crv", "P-256"}, {"kid", kid},
                            {"x", base64url_encode(std::string_view(reinterpret_cast<char*>(point) + 1, 32))},
                            {"y", base64url_encode(std::string_view(reinterpret_cast<char*>(point) + 33, 32))}};
    };
    std::string hs_key(32, 'h');
    json::object jwks{{"keys", json::array{jwk_of(a.pkey, "one"), jwk_of(b.pkey, "two"),
                                           json::object{{"kty", "oct"}, {"kid", "hs"}, {"k", base64url_encode(hs_key)}}}}};
    jwt_verifier v(json::serialize(jwks), strict());
    auto by_b = token(json::object{{"alg", "ES256"}, {"kid", "two"}}, claims(), [&](auto in) { return b.sign(in); });
    BOOST_TEST(v.verify(by_b, sys::now()).subject.value_or("") == "alice");
    auto wrong_kid = token(json::object{{"alg", "ES256"}, {"kid", "one"}}, claims(), [&](auto in) { return b.sign(in); });
    BOOST_TEST(!v.verify(wrong_kid, sys::now()).subject);
    auto hs = token(json::object{{"alg", "HS256"}, {"kid", "hs"}}, claims(), [&](auto in) { return hmac_sha256(hs_key, in); });
    BOOST_TEST(v.verify(hs, sys::now()).subject.value_or("") == "alice");
}

// Issue 11 (fuzz_auth_tokens): an exp of 1e300 was cast to long long and exp + leeway could
// overflow (undefined behaviour after a good signature); a JWK without its fields leaked.
BOOST_AUTO_TEST_CASE(absurd_dates_are_no_dates_and_bad_jwks_are_refused_cleanly) {
    std::string hs_key(32, 'h');
    json::object jwks{{"keys", json::array{json::object{{"kty", "oct"}, {"kid", "hs"}, {"k", base64url_encode(hs_key)}}}}};
    jwt_verifier v(json::serialize(jwks), strict());
    for (json::value exp : {json::value(1e300), json::value(9223372036854775807LL), json::value(-1),
                            json::value(18446744073709551615ULL)}) {
        auto c = claims();
        c["exp"] = exp;
        auto t = token(json::object{{"alg", "HS256"}, {"kid", "hs"}}, c, [&](auto in) { return hmac_sha256(hs_key, in); });
        BOOST_TEST(!v.verify(t, sys::now()).subject, json::serialize(exp));
    }
    for (const char* bad : {R"({"keys":[{"kty":"RSA"}]})", R"({"keys":[{"kty":"EC","crv":"P-256"}]})",
                            R"({"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]})"})
        BOOST_CHECK_THROW(jwt_verifier(bad, strict()), std::exception);
}

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
    std::string cookies = "smtpcheck_session=" + login.session_cookie + "; XSRF-TOKEN=" + login.xsrf;
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
