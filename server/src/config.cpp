#include "smtpcheck/server/config.hpp"
#include "smtpcheck/server/trusted_proxies.hpp"

#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/core/system.hpp"
#include "smtpcheck/serialization/localization.hpp"
#include "smtpcheck/store/redis_client.hpp"

#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>
#include <sstream>

namespace smtpcheck {
namespace embedded {
std::string_view default_config();
}

std::string_view default_config_ini() { return embedded::default_config(); }

namespace {

namespace pt = boost::property_tree;

// The configuration as ordered text: sections and keys in the order of the defaults file.
struct ini_key {
    std::string name;
    std::string value;
};
struct ini_section {
    std::string name;
    std::vector<ini_key> keys;
};
using ini_document = std::vector<ini_section>;

// Blanks and the CR of a CRLF line end (a leading CR is dropped too).
std::string_view trim(std::string_view s) { return core::trim(s, " \t\r"); }

// PropertyTree's INI reader knows only whole-line comments; SPEC section 4 writes comments
// after values too, so those are cut first: ';' or '#' after white space ends the value.
std::string strip_trailing_comments(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
        auto t = trim(line);
        if (!t.empty() && t.front() != ';' && t.front() != '#') {
            for (std::size_t i = 1; i < line.size(); ++i) {
                if ((line[i] == ';' || line[i] == '#') && (line[i - 1] == ' ' || line[i - 1] == '\t')) {
                    line = line.substr(0, i);
                    break;
                }
            }
        }
        out.append(line);
        out.push_back('\n');
    }
    return out;
}

ini_document parse_ini(std::string_view text, const std::string& origin) {
    pt::ptree tree;
    std::istringstream in(strip_trailing_comments(text));
    try {
        pt::read_ini(in, tree);
    } catch (const pt::ini_parser_error& e) {
        throw config_error(origin + ":" + std::to_string(e.line()) + ": " + e.message());
    }
    ini_document doc;
    for (const auto& [section, keys] : tree) {
        if (keys.empty() && !keys.data().empty())
            throw config_error(origin + ": key '" + section + "' is outside of any [section]");
        ini_section s{section, {}};
        for (const auto& [key, value] : keys) s.keys.push_back({key, std::string(trim(value.data()))});
        doc.push_back(std::move(s));
    }
    return doc;
}

ini_section* find_section(ini_document& doc, std::string_view name) {
    for (auto& s : doc)
        if (s.name == name) return &s;
    return nullptr;
}

ini_key* find_key(ini_section& s, std::string_view name) {
    for (auto& k : s.keys)
        if (k.name == name) return &k;
    return nullptr;
}

// [users] holds names chosen by the operator; every other section holds only known keys.
constexpr std::string_view free_section = "users";

void set_value(ini_document& effective, std::string_view section, std::string_view key, std::string value,
               const std::string& origin) {
    auto* s = find_section(effective, section);
    if (!s) throw config_error(origin + ": unknown section [" + std::string(section) + "]");
    if (auto* k = find_key(*s, key)) {
        k->value = std::move(value);
        return;
    }
    if (section != free_section)
        throw config_error(origin + ": unknown key '" + std::string(key) + "' in [" + std::string(section) + "]");
    if (key.empty()) throw config_error(origin + ": empty user name in [users]");
    s->keys.push_back({std::string(key), std::move(value)});
}

void overlay(ini_document& effective, const ini_document& layer, const std::string& origin) {
    for (const auto& s : layer)
        for (const auto& k : s.keys) set_value(effective, s.name, k.name, k.value, origin);
}

void apply_override(ini_document& effective, std::string_view assignment) {
    auto eq = assignment.find('=');
    // Errors name the key, never the value: it may be a secret (a Redis URL's password).
    const std::string origin = "--set " + std::string(assignment.substr(0, eq));
    auto dot = assignment.find('.');
    if (eq == std::string_view::npos || dot == std::string_view::npos || dot > eq)
        throw config_error(origin + ": expected section.key=value");
    set_value(effective, trim(assignment.substr(0, dot)), trim(assignment.substr(dot + 1, eq - dot - 1)),
              std::string(trim(assignment.substr(eq + 1))), origin);
}

// ---- typed values ----------------------------------------------------------------------

[[noreturn]] void bad_value(std::string_view section, std::string_view key, std::string_view value,
                            std::string_view expected) {
    throw config_error("config: " + std::string(section) + "." + std::string(key) + " = \"" + std::string(value) +
                       "\": expected " + std::string(expected));
}

struct value_ref {
    std::string_view section, key, text;
    [[noreturn]] void fail(std::string_view expected) const { bad_value(section, key, text, expected); }
};

std::uint64_t as_uint(const value_ref& v, std::uint64_t min, std::uint64_t max) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), n);
    if (v.text.empty() || ec != std::errc{} || end != v.text.data() + v.text.size() || n < min || n > max)
        v.fail("a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    return n;
}

