#include "smtpcheck/smtp/message.hpp"
#include "smtpcheck/core/base64.hpp"

#include "smtpcheck/smtp/dialog.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>

namespace smtpcheck::smtp {
namespace {

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x80; });
}

std::string one_line(std::string_view s) {
    std::string out;
    for (char c : s) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
    return out;
}

// RFC 2047 B-encoded words of at most 75 octets, split between UTF-8 characters and folded.
std::string encoded_words(std::string_view text) {
    // 39 octets -> 52 of base64 + 12 of "=?utf-8?B??=": with "Subject: " a line stays under 78.
    constexpr std::size_t max_chunk = 39;
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t n = std::min(max_chunk, text.size() - i);
        while (i + n < text.size() && n > 0 && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) --n;
        // No character boundary in reach (not UTF-8): cut anyway rather than loop for ever
        // (found by fuzz_smtp_uri).
        if (n == 0) n = std::min(max_chunk, text.size() - i);
        if (!out.empty()) out += "\r\n ";
        out += "=?utf-8?B?" + core::base64_encode(text.substr(i, n)) + "?=";
        i += n;
    }
    return out;
}

std::string rfc5322_date(std::chrono::system_clock::time_point t) {
    std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

// Splits on any line end; every line comes out shorter than 998 octets. Views into `text`
// (this runs for every test: no string per line).
std::vector<std::string_view> lines_of(std::string_view text, std::size_t max_len) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\r' || c == '\n') {
            out.push_back(text.substr(start, i - start));
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
            start = i + 1;
        } else if (i + 1 - start == max_len) {
            out.push_back(text.substr(start, max_len));
            start = i + 1;
        }
    }
    if (start < text.size()) out.push_back(text.substr(start));
    return out;
}

}  // namespace

std::string random_message_id() {
    // OpenSSL's RAND_bytes checks for a fork (a getpid system call) on every call, twice per
    // test: ids are drawn 32 at a time. (A forked child would repeat the rest of a pool; the
    // server does not fork.)
    thread_local unsigned char pool[16 * 32];
    thread_local std::size_t used = sizeof pool;
    if (used == sizeof pool) {
        if (RAND_bytes(pool, sizeof pool) != 1) throw std::runtime_error("RAND_bytes failed");
        used = 0;
    }
    const unsigned char* bytes = pool + used;
    used += 16;
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(32);
    for (std::size_t i = 0; i < 16; ++i) {
        out += hex[bytes[i] >> 4];
        out += hex[bytes[i] & 15];
    }
    return out;
}

std::string compose_message(const message_fields& f) {
    const std::string subject = one_line(f.subject);
    const std::string domain = f.from.substr(f.from.rfind('@') + 1);
    const bool ascii_body = is_ascii(f.body);

    std::string m;
    m.reserve(512 + f.body.size() + f.body.size() / 2);
    m += "Date: " + rfc5322_date(f.date) + "\r\n";
    m += "From: <" + f.from + ">\r\n";
    m += "To: <" + f.to + ">\r\n";
    // A long ASCII subject is encoded too, so that it is folded: no line over 998 octets.
    m += "Subject: " + (is_ascii(subject) && subject.size() <= 900 ? subject : encoded_words(subject)) + "\r\n";
    m += "Message-ID: <" + f.message_id + "@" + domain + ">\r\n";
    m += "MIME-Version: 1.0\r\n";
    m += "Content-Type: text/plain; charset=utf-8\r\n";
    m += std::string("Content-Transfer-Encoding: ") + (ascii_body ? "7bit" : "base64") + "\r\n";
    m += "Auto-Submitted: auto-generated\r\n";
    m += "X-Auto-Response-Suppress: All\r\n";
    m += "\r\n";

    if (ascii_body) {
        for (auto line : lines_of(f.body, 990)) {
            if (!line.empty() && line.front() == '.') m += '.';  // dot-stuffing, RFC 5321 4.5.2
            m.append(line).append("\r\n");
        }
    } else {
        std::string normalized;
        for (auto line : lines_of(f.body, 990)) normalized.append(line).append("\r\n");
        auto encoded = core::base64_encode(normalized);
        for (std::size_t i = 0; i < encoded.size(); i += 76) m += encoded.substr(i, 76) + "\r\n";
    }
    m.shrink_to_fit();  // held by every test in flight until DATA: no slack from the appends
    return m;
}

}  // namespace smtpcheck::smtp
