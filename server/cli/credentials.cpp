// smtpcheck credentials set|delete|list (SPEC 3.4, 6).
#include "commands.hpp"
#include "smtpcheck/server/shared_credentials.hpp"
#include "smtpcheck/smtp/credential_store.hpp"
#include "smtpcheck/smtp/smtp_uri.hpp"

#include <iostream>

namespace smtpcheck::cli {
namespace {

constexpr std::string_view help = R"(usage: smtpcheck credentials set URI      (the password on stdin)
       smtpcheck credentials delete URI
       smtpcheck credentials list
       [--config FILE] [--set section.key=value]...

Stores SMTP passwords for UseStoredPassword, encrypted (AES-256-GCM) in smtp.credentials_file
with the key in smtp.secret_key_file (default: the credentials file's name + ".key",
created with mode 0600). An entry belongs to the URI's user, host and port and is never
used for another. `list` prints user, host and port of each entry, never a password.

With [store] backend = redis the entries are in Redis (store.redis_url), where every instance
finds them, sealed with the same key file, which stays on this machine: each instance needs
a copy of it. Nothing waits past store.connect_timeout_ms and store.command_timeout_ms.
)";

std::optional<smtp::credential_key> key_of(const std::string& text, bool& has_password) {
    auto parsed = smtp::parse_smtp_uri(text);
    if (auto* bad = std::get_if<smtp::invalid_input>(&parsed)) {
        std::cerr << "smtpcheck: " << bad->reason << "\n";
        return std::nullopt;
    }
    const auto& uri = std::get<smtp::smtp_uri>(parsed);
    if (!uri.user) {
        std::cerr << "smtpcheck: the URI names no user (smtp://user@host:port)\n";
        return std::nullopt;
    }
    has_password = uri.password.has_value();
    return smtp::credential_key{*uri.user, uri.host, uri.port};
}

}  // namespace

int run_credentials(std::span<char*> args) {
    common_options opts;
    std::vector<std::string> words;
    bool parsed = parse_common(args, opts, [&](std::string_view a, std::span<char*>, std::size_t&, bool&) {
        if (a.starts_with("-")) return false;
        words.emplace_back(a);
        return true;
    });
    if (!parsed) return 2;
    if (opts.help) {
        std::cout << help;
        return 0;
    }
    config cfg;
    try {
        cfg = load_config(opts.sources);
    } catch (const config_error& e) {
        std::cerr << "smtpcheck: " << e.what() << "\n";
        return 1;
    }
    auto store = std::make_shared<smtp::credential_store>(cfg.smtp.credentials_file, cfg.smtp.secret_key_file);
    // Each operation on the file, or on Redis ([store] backend = redis) with the same key file.
    auto on_store = [&](auto on_file, auto on_redis) {
        if (cfg.store.backend != store_settings::kind::redis) return on_file();
        decltype(on_file()) out{};
        run_with_redis(cfg, [&](std::shared_ptr<store::redis_client> redis) -> boost::asio::awaitable<void> {
            redis_credentials shared(std::move(redis), cfg.store.key_prefix, store);
            out = co_await on_redis(shared);
        });
        return out;
    };
    try {
        if (words.size() == 1 && words[0] == "list") {
            auto keys = on_store([&] { return store->list(); },
                                 [](redis_credentials& r) -> boost::asio::awaitable<std::vector<smtp::credential_key>> {
                                     co_return co_await r.list();
                                 });
            for (const auto& k : keys)
                std::cout << k.user << "@" << (k.host.find(':') != std::string::npos ? "[" + k.host + "]" : k.host)
                          << ":" << k.port << "\n";
            return 0;
        }
        if (words.size() == 2 && (words[0] == "set" || words[0] == "delete")) {
            bool has_password = false;
            auto key = key_of(words[1], has_password);
            if (!key) return 2;
            if (words[0] == "delete") {
                bool removed = on_store([&] { return store->remove(*key); },
                                        [&](redis_credentials& r) -> boost::asio::awaitable<bool> {
                                            co_return co_await r.remove(*key);
                                        });
                if (removed) return 0;
                std::cerr << "smtpcheck: nothing is stored for " << key->user << "@" << key->host << ":" << key->port
                          << "\n";
                return 1;
            }
            if (has_password) {
                std::cerr << "smtpcheck: give the password on stdin, not in the URI (it would stay in shell history)\n";
                return 2;
            }
            auto password = read_secret_line();
            if (!password) return 2;
            on_store(
                [&] {
                    store->set(*key, *password);
                    return true;
                },
                [&](redis_credentials& r) -> boost::asio::awaitable<bool> {
                    co_await r.set(*key, *password);
                    co_return true;
                });
            return 0;
        }
    } catch (const std::exception& e) {
        std::cerr << "smtpcheck: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "smtpcheck: expected set URI, delete URI or list (see smtpcheck credentials --help)\n";
    return 2;
}

}  // namespace smtpcheck::cli
