// SOTicket tickets, session cookies and bearer JWTs as a client sends them, verified with fixed
// keys (fuzz_keys.hpp). Forged signatures only reach the parsers before the MAC, so each input
// is also wrapped the way the key holder would sign it, to reach what runs after a good
// signature: the payload split, the expiry, the JWT claims. Last, the input as the
// auth.jwt_keys_file text (PEM or JWKS) the verifier is built from.
#include "fuzz_keys.hpp"
#include "smtpcheck/core/base64.hpp"
#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/auth/jwt.hpp"
#include "smtpcheck/auth/tokens.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

namespace auth = smtpcheck::auth;
using smtpcheck_fuzz::now;
using smtpcheck_fuzz::secret;

const auth::keyed_hmac& keyed_secret() {
    static const auth::keyed_hmac k(secret);
    return k;
}

const auth::jwt_verifier& verifier() {
    static const auth::jwt_verifier v(smtpcheck_fuzz::jwks,
                                      auth::jwt_options{std::string(smtpcheck_fuzz::issuer),
                                                        std::string(smtpcheck_fuzz::audience),
                                                        std::chrono::seconds(60), 8192});
    return v;
}

// The same check through both overloads (the secret as text, and keyed once) must agree.
void tickets_and_sessions(std::string_view value) {
    auto t1 = auth::verify_ticket(secret, value, now());
    auto t2 = auth::verify_ticket(keyed_secret(), value, now());
    if (t1 != t2) __builtin_trap();
    if (t1 && t1->empty()) __builtin_trap();

    auto s1 = auth::verify_session(secret, value, now());
    auto s2 = auth::verify_session(keyed_secret(), value, now());
    if (s1.has_value() != s2.has_value()) __builtin_trap();
    if (s1 && (s1->user != s2->user || s1->id != s2->id || s1->user.empty())) __builtin_trap();
}

// `payload` signed as mint_ticket and mint_session sign theirs.
void signed_payload(std::string_view payload) {
    const auto b64 = smtpcheck::core::base64url_encode(payload);
    const auto ticket = b64 + "." + smtpcheck::core::base64url_encode(keyed_secret()("ticket:" + b64));
    if (auto user = auth::verify_ticket(keyed_secret(), ticket, now())) {
        // user NUL expiry: the user is what precedes the only NUL
        auto nul = payload.find('\0');
        if (nul == std::string_view::npos || payload.substr(0, nul) != *user) __builtin_trap();
    }
    const auto cookie = b64 + "." + smtpcheck::core::base64url_encode(keyed_secret()("session:" + b64));
    if (auto s = auth::verify_session(keyed_secret(), cookie, now())) {
        auto nul = payload.find('\0');
        if (nul == std::string_view::npos || payload.substr(0, nul) != s->user) __builtin_trap();
    }
    // A ticket never passes as a session, nor the other way round.
    if (auth::verify_session(keyed_secret(), ticket, now()) || auth::verify_ticket(keyed_secret(), cookie, now()))
        __builtin_trap();

    // Round trip: what mint_ticket makes for a plain user name, verify_ticket gives back.
    if (!payload.empty() && payload.size() < 200 && payload.find('\0') == std::string_view::npos) {
        auto minted = auth::mint_ticket(secret, payload, now() + std::chrono::hours(1));
        auto back = auth::verify_ticket(secret, minted, now());
        if (!back || *back != payload) __builtin_trap();
    }
}

// `claims` (and, before a first LF, the JOSE header) signed with the HS256 key of the JWKS.
void signed_jwt(std::string_view input) {
    std::string_view header = R"({"alg":"HS256","typ":"JWT","kid":"hs"})", claims = input;
    if (auto lf = input.find('\n'); lf != std::string_view::npos) {
        header = input.substr(0, lf);
        claims = input.substr(lf + 1);
    }
    const auto signing_input = smtpcheck::core::base64url_encode(header) + "." + smtpcheck::core::base64url_encode(claims);
    const auto token =
        signing_input + "." + smtpcheck::core::base64url_encode(auth::hmac_sha256(smtpcheck_fuzz::hs256_key, signing_input));
    auto r = verifier().verify(token, now());
    if (r.subject && r.subject->empty()) __builtin_trap();
    if (!r.subject && r.error.empty()) __builtin_trap();
}

void keys_text(std::string_view text) {
    try {
        auth::jwt_verifier v(text, auth::jwt_options{});
        (void)v.verify("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4IiwiZXhwIjo0MTAyNDQ0ODAwfQ.AAAA", now());
    } catch (const std::runtime_error&) {
        // documented: nothing usable in the text
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    tickets_and_sessions(input);
    auto r = verifier().verify(input, now());
    if (r.subject && r.subject->empty()) __builtin_trap();
    if (!r.subject && r.error.empty()) __builtin_trap();

    if (size <= 4096) {
        signed_payload(input);
        signed_jwt(input);
        keys_text(input);
    }
    return 0;
}
