// One SMTP test (SPEC 3): `co_await smtpcheck::smtp::run_test(executor, request, settings)`.
#pragma once

#include "smtpcheck/smtp/credential_store.hpp"
#include "smtpcheck/smtp/destination_policy.hpp"
#include "smtpcheck/smtp/dns.hpp"
#include "smtpcheck/smtp/reply.hpp"
#include "smtpcheck/smtp/report.hpp"
#include "smtpcheck/smtp/smtp_uri.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace smtpcheck::smtp {

struct test_request {
    std::string smtp_uri;
    std::string from;
    /// UseStoredPassword: the password stored for the URI's user, host and port replaces
    /// the URI's; nothing stored is SR_SMTP_NO_STORED_PASSWORD.
    bool use_stored_password = false;
};

/// Every bound of a test, with its default (SPEC 3, 4, 7).
struct test_settings {
    std::chrono::milliseconds deadline{5000};  ///< api.slow_threshold_ms: the whole test
    std::string test_recipient = "smtp-test@superoffice.com";
    std::string ehlo_domain;  ///< empty: an address literal of the local end
    bool send_message = true;
    bool allow_plaintext_auth = false;
    bool tls_verify = true;
    destination_rules destinations;
    /// `destinations` parsed once (make_test_settings makes it when the server starts); null:
    /// each test parses the rules itself.
    std::shared_ptr<const destination_policy> policy;
    reply_limits reply_bounds;
    /// false: report.transcript stays empty, for callers that never show it (TestSmtpServer),
    /// saving its lines' memory and copies in every test.
    bool keep_transcript = true;
    /// After a failure that other settings may fix (DNS, connect, TLS, a port/TLS mismatch),
    /// look up the From domain's SRV and MX records within the deadline for report.suggestions.
    /// Off unless asked: an embedding program decides whether its failed tests query DNS (the
    /// server's make_test_settings takes it from smtp.suggestions, on by default).
    bool suggest = false;
    std::size_t max_transcript_lines = 200;
    std::size_t max_transcript_line = 512;
    std::string subject = "SMTP settings test";
    /// The body; "{from}" and "{test_id}" are filled in.
    std::string body =
        "This is an automatic message sent to test the SMTP settings for {from}.\n"
        "No reply is needed.\n\nTest id: {test_id}\n";
    /// Client TLS context (system store plus smtp.ca_file): see make_client_tls_context.
    std::shared_ptr<boost::asio::ssl::context> tls;
    /// DNS (c-ares): options of the executor's own resolver (dns_resolver::of), made by the
    /// first test on an execution context; `resolver`, when set, is used instead.
    dns_options dns;
    std::shared_ptr<dns_resolver> resolver;
    /// Where UseStoredPassword looks; null: nothing is stored.
    std::shared_ptr<const credential_store> credentials;
    /// When set, UseStoredPassword looks here instead ([store] backend = redis): run_test
    /// fetches the sealed password and opens it with `credentials`'s key before the network.
    std::shared_ptr<const shared_passwords> shared_credentials;
};

/// A client context trusting the system store and, when not empty, `ca_file` (PEM). TLS 1.2
/// is the minimum. Throws std::runtime_error when ca_file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& ca_file);

/// A request that passed validation (SmtpUri, From, a stored password), ready for the network.
struct prepared_test {
    smtp_uri uri;
    std::string from;  ///< the mailbox
    test_report report;  ///< the host and port; run_test goes on filling it in
    std::chrono::steady_clock::time_point started;  ///< when validation began: the test's clock
    /// The stored password run_test still has to fetch (settings.shared_credentials).
    std::optional<credential_key> stored_password;
};

/// A test's first step, without I/O: validation. The prepared test, or the report of a request
/// refused before the network (SR_SMTP_URI_INVALID, SR_SMTP_FROM_INVALID,
/// SR_SMTP_NO_STORED_PASSWORD; with settings.shared_credentials that last one comes from
/// run_test, which fetches the password first). A caller that watches for its client going away starts only
/// for a prepared test.
std::variant<prepared_test, test_report> prepare_test(const test_request& request, const test_settings& settings);

/// The network part of a prepared test, under settings->deadline on `executor`; `settings`
/// may be shared by many tests. Never throws for what the server or the network does; every
/// failure is in the report. A terminal cancellation from the caller ends the test at once.
boost::asio::awaitable<test_report> run_test(boost::asio::any_io_executor executor, prepared_test test,
                                             std::shared_ptr<const test_settings> settings);

/// Both steps.
boost::asio::awaitable<test_report> run_test(boost::asio::any_io_executor executor, test_request request,
                                             std::shared_ptr<const test_settings> settings);
boost::asio::awaitable<test_report> run_test(boost::asio::any_io_executor executor, test_request request,
                                             test_settings settings);

}  // namespace smtpcheck::smtp
