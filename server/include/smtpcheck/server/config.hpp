// The effective configuration of smtpcheck (SPEC section 4) as typed values.
//
// The INI text is read once, here; the rest of the code sees only these structs, in which
// every wait and every buffer has a named bound.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace smtpcheck {

using milliseconds = std::chrono::milliseconds;

/// One address to listen on: `host:port`, `[v6]:port` or `unix:/path`.
struct listen_address {
    enum class kind { tcp, unix_socket };
    kind type = kind::tcp;
    std::string host;        ///< numeric address for tcp (IPv6 without brackets)
    std::uint16_t port = 0;  ///< 0 picks a free port
    std::string path;        ///< for unix sockets
    std::string text;        ///< as written in the configuration
};

struct server_settings {
    std::vector<listen_address> listen;
    std::vector<listen_address> tls_listen;
    std::string tls_cert;
    std::string tls_key;
    unsigned threads = 1;              ///< 0: std::thread::hardware_concurrency()
    std::string base_path;             ///< "" or "/segment..." without a trailing '/'
    std::size_t header_limit = 16384;  ///< request line + headers, bytes
    std::size_t body_limit = 65536;    ///< request body, bytes
    milliseconds header_timeout{10000};
    milliseconds body_timeout{30000};
    milliseconds idle_timeout{60000};
    std::size_t max_connections = 50000;
    milliseconds shutdown_grace{10000};
    std::vector<std::string> cors_origins;
    /// Reverse proxies whose X-Forwarded-For names the client (trusted_proxies.hpp): CIDR
    /// networks or addresses. Empty: the header is ignored.
    std::vector<std::string> trusted_proxies;
};

struct api_settings {
    milliseconds slow_threshold{5000};
    std::string default_language = "en";
    std::size_t max_concurrent_tests = 10000;
    unsigned tests_per_minute_per_user = 0;  ///< 0: no limit
};

struct smtp_settings {
    std::string test_recipient = "smtp-test@superoffice.com";
    std::string ehlo_domain;
    bool send_message = true;
    bool allow_private_destinations = false;
    bool any_port = false;                   ///< allowed_ports = *
    std::vector<std::uint16_t> allowed_ports{25, 465, 587, 2525};
    std::vector<std::string> allow_destinations;  ///< CIDR, validated
    std::vector<std::string> deny_destinations;   ///< CIDR, validated
    bool allow_plaintext_auth = false;
    bool tls_verify = true;
    bool suggestions = true;  ///< after a failure other settings may fix: SRV and MX lookups
    std::string ca_file;
    std::vector<std::string> dns_servers;  ///< empty: /etc/resolv.conf
    std::size_t dns_cache_entries = 1024;
    std::chrono::seconds dns_max_ttl{300};
    std::string credentials_file = "credentials.json";
    std::string secret_key_file;
};

struct auth_settings {
    bool basic = true;
    bool soticket = true;
    bool bearer = true;
    bool session = true;
    std::string secret_file;
    std::chrono::seconds ticket_ttl{28800};
    std::string jwt_keys_file;
    std::string jwt_issuer;
    std::string jwt_audience;
    std::chrono::seconds jwt_leeway{60};
    std::vector<std::string> app_tokens;
    bool require_app_token = false;
    unsigned failed_logins_per_minute = 20;
};

/// [store]: where the state several instances share lives (issue 14).
struct store_settings {
    enum class kind { file, redis };
    kind backend = kind::file;  ///< file: this instance's own (no Redis)
    std::string redis_url;      ///< redis://[[user]:password@]host[:port][/db], rediss://..., or unix:/path
    std::string tls_ca_file;    ///< rediss://: CA certificates (PEM) besides the system's
    std::string key_prefix = "smtpcheck:";
    milliseconds connect_timeout{1000};
    milliseconds command_timeout{250};
    /// When Redis cannot answer a limit: true, each instance counts on its own (the limit
    /// then holds per instance); false, the request is refused with 503.
    bool limits_fail_open = true;
};

struct log_settings {
    enum class level { trace, debug, info, warn, error };
    enum class format { text, json };
    level min_level = level::info;
    format style = format::text;
    bool access = true;
};

struct config {
    server_settings server;
    api_settings api;
    smtp_settings smtp;
    auth_settings auth;
    store_settings store;
    std::map<std::string, std::string> users;  ///< name -> password hash
    log_settings log;
};

/// A configuration that cannot be used; what() names the key and the value.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Where the configuration comes from: the built-in defaults, then `file` (if not empty),
/// then each `section.key=value` override in order.
struct config_sources {
    std::string file;
    std::vector<std::string> overrides;
};

/// Reads and validates. Throws config_error on an unknown key or a bad value.
config load_config(const config_sources& sources);

/// Same as load_config, from INI text instead of a file (used by tests and embedders).
config load_config_text(std::string_view ini_text, const std::vector<std::string>& overrides = {});

/// The effective configuration as INI text, secrets (password hashes, tokens) as `***`.
std::string effective_config_ini(const config_sources& sources);

/// The built-in defaults, as INI text (config/defaults.ini).
std::string_view default_config_ini();

/// The content of a file the configuration names; config_error "<key>: cannot read <path>"
/// when it cannot be read.
std::string read_config_file(const std::string& path, std::string_view key);

/// Parses one listen address; throws config_error.
listen_address parse_listen_address(std::string_view text);

}  // namespace smtpcheck
