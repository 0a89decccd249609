// auth/jwt.hpp: Bearer JWTs against PEM keys and JWKS.
#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/auth/jwt.hpp"
#include "smtpcheck/core/base64.hpp"

#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <functional>
#include <string>

using namespace smtpcheck::auth;
using smtpcheck::core::base64url_encode;
namespace json = boost::json;
using std::chrono::seconds;
using sys = std::chrono::system_clock;

namespace {

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

}  // namespace

BOOST_AUTO_TEST_SUITE(jwt)

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

BOOST_AUTO_TEST_SUITE_END()
