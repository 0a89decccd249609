// The OpenSSL primitives authentication is built from.
#pragma once

#include <openssl/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace smtpcheck::auth {

std::string hmac_sha256(std::string_view key, std::string_view data);

/// HMAC-SHA256 under one key, keyed once: each call duplicates a prepared context instead of
/// fetching the algorithms and keying the MAC again (OpenSSL 3's one-shot HMAC() does both).
class keyed_hmac {
public:
    explicit keyed_hmac(std::string_view key);
    ~keyed_hmac();
    keyed_hmac(const keyed_hmac&) = delete;
    keyed_hmac& operator=(const keyed_hmac&) = delete;
    std::string operator()(std::string_view data) const;

private:
    EVP_MAC_CTX* ctx_ = nullptr;
};
/// Equal length and content, in time that depends on the length only.
bool constant_time_equal(std::string_view a, std::string_view b);

/// `pbkdf2-sha256$ITERATIONS$SALT$HASH` (base64), with a fresh 16-octet salt.
std::string hash_password(std::string_view password, unsigned iterations = 210000);
/// False for a wrong password and for anything that is not such a string. Slow by design:
/// never call it on an I/O thread.
bool verify_password(std::string_view password, std::string_view encoded);

}  // namespace smtpcheck::auth
