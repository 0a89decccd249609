#include "smtpcheck/smtp/credential_store.hpp"
#include "smtpcheck/core/base64.hpp"
#include "smtpcheck/core/system.hpp"

#include "smtpcheck/smtp/dialog.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/evp.h>

#include <charconv>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>


namespace smtpcheck::smtp {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// The associated data: a ciphertext decrypts only for the user, host and port it was made for.
std::string bound_to(const credential_key& k) { return k.user + '\0' + k.host + '\0' + std::to_string(k.port); }

struct cipher_ctx {
    EVP_CIPHER_CTX* p = EVP_CIPHER_CTX_new();
    ~cipher_ctx() { EVP_CIPHER_CTX_free(p); }
};

void seal(const std::string& key, const std::string& aad, const std::string& plain, std::string& nonce,
          std::string& ciphertext, std::string& tag) {
    nonce = core::random_bytes(12);
    cipher_ctx c;
    int len = 0;
    ciphertext.assign(plain.size(), '\0');
    tag.assign(16, '\0');
    auto* k = reinterpret_cast<const unsigned char*>(key.data());
    auto* iv = reinterpret_cast<const unsigned char*>(nonce.data());
    if (EVP_EncryptInit_ex(c.p, EVP_aes_256_gcm(), nullptr, k, iv) != 1 ||
        EVP_EncryptUpdate(c.p, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) != 1 ||
        EVP_EncryptUpdate(c.p, reinterpret_cast<unsigned char*>(ciphertext.data()), &len,
                          reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(c.p, nullptr, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c.p, EVP_CTRL_GCM_GET_TAG, 16, tag.data()) != 1)
        throw credential_error("AES-256-GCM encryption failed");
}

std::optional<std::string> open_sealed(const std::string& key, const std::string& aad, const std::string& nonce,
                                       const std::string& ciphertext, std::string tag) {
    if (nonce.size() != 12 || tag.size() != 16) return std::nullopt;
    cipher_ctx c;
    int len = 0;
    std::string plain(ciphertext.size(), '\0');
    auto* k = reinterpret_cast<const unsigned char*>(key.data());
    auto* iv = reinterpret_cast<const unsigned char*>(nonce.data());
    if (EVP_DecryptInit_ex(c.p, EVP_aes_256_gcm(), nullptr, k, iv) != 1 ||
        EVP_DecryptUpdate(c.p, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) != 1 ||
        EVP_DecryptUpdate(c.p, reinterpret_cast<unsigned char*>(plain.data()), &len,
                          reinterpret_cast<const unsigned char*>(ciphertext.data()), static_cast<int>(ciphertext.size())) != 1 ||
        EVP_CIPHER_CTX_ctrl(c.p, EVP_CTRL_GCM_SET_TAG, 16, tag.data()) != 1 ||
        EVP_DecryptFinal_ex(c.p, nullptr, &len) != 1)
        return std::nullopt;  // tampered, moved to another key, or another secret key
    return plain;
}

// An exclusive lock on `<file>.lock` for the life of the object: one writer at a time.
class file_lock {
public:
    explicit file_lock(const fs::path& file) {
        auto path = file.string() + ".lock";
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) throw credential_error("cannot lock " + path);
    }
    ~file_lock() {
        if (fd_ >= 0) ::close(fd_);
    }
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;

private:
    int fd_ = -1;
};

void write_fully(int fd, const std::string& data, const std::string& path) {
    std::size_t done = 0;
    while (done < data.size()) {
        auto n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) throw credential_error("cannot write " + path);
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace

credential_store::credential_store(fs::path file, fs::path key_file)
    : file_(std::move(file)), key_file_(key_file.empty() ? fs::path(file_.string() + ".key") : std::move(key_file)) {}

const std::string& credential_store::secret() const {
    if (!secret_.empty()) return secret_;
    // Created exclusively with mode 0600, so two processes never make two keys.
    int fd = ::open(key_file_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        std::string key = core::random_bytes(32);
        write_fully(fd, key, key_file_.string());
        ::fsync(fd);
        ::close(fd);
    }
    std::string key = core::read_file(key_file_.string()).value_or(std::string());
    if (key.size() < 32) throw credential_error("smtp.secret_key_file " + key_file_.string() + " must hold 32 octets");
    secret_ = key.substr(0, 32);
    return secret_;
}

std::vector<credential_store::entry> credential_store::read_entries() const {
    std::error_code ec;
    auto size = fs::file_size(file_, ec);
    if (ec) return {};
    auto time = fs::last_write_time(file_, ec);
    if (!ec && size == cache_size_ && time == cache_time_) return cache_;

    boost::system::error_code jec;
    auto doc = json::parse(core::read_file(file_.string()).value_or(std::string()), jec);
    if (jec || !doc.is_object() || !doc.as_object().contains("entries"))
        throw credential_error(file_.string() + " is not a credentials file");
    std::vector<entry> entries;
    for (const auto& v : doc.as_object().at("entries").as_array()) {
        const auto& o = v.as_object();
        entry e;
        e.key.user = std::string(o.at("user").as_string());
        e.key.host = std::string(o.at("host").as_string());
        e.key.port = static_cast<std::uint16_t>(o.at("port").to_number<int>());
        auto b64 = [&](const char* name) {
            auto decoded = core::base64_decode(std::string(o.at(name).as_string()));
            if (!decoded) throw credential_error(file_.string() + ": bad " + name);
            return *decoded;
        };
        e.nonce = b64("nonce");
        e.ciphertext = b64("ciphertext");
        e.tag = b64("tag");
        entries.push_back(std::move(e));
    }
    cache_ = entries;
    cache_size_ = size;
    cache_time_ = time;
    return entries;
}

void credential_store::write_entries(const std::vector<entry>& entries) const {
    json::array list;
    for (const auto& e : entries)
        list.push_back(json::object{{"user", e.key.user},
                                    {"host", e.key.host},
                                    {"port", e.key.port},
                                    {"nonce", core::base64_encode(e.nonce)},
                                    {"ciphertext", core::base64_encode(e.ciphertext)},
                                    {"tag", core::base64_encode(e.tag)}});
    std::string text = json::serialize(json::object{{"version", 1}, {"entries", std::move(list)}}) + "\n";

    // Write beside, fsync, rename over, fsync the folder: a crash leaves the old or the new file.
    auto tmp = file_.string() + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw credential_error("cannot write " + tmp);
    write_fully(fd, text, tmp);
    if (::fsync(fd) != 0) {
        ::close(fd);
        throw credential_error("cannot fsync " + tmp);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), file_.c_str()) != 0) throw credential_error("cannot replace " + file_.string());
    auto dir = file_.parent_path().empty() ? fs::path(".") : file_.parent_path();
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

std::optional<std::string> credential_store::password_for(const credential_key& key) const {
    std::lock_guard lock(mutex_);
    for (const auto& e : read_entries())
        if (e.key == key) return open_sealed(secret(), bound_to(key), e.nonce, e.ciphertext, e.tag);
    return std::nullopt;
}

void credential_store::set(const credential_key& key, const std::string& password) {
    std::lock_guard lock(mutex_);
    file_lock writer(file_);
    auto entries = read_entries();
    std::erase_if(entries, [&](const entry& e) { return e.key == key; });
    entry e{key, {}, {}, {}};
    seal(secret(), bound_to(key), password, e.nonce, e.ciphertext, e.tag);
    entries.push_back(std::move(e));
    write_entries(entries);
}

bool credential_store::remove(const credential_key& key) {
    std::lock_guard lock(mutex_);
    file_lock writer(file_);
    auto entries = read_entries();
    auto removed = std::erase_if(entries, [&](const entry& e) { return e.key == key; });
    if (removed) write_entries(entries);
    return removed > 0;
}

std::vector<credential_key> credential_store::list() const {
    std::lock_guard lock(mutex_);
    std::vector<credential_key> out;
    for (const auto& e : read_entries()) out.push_back(e.key);
    return out;
}

std::string credential_store::field_of(const credential_key& key) { return bound_to(key); }

std::optional<credential_key> credential_store::key_of_field(std::string_view field) {
    auto first = field.find('\0');
    auto second = first == std::string_view::npos ? first : field.find('\0', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    auto port_text = field.substr(second + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) return std::nullopt;
    return credential_key{std::string(field.substr(0, first)), std::string(field.substr(first + 1, second - first - 1)),
                          static_cast<std::uint16_t>(port)};
}

std::string credential_store::seal_text(const credential_key& key, const std::string& password) const {
    std::lock_guard lock(mutex_);
    std::string nonce, ciphertext, tag;
    seal(secret(), bound_to(key), password, nonce, ciphertext, tag);
    return json::serialize(json::object{{"nonce", core::base64_encode(nonce)},
                                        {"ciphertext", core::base64_encode(ciphertext)},
                                        {"tag", core::base64_encode(tag)}});
}

std::optional<std::string> credential_store::open_text(const credential_key& key, std::string_view text) const {
    boost::system::error_code ec;
    auto doc = json::parse(text, ec);
    const json::object* o = !ec ? doc.if_object() : nullptr;
    auto field = [&](const char* name) -> std::string {
        const json::value* v = o ? o->if_contains(name) : nullptr;
        const json::string* s = v ? v->if_string() : nullptr;
        auto decoded = s ? core::base64_decode(std::string(*s)) : std::nullopt;
        if (!decoded) throw credential_error("the stored password is damaged (no valid \"" + std::string(name) + "\")");
        return *decoded;
    };
    std::string nonce = field("nonce"), ciphertext = field("ciphertext"), tag = field("tag");
    std::lock_guard lock(mutex_);
    return open_sealed(secret(), bound_to(key), nonce, ciphertext, std::move(tag));
}

}  // namespace smtpcheck::smtp
