// smtpcheck probe: the SMTP test from a terminal, under the same configuration (SPEC 6).
#include "commands.hpp"
#include "smtpcheck/serialization/report.hpp"
#include "smtpcheck/server/shared_credentials.hpp"
#include "smtpcheck/server/smtp_settings.hpp"
#include "smtpcheck/smtp/engine.hpp"
#include "smtpcheck/smtp/remedies.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iostream>

namespace smtpcheck::cli {
namespace {

using smtp::outcome_code;

// With [store] backend = redis, the stored password is fetched once, before the tests, on a
// connection of its own (run_with_redis); the tests find it here, for its user, host and port
// only, as they would have found it in Redis.
class fetched_password final : public smtp::shared_passwords {
public:
    fetched_password(smtp::credential_key key, std::optional<std::string> password)
        : key_(std::move(key)), password_(std::move(password)) {}
    boost::asio::awaitable<std::optional<std::string>> password_for(smtp::credential_key key) const override {
        co_return key == key_ ? password_ : std::nullopt;
    }

private:
    smtp::credential_key key_;
    std::optional<std::string> password_;
};

/// 0 on success; 10 + the code's place in SPEC 3.7's table otherwise (the enum's order).
int exit_status(outcome_code code) {
    return code == outcome_code::none ? 0 : 9 + static_cast<int>(code);
}

std::string help_text() {
    std::string s = R"(usage: smtpcheck probe URI --from ADDR [options]

Runs the SMTP test of the API from the terminal: resolve, destination policy, connect,
STARTTLS or implicit TLS, AUTH, MAIL/RCPT/DATA, QUIT, under the same configuration
(api.slow_threshold_ms is the deadline; [smtp] applies, destination policy included).

URI is smtp://, smtp+starttls:// or smtps://[user[;AUTH=MECH][:password]@]host[:port][/ehlo].

options:
  --from ADDR           the sender (required)
  --to ADDR             the recipient instead of smtp.test_recipient
  --json                print the report as JSON (as the Diagnose route writes it)
  --transcript          print the dialog's transcript (secrets as ***)
  --timeout-ms N        the deadline instead of api.slow_threshold_ms
  --ca-file F           also trust the CA certificates in F (PEM)
  --no-send             stop after RCPT (RSET, QUIT): nothing is sent
  --language LANG       the message and the hint in en, nb, sv, da, de, nl or fr
                        (default: api.default_language)
  --suggest             after a failure, also try each suggested SmtpUri (from the From
                        domain's SRV and MX records) and say which works; the URI's user and
                        password go only to a host in the tested host's or the From's domain
                        (RFC 6186 section 6) or to a known provider's server, and only with
                        certificate verification on; other hosts are tried without them
  --use-stored-password use the password stored with `smtpcheck credentials set` for the
                        URI's user, host and port (as UseStoredPassword does)
  --config FILE, --set section.key=value   as for serve

exit status: 0 success, 1 bad configuration, 2 bad arguments, otherwise by outcome:
)";
    for (int c = static_cast<int>(outcome_code::uri_invalid); c <= static_cast<int>(smtp::last_outcome_code); ++c) {
        const auto code = static_cast<outcome_code>(c);
        char line[80];
        std::snprintf(line, sizeof line, "  %2d  %s\n", exit_status(code), std::string(smtp::resource_name(code)).c_str());
        s += line;
    }
    return s;
}

}  // namespace

// `original` with the scheme, host and port of `endpoint` (scheme://host:port): user,
// password, mechanism and EHLO path stay.
// `original` with the scheme, host and port of `endpoint` (scheme://host:port): the EHLO path
// stays, and the user, password and mechanism only `with_credentials`. Empty when either URI
// cannot be read (nothing is tried then).
static std::string with_endpoint_of(const std::string& original, const std::string& endpoint, bool with_credentials) {
    auto from = boost::urls::parse_uri(original);
    auto to = boost::urls::parse_uri(endpoint);
    if (!from || !to) return {};
    boost::urls::url u(*from);
    u.set_scheme(to->scheme());
    u.set_encoded_host(to->encoded_host());
    u.set_port(to->port());
    if (!with_credentials) u.remove_userinfo();
    return std::string(u.buffer());
}

// Whether a suggestion may receive the URI's user and password (RFC 6186 section 6): a host
// named by DNS only within the tested host's or the From's registrable domain; a known
// provider's submission server (from config/remedies.ini, not from DNS); the tested host under
// the other TLS mode. Never without certificate verification.
static bool may_carry_credentials(const smtp::suggestion& s, const smtp::test_report& report, std::string_view from,
                                  const smtp::test_settings& settings) {
    if (!settings.tls_verify) return false;
    if (s.why == "S_MX_PROVIDER" || s.why == "S_PORT_TLS_MISMATCH") return true;
    const auto target = smtp::registrable_domain(s.via);
    const auto at = from.rfind('@');
    return !target.empty() && (target == smtp::registrable_domain(report.host) ||
                               (at != std::string_view::npos && target == smtp::registrable_domain(from.substr(at + 1))));
}

int run_probe(std::span<char*> args) {
    common_options opts;
    std::string uri, from, to, ca_file, language;
    bool json = false, transcript = false, no_send = false, stored = false, suggest = false;
    long timeout_ms = -1;
    bool parsed = parse_common(args, opts, [&](std::string_view a, std::span<char*> all, std::size_t& i, bool& failed) {
        auto value = [&]() -> const char* {
            if (i + 1 >= all.size()) {
                std::cerr << "smtpcheck: " << a << " needs a value\n";
                failed = true;
                return nullptr;
            }
            return all[++i];
        };
        if (a == "--json") return json = true;
        if (a == "--transcript") return transcript = true;
        if (a == "--no-send") return no_send = true;
        if (a == "--suggest") return suggest = true;
        if (a == "--use-stored-password") return stored = true;
        if (a == "--from" || a == "--to" || a == "--ca-file" || a == "--timeout-ms" || a == "--language") {
            const char* v = value();
            if (!v) return false;
            if (a == "--from") from = v;
            else if (a == "--language") {
                language = v;
                if (std::find(serialization::supported_languages.begin(), serialization::supported_languages.end(),
                              language) == serialization::supported_languages.end()) {
                    std::cerr << "smtpcheck: --language is one of en, nb, sv, da, de, nl, fr\n";
                    failed = true;
                    return false;
                }
            }
            else if (a == "--to") to = v;
            else if (a == "--ca-file") ca_file = v;
            else {
                std::string_view text(v);
                auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), timeout_ms);
                if (ec != std::errc{} || end != text.data() + text.size() || timeout_ms < 1) {
                    std::cerr << "smtpcheck: --timeout-ms needs a positive number of milliseconds\n";
                    failed = true;
                    return false;
                }
            }
            return true;
        }
        if (!a.starts_with("-") && uri.empty()) {
            uri = a;
            return true;
        }
        return false;
    });
    if (!parsed) return 2;
    if (opts.help) {
        std::cout << help_text();
        return 0;
    }
    if (uri.empty() || from.empty()) {
        std::cerr << "smtpcheck: probe needs a URI and --from (see smtpcheck probe --help)\n";
        return 2;
    }

    config cfg;
    smtp::test_settings settings;
    try {
        cfg = load_config(opts.sources);
        if (!ca_file.empty()) cfg.smtp.ca_file = ca_file;
        settings = make_test_settings(cfg);
        auto parsed = smtp::parse_smtp_uri(uri);
        auto* u = std::get_if<smtp::smtp_uri>(&parsed);
        if (stored && u && u->user && cfg.store.backend == store_settings::kind::redis) {
            smtp::credential_key key{*u->user, u->host, u->port};
            std::optional<std::string> password;
            run_with_redis(cfg, [&](std::shared_ptr<store::redis_client> redis) -> boost::asio::awaitable<void> {
                redis_credentials shared(std::move(redis), cfg.store.key_prefix, settings.credentials);
                password = co_await shared.password_for(key);
            });
            settings.shared_credentials = std::make_shared<fetched_password>(std::move(key), std::move(password));
        }
    } catch (const std::exception& e) {
        std::cerr << "smtpcheck: " << e.what() << "\n";
        return 1;
    }
    if (!to.empty()) settings.test_recipient = to;
    if (timeout_ms > 0) settings.deadline = std::chrono::milliseconds(timeout_ms);
    const auto deadline = settings.deadline;
    if (no_send) settings.send_message = false;

    boost::asio::io_context io;
    auto run = [&](std::string test_uri, const smtp::test_settings& s) {
        smtp::test_report result;
        boost::asio::co_spawn(io, smtp::run_test(io.get_executor(), {std::move(test_uri), from, stored}, s),
                              [&](std::exception_ptr e, smtp::test_report r) {
                                  if (e) std::rethrow_exception(e);
                                  result = std::move(r);
                              });
        io.restart();
        io.run();
        return result;
    };
    const smtp::test_report report = run(uri, settings);

    const auto& texts = serialization::builtin_catalogs();
    if (language.empty()) language = cfg.api.default_language;
    const serialization::language_choice lang{language, false, language};
    auto message = serialization::report_message(report, lang, texts, deadline);
    const auto warnings = serialization::report_warnings(report, lang, texts);
    const auto suggestions = serialization::report_suggestions(report, lang, texts);
    // --suggest: each suggestion tried with the URI's own user, password and EHLO path.
    const bool has_user = [&] {
        auto parsed = boost::urls::parse_uri(uri);
        return parsed && parsed->has_userinfo();
    }();
    struct attempt {
        std::optional<smtp::test_report> result;  ///< none: the URI could not be rebuilt
        bool with_credentials = false;
    };
    std::vector<attempt> tries;
    if (suggest) {
        auto quiet = settings;
        quiet.suggest = false;
        for (const auto& s : report.suggestions) {
            attempt a;
            a.with_credentials = may_carry_credentials(s, report, from, settings);
            if (auto u = with_endpoint_of(uri, s.uri, a.with_credentials); !u.empty()) a.result = run(std::move(u), quiet);
            tries.push_back(std::move(a));
        }
    }
    if (json) {
        auto doc = serialization::report_document(report, message, serialization::report_hint(report, lang, texts),
                                                  warnings, suggestions);
        auto& listed = doc.body.at("Suggestions").as_array();
        for (std::size_t i = 0; i < tries.size(); ++i) {
            auto& entry = listed[i].as_object();
            const auto& r = tries[i].result;
            entry["Works"] = r ? boost::json::value(r->success) : boost::json::value(nullptr);
            entry["ErrorCode"] = r && !r->success ? boost::json::value(smtp::resource_name(r->code)) : boost::json::value(nullptr);
            entry["WithCredentials"] = tries[i].with_credentials;
        }
        std::cout << serialization::write_json(doc) << "\n";
    } else {
        std::cout << serialization::report_text(report, message, transcript, warnings, suggestions);
        for (std::size_t i = 0; i < tries.size(); ++i) {
            const auto& r = tries[i].result;
            std::cout << "TRIED   " << suggestions[i].uri
                      << (tries[i].with_credentials || !has_user
                              ? ""
                              : " (without the user and password: its host is outside the tested and the From domain)")
                      << ": "
                      << (!r           ? std::string("not tried: the URI could not be rebuilt")
                          : r->success ? std::string("works")
                                       : "fails, " + std::string(smtp::resource_name(r->code)) + ": " +
                                             serialization::report_message(*r, lang, texts, deadline).value_or(""))
                      << "\n";
        }
    }
    return exit_status(report.code);
}

}  // namespace smtpcheck::cli
