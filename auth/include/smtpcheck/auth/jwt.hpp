// Bearer JWTs (RFC 7519): RS256, ES256 and HS256 verified with OpenSSL.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpcheck::auth {

struct jwt_options {
    std::string issuer;    ///< required `iss` when not empty
    std::string audience;  ///< required in `aud` when not empty
    std::chrono::seconds leeway{60};
    std::size_t max_size = 8192;
};

class jwt_verifier {
public:
    /// `keys` is a PEM public key (RSA or EC P-256) or a JWKS document (kty RSA, EC P-256 or
    /// oct, `kid` honoured). Throws std::runtime_error when nothing usable is in it.
    jwt_verifier(std::string_view keys, jwt_options options);
    ~jwt_verifier();
    jwt_verifier(jwt_verifier&&) noexcept;

    struct result {
        std::optional<std::string> subject;  ///< the principal when the token is good
        std::string error;                   ///< for the log only: never sent to the client
    };
    /// Refuses `alg: none`, algorithms other than RS256/ES256/HS256, a key of another type
    /// than the algorithm (an HS256 token "signed" with an RSA public key), bad signatures,
    /// expired or not-yet-valid tokens, wrong issuer or audience, a missing `sub`, malformed
    /// and oversized tokens.
    result verify(std::string_view token, std::chrono::system_clock::time_point now) const;

    struct key;

private:
    std::vector<std::unique_ptr<key>> keys_;
    jwt_options options_;
};

}  // namespace smtpcheck::auth
