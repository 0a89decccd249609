// What a hostile SMTP server sends: printable_text on it, the reply parser fed in pieces of
// any size, parse_ehlo and the remedy rules on every reply, then the dialog state machine
// driven by those replies.
//
// Input: byte 0 chooses the dialog's settings (TLS mode, credentials, mechanism, plaintext
// auth, message or not), byte 1 the piece sizes (low 3 bits), whether a TLS handshake works
// (bit 6) and a non-ASCII sender (bit 7), byte 2 seeds the piece size sequence; the rest is
// the server's byte stream.
//
// Checked: printable_text gives valid UTF-8 without control characters; replies within
// reply_limits, their text printable; the dialog finishes; every write is whole lines ending
// in CRLF with no other CR, LF or NUL (the test message is such lines too); credentials never
// go out before TLS unless allowed, nothing but EHLO/HELO/STARTTLS/QUIT before TLS when
// STARTTLS is required; the transcript never shows the password.
#include "smtpcheck/core/base64.hpp"
#include "smtpcheck/core/printable_text.hpp"
#include "smtpcheck/smtp/dialog.hpp"
#include "smtpcheck/smtp/remedies.hpp"
#include "smtpcheck/smtp/reply.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace smtpcheck::smtp;

constexpr std::size_t max_piece[8] = {1, 2, 3, 7, 16, 64, 512, 1 << 20};
constexpr const char* mechanisms[8] = {"", "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "", "", ""};
constexpr std::string_view password = "tanstaafl";

// Whole lines, each ending in CRLF, with no other CR, LF or NUL.
bool well_formed(std::string_view bytes) {
    while (!bytes.empty()) {
        auto crlf = bytes.find("\r\n");
        if (crlf == std::string_view::npos) return false;
        if (bytes.substr(0, crlf).find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) return false;
        bytes.remove_prefix(crlf + 2);
    }
    return true;
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

// What printable_text promises: valid UTF-8 without C0, DEL or C1 control characters.
bool printable(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        const unsigned char c = *p;
        std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || static_cast<std::size_t>(end - p) < len) return false;
        std::uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
        for (std::size_t i = 1; i < len; ++i) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        constexpr std::uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;  // overlong, surrogate
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) return false;
        p += len;
    }
    return true;
}

void check_reply(const reply& r, const reply_limits& limits) {
    if (r.code < 200 || r.code > 599) __builtin_trap();
    if (r.lines.empty() || r.lines.size() > limits.max_lines) __builtin_trap();
    for (const auto& l : r.lines)  // printable_text: an octet of the line becomes at most U+FFFD's 3
        if (l.size() > 3 * limits.max_line || !printable(l)) __builtin_trap();
    (void)r.first_line();
    (void)r.text();
}

dialog_settings settings_from(std::uint8_t a, std::uint8_t b) {
    dialog_settings s;
    s.mode = (a & 3) == 1 ? tls_mode::starttls : (a & 3) == 2 ? tls_mode::implicit : tls_mode::opportunistic;
    s.ehlo_domain = "[192.0.2.10]";
    s.from = (b & 0x80) ? "j\xc3\xb6rg@xn--exmple-cua.com" : "jane@example.com";
    s.recipient = "smtp-test@superoffice.com";
    if (a & 4) {
        s.user = "tim";
        s.password = std::string(password);
    }
    s.mechanism = mechanisms[(a >> 3) & 7];
    s.allow_plaintext_auth = (a & 0x40) != 0;
    s.send_message = (a & 0x80) == 0;
    s.message = "Subject: test\r\n\r\nhello\r\n..a stuffed dot\r\n";
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const std::uint8_t setting_bits = data[0], piece_bits = data[1];
    std::uint32_t rng = 0x9E3779B9u ^ (data[2] * 0x01000193u);
    std::string_view stream(reinterpret_cast<const char*>(data + 3), size - 3);

    {
        auto text = smtpcheck::core::printable_text(stream);
        if (!printable(text)) __builtin_trap();
    }

    // 1. The parser, as the engine's read_reply drives it: unparsed bytes kept between reads.
    const reply_limits limits;
    reply_parser parser(limits);
    std::vector<reply> replies;
    std::string inbuf;
    bool broken = false;
    while (!stream.empty() && !broken) {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        const std::size_t n = std::min<std::size_t>(stream.size(), 1 + rng % max_piece[piece_bits & 7]);
        inbuf.append(stream.substr(0, n));
        stream.remove_prefix(n);
        while (!inbuf.empty()) {
            std::size_t used = 0;
            auto status = parser.feed(inbuf, used);
            if (used > inbuf.size()) __builtin_trap();
            inbuf.erase(0, used);
            if (status == reply_parser::status::done) {
                replies.push_back(parser.take());
                check_reply(replies.back(), limits);
                // The EHLO name, and the remedy rules (fnmatch on the reply's words, the
                // provider from the greeting) on every reply as the last of a failed test.
                const auto caps = parse_ehlo(replies.back());
                test_report failed;
                failed.host = "smtp.example.com";
                failed.greeting = replies.front().first_line();
                failed.server_name = caps.name;
                failed.last_reply = replies.back();
                remedies::builtin().apply(failed, "user");
                if (failed.hint && failed.hint->empty()) __builtin_trap();
                continue;
            }
            if (status == reply_parser::status::error) {
                if (parser.error().empty()) __builtin_trap();
                broken = true;
            }
            break;  // need_more (or error)
        }
    }

    // 2. The dialog against those replies.
    const auto s = settings_from(setting_bits, piece_bits);
    const bool tls_works = (piece_bits & 0x40) != 0;
    const std::string password_b64 = smtpcheck::core::base64_encode(password);
    const std::string plain_b64 = smtpcheck::core::base64_encode(std::string("\0tim\0", 5) + std::string(password));
    dialog d(s);
    auto step = d.start(s.mode == tls_mode::implicit);
    std::size_t next = 0;
    for (int guard = 0;; ++guard) {
        if (guard > 1000) __builtin_trap();  // the dialog does not finish
        if (!step.bytes.empty()) {
            if (!well_formed(step.bytes)) __builtin_trap();
            if (!d.tls_active() && contains(step.bytes, "AUTH") && !s.allow_plaintext_auth) __builtin_trap();
            if (!d.tls_active() && s.mode == tls_mode::starttls &&
                !(step.bytes.starts_with("EHLO ") || step.bytes.starts_with("HELO ") || step.bytes == "STARTTLS\r\n" ||
                  step.bytes == "QUIT\r\n"))
                __builtin_trap();
        }
        for (const auto& line : step.transcript)
            if (contains(line, password) || contains(line, password_b64) || contains(line, plain_b64)) __builtin_trap();
        if (step.what == dialog_step::kind::finish) break;
        if (step.what == dialog_step::kind::start_tls) {
            step = tls_works ? d.on_tls_started() : d.on_tls_failed();
            continue;
        }
        if (next == replies.size()) {
            if (broken) d.on_protocol_error();
            else d.on_connection_lost();
            break;
        }
        step = d.on_reply(replies[next++]);
    }
    if (!d.finished()) __builtin_trap();
    return 0;
}
