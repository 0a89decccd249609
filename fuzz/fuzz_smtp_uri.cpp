// parse_smtp_uri and parse_mailbox on the input. What they accept goes into SMTP commands
// (EHLO <ehlo_domain>, MAIL FROM:<mailbox>) and the connect (host), so a CR, LF or NUL in an
// accepted value is a command injection: the target traps on it.
// Also compose_message with the input as subject and body (and the parsed mailbox as From):
// what goes after DATA must be CRLF lines under 998 octets, none of them a lone "." that
// would end the data early (SMTP smuggling).
#include "smtpcheck/smtp/message.hpp"
#include "smtpcheck/smtp/smtp_uri.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace {

bool unsafe(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos; }

// The message as compose_message documents it: CRLF line ends, lines under 998 octets,
// dot-stuffed, ending in CRLF.
void check_message(std::string_view m) {
    if (!m.ends_with("\r\n")) __builtin_trap();
    while (!m.empty()) {
        auto crlf = m.find("\r\n");
        auto line = m.substr(0, crlf);
        if (line.find_first_of("\r\n") != std::string_view::npos) __builtin_trap();  // a bare CR or LF
        if (line.size() > 998) __builtin_trap();  // RFC 5322 2.1.1
        if (line == ".") __builtin_trap();
        m.remove_prefix(crlf + 2);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    using namespace smtpcheck::smtp;

    auto uri = parse_smtp_uri(text);
    if (auto* u = std::get_if<smtp_uri>(&uri)) {
        if (unsafe(u->ehlo_domain) || unsafe(u->host) || (u->user && unsafe(*u->user))) __builtin_trap();
        if (u->host.empty()) __builtin_trap();
        (void)u->redacted();
    }

    auto mailbox = parse_mailbox(text);
    if (auto* m = std::get_if<std::string>(&mailbox)) {
        if (unsafe(*m)) __builtin_trap();
    }

    (void)to_ascii_host(text);

    message_fields f;
    f.from = std::holds_alternative<std::string>(mailbox) ? std::get<std::string>(mailbox) : "jane@example.com";
    f.to = "smtp-test@superoffice.com";
    f.subject = std::string(text);
    f.body = std::string(text);
    f.message_id = "0123456789abcdef0123456789abcdef";
    f.date = std::chrono::system_clock::time_point(std::chrono::seconds(1900000000));
    check_message(compose_message(f));
    return 0;
}
