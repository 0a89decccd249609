// What the operating system and OpenSSL give every part: random octets, a file's content.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace smtpcheck::core {

/// `n` octets from OpenSSL's CSPRNG; throws std::runtime_error if it has none to give.
std::string random_bytes(std::size_t n);

/// The digest of `data` by OpenSSL's `algorithm` ("SHA256", "SHA1"), in lower-case hex, cut to
/// its first `octets` octets when that is not 0 (an ETag, a script's SHA-1 for EVALSHA).
/// Throws std::runtime_error for an algorithm OpenSSL does not have.
std::string hex_digest(std::string_view algorithm, std::string_view data, std::size_t octets = 0);

/// The whole content of the file at `path`, or nullopt if it cannot be read.
std::optional<std::string> read_file(const std::string& path);

}  // namespace smtpcheck::core
