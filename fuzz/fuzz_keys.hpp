// The keys the fuzz targets verify with: fixed, so that the seed corpora can hold tokens that
// pass. Public keys only; the private halves that signed the seeds were thrown away.
#pragma once

#include <chrono>
#include <string_view>

namespace smtpcheck_fuzz {

/// As auth.secret_file: 32 octets, the HMAC key of SOTicket tickets and session cookies.
inline constexpr std::string_view secret = "0123456789abcdef0123456789abcdef";

/// A JWKS with an HS256 key (kid "hs", k = "smtpcheck-fuzz-hs256-key-32-octets!!"), an ES256
/// key (kid "ec") and an RS256 key (kid "rs").
inline constexpr std::string_view jwks =
    "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"c210cGNoZWNrLWZ1enotaHMyNTYta2V5LTMyLW9jdGV0cyEh\"},{\"k"
    "ty\":\"EC\",\"kid\":\"ec\",\"crv\":\"P-256\",\"x\":\"j_P6zHSmKlwrT2OnXx4yyExb3Yd-GYPqHlwVn0JChF8\",\"y\":\"9iS"
    "wj1Crhkyae-NspxXc_XBbyFQ1fspqr1HG-qp2frM\"},{\"kty\":\"RSA\",\"kid\":\"rs\",\"n\":\"yWhqbjJSlZSmY0R5w0Y9"
    "vbciCMZ5rjEFOxTPB-oKTAXR-3klc8ihf5zlz1-frExaqIzYMObVZ2LQ_o8Iy2dQuwNfpSSrj0a6309o3rm0fOuxo85u"
    "SohJNnVOxa9NQrQJtAuoE3gArNYjsT6dqgPNHZsAMZPTHrO22BYFj_iFEjQs1UjrND5HKhlCgPlP676gGov7oYrZdvMG"
    "dJoTxqusCE-OGQzhe4SJdupsILi9MKN4kSaPaww3n2Pr9M88Hc__myto1sjPwnRXklWMepntTQCwzHIhe28hx8bvwnIY"
    "5rmHJSljIRkPFfbokFU9MtW4Lxcjd7P75HgGijv1S_L5_w\",\"e\":\"AQAB\"}]}";
inline constexpr std::string_view hs256_key = "smtpcheck-fuzz-hs256-key-32-octets!!";
inline constexpr std::string_view issuer = "https://issuer.example";
inline constexpr std::string_view audience = "smtpcheck";

/// The time every target verifies at (2030-03-17): the seeds expire in 2100.
inline std::chrono::system_clock::time_point now() {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1900000000));
}

}  // namespace smtpcheck_fuzz
