// smtpcheck hash-password and smtpcheck ticket (SPEC 6).
#include "commands.hpp"
#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/auth/tokens.hpp"
#include "smtpcheck/server/api.hpp"

#include <charconv>
#include <iostream>

namespace smtpcheck::cli {

int run_hash_password(std::span<char*> args) {
    common_options opts;
    if (!parse_common(args, opts)) return 2;
    if (opts.help) {
        std::cout << "usage: smtpcheck hash-password   (the password on stdin)\n\n"
                     "Prints a PBKDF2-HMAC-SHA256 hash (per-user random salt, 210000 iterations) for [users]:\n"
                     "  [users]\n  alice = <the printed line>\n";
        return 0;
    }
    auto password = read_secret_line();
    if (!password) return 2;
    std::cout << auth::hash_password(*password) << "\n";
    return 0;
}

int run_ticket(std::span<char*> args) {
    common_options opts;
    std::string user;
    long long ttl = -1;
    bool parsed = parse_common(args, opts, [&](std::string_view a, std::span<char*> all, std::size_t& i, bool& failed) {
        if (a != "--user" && a != "--ttl") return false;
        if (i + 1 >= all.size()) {
            std::cerr << "smtpcheck: " << a << " needs a value\n";
            failed = true;
            return false;
        }
        std::string_view v = all[++i];
        if (a == "--user") {
            user = v;
            return true;
        }
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ttl);
        if (ec != std::errc{} || end != v.data() + v.size() || ttl < 1) {
            std::cerr << "smtpcheck: --ttl needs a positive number of seconds\n";
            failed = true;
            return false;
        }
        return true;
    });
    if (!parsed) return 2;
    if (opts.help) {
        std::cout << "usage: smtpcheck ticket --user NAME [--ttl SECONDS] [--config FILE] [--set k=v]...\n\n"
                     "Prints a 7T: ticket for the Authorization header (SOTicket 7T:...), signed with\n"
                     "auth.secret_file and valid for --ttl seconds (default auth.ticket_ttl_s) on every\n"
                     "instance that shares that file.\n";
        return 0;
    }
    if (user.empty()) {
        std::cerr << "smtpcheck: ticket needs --user NAME\n";
        return 2;
    }
    try {
        auto cfg = load_config(opts.sources);
        if (!cfg.users.contains(user)) {
            std::cerr << "smtpcheck: '" << user << "' is not in [users]\n";
            return 1;
        }
        auto secret = server::read_auth_secret(cfg);
        if (secret.empty()) {
            std::cerr << "smtpcheck: auth.secret_file is empty: no server could verify the ticket\n";
            return 1;
        }
        auto lifetime = ttl > 0 ? std::chrono::seconds(ttl) : cfg.auth.ticket_ttl;
        std::cout << auth::mint_ticket(secret, user, std::chrono::system_clock::now() + lifetime) << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "smtpcheck: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace smtpcheck::cli
