#include "smtpcheck/smtp/report.hpp"

namespace smtpcheck::smtp {

std::string_view resource_name(outcome_code code) {
    switch (code) {
    case outcome_code::none: return "";
    case outcome_code::uri_invalid: return "SR_SMTP_URI_INVALID";
    case outcome_code::from_invalid: return "SR_SMTP_FROM_INVALID";
    case outcome_code::no_stored_password: return "SR_SMTP_NO_STORED_PASSWORD";
    case outcome_code::destination_blocked: return "SR_SMTP_DESTINATION_BLOCKED";
    case outcome_code::dns_failed: return "SR_SMTP_DNS_FAILED";
    case outcome_code::connect_failed: return "SR_SMTP_CONNECT_FAILED";
    case outcome_code::timeout: return "SR_SMTP_TIMEOUT";
    case outcome_code::greeting_rejected: return "SR_SMTP_GREETING_REJECTED";
    case outcome_code::tls_unavailable: return "SR_SMTP_TLS_UNAVAILABLE";
    case outcome_code::tls_failed: return "SR_SMTP_TLS_FAILED";
    case outcome_code::tls_cert_invalid: return "SR_SMTP_TLS_CERT_INVALID";
    case outcome_code::auth_unavailable: return "SR_SMTP_AUTH_UNAVAILABLE";
    case outcome_code::auth_insecure: return "SR_SMTP_AUTH_INSECURE";
    case outcome_code::auth_failed: return "SR_SMTP_AUTH_FAILED";
    case outcome_code::sender_rejected: return "SR_SMTP_SENDER_REJECTED";
    case outcome_code::recipient_rejected: return "SR_SMTP_RECIPIENT_REJECTED";
    case outcome_code::message_rejected: return "SR_SMTP_MESSAGE_REJECTED";
    case outcome_code::protocol_error: return "SR_SMTP_PROTOCOL_ERROR";
    case outcome_code::connection_lost: return "SR_SMTP_CONNECTION_LOST";
    }
    return "";
}

std::string_view warning_name(warning_code code) {
    switch (code) {
    case warning_code::cert_expires_soon: return "W_CERT_EXPIRES_SOON";
    case warning_code::tls_no_forward_secrecy: return "W_TLS_NO_FORWARD_SECRECY";
    case warning_code::tls_weak_cipher: return "W_TLS_WEAK_CIPHER";
    case warning_code::starttls_not_required: return "W_STARTTLS_NOT_REQUIRED";
    case warning_code::greeting_name_mismatch: return "W_GREETING_NAME_MISMATCH";
    case warning_code::possible_open_relay: return "W_POSSIBLE_OPEN_RELAY";
    }
    return {};
}

std::string_view warning_value_name(warning_code code) {
    switch (code) {
    case warning_code::cert_expires_soon: return "days";
    case warning_code::tls_no_forward_secrecy:
    case warning_code::tls_weak_cipher: return "cipher";
    case warning_code::starttls_not_required: return "uri";
    case warning_code::greeting_name_mismatch: return "name";
    case warning_code::possible_open_relay: return "domain";
    }
    return {};
}

std::string_view phase_name(phase p) {
    switch (p) {
    case phase::validate: return "validate";
    case phase::resolve: return "resolve";
    case phase::connect: return "connect";
    case phase::greeting: return "greeting";
    case phase::ehlo: return "ehlo";
    case phase::starttls: return "starttls";
    case phase::auth: return "auth";
    case phase::mail: return "mail";
    case phase::rcpt: return "rcpt";
    case phase::data: return "data";
    case phase::quit: return "quit";
    }
    return "";
}

}  // namespace smtpcheck::smtp
