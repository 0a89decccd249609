// smtpcheck: the one executable (SPEC section 6).
#include "commands.hpp"
#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/server/api.hpp"
#include "smtpcheck/server/demo_smtp_server.hpp"
#include "smtpcheck/server/config.hpp"
#include "smtpcheck/server/http_server.hpp"
#include "smtpcheck/server/logging.hpp"
#include "smtpcheck/server/shared_credentials.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <atomic>
#include <csignal>
#include <functional>
#include <cstdlib>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <span>
#include <string_view>
#include <thread>

namespace asio = boost::asio;

namespace {

constexpr std::string_view main_help = R"(usage: smtpcheck <command> [options]

Tests SMTP accounts on request over a SuperOffice-compatible WebAPI.

commands:
  serve          run the server until SIGINT or SIGTERM, then drain gracefully
  probe          test an SMTP account from the terminal (no HTTP)
  credentials    store, delete or list SMTP passwords for UseStoredPassword
  hash-password  print the hash of a password (on stdin) for [users]
  ticket         print a 7T: ticket for a user (SOTicket authentication)
  check-config   print the effective configuration (secrets as ***) or say what is wrong

options:
  --help         this text (also after a command: smtpcheck serve --help)
  --version      the version
)";

constexpr std::string_view serve_help = R"(usage: smtpcheck serve [--demo] [--config FILE] [--set section.key=value]...

Runs the HTTP server on server.listen (default 127.0.0.1:8080) until SIGINT or SIGTERM.
On a signal it stops accepting, /readyz answers 503, requests in flight finish within
server.shutdown_grace_ms, and it exits with status 0. Every bound address is logged as
"listening on ...".

options:
  --demo                     also run a small SMTP server on 127.0.0.1:2525 (STARTTLS with a
                             certificate made at start, AUTH PLAIN/LOGIN for demo/demo), trust
                             its certificate, allow tests to reach 127.0.0.1 (no other loopback
                             or private address), add the API user demo/demo, and print a curl
                             command that tests it. It listens on loopback only: a listen or
                             tls_listen address beyond loopback is refused at start
  --demo-allow-remote        with --demo: allow listen addresses beyond loopback (the demo user
                             demo/demo is then open to whoever reaches them)
  --config FILE              an INI file (see config/defaults.ini for every key)
  --set section.key=value    override one key; repeatable; applied after --config
)";

constexpr std::string_view check_config_help = R"(usage: smtpcheck check-config [--config FILE] [--set section.key=value]...

Prints the effective configuration as INI: built-in defaults, then FILE, then each --set.
Password hashes and tokens are printed as ***. Exits with status 1 and names the key and
the value when a key is unknown or a value is bad.
)";

}  // namespace

namespace smtpcheck::cli {

bool parse_common(std::span<char*> args, common_options& out, const extra_option& extra) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        auto value = [&](std::string_view name) -> const char* {
            if (i + 1 >= args.size()) {
                std::cerr << "smtpcheck: " << name << " needs a value\n";
                return nullptr;
            }
            return args[++i];
        };
        if (a == "--help" || a == "-h") {
            out.help = true;
        } else if (a == "--config") {
            auto v = value(a);
            if (!v) return false;
            out.sources.file = v;
        } else if (a.starts_with("--config=")) {
            out.sources.file = a.substr(9);
        } else if (a == "--set") {
            auto v = value(a);
            if (!v) return false;
            out.sources.overrides.emplace_back(v);
        } else if (a.starts_with("--set=")) {
            out.sources.overrides.emplace_back(a.substr(6));
        } else {
            bool failed = false;
            if (extra && extra(a, args, i, failed)) continue;
            if (!failed) std::cerr << "smtpcheck: unknown argument '" << a << "' (see --help)\n";
            return false;
        }
    }
    return true;
}

std::optional<std::string> read_secret_line() {
    std::string line;
    std::getline(std::cin, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
        std::cerr << "smtpcheck: no password on stdin\n";
        return std::nullopt;
    }
    return line;
}

}  // namespace smtpcheck::cli

