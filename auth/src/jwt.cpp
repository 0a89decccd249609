#include "smtpcheck/auth/jwt.hpp"
#include "smtpcheck/core/base64.hpp"
#include "smtpcheck/core/system.hpp"

#include "smtpcheck/auth/crypto.hpp"

#include <boost/json/parse.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <cstdint>
#include <memory>
#include <stdexcept>

namespace smtpcheck::auth {

namespace json = boost::json;

enum class key_type { rsa, ec, oct };

struct jwt_verifier::key {
    std::string kid;
    key_type type;
    EVP_PKEY* pkey = nullptr;
    std::string secret;
    ~key() { EVP_PKEY_free(pkey); }
};

namespace {

using key = jwt_verifier::key;

std::unique_ptr<key> from_pem(std::string_view pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (!pkey) throw std::runtime_error("auth.jwt_keys_file: not a PEM public key or a JWKS document");
    auto k = std::make_unique<key>();
    k->pkey = pkey;
    int id = EVP_PKEY_get_base_id(pkey);
    if (id == EVP_PKEY_RSA)
        k->type = key_type::rsa;
    else if (id == EVP_PKEY_EC)
        k->type = key_type::ec;
    else
        throw std::runtime_error("auth.jwt_keys_file: only RSA and EC P-256 public keys are supported");
    return k;
}

std::string b64_field(const json::object& o, const char* name) {
    auto it = o.find(name);
    if (it == o.end() || !it->value().is_string()) throw std::runtime_error(std::string("JWKS key without ") + name);
    auto v = core::base64url_decode(it->value().as_string());
    if (!v) throw std::runtime_error(std::string("JWKS key with a bad ") + name);
    return *v;
}

EVP_PKEY* from_params(const char* type, OSSL_PARAM_BLD* bld) {
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
    EVP_PKEY* pkey = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = nullptr;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

std::unique_ptr<key> from_jwk(const json::object& o) {
    auto k = std::make_unique<key>();
    if (auto kid = o.find("kid"); kid != o.end() && kid->value().is_string()) k->kid = kid->value().as_string();
    std::string kty = o.contains("kty") && o.at("kty").is_string() ? std::string(o.at("kty").as_string()) : "";
    // Owned here: b64_field and the checks below throw (the builder leaked, found by
    // fuzz_auth_tokens).
    std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> owned_bld(OSSL_PARAM_BLD_new(), &OSSL_PARAM_BLD_free);
    OSSL_PARAM_BLD* bld = owned_bld.get();
    if (kty == "RSA") {
        auto n = b64_field(o, "n"), e = b64_field(o, "e");
        BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
        BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
        k->pkey = from_params("RSA", bld);
        BN_free(bn_n);
        BN_free(bn_e);
        k->type = key_type::rsa;
    } else if (kty == "EC") {
        if (!o.contains("crv") || o.at("crv") != "P-256") throw std::runtime_error("JWKS: only EC keys on P-256");
        auto x = b64_field(o, "x"), y = b64_field(o, "y");
        if (x.size() != 32 || y.size() != 32) throw std::runtime_error("JWKS: bad P-256 point");
        std::string point = "\x04" + x + y;
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
        k->pkey = from_params("EC", bld);
        k->type = key_type::ec;
    } else if (kty == "oct") {
        k->secret = b64_field(o, "k");
        if (k->secret.size() < 32) throw std::runtime_error("JWKS: an HS256 key needs at least 32 octets");
        k->type = key_type::oct;
    } else {
        throw std::runtime_error("JWKS: unsupported kty '" + kty + "'");
    }
    if (k->type != key_type::oct && !k->pkey) throw std::runtime_error("JWKS: a key OpenSSL does not accept");
    return k;
}

bool verify_digest(EVP_PKEY* pkey, std::string_view input, std::string_view sig) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                               reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

// JWS ES256 signatures are r || s (32 octets each); OpenSSL verifies DER.
std::optional<std::string> es256_to_der(std::string_view raw) {
    if (raw.size() != 64) return std::nullopt;
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
    ECDSA_SIG_set0(sig, r, s);
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (len <= 0) return std::nullopt;
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

std::optional<json::object> json_segment(std::string_view b64) {
    auto text = core::base64url_decode(b64);
    if (!text) return std::nullopt;
    boost::system::error_code ec;
    auto v = json::parse(*text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return v.as_object();
}

// A NumericDate from 1970 to the end of year 9999; anything else is no date at all (1e300 was
// cast to long long, and exp + leeway overflowed: undefined behaviour, found by fuzz_auth_tokens).
std::optional<long long> number(const json::object& o, const char* name) {
    constexpr long long latest = 253402300799;  // 9999-12-31T23:59:59Z
    auto it = o.find(name);
    if (it == o.end()) return std::nullopt;
    const auto& v = it->value();
    if (v.is_int64() && v.get_int64() >= 0 && v.get_int64() <= latest) return v.get_int64();
    if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(latest)) return static_cast<long long>(v.get_uint64());
    if (v.is_double() && v.get_double() >= 0 && v.get_double() <= static_cast<double>(latest))
        return static_cast<long long>(v.get_double());
    return std::nullopt;
}

}  // namespace

jwt_verifier::jwt_verifier(std::string_view text, jwt_options options) : options_(std::move(options)) {
    auto first = text.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && text[first] == '{') {
        boost::system::error_code ec;
        auto doc = json::parse(text, ec);
        if (ec || !doc.is_object()) throw std::runtime_error("auth.jwt_keys_file: not valid JSON");
        const auto& o = doc.as_object();
        if (o.contains("keys") && o.at("keys").is_array()) {
            for (const auto& k : o.at("keys").as_array())
                if (k.is_object()) keys_.push_back(from_jwk(k.as_object()));
        } else {
            keys_.push_back(from_jwk(o));
        }
    } else {
        keys_.push_back(from_pem(text));
    }
    if (keys_.empty()) throw std::runtime_error("auth.jwt_keys_file: no keys");
}

jwt_verifier::~jwt_verifier() = default;
jwt_verifier::jwt_verifier(jwt_verifier&&) noexcept = default;

jwt_verifier::result jwt_verifier::verify(std::string_view token, std::chrono::system_clock::time_point now) const {
    if (token.size() > options_.max_size) return {std::nullopt, "token larger than " + std::to_string(options_.max_size)};
    auto d1 = token.find('.');
    auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
        return {std::nullopt, "not three segments"};
    auto header = json_segment(token.substr(0, d1));
    auto claims = json_segment(token.substr(d1 + 1, d2 - d1 - 1));
    auto signature = core::base64url_decode(token.substr(d2 + 1));
    if (!header || !claims || !signature) return {std::nullopt, "malformed segment"};

    auto alg_it = header->find("alg");
    std::string alg = alg_it != header->end() && alg_it->value().is_string() ? std::string(alg_it->value().as_string()) : "";
    key_type wanted;
    if (alg == "RS256") wanted = key_type::rsa;
    else if (alg == "ES256") wanted = key_type::ec;
    else if (alg == "HS256") wanted = key_type::oct;
    else return {std::nullopt, "algorithm '" + alg + "' refused"};

    std::string kid;
    if (auto it = header->find("kid"); it != header->end() && it->value().is_string()) kid = it->value().as_string();
    const key* chosen = nullptr;
    for (const auto& k : keys_) {
        if (!kid.empty() && !k->kid.empty() && k->kid != kid) continue;
        if (k->type != wanted) continue;  // algorithm confusion: the key decides, not the token
        chosen = k.get();
        break;
    }
    if (!chosen) return {std::nullopt, "no " + alg + " key" + (kid.empty() ? "" : " with kid '" + kid + "'")};

    std::string_view input = token.substr(0, d2);
    bool good = false;
    if (wanted == key_type::oct) {
        good = constant_time_equal(hmac_sha256(chosen->secret, input), *signature);
    } else if (wanted == key_type::ec) {
        auto der = es256_to_der(*signature);
        good = der && verify_digest(chosen->pkey, input, *der);
    } else {
        good = verify_digest(chosen->pkey, input, *signature);
    }
    if (!good) return {std::nullopt, "bad signature"};

    const long long t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const long long leeway = options_.leeway.count();
    auto exp = number(*claims, "exp");
    if (!exp) return {std::nullopt, "no exp"};
    if (t > *exp + leeway) return {std::nullopt, "expired"};
    if (auto nbf = number(*claims, "nbf"); nbf && t + leeway < *nbf) return {std::nullopt, "not valid yet"};
    if (!options_.issuer.empty()) {
        auto it = claims->find("iss");
        if (it == claims->end() || !it->value().is_string() || it->value().as_string() != options_.issuer)
            return {std::nullopt, "wrong issuer"};
    }
    if (!options_.audience.empty()) {
        bool found = false;
        if (auto it = claims->find("aud"); it != claims->end()) {
            if (it->value().is_string()) found = it->value().as_string() == options_.audience;
            if (it->value().is_array())
                for (const auto& a : it->value().as_array()) found = found || (a.is_string() && a.as_string() == options_.audience);
        }
        if (!found) return {std::nullopt, "wrong audience"};
    }
    auto sub = claims->find("sub");
    if (sub == claims->end() || !sub->value().is_string() || sub->value().as_string().empty())
        return {std::nullopt, "no sub"};
    return {std::string(sub->value().as_string()), {}};
}

}  // namespace smtpcheck::auth
