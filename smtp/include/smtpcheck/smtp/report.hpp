// What an SMTP test found (SPEC 3.7, 3.8): the outcome code, the phase, the report. Plain data:
// serialization/report.hpp maps it to every document and text a caller reads.
#pragma once

#include "smtpcheck/smtp/reply.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

/// The last code: codes from uri_invalid to this one are SPEC 3.7's table, in its order.
inline constexpr outcome_code last_outcome_code = outcome_code::connection_lost;

/// "SR_SMTP_URI_INVALID", ...; empty for none.
std::string_view resource_name(outcome_code code);

enum class phase { validate, resolve, connect, greeting, ehlo, starttls, auth, mail, rcpt, data, quit };

/// "validate", "resolve", ... as the report writes them.
std::string_view phase_name(phase p);

struct tried_address {
    std::string address;
    std::string outcome;  ///< "connected", "connect refused", "blocked: ...", ...
};

struct certificate_info {
    std::string subject;
    std::string issuer;
    std::vector<std::string> subject_alt_names;
    std::string not_after;  ///< ISO 8601 UTC
    std::optional<int> days_left;  ///< whole days from the test to not_after (negative: expired)
};

struct tls_info {
    std::string mode;  ///< "starttls" or "implicit"
    std::string version;  ///< empty when no handshake completed
    std::string cipher;   ///< empty when no handshake completed
    bool verified = false;
    std::string weakness;  ///< why the negotiated TLS is weak ("no forward secrecy", ...); empty if not
    std::optional<std::string> verify_error;
    std::optional<certificate_info> certificate;
};

struct transcript_line {
    double ms = 0;
    char dir = 'C';  ///< 'C' client, 'S' server
    std::string line;
};

struct phase_timing {
    phase which;
    double ms = 0;
};

/// Findings that do not fail the test (SPEC 3.8 Warnings; issue 15).
enum class warning_code {
    cert_expires_soon,       ///< the server's certificate expires within 30 days
    tls_no_forward_secrecy,  ///< TLS 1.2 with an RSA key exchange
    tls_weak_cipher,         ///< TLS 1.2 without an AEAD cipher, or with a key under 128 bits
    starttls_not_required,   ///< smtp:// upgraded only because offered, and AUTH came only over TLS
    greeting_name_mismatch,  ///< the greeting's name is not the host asked for, nor of its domain
    possible_open_relay,     ///< accepted without AUTH, From a domain that is not the server's
};
inline constexpr warning_code last_warning_code = warning_code::possible_open_relay;

/// "W_CERT_EXPIRES_SOON", ...
std::string_view warning_name(warning_code code);
/// The name of the one value its words fill in: "days", "cipher", "uri", "name", "domain".
std::string_view warning_value_name(warning_code code);

struct warning {
    warning_code code;
    std::string value;  ///< the days left, the cipher, the URI to use, the greeting's name, the From domain
};

/// Settings to try after a failure (SPEC 3.8 Suggestions; issue 15), only from DNS answers or
/// a recognised port/TLS mismatch.
struct suggestion {
    std::string uri;       ///< scheme://host:port
    std::string why;       ///< a catalog key of [suggestions]
    std::string domain;    ///< the From domain whose records gave it
    std::string via;       ///< the SRV or MX record's target
    std::string provider;  ///< the provider's name, for an MX
};

struct test_report {
    bool success = false;
    outcome_code code = outcome_code::none;
    std::optional<phase> failed_phase;
    std::optional<reply> last_reply;
    std::vector<warning> warnings;
    std::vector<suggestion> suggestions;
    std::optional<std::string> hint;  ///< a catalog key: HINT_TRY_SMTPS, HINT_TRY_STARTTLS, or a remedy's (remedies.hpp)
    std::string hint_uri;             ///< the URI a hint suggests
    std::string detail;  ///< what failed, in English (parser and OpenSSL words); no per-test random values

    std::string host;
    std::uint16_t port = 0;
    std::optional<std::string> address;  ///< the address that answered
    std::optional<bool> dns_cached;      ///< for names: whether the answer came from the cache
    std::vector<tried_address> tried;
    std::optional<std::string> greeting;
    std::vector<std::string> extensions;
    std::string server_name;  ///< the name the server gives in its EHLO reply; empty before EHLO
    /// Shared and immutable rather than inline: a report sits in several coroutine frames of
    /// every test in flight, and an inline tls_info made each copy 300 bytes larger.
    std::shared_ptr<const tls_info> tls;
    std::optional<std::string> auth_mechanism;
    bool auth_succeeded = false;
    std::vector<phase_timing> timings;
    double total_ms = 0;
    std::vector<transcript_line> transcript;
    std::string test_id;
};

}  // namespace smtpcheck::smtp
