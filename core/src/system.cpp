#include "smtpcheck/core/system.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

#include <fstream>
#include <stdexcept>

namespace smtpcheck::core {

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        throw std::runtime_error("no random bytes from OpenSSL");
    return out;
}

std::string hex_digest(std::string_view algorithm, std::string_view data, std::size_t octets) {
    const EVP_MD* md = EVP_get_digestbyname(std::string(algorithm).c_str());
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int n = 0;
    if (!md || EVP_Digest(data.data(), data.size(), out.data(), &n, md, nullptr) != 1)
        throw std::runtime_error("OpenSSL has no digest " + std::string(algorithm));
    if (octets && octets < n) n = static_cast<unsigned int>(octets);
    static constexpr char hex[] = "0123456789abcdef";
    std::string text;
    for (unsigned int i = 0; i < n; ++i) {
        text += hex[out[i] >> 4];
        text += hex[out[i] & 15];
    }
    return text;
}

std::optional<std::string> read_file(const std::string& path) {
    // Read with istream::read, whose failures set badbit: `ss << in.rdbuf()` hid them, so a
    // directory (it opens as a stream on Linux) read as empty and `--config /tmp` ran on the
    // built-in defaults without a word.
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string out;
    char chunk[16384];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) out.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (in.bad()) return std::nullopt;
    return out;
}

}  // namespace smtpcheck::core
