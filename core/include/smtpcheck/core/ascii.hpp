// ASCII case and blanks, for protocol text: header names and values, SMTP verbs and
// capabilities, host names, INI keys. Never the C locale's idea of case.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace smtpcheck::core {

constexpr char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr char upper_ascii(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

inline std::string lower_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower_ascii(c);
    return out;
}

inline std::string upper_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = upper_ascii(c);
    return out;
}

/// Equal without regard to ASCII case, without copies. Used instead of boost::beast::iequals,
/// which in Boost 1.81 reads one octet past the end of its arguments once they differ in case
/// (ASan found it on a request path that ended its buffer, issue 11).
inline bool iequals_ascii(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower_ascii(x) == lower_ascii(y); });
}

/// Whether `s` holds a CR, LF or NUL: what would end a protocol line (an SMTP command, a
/// header) and start one of the sender's. A plain scan: find_first_of calls char_traits::find
/// on the set once per character.
constexpr bool has_line_break_or_nul(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

/// Without the `blanks` at either end (by default spaces and tabs, HTTP's OWS).
constexpr std::string_view trim(std::string_view s, std::string_view blanks = " \t") {
    while (!s.empty() && blanks.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
    while (!s.empty() && blanks.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
    return s;
}

}  // namespace smtpcheck::core
