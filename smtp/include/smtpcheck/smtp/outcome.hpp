// The outcome codes and phases of an SMTP test (SPEC 3.7, 3.8).
#pragma once

#include <string_view>

namespace smtpcheck::smtp {

/// Exactly one per failed test; `none` for success.
enum class outcome_code {
    none,
    uri_invalid,
    from_invalid,
    no_stored_password,
    destination_blocked,
    dns_failed,
    connect_failed,
    timeout,
    greeting_rejected,
    tls_unavailable,
    tls_failed,
    tls_cert_invalid,
    auth_unavailable,
    auth_insecure,
    auth_failed,
    sender_rejected,
    recipient_rejected,
    message_rejected,
    protocol_error,
    connection_lost,
};

/// "SR_SMTP_URI_INVALID", ...; empty for none.
std::string_view resource_name(outcome_code code);

enum class phase { validate, resolve, connect, greeting, ehlo, starttls, auth, mail, rcpt, data, quit };

/// "validate", "resolve", ... as the report writes them.
std::string_view phase_name(phase p);

}  // namespace smtpcheck::smtp
