// Stored SMTP passwords (SPEC 3.4): AES-256-GCM at rest, each bound to its user, host and
// port, in a JSON file replaced atomically under a file lock.
#pragma once

#include <boost/asio/awaitable.hpp>

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

    /// `password` sealed for `key` with this store's key, as a shared store keeps it: the JSON
    /// object of one entry of the file without its key fields ({"nonce","ciphertext","tag"},
    /// base64). The key file stays with the instance; only this text is shared.
    std::string seal_text(const credential_key& key, const std::string& password) const;
    /// The password sealed in `text` (seal_text's) for `key`; nullopt when it was sealed for
    /// another user, host or port, with another key file, or altered. Throws credential_error
    /// when `text` is not a sealed password.
    std::optional<std::string> open_text(const credential_key& key, std::string_view text) const;
    /// The name a shared store files a password under: user NUL host NUL port, exactly what
    /// the ciphertext is bound to (no escaping: user names may hold '@' and ':').
    static std::string field_of(const credential_key& key);
    static std::optional<credential_key> key_of_field(std::string_view field);

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

/// Stored passwords kept where every instance sees them ([store] backend = redis,
/// server/src/shared_credentials.cpp); the file's store answers at once and needs none of this.
class shared_passwords {
public:
    virtual ~shared_passwords() = default;
    /// The password stored for exactly this user, host and port; nullopt: none. Throws
    /// credential_error with the reason when the store did not answer (within its timeout).
    virtual boost::asio::awaitable<std::optional<std::string>> password_for(credential_key key) const = 0;
};

}  // namespace smtpcheck::smtp
