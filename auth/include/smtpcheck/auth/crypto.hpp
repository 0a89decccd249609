// The OpenSSL primitives authentication is built from.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smtpcheck::auth {

std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);
/// RFC 4648 section 5, without padding (JWT, tickets, cookies).
std::string base64url_encode(std::string_view data);
std::optional<std::string> base64url_decode(std::string_view text);

std::string hmac_sha256(std::string_view key, std::string_view data);
/// Equal length and content, in time that depends on the length only.
bool constant_time_equal(std::string_view a, std::string_view b);
std::string random_bytes(std::size_t n);

/// `pbkdf2-sha256$ITERATIONS$SALT$HASH` (base64), with a fresh 16-octet salt.
std::string hash_password(std::string_view password, unsigned iterations = 210000);
/// False for a wrong password and for anything that is not such a string. Slow by design:
/// never call it on an I/O thread.
bool verify_password(std::string_view password, std::string_view encoded);

}  // namespace smtpcheck::auth
