// Base64 (RFC 4648 section 4) and base64url without padding (section 5), by OpenSSL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smtpcheck::core {

std::string base64_encode(std::string_view data);
/// nullopt for anything that is not padded base64.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64url_encode(std::string_view data);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace smtpcheck::core
