// SmtpUri (SPEC 3.1) and the From mailbox (SPEC 3.5): validated before anything connects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace smtpcheck::smtp {

enum class tls_mode {
    opportunistic,  ///< smtp://: STARTTLS when offered, plaintext otherwise
    starttls,       ///< smtp+starttls://: STARTTLS required
    implicit,       ///< smtps://: TLS from the first byte
};

struct smtp_uri {
    tls_mode mode = tls_mode::opportunistic;
    std::string host;              ///< ASCII: IDN names as punycode, IPv6 without brackets
    bool host_is_address = false;  ///< an IPv4 or IPv6 literal, not a name
    std::uint16_t port = 25;
    std::optional<std::string> user;      ///< percent-decoded
    std::optional<std::string> password;  ///< percent-decoded; never logged
    std::string mechanism;                ///< from ;AUTH=, upper-case; empty: choose
    std::string ehlo_domain;              ///< from the path; empty: the configured default

    /// The URI as it may be shown: scheme, user, host and port, never the password.
    std::string redacted() const;
};

/// Why a text is not a usable SmtpUri or From (English; the endpoint localizes by code).
struct invalid_input {
    std::string reason;
};

std::variant<smtp_uri, invalid_input> parse_smtp_uri(std::string_view text);

/// "smtps://host:port" for a mode, a host (IPv6 literals get their brackets) and a port: the
/// URIs a hint, a warning or a suggestion names.
std::string endpoint_uri(tls_mode mode, std::string_view host, std::uint16_t port);

/// A From address that is exactly one RFC 5321 mailbox (RFC 6531 UTF-8 allowed): no CR, LF,
/// NUL, spaces, angle brackets, display names or lists. Returns the mailbox with an IDN
/// domain in punycode.
std::variant<std::string, invalid_input> parse_mailbox(std::string_view text);

/// Punycode (IDNA 2008 through libidn2) of a host name; nullopt when it is not one.
std::optional<std::string> to_ascii_host(std::string_view utf8_name);

}  // namespace smtpcheck::smtp