milliseconds as_ms(const value_ref& v, std::uint64_t min = 1) {
    return milliseconds(as_uint(v, min, 24ull * 3600 * 1000));
}

bool as_bool(const value_ref& v) {
    const std::string s = core::lower_ascii(v.text);
    if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
    if (s == "false" || s == "no" || s == "off" || s == "0") return false;
    v.fail("true or false");
}

std::vector<std::string> as_list(const value_ref& v) {
    std::vector<std::string> out;
    std::string_view rest = v.text;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        auto item = trim(rest.substr(0, comma));
        if (!item.empty()) out.emplace_back(item);
        rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    }
    return out;
}

std::vector<std::string> as_cidr_list(const value_ref& v) {
    auto items = as_list(v);
    for (const auto& item : items) {
        boost::system::error_code ec;
        if (item.find(':') != std::string::npos)
            (void)boost::asio::ip::make_network_v6(item, ec);
        else
            (void)boost::asio::ip::make_network_v4(item, ec);
        if (ec) v.fail("a comma-separated list of CIDR networks such as 10.0.0.0/8 or fc00::/7");
    }
    return items;
}

std::vector<listen_address> as_listen_list(const value_ref& v) {
    std::vector<listen_address> out;
    for (const auto& item : as_list(v)) {
        try {
            out.push_back(parse_listen_address(item));
        } catch (const config_error& e) {
            v.fail(e.what());
        }
    }
    return out;
}

template <class Enum, std::size_t N>
Enum as_enum(const value_ref& v, const std::pair<std::string_view, Enum> (&names)[N]) {
    std::string expected;
    for (const auto& [name, value] : names) {
        if (v.text == name) return value;
        expected += (expected.empty() ? "" : ", ") + std::string(name);
    }
    v.fail("one of " + expected);
}

// One row per key of the defaults file: how its text becomes a typed value.
struct binding {
    std::string_view section;
    std::string_view key;
    bool secret;
    void (*apply)(config&, const value_ref&);
};

constexpr std::pair<std::string_view, log_settings::level> level_names[] = {
    {"trace", log_settings::level::trace}, {"debug", log_settings::level::debug}, {"info", log_settings::level::info},
    {"warn", log_settings::level::warn},   {"error", log_settings::level::error}};
constexpr std::pair<std::string_view, store_settings::kind> backend_names[] = {{"file", store_settings::kind::file},
                                                                              {"redis", store_settings::kind::redis}};
constexpr std::pair<std::string_view, bool> fail_open_names[] = {{"open", true}, {"closed", false}};
constexpr std::pair<std::string_view, log_settings::format> format_names[] = {{"text", log_settings::format::text},
                                                                              {"json", log_settings::format::json}};

