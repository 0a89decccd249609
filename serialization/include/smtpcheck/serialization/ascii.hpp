// ASCII case-insensitive comparison for header values, scheme names and paths.
#pragma once

#include <algorithm>
#include <string_view>

namespace smtpcheck {

/// Equal without regard to ASCII case. Used instead of boost::beast::iequals, which in Boost
/// 1.81 reads one octet past the end of its arguments once they differ in case (ASan found it
/// on a request path that ended its buffer, issue 11).
inline bool iequals_ascii(std::string_view a, std::string_view b) {
    auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; };
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) {
               return lower(static_cast<unsigned char>(x)) == lower(static_cast<unsigned char>(y));
           });
}

}  // namespace smtpcheck
