#include "smtpcheck/core/printable_text.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <unistr.h>

namespace smtpcheck::core {
namespace {

bool is_control(ucs4_t c) { return c < 0x20 || (c >= 0x7f && c < 0xa0); }

}  // namespace

std::string printable_text(std::string_view in) {
    if (is_printable_ascii(in)) return std::string(in);
    static constexpr std::string_view replacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(in.size() + 8);
    const auto* p = reinterpret_cast<const std::uint8_t*>(in.data());
    std::size_t n = in.size();
    while (n > 0) {
        ucs4_t c = 0;
        // libunistring: the length of one character, and U+FFFD for an invalid sequence.
        auto len = static_cast<std::size_t>(u8_mbtouc(&c, p, n));
        if (c == '\t')
            out += ' ';
        else if (is_control(c) || c == 0xfffd)
            out += replacement;
        else
            out.append(reinterpret_cast<const char*>(p), len);
        p += len;
        n -= len;
    }
    return out;
}

// Octets 0x20-0x7E only. Eight at a time: every text of every request and response passes
// here, nearly always plain ASCII. A word has an octet below 0x20 when (x - 0x20..) & ~x has a
// high bit set, a DEL when the same holds of x ^ 0x7F.. against 0x01.., and one of 0x80 or
// more when x has a high bit set ("Bit Twiddling Hacks", determine if a word has a byte less
// than n).
bool is_printable_ascii(std::string_view s) {
    constexpr std::uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    const char* p = s.data();
    std::size_t n = s.size();
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t x;
        std::memcpy(&x, p, 8);
        const std::uint64_t del = x ^ (ones * 0x7f);
        if ((x | ((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & highs) return false;
    }
    return std::all_of(p, p + n, [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
}

bool is_printable_text(std::string_view in) {
    if (is_printable_ascii(in)) return true;
    const auto* p = reinterpret_cast<const std::uint8_t*>(in.data());
    std::size_t n = in.size();
    while (n > 0) {
        ucs4_t c = 0;
        auto len = static_cast<std::size_t>(u8_mbtouc(&c, p, n));
        // A U+FFFD sent as such (EF BF BD) is fine; one that libunistring reports for a bad
        // sequence is not, and that may be three octets too (an overlong E0 9E 8F, a surrogate;
        // found by fuzz_http_request).
        if (is_control(c) || (c == 0xfffd && !(len == 3 && p[0] == 0xef && p[1] == 0xbf && p[2] == 0xbd)))
            return false;
        p += len;
        n -= len;
    }
    return true;
}

}  // namespace smtpcheck::core
