#include "smtpcheck/core/base64.hpp"

#include <openssl/evp.h>

namespace smtpcheck::core {

std::string base64_encode(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    // Padding is at most two '=' at the end: EVP_DecodeBlock took "Z===" for one octet.
    const auto data_end = text.find_last_not_of('=');
    const std::size_t pad = data_end == std::string_view::npos ? text.size() : text.size() - 1 - data_end;
    if (pad > 2 || text.substr(0, text.size() - pad).find('=') != std::string_view::npos) return std::nullopt;
    std::string out(3 * text.size() / 4, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts the padding as zero octets.
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

std::string base64url_encode(std::string_view data) {
    std::string s = base64_encode(data);
    while (!s.empty() && s.back() == '=') s.pop_back();
    for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return s;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    std::string s(text);
    for (char& c : s) {
        if (c == '+' || c == '/' || c == '=') return std::nullopt;
        c = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    if (s.size() % 4 == 1) return std::nullopt;
    while (s.size() % 4) s += '=';
    return base64_decode(s);
}

}  // namespace smtpcheck::core
