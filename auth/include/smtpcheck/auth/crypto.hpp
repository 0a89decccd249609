// The OpenSSL primitives authentication is built from.
#pragma once

#include "smtpcheck/serialization/base64.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace smtpcheck::auth {

using serialization::base64_decode;
using serialization::base64_encode;
using serialization::base64url_decode;
using serialization::base64url_encode;

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
