// The comma-separated lists with q-values of Accept and Accept-Language (RFC 9110 12.4.2), read
// the same way for both.
#pragma once

#include "smtpcheck/core/ascii.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace smtpcheck::serialization::detail {

/// A q parameter's value: digits with at most one '.', clamped to [0, 1]; anything else
/// (empty, a sign, an exponent, "nan") is 0, so the item is not wanted.
inline double qvalue(std::string_view text) {
    if (text.empty() || text.find_first_not_of("0123456789.") != std::string_view::npos) return 0;
    double q = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), q, std::chars_format::fixed);
    if (ec != std::errc{} || end != text.data() + text.size()) return 0;
    return std::clamp(q, 0.0, 1.0);
}

/// Calls f(item, q) for each non-empty element of `list`: the item is the trimmed text before
/// the first ';', q its q parameter (`q=` or `Q=`, any position; 1 without one; an empty `q=`
/// is not a number, so 0).
template <class F>
void for_each_weighted(std::string_view list, F&& f) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        auto element = core::trim(list.substr(0, comma));
        list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
        auto semi = element.find(';');
        const auto item = core::trim(element.substr(0, semi));
        if (item.empty()) continue;
        double q = 1;
        while (semi != std::string_view::npos) {
            element.remove_prefix(semi + 1);
            semi = element.find(';');
            const auto param = core::trim(element.substr(0, semi));
            if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') q = qvalue(param.substr(2));
        }
        f(item, q);
    }
}

}  // namespace smtpcheck::serialization::detail
