#include "smtpcheck/server/smtp_settings.hpp"
#include "smtpcheck/server/shared_credentials.hpp"

#include <stdexcept>

namespace smtpcheck {

smtp::test_settings make_test_settings(const config& cfg, std::shared_ptr<store::redis_client> redis) {
    smtp::test_settings s;
    s.deadline = cfg.api.slow_threshold;
    s.test_recipient = cfg.smtp.test_recipient;
    s.ehlo_domain = cfg.smtp.ehlo_domain;
    s.send_message = cfg.smtp.send_message;
    s.allow_plaintext_auth = cfg.smtp.allow_plaintext_auth;
    s.suggest = cfg.smtp.suggestions;
    s.tls_verify = cfg.smtp.tls_verify;
    s.destinations.allow_private = cfg.smtp.allow_private_destinations;
    s.destinations.any_port = cfg.smtp.any_port;
    s.destinations.allowed_ports = cfg.smtp.allowed_ports;
    s.destinations.allow = cfg.smtp.allow_destinations;
    s.destinations.deny = cfg.smtp.deny_destinations;
    try {
        s.policy = std::make_shared<const smtp::destination_policy>(s.destinations);
    } catch (const std::invalid_argument& e) {
        throw config_error(e.what());
    }
    s.dns.servers = cfg.smtp.dns_servers;
    s.dns.cache_entries = cfg.smtp.dns_cache_entries;
    s.dns.max_ttl = cfg.smtp.dns_max_ttl;
    s.tls = smtp::make_client_tls_context(cfg.smtp.ca_file);
    s.credentials = std::make_shared<smtp::credential_store>(cfg.smtp.credentials_file, cfg.smtp.secret_key_file);
    if (redis) s.shared_credentials = std::make_shared<redis_credentials>(std::move(redis), cfg.store.key_prefix, s.credentials);
    return s;
}

}  // namespace smtpcheck