const binding bindings[] = {
    {"server", "listen", false,
     [](config& c, const value_ref& v) {
         c.server.listen = as_listen_list(v);
         if (c.server.listen.empty()) v.fail("at least one address");
     }},
    {"server", "tls_listen", false, [](config& c, const value_ref& v) { c.server.tls_listen = as_listen_list(v); }},
    {"server", "tls_cert", false, [](config& c, const value_ref& v) { c.server.tls_cert = v.text; }},
    {"server", "tls_key", false, [](config& c, const value_ref& v) { c.server.tls_key = v.text; }},
    {"server", "threads", false,
     [](config& c, const value_ref& v) { c.server.threads = static_cast<unsigned>(as_uint(v, 0, 256)); }},
    {"server", "base_path", false,
     [](config& c, const value_ref& v) {
         std::string p(v.text);
         if (!p.empty() && p.back() == '/') p.pop_back();
         // No empty segment ("//" put the API routes at //api/..., found by fuzz_config).
         if (!p.empty() && (p.front() != '/' || p.find_first_of("?#% ") != std::string::npos ||
                            p.find("//") != std::string::npos || p == "/"))
             v.fail("empty or a path such as /Cust12345");
         c.server.base_path = p;
     }},
    {"server", "header_limit", false,
     [](config& c, const value_ref& v) { c.server.header_limit = as_uint(v, 1024, 1 << 20); }},
    {"server", "body_limit", false,
     [](config& c, const value_ref& v) { c.server.body_limit = as_uint(v, 0, 64 << 20); }},
    {"server", "header_timeout_ms", false,
     [](config& c, const value_ref& v) { c.server.header_timeout = as_ms(v); }},
    {"server", "body_timeout_ms", false, [](config& c, const value_ref& v) { c.server.body_timeout = as_ms(v); }},
    {"server", "idle_timeout_ms", false, [](config& c, const value_ref& v) { c.server.idle_timeout = as_ms(v); }},
    {"server", "max_connections", false,
     [](config& c, const value_ref& v) { c.server.max_connections = as_uint(v, 1, 10'000'000); }},
    {"server", "shutdown_grace_ms", false,
     [](config& c, const value_ref& v) { c.server.shutdown_grace = as_ms(v, 0); }},
    {"server", "cors_origins", false, [](config& c, const value_ref& v) { c.server.cors_origins = as_list(v); }},
    {"server", "trusted_proxies", false,
     [](config& c, const value_ref& v) {
         c.server.trusted_proxies = as_list(v);
         try {
             server::trusted_proxies check(c.server.trusted_proxies);
         } catch (const std::invalid_argument&) {
             v.fail("a comma-separated list of addresses or CIDR networks such as 127.0.0.1 or 10.0.0.0/8");
         }
     }},

    {"api", "slow_threshold_ms", false, [](config& c, const value_ref& v) { c.api.slow_threshold = as_ms(v); }},
    {"api", "default_language", false,
     [](config& c, const value_ref& v) {
         const auto& languages = serialization::supported_languages;
         if (std::find(languages.begin(), languages.end(), v.text) == languages.end())
             v.fail("one of en, nb, sv, da, de, nl, fr");
         c.api.default_language = v.text;
     }},
    {"api", "max_concurrent_tests", false,
     [](config& c, const value_ref& v) { c.api.max_concurrent_tests = as_uint(v, 1, 10'000'000); }},
    {"api", "tests_per_minute_per_user", false,
     [](config& c, const value_ref& v) {
         c.api.tests_per_minute_per_user = static_cast<unsigned>(as_uint(v, 0, 1'000'000));
     }},

    {"smtp", "test_recipient", false,
     [](config& c, const value_ref& v) {
         if (v.text.find('@') == std::string_view::npos) v.fail("a mailbox such as smtp-test@example.com");
         c.smtp.test_recipient = v.text;
     }},
    {"smtp", "ehlo_domain", false, [](config& c, const value_ref& v) { c.smtp.ehlo_domain = v.text; }},
    {"smtp", "send_message", false, [](config& c, const value_ref& v) { c.smtp.send_message = as_bool(v); }},
    {"smtp", "allow_private_destinations", false,
     [](config& c, const value_ref& v) { c.smtp.allow_private_destinations = as_bool(v); }},
    {"smtp", "allowed_ports", false,
     [](config& c, const value_ref& v) {
         c.smtp.allowed_ports.clear();
         c.smtp.any_port = trim(v.text) == "*";
         if (c.smtp.any_port) return;
         for (const auto& item : as_list(v))
             c.smtp.allowed_ports.push_back(
                 static_cast<std::uint16_t>(as_uint(value_ref{v.section, v.key, item}, 1, 65535)));
     }},
    {"smtp", "allow_destinations", false,
     [](config& c, const value_ref& v) { c.smtp.allow_destinations = as_cidr_list(v); }},
    {"smtp", "deny_destinations", false,
     [](config& c, const value_ref& v) { c.smtp.deny_destinations = as_cidr_list(v); }},
    {"smtp", "allow_plaintext_auth", false,
     [](config& c, const value_ref& v) { c.smtp.allow_plaintext_auth = as_bool(v); }},
    {"smtp", "tls_verify", false, [](config& c, const value_ref& v) { c.smtp.tls_verify = as_bool(v); }},
    {"smtp", "suggestions", false, [](config& c, const value_ref& v) { c.smtp.suggestions = as_bool(v); }},
    {"smtp", "ca_file", false, [](config& c, const value_ref& v) { c.smtp.ca_file = v.text; }},
    {"smtp", "dns_servers", false,
     [](config& c, const value_ref& v) {
         c.smtp.dns_servers = as_list(v);
         for (const auto& server : c.smtp.dns_servers)
             if (server.find_first_not_of("0123456789abcdefABCDEF.:[]") != std::string::npos)
                 v.fail("IP addresses with optional ports, such as 127.0.0.1:5353 or [::1]:53");
     }},
    {"smtp", "dns_cache_entries", false,
     [](config& c, const value_ref& v) { c.smtp.dns_cache_entries = as_uint(v, 0, 1'000'000); }},
    {"smtp", "dns_max_ttl_s", false,
     [](config& c, const value_ref& v) { c.smtp.dns_max_ttl = std::chrono::seconds(as_uint(v, 0, 86400)); }},
    {"smtp", "credentials_file", false, [](config& c, const value_ref& v) { c.smtp.credentials_file = v.text; }},
    {"smtp", "secret_key_file", false, [](config& c, const value_ref& v) { c.smtp.secret_key_file = v.text; }},

    {"auth", "schemes", false,
     [](config& c, const value_ref& v) {
         c.auth.basic = c.auth.soticket = c.auth.bearer = c.auth.session = false;
         for (const auto& s : as_list(v)) {
             if (s == "basic") c.auth.basic = true;
             else if (s == "soticket") c.auth.soticket = true;
             else if (s == "bearer") c.auth.bearer = true;
             else if (s == "session") c.auth.session = true;
             else v.fail("a list of basic, soticket, bearer, session");
         }
     }},
    {"auth", "secret_file", false, [](config& c, const value_ref& v) { c.auth.secret_file = v.text; }},
    {"auth", "ticket_ttl_s", false,
     [](config& c, const value_ref& v) { c.auth.ticket_ttl = std::chrono::seconds(as_uint(v, 1, 366ull * 86400)); }},
    {"auth", "jwt_keys_file", false, [](config& c, const value_ref& v) { c.auth.jwt_keys_file = v.text; }},
    {"auth", "jwt_issuer", false, [](config& c, const value_ref& v) { c.auth.jwt_issuer = v.text; }},
    {"auth", "jwt_audience", false, [](config& c, const value_ref& v) { c.auth.jwt_audience = v.text; }},
    {"auth", "jwt_leeway_s", false,
     [](config& c, const value_ref& v) { c.auth.jwt_leeway = std::chrono::seconds(as_uint(v, 0, 3600)); }},
    {"auth", "app_tokens", true, [](config& c, const value_ref& v) { c.auth.app_tokens = as_list(v); }},
    {"auth", "require_app_token", false,
     [](config& c, const value_ref& v) { c.auth.require_app_token = as_bool(v); }},
    {"auth", "failed_logins_per_minute", false,
     [](config& c, const value_ref& v) {
         c.auth.failed_logins_per_minute = static_cast<unsigned>(as_uint(v, 1, 1'000'000));
     }},

    {"store", "backend", false, [](config& c, const value_ref& v) { c.store.backend = as_enum(v, backend_names); }},
    {"store", "redis_url", false,
     [](config& c, const value_ref& v) {
         if (!v.text.empty()) {
             try {
                 (void)store::parse_redis_url(std::string(v.text));
             } catch (const std::invalid_argument& e) {
                 // The message names the key, never the value: a URL may hold a password.
                 throw config_error("config: store.redis_url: " + std::string(e.what()));
             }
         }
         c.store.redis_url = v.text;
     }},
    {"store", "tls_ca_file", false, [](config& c, const value_ref& v) { c.store.tls_ca_file = v.text; }},
    {"store", "key_prefix", false, [](config& c, const value_ref& v) { c.store.key_prefix = v.text; }},
    {"store", "connect_timeout_ms", false, [](config& c, const value_ref& v) { c.store.connect_timeout = as_ms(v); }},
    {"store", "command_timeout_ms", false, [](config& c, const value_ref& v) { c.store.command_timeout = as_ms(v); }},
    {"store", "limits_on_error", false,
     [](config& c, const value_ref& v) { c.store.limits_fail_open = as_enum(v, fail_open_names); }},

    {"log", "level", false, [](config& c, const value_ref& v) { c.log.min_level = as_enum(v, level_names); }},
    {"log", "format", false, [](config& c, const value_ref& v) { c.log.style = as_enum(v, format_names); }},
    {"log", "access", false, [](config& c, const value_ref& v) { c.log.access = as_bool(v); }},
};

