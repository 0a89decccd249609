// One SMTP test (SPEC 3): `co_await smtpcheck::smtp::run_test(executor, request, settings)`.
#pragma once

#include "smtpcheck/smtp/credential_store.hpp"
#include "smtpcheck/smtp/destination_policy.hpp"
#include "smtpcheck/smtp/dns.hpp"
#include "smtpcheck/smtp/outcome.hpp"
#include "smtpcheck/smtp/reply.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
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
    reply_limits reply_bounds;
    /// false: report.transcript stays empty, for callers that never show it (TestSmtpServer),
    /// saving its lines' memory and copies in every test.
    bool keep_transcript = true;
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
    /// Called once when the test leaves validation for the network (not for a request refused
    /// before any I/O): the HTTP layer starts watching for a client that goes away here.
    std::function<void()> before_network;
};

/// A client context trusting the system store and, when not empty, `ca_file` (PEM). TLS 1.2
/// is the minimum. Throws std::runtime_error when ca_file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& ca_file);

struct tried_address {
    std::string address;
    std::string outcome;  ///< "connected", "connect refused", "blocked: ...", ...
};

struct certificate_info {
    std::string subject;
    std::string issuer;
    std::vector<std::string> subject_alt_names;
    std::string not_after;  ///< ISO 8601 UTC
};

struct tls_info {
    std::string mode;  ///< "starttls" or "implicit"
    std::string version;  ///< empty when no handshake completed
    std::string cipher;   ///< empty when no handshake completed
    bool verified = false;
    std::optional<std::string> verify_error;
    std::optional<certificate_info> certificate;
};

struct transcript_line {
    double ms = 0;
    char dir = 'C';  ///< 'C' client, 'S' server
    std::string line;
};

struct phase_timing {
    phase which;
    double ms = 0;
};

struct test_report {
    bool success = false;
    outcome_code code = outcome_code::none;
    std::optional<phase> failed_phase;
    std::optional<reply> last_reply;
    std::optional<std::string> hint;  ///< a catalog key: HINT_TRY_SMTPS, HINT_TRY_STARTTLS, HINT_BASIC_AUTH_DISABLED
    std::string hint_uri;             ///< the URI a hint suggests
    std::string detail;  ///< what failed, in English (parser and OpenSSL words); no per-test random values

    std::string host;
    std::uint16_t port = 0;
    std::optional<std::string> address;  ///< the address that answered
    std::optional<bool> dns_cached;      ///< for names: whether the answer came from the cache
    std::vector<tried_address> tried;
    std::optional<std::string> greeting;
    std::vector<std::string> extensions;
    /// Shared and immutable rather than inline: a report sits in several coroutine frames of
    /// every test in flight, and an inline tls_info made each copy 300 bytes larger.
    std::shared_ptr<const tls_info> tls;
    std::optional<std::string> auth_mechanism;
    bool auth_succeeded = false;
    std::vector<phase_timing> timings;
    double total_ms = 0;
    std::vector<transcript_line> transcript;
    std::string test_id;
};

/// Runs the whole test under settings.deadline on `executor`. Never throws for what the
/// server or the network does; every failure is in the report. A terminal cancellation from
/// the caller ends the test at once.
boost::asio::awaitable<test_report> run_test(boost::asio::any_io_executor executor, test_request request,
                                             test_settings settings);

/// The same with settings shared by many tests (each test holds them instead of a copy);
/// `before_network` takes the place of settings->before_network.
boost::asio::awaitable<test_report> run_test(boost::asio::any_io_executor executor, test_request request,
                                             std::shared_ptr<const test_settings> settings,
                                             std::function<void()> before_network);

/// SPEC 3.8's JSON document of a report, properties in its order; ErrorMessage is `message`
/// (null on success) and Hint is `hint` (the report's hint in words).
boost::json::object report_to_json(const test_report& report, const std::optional<std::string>& message,
                                   const std::optional<std::string>& hint);

}  // namespace smtpcheck::smtp
