#include "smtpcheck/server/config.hpp"
#include "smtpcheck/server/logging.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

using namespace smtpcheck;

namespace {
std::string error_of(std::string_view text, std::vector<std::string> overrides = {}) {
    try {
        (void)load_config_text(text, overrides);
    } catch (const config_error& e) {
        return e.what();
    }
    return "no error";
}
bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(no_file_gives_the_documented_defaults) {
    auto c = load_config_text("");
    BOOST_REQUIRE_EQUAL(c.server.listen.size(), 1u);
    BOOST_TEST(c.server.listen[0].host == "127.0.0.1");
    BOOST_TEST(c.server.listen[0].port == 8080);
    BOOST_TEST(c.server.threads == 1u);
    BOOST_TEST(c.server.header_limit == 16384u);
    BOOST_TEST(c.server.body_limit == 65536u);
    BOOST_TEST(c.server.header_timeout.count() == 10000);
    BOOST_TEST(c.server.body_timeout.count() == 30000);
    BOOST_TEST(c.server.idle_timeout.count() == 60000);
    BOOST_TEST(c.server.max_connections == 50000u);
    BOOST_TEST(c.server.shutdown_grace.count() == 10000);
    BOOST_TEST(c.api.slow_threshold.count() == 5000);
    BOOST_TEST(c.api.max_concurrent_tests == 10000u);
    BOOST_TEST(c.smtp.test_recipient == "smtp-test@superoffice.com");
    BOOST_TEST(c.smtp.send_message);
    BOOST_TEST(!c.smtp.allow_private_destinations);
    BOOST_TEST((c.smtp.allowed_ports == std::vector<std::uint16_t>{25, 465, 587, 2525}));
    BOOST_TEST(c.smtp.tls_verify);
    BOOST_TEST((c.auth.basic && c.auth.soticket && c.auth.bearer && c.auth.session));
    BOOST_TEST(c.auth.ticket_ttl.count() == 28800);
    BOOST_TEST(c.auth.failed_logins_per_minute == 20u);
    BOOST_TEST(c.users.empty());
    BOOST_TEST((c.log.min_level == log_settings::level::info));
    BOOST_TEST(c.log.access);
}

BOOST_AUTO_TEST_CASE(file_values_replace_defaults_and_set_overrides_win) {
    auto c = load_config_text(
        "[server]\nheader_limit = 4096\nthreads = 3\n[users]\nalice = pbkdf2$x\n[smtp]\nallowed_ports = *\n",
        {"server.threads=1", "log.level = debug", "users.bob=pbkdf2$y"});
    BOOST_TEST(c.server.header_limit == 4096u);
    BOOST_TEST(c.server.threads == 1u);
    BOOST_TEST((c.log.min_level == log_settings::level::debug));
    BOOST_TEST(c.smtp.any_port);
    BOOST_TEST(c.users.size() == 2u);
    BOOST_TEST(c.users.at("alice") == "pbkdf2$x");
    BOOST_TEST(c.users.at("bob") == "pbkdf2$y");
}

BOOST_AUTO_TEST_CASE(comments_after_values_are_ignored_as_in_the_spec_example) {
    auto c = load_config_text("[server]\nlisten = 127.0.0.1:9090         ; host:port\nbody_limit = 100 # bytes\n");
    BOOST_TEST(c.server.listen[0].port == 9090);
    BOOST_TEST(c.server.body_limit == 100u);
}

BOOST_AUTO_TEST_CASE(listen_takes_ipv4_ipv6_and_unix_sockets) {
    auto c = load_config_text("[server]\nlisten = 127.0.0.1:0, [::1]:8081, unix:/tmp/s.sock\n");
    BOOST_REQUIRE_EQUAL(c.server.listen.size(), 3u);
    BOOST_TEST(c.server.listen[0].port == 0);
    BOOST_TEST(c.server.listen[1].host == "::1");
    BOOST_TEST(c.server.listen[1].port == 8081);
    BOOST_TEST((c.server.listen[2].type == listen_address::kind::unix_socket));
    BOOST_TEST(c.server.listen[2].path == "/tmp/s.sock");
}

BOOST_AUTO_TEST_CASE(unknown_keys_and_sections_are_refused_by_name) {
    BOOST_TEST(contains(error_of("[server]\nlisten_port = 80\n"), "unknown key 'listen_port' in [server]"));
    BOOST_TEST(contains(error_of("[servers]\nlisten = 1.2.3.4:80\n"), "unknown section [servers]"));
    BOOST_TEST(contains(error_of("", {"api.nope=1"}), "unknown key 'nope' in [api]"));
    BOOST_TEST(contains(error_of("", {"no-dot=1"}), "expected section.key=value"));
    // A misspelled key names the key, never the value, which may be a secret.
    auto e = error_of("", {"store.redis_ur=redis://:topsecret@127.0.0.1"});
    BOOST_TEST(contains(e, "--set store.redis_ur"), e);
    BOOST_TEST(!contains(e, "topsecret"), e);
    BOOST_TEST(!contains(error_of("", {"store.redis_url=rediss://:topsecret@127.0.0.1"}), "topsecret"));
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_key_and_the_value) {
    auto e = error_of("[server]\nheader_limit = lots\n");
    BOOST_TEST(contains(e, "server.header_limit"));
    BOOST_TEST(contains(e, "\"lots\""));
    BOOST_TEST(contains(error_of("", {"server.listen=example.com:80"}), "server.listen"));
    BOOST_TEST(contains(error_of("", {"server.listen=127.0.0.1"}), "server.listen"));
    BOOST_TEST(contains(error_of("", {"server.listen=127.0.0.1:70000"}), "server.listen"));
    BOOST_TEST(contains(error_of("", {"smtp.send_message=perhaps"}), "true or false"));
    BOOST_TEST(contains(error_of("", {"smtp.allowed_ports=25,abc"}), "smtp.allowed_ports"));
    BOOST_TEST(contains(error_of("", {"smtp.deny_destinations=10.0.0.0/33"}), "smtp.deny_destinations"));
    BOOST_TEST(contains(error_of("", {"log.level=loud"}), "one of trace, debug, info, warn, error"));
    BOOST_TEST(contains(error_of("", {"auth.schemes=basic,kerberos"}), "auth.schemes"));
    BOOST_TEST(contains(error_of("", {"api.default_language=xx"}), "api.default_language"));
    BOOST_TEST(contains(error_of("", {"server.base_path=nope"}), "server.base_path"));
    BOOST_TEST(contains(error_of("", {"server.tls_listen=127.0.0.1:8443"}), "tls_cert"));
    BOOST_TEST(contains(error_of("[users]\nalice =\n"), "users.alice"));
    BOOST_TEST(contains(error_of("[server]\nlisten = 1\nlisten = 2\n"), "duplicate key"));
}

BOOST_AUTO_TEST_CASE(base_path_has_no_empty_segment) {  // issue 11, fuzz_config: "//" became "/"
    BOOST_TEST(contains(error_of("", {"server.base_path=//"}), "server.base_path"));
    BOOST_TEST(contains(error_of("", {"server.base_path=/a//b"}), "server.base_path"));
    BOOST_TEST(load_config_text("", {"server.base_path=/"}).server.base_path == "");
}

BOOST_AUTO_TEST_CASE(base_path_loses_a_trailing_slash) {
    BOOST_TEST(load_config_text("", {"server.base_path=/Cust12345/"}).server.base_path == "/Cust12345");
}

BOOST_AUTO_TEST_CASE(effective_config_masks_secrets_and_keeps_the_rest) {
    std::string path = "/tmp/smtpcheck-config-test-" + std::to_string(::getpid()) + ".ini";
    {
        std::ofstream f(path);
        f << "[auth]\napp_tokens = tok1,tok2\n[users]\nalice = pbkdf2-sha256$hidden-hash-value\n";
    }
    auto text = effective_config_ini({path, {"server.body_limit=1234"}});
    std::remove(path.c_str());
    BOOST_TEST(contains(text, "app_tokens = ***"));
    BOOST_TEST(contains(text, "alice = ***"));
    BOOST_TEST(!contains(text, "tok1"));
    BOOST_TEST(!contains(text, "hidden-hash-value"));
    BOOST_TEST(contains(text, "body_limit = 1234"));
    BOOST_TEST(contains(text, "[users]"));
    // The output is itself a valid configuration.
    BOOST_CHECK_NO_THROW(load_config_text(text));
}

// A missing file, and a directory: it opens as a stream on Linux and reads as empty, so
// `--config /tmp` ran on the built-in defaults without a word.
BOOST_AUTO_TEST_CASE(a_file_that_cannot_be_read_is_an_error_naming_it) {
    for (const std::string path : {"/nonexistent/smtpcheck.ini", "/tmp"}) {
        try {
            (void)load_config({path, {}});
            BOOST_FAIL("no error for " + path);
        } catch (const config_error& e) {
            BOOST_TEST(contains(e.what(), "cannot read " + path));
        }
    }
}

// Issue 11: a Basic user name or a JWT "kid" with CR LF forged log lines.
BOOST_AUTO_TEST_CASE(a_logged_message_cannot_forge_a_line) {
    for (auto style : {log_settings::format::text, log_settings::format::json}) {
        std::ostringstream out;
        log_settings settings;
        settings.style = style;
        auto log = make_logger(settings, "t", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
        log->info("auth refused: wrong password for '{}'", "eve\r\nINFO forged line\x1b[2J");
        log->flush();
        std::string text = out.str();
        BOOST_TEST(std::count(text.begin(), text.end(), '\n') == 1);
        BOOST_TEST(text.find('\r') == std::string::npos);
        BOOST_TEST(text.find('\x1b') == std::string::npos);
        BOOST_TEST(text.find("forged line") != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
