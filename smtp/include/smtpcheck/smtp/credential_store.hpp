// Stored SMTP passwords (SPEC 3.4): AES-256-GCM at rest, each bound to its user, host and
// port, in a JSON file replaced atomically under a file lock.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace smtpcheck::smtp {

struct credential_key {
    std::string user;
    std::string host;  ///< as parse_smtp_uri gives it: lower-case, punycode
    std::uint16_t port = 0;
    bool operator==(const credential_key&) const = default;
};

class credential_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class credential_store {
public:
    /// `key_file` empty: `<file>.key`. The key (32 random octets) is created with mode 0600
    /// when missing.
    credential_store(std::filesystem::path file, std::filesystem::path key_file);

    /// The password stored for exactly this user, host and port. The file is read again
    /// whenever it changed, so `smtpcheck credentials` takes effect without a restart.
    std::optional<std::string> password_for(const credential_key& key) const;

    void set(const credential_key& key, const std::string& password);
    bool remove(const credential_key& key);
    std::vector<credential_key> list() const;

    const std::filesystem::path& file() const { return file_; }

private:
    struct entry {
        credential_key key;
        std::string nonce, ciphertext, tag;  ///< raw octets
    };
    std::vector<entry> read_entries() const;
    void write_entries(const std::vector<entry>& entries) const;
    const std::string& secret() const;

    std::filesystem::path file_;
    std::filesystem::path key_file_;
    mutable std::mutex mutex_;
    mutable std::string secret_;
    mutable std::vector<entry> cache_;
    mutable std::filesystem::file_time_type cache_time_{};
    mutable std::uintmax_t cache_size_ = static_cast<std::uintmax_t>(-1);
};

}  // namespace smtpcheck::smtp
