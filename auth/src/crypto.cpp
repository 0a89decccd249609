#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/core/base64.hpp"
#include "smtpcheck/core/system.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace smtpcheck::auth {

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), mac, &len);
    return std::string(reinterpret_cast<char*>(mac), len);
}

keyed_hmac::keyed_hmac(std::string_view key) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx_ = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
    // HMAC pads its key with zeros, so an empty key is the same as one zero octet (which
    // OpenSSL accepts where it may refuse a zero length).
    if (key.empty()) key = std::string_view("\0", 1);
    if (!ctx_ || EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1)
        throw std::runtime_error("HMAC-SHA256 is not available from OpenSSL");
}

keyed_hmac::~keyed_hmac() { EVP_MAC_CTX_free(ctx_); }

std::string keyed_hmac::operator()(std::string_view data) const {
    EVP_MAC_CTX* c = EVP_MAC_CTX_dup(ctx_);
    unsigned char out[32];
    std::size_t len = 0;
    EVP_MAC_update(c, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    EVP_MAC_final(c, out, &len, sizeof out);
    EVP_MAC_CTX_free(c);
    return std::string(reinterpret_cast<char*>(out), len);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {
std::string pbkdf2(std::string_view password, std::string_view salt, unsigned iterations) {
    std::string out(32, '\0');
    PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                      reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                      static_cast<int>(iterations), EVP_sha256(), 32, reinterpret_cast<unsigned char*>(out.data()));
    return out;
}
}  // namespace

std::string hash_password(std::string_view password, unsigned iterations) {
    auto salt = core::random_bytes(16);
    return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + core::base64_encode(salt) + "$" +
           core::base64_encode(pbkdf2(password, salt, iterations));
}

bool verify_password(std::string_view password, std::string_view encoded) {
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        auto end = encoded.find('$', start);
        parts.push_back(encoded.substr(start, end - start));
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    if (parts.size() != 4 || parts[0] != "pbkdf2-sha256") return false;
    unsigned iterations = 0;
    auto [p, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), iterations);
    if (ec != std::errc{} || iterations < 100000 || iterations > 10'000'000) return false;
    auto salt = core::base64_decode(parts[2]);
    auto expected = core::base64_decode(parts[3]);
    if (!salt || !expected || expected->size() != 32) return false;
    return constant_time_equal(pbkdf2(password, *salt, iterations), *expected);
}

}  // namespace smtpcheck::auth
