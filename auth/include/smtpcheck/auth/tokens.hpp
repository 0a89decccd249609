// Tokens signed with auth.secret_file (HMAC-SHA256), verifiable by every instance sharing
// it, with no server-side state: SOTicket tickets and browser sessions.
#pragma once

#include "smtpcheck/auth/crypto.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace smtpcheck::auth {

using clock = std::chrono::system_clock;

/// `7T:` + base64url(user NUL expiry) + `.` + base64url(HMAC).
std::string mint_ticket(std::string_view secret, std::string_view user, clock::time_point expires);
/// The user when the signature holds and the ticket has not expired. Accepts the value with
/// or without the `7T:` prefix.
std::optional<std::string> verify_ticket(std::string_view secret, std::string_view ticket, clock::time_point now);

struct session {
    std::string user;
    std::string id;  ///< random, base64url
    clock::time_point expires;
};

/// The session cookie's value: base64url(user NUL expiry NUL id) + `.` + base64url(HMAC).
std::string mint_session(std::string_view secret, std::string_view user, clock::time_point expires,
                         std::string* id_out = nullptr);
std::optional<session> verify_session(std::string_view secret, std::string_view cookie, clock::time_point now);
/// The XSRF-TOKEN bound to a session: base64url(HMAC(secret, "xsrf:" + id)).
std::string xsrf_token(std::string_view secret, std::string_view session_id);

/// The same, with the secret keyed once (the request path).
std::optional<std::string> verify_ticket(const keyed_hmac& secret, std::string_view ticket, clock::time_point now);
std::string mint_session(const keyed_hmac& secret, std::string_view user, clock::time_point expires,
                         std::string* id_out = nullptr);
std::optional<session> verify_session(const keyed_hmac& secret, std::string_view cookie, clock::time_point now);
std::string xsrf_token(const keyed_hmac& secret, std::string_view session_id);

}  // namespace smtpcheck::auth
