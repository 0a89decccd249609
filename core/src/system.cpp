#include "smtpcheck/core/system.hpp"

#include <openssl/rand.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace smtpcheck::core {

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        throw std::runtime_error("no random bytes from OpenSSL");
    return out;
}

std::optional<std::string> read_file(const std::string& path) {
    // A directory opens as a stream on Linux and then reads as empty: `--config /etc` ran on
    // the built-in defaults without a word.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string out;
    char chunk[16384];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) out.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (in.bad()) return std::nullopt;
    return out;
}

}  // namespace smtpcheck::core
