// What the operating system and OpenSSL give every part: random octets, a file's content.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace smtpcheck::core {

/// `n` octets from OpenSSL's CSPRNG; throws std::runtime_error if it has none to give.
std::string random_bytes(std::size_t n);

/// The whole content of the file at `path`, or nullopt if it cannot be read.
std::optional<std::string> read_file(const std::string& path);

}  // namespace smtpcheck::core
