#include "smtpcheck/auth/tokens.hpp"
#include "smtpcheck/core/base64.hpp"
#include "smtpcheck/core/system.hpp"

#include "smtpcheck/auth/crypto.hpp"

#include <charconv>
#include <vector>

namespace smtpcheck::auth {
namespace {

// Domain separation: a ticket can never pass as a session, nor the other way round.
std::string sign(const keyed_hmac& secret, std::string_view kind, std::string_view payload) {
    return core::base64url_encode(secret(std::string(kind) + ":" + std::string(payload)));
}

std::optional<std::vector<std::string>> open_signed(const keyed_hmac& secret, std::string_view kind,
                                                     std::string_view token, std::size_t fields) {
    if (token.size() > 4096) return std::nullopt;
    auto dot = token.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    auto payload_b64 = token.substr(0, dot);
    if (!constant_time_equal(sign(secret, kind, payload_b64), token.substr(dot + 1))) return std::nullopt;
    auto payload = core::base64url_decode(payload_b64);
    if (!payload) return std::nullopt;
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (auto nul = payload->find('\0'); nul != std::string::npos; nul = payload->find('\0', start)) {
        parts.push_back(payload->substr(start, nul - start));
        start = nul + 1;
    }
    parts.push_back(payload->substr(start));
    if (parts.size() != fields) return std::nullopt;
    return parts;
}

// The expiry a token carries: seconds since the epoch, held to what the clock can hold, so
// that a far-future expiry (only a key holder can sign one) cannot overflow the conversion.
std::optional<clock::time_point> expiry_of(const std::string& seconds) {
    long long value = 0;
    auto [p, ec] = std::from_chars(seconds.data(), seconds.data() + seconds.size(), value);
    if (ec != std::errc{} || p != seconds.data() + seconds.size()) return std::nullopt;
    constexpr auto limit = std::chrono::duration_cast<std::chrono::seconds>(clock::duration::max()).count();
    if (value >= limit) return clock::time_point::max();
    if (value <= -limit) return clock::time_point::min();
    return clock::time_point(std::chrono::seconds(value));
}

std::string seconds_of(clock::time_point t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

}  // namespace

std::string mint_ticket(std::string_view secret, std::string_view user, clock::time_point expires) {
    auto payload = core::base64url_encode(std::string(user) + '\0' + seconds_of(expires));
    return "7T:" + payload + "." + sign(keyed_hmac(secret), "ticket", payload);
}

std::optional<std::string> verify_ticket(std::string_view secret, std::string_view ticket, clock::time_point now) {
    return verify_ticket(keyed_hmac(secret), ticket, now);
}

std::string mint_session(std::string_view secret, std::string_view user, clock::time_point expires,
                         std::string* id_out) {
    return mint_session(keyed_hmac(secret), user, expires, id_out);
}

std::optional<session> verify_session(std::string_view secret, std::string_view cookie, clock::time_point now) {
    return verify_session(keyed_hmac(secret), cookie, now);
}

std::string xsrf_token(std::string_view secret, std::string_view session_id) {
    return xsrf_token(keyed_hmac(secret), session_id);
}

std::optional<std::string> verify_ticket(const keyed_hmac& secret, std::string_view ticket, clock::time_point now) {
    if (ticket.starts_with("7T:")) ticket.remove_prefix(3);
    auto parts = open_signed(secret, "ticket", ticket, 2);
    if (!parts || (*parts)[0].empty()) return std::nullopt;
    auto expires = expiry_of((*parts)[1]);
    if (!expires || now >= *expires) return std::nullopt;
    return (*parts)[0];
}

std::string mint_session(const keyed_hmac& secret, std::string_view user, clock::time_point expires,
                         std::string* id_out) {
    auto id = core::base64url_encode(core::random_bytes(18));
    if (id_out) *id_out = id;
    auto payload = core::base64url_encode(std::string(user) + '\0' + seconds_of(expires) + '\0' + id);
    return payload + "." + sign(secret, "session", payload);
}

std::optional<session> verify_session(const keyed_hmac& secret, std::string_view cookie, clock::time_point now) {
    auto parts = open_signed(secret, "session", cookie, 3);
    if (!parts || (*parts)[0].empty()) return std::nullopt;
    auto expires = expiry_of((*parts)[1]);
    if (!expires || now >= *expires) return std::nullopt;
    return session{(*parts)[0], (*parts)[2], *expires};
}

std::string xsrf_token(const keyed_hmac& secret, std::string_view session_id) {
    return sign(secret, "xsrf", session_id);
}

}  // namespace smtpcheck::auth