namespace {

using smtpcheck::cli::common_options;
using smtpcheck::cli::parse_common;

int run_check_config(std::span<char*> args) {
    common_options opts;
    if (!parse_common(args, opts)) return 2;
    if (opts.help) {
        std::cout << check_config_help;
        return 0;
    }
    try {
        std::cout << smtpcheck::effective_config_ini(opts.sources);
        return 0;
    } catch (const smtpcheck::config_error& e) {
        std::cerr << "smtpcheck: " << e.what() << "\n";
        return 1;
    }
}

int run_serve(std::span<char*> args) {
    common_options opts;
    bool demo = false, demo_allow_remote = false;
    if (!parse_common(args, opts, [&](std::string_view a, std::span<char*>, std::size_t&, bool&) {
            if (a == "--demo-allow-remote") return demo_allow_remote = true;
            return a == "--demo" && (demo = true);
        }))
        return 2;
    if (opts.help) {
        std::cout << serve_help;
        return 0;
    }
    smtpcheck::config cfg;
    try {
        cfg = smtpcheck::load_config(opts.sources);
    } catch (const smtpcheck::config_error& e) {
        std::cerr << "smtpcheck: " << e.what() << "\n";
        return 1;
    }
    if (demo && !demo_allow_remote) {
        // The demo adds the user demo/demo with a password everybody knows: loopback only,
        // unless the operator says plainly that it may be reached from elsewhere.
        for (const auto* list : {&cfg.server.listen, &cfg.server.tls_listen})
            for (const auto& l : *list) {
                if (l.type == smtpcheck::listen_address::kind::unix_socket) continue;
                boost::system::error_code ec;
                auto address = asio::ip::make_address(l.host, ec);
                if (ec || !address.is_loopback()) {
                    std::cerr << "smtpcheck: --demo listens on loopback only, and " << l.text
                              << " is not a loopback address (add --demo-allow-remote to allow it)\n";
                    return 1;
                }
            }
    }
    auto log = smtpcheck::make_logger(cfg.log);
    unsigned threads = cfg.server.threads ? cfg.server.threads : std::max(1u, std::thread::hardware_concurrency());

    asio::io_context io(static_cast<int>(threads));
    std::unique_ptr<smtpcheck::server::demo_smtp_server> demo_server;
    std::string demo_dir;
    if (demo) {
        char dir_template[] = "/tmp/smtpcheck-demo-XXXXXX";
        if (!mkdtemp(dir_template)) {
            log->error("cannot start the demo: no temporary folder");
            return 1;
        }
        demo_dir = dir_template;
        try {
            demo_server = std::make_unique<smtpcheck::server::demo_smtp_server>(
                io.get_executor(), "127.0.0.1", 2525, "demo", "demo", demo_dir + "/demo-smtp.pem");
        } catch (const std::exception& e) {
            log->error("cannot start the demo SMTP server on 127.0.0.1:2525: {}", e.what());
            return 1;
        }
        if (!opts.sources.file.empty() || !cfg.users.empty())
            log->warn("--demo adds the API user demo/demo to the loaded configuration");
        cfg.users["demo"] = smtpcheck::auth::hash_password("demo");
        cfg.smtp.ca_file = demo_dir + "/demo-smtp.pem";
        // The demo SMTP server's own address, and no other loopback or private one (it opened
        // every private range to every caller, issue 11).
        cfg.smtp.allow_destinations.push_back("127.0.0.1/32");
        cfg.smtp.test_recipient = "smtp-test@localhost";
        demo_server->start();
    }
    smtpcheck::server::router routes(cfg.server.base_path);
    auto counters = std::make_shared<smtpcheck::server::metrics>();
    // [store] backend = redis: one connection for the instance, made (and made again) in the
    // background; until it is up, /readyz says why and limits follow store.limits_on_error.
    std::shared_ptr<smtpcheck::store::redis_client> redis;
    if (cfg.store.backend == smtpcheck::store_settings::kind::redis) {
        try {
            redis = smtpcheck::store::redis_client::create(io.get_executor(), smtpcheck::redis_settings_of(cfg));
        } catch (const std::exception& e) {  // store.tls_ca_file that cannot be loaded
            log->error("cannot start: {}", e.what());
            return 1;
        }
        redis->start();
        log->info("shared state in {}", redis->address().text);
    }
    try {
        auto authenticator =
            std::make_shared<smtpcheck::auth::authenticator>(smtpcheck::server::make_auth_settings(cfg, log.get(), redis));
        smtpcheck::server::add_api_routes(routes, cfg, authenticator, log, counters, redis);
    } catch (const std::exception& e) {
        log->error("cannot start: {}", e.what());
        return 1;
    }
    smtpcheck::server::http_server server(io.get_executor(), cfg, std::move(routes), log, counters);
    if (redis) {
        server.add_readiness_check([redis] { return redis->not_ready(); });
        counters->store_up = [redis] { return !redis->not_ready(); };
    }
    try {
        server.start();
    } catch (const std::exception& e) {
        log->error("cannot start: {}", e.what());
        return 1;
    }
    log->info("smtpcheck {} serving with {} thread(s)", SMTPCHECK_VERSION, threads);
    if (demo) {
        auto base = server.local_addresses().at(0);
        std::cout << "\nDemo: an SMTP server with STARTTLS and AUTH (demo/demo) listens on 127.0.0.1:2525.\n"
                     "Test it through the API (Ctrl-C stops everything):\n\n"
                  << "  curl -s -u demo:demo -H 'Content-Type: application/json' \\\n"
                     "    -d '{\"SmtpUri\":\"smtp://demo:demo@127.0.0.1:2525\",\"From\":\"demo@example.com\"}' \\\n"
                     "    "
                  << base << cfg.server.base_path << "/api/v1/Agents/CustomerService/TestSmtpServer\n\n"
                  << "Or open " << base << cfg.server.base_path
                  << "/ in a browser, log in as demo/demo and test smtp+starttls://127.0.0.1:2525 (user and\n"
                     "password demo).\n\n"
                  << std::flush;
    }

    std::atomic<bool> server_stopping{false};
    asio::steady_timer hard_stop(io);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    // The first signal drains; a second one (an impatient operator, a supervisor's second
    // TERM) ends the process at once instead of being swallowed by the drain.
    std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int signal) {
        if (ec) return;
        if (server_stopping) {
            log->warn("signal {} during the drain: exiting now", signal);
            std::_Exit(1);
        }
        server_stopping = true;
        log->info("signal {}: stopping", signal);
        server.stop();
        // The drain closes connections when shutdown_grace_ms is over, but a handler still
        // running (an SMTP test up to its deadline) kept the process alive past it.
        hard_stop.expires_after(cfg.server.shutdown_grace + std::chrono::seconds(1));
        hard_stop.async_wait([&](boost::system::error_code wait_ec) {
            if (wait_ec) return;
            log->warn("still running {} ms after the grace period began: stopping now",
                      (cfg.server.shutdown_grace + std::chrono::seconds(1)).count());
            io.stop();
        });
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    asio::co_spawn(io, server.wait(), [&](std::exception_ptr) {
        server_stopping = true;
        hard_stop.cancel();
        signals.cancel();
        if (demo_server) demo_server->stop();
        if (redis) redis->stop();
    });

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
    if (!demo_dir.empty()) std::filesystem::remove_all(demo_dir);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::span<char*> args(argv + 1, argc > 0 ? argc - 1 : 0);
    if (args.empty()) {
        std::cerr << main_help;
        return 2;
    }
    std::string_view command = args[0];
    auto rest = args.subspan(1);
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << main_help;
        return 0;
    }
    if (command == "--version") {
        std::cout << "smtpcheck " << SMTPCHECK_VERSION << "\n";
        return 0;
    }
    if (command == "serve") return run_serve(rest);
    if (command == "check-config") return run_check_config(rest);
    if (command == "probe") return smtpcheck::cli::run_probe(rest);
    if (command == "credentials") return smtpcheck::cli::run_credentials(rest);
    if (command == "hash-password") return smtpcheck::cli::run_hash_password(rest);
    if (command == "ticket") return smtpcheck::cli::run_ticket(rest);
    std::cerr << "smtpcheck: unknown command '" << command << "' (see smtpcheck --help)\n";
    return 2;
}