const binding* find_binding(std::string_view section, std::string_view key) {
    for (const auto& b : bindings)
        if (b.section == section && b.key == key) return &b;
    return nullptr;
}

ini_document effective_document(std::string_view base_text, const std::string& base_origin,
                                const std::vector<std::string>& overrides) {
    ini_document effective = parse_ini(default_config_ini(), "defaults");
    // PropertyTree drops sections without keys, and [users] has none by default.
    if (!find_section(effective, free_section)) {
        auto log_section = std::find_if(effective.begin(), effective.end(),
                                        [](const ini_section& s) { return s.name == "log"; });
        effective.insert(log_section, ini_section{std::string(free_section), {}});
    }
    if (!base_text.empty()) overlay(effective, parse_ini(base_text, base_origin), base_origin);
    for (const auto& o : overrides) apply_override(effective, o);
    return effective;
}

config to_config(const ini_document& doc) {
    config c;
    for (const auto& s : doc) {
        for (const auto& k : s.keys) {
            if (s.name == free_section) {
                if (k.value.empty()) bad_value(s.name, k.name, "", "a hash printed by `smtpcheck hash-password`");
                c.users[k.name] = k.value;
                continue;
            }
            const binding* b = find_binding(s.name, k.name);
            if (!b) throw config_error("config: " + s.name + "." + k.name + " has no binding (a bug)");
            b->apply(c, value_ref{s.name, k.name, k.value});
        }
    }
    if (!c.server.tls_listen.empty() && (c.server.tls_cert.empty() || c.server.tls_key.empty()))
        throw config_error("config: server.tls_listen needs server.tls_cert and server.tls_key");
    if (c.store.backend == store_settings::kind::redis && c.store.redis_url.empty())
        throw config_error("config: store.backend = redis needs store.redis_url");
    return c;
}

}  // namespace

std::string read_config_file(const std::string& path, std::string_view key) {
    auto text = core::read_file(path);
    if (!text) throw config_error(std::string(key) + ": cannot read " + path);
    return std::move(*text);
}

listen_address parse_listen_address(std::string_view text) {
    listen_address a;
    a.text = text;
    if (text.starts_with("unix:")) {
        a.type = listen_address::kind::unix_socket;
        a.path = text.substr(5);
        if (a.path.empty() || a.path.size() > 100) throw config_error("unix:/path with a path of 1 to 100 bytes");
        return a;
    }
    auto authority = boost::urls::parse_authority(text);
    if (!authority || authority->has_userinfo() || !authority->has_port() || authority->port().empty())
        throw config_error("host:port, [v6]:port or unix:/path");
    switch (authority->host_type()) {
    case boost::urls::host_type::ipv4: a.host = authority->host_address(); break;
    case boost::urls::host_type::ipv6: a.host = authority->host_address(); break;
    case boost::urls::host_type::name:
        if (authority->host() == "localhost") {
            a.host = "127.0.0.1";
            break;
        }
        [[fallthrough]];
    default: throw config_error("a numeric address (or localhost) and a port, such as 127.0.0.1:8080 or [::1]:8080");
    }
    auto port = authority->port_number();
    if (port == 0 && authority->port() != "0") throw config_error("a port from 0 to 65535");
    a.port = port;
    return a;
}

config load_config_text(std::string_view ini_text, const std::vector<std::string>& overrides) {
    return to_config(effective_document(ini_text, "config", overrides));
}

config load_config(const config_sources& sources) {
    std::string text = sources.file.empty() ? std::string() : read_config_file(sources.file, "config");
    return to_config(effective_document(text, sources.file, sources.overrides));
}

std::string effective_config_ini(const config_sources& sources) {
    std::string text = sources.file.empty() ? std::string() : read_config_file(sources.file, "config");
    auto doc = effective_document(text, sources.file, sources.overrides);
    (void)to_config(doc);  // refuse what load_config would refuse
    std::string out;
    for (const auto& s : doc) {
        if (!out.empty()) out += '\n';
        out += "[" + s.name + "]\n";
        for (const auto& k : s.keys) {
            const binding* b = find_binding(s.name, k.name);
            bool secret = s.name == free_section || (b && b->secret);
            std::string value = secret && !k.value.empty() ? std::string("***") : k.value;
            // A Redis URL is shown without its password (to_config checked that it parses).
            if (s.name == "store" && k.name == "redis_url" && !k.value.empty())
                value = store::parse_redis_url(k.value).text;
            out += k.name + " = " + value + "\n";
        }
    }
    return out;
}

}  // namespace smtpcheck
