#include "smtpcheck/smtp/engine.hpp"
#include "smtpcheck/smtp/remedies.hpp"

#include "smtpcheck/smtp/detail/dialog_driver.hpp"
#include "smtpcheck/smtp/dns.hpp"
#include "smtpcheck/smtp/message.hpp"
#include "smtpcheck/smtp/smtp_uri.hpp"

#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/core/printable_text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <unordered_map>
#include <variant>

namespace smtpcheck::smtp {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::awaitable;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Everything the deadline must be able to close, owned jointly by the test, its timer and its
// pending connection attempts.
struct connection_state {
    explicit connection_state(const asio::any_io_executor& ex) : socket(ex), timer(ex), wake(ex) {}
    tcp::socket socket;  ///< the connection that won
    asio::steady_timer timer;
    /// Happy Eyeballs: when the next attempt starts; cancelled when an attempt ends.
    asio::steady_timer wake;
    std::weak_ptr<detail::dns_wait> lookup;  ///< the running DNS lookup, abandoned on close()
    struct attempt {
        attempt(const asio::any_io_executor& ex, tcp::endpoint e) : socket(ex), endpoint(e) {}
        tcp::socket socket;
        tcp::endpoint endpoint;
        bool finished = false;
        error_code result;
    };
    std::vector<attempt> attempts;  ///< reserved up front: handlers keep indexes into it
    bool timed_out = false;
    int verify_error = X509_V_OK;  ///< the first certificate problem OpenSSL reported

    void close() {
        error_code ignored;
        if (auto w = lookup.lock()) w->abandon();
        for (auto& a : attempts) a.socket.close(ignored);
        wake.cancel();
        socket.close(ignored);
    }
};

std::string verify_error_text(int error) {
    switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED: return "certificate expired";
    case X509_V_ERR_CERT_NOT_YET_VALID: return "certificate not yet valid";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: return "self-signed certificate";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: return "certificate name does not match the host";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: return "certificate issued by an unknown authority";
    case X509_V_ERR_CERT_REVOKED: return "certificate revoked";
    default: return X509_verify_cert_error_string(error);
    }
}

std::string name_text(X509_NAME* name) {
    if (!name) return {};
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

certificate_info describe_certificate(X509* cert) {
    certificate_info info;
    info.subject = name_text(X509_get_subject_name(cert));
    info.issuer = name_text(X509_get_issuer_name(cert));
    if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names) && info.subject_alt_names.size() < 20; ++i) {
            const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
            if (gn->type == GEN_DNS) {
                const unsigned char* s = ASN1_STRING_get0_data(gn->d.dNSName);
                info.subject_alt_names.push_back(core::printable_text(std::string_view(
                    reinterpret_cast<const char*>(s), static_cast<std::size_t>(ASN1_STRING_length(gn->d.dNSName)))));
            } else if (gn->type == GEN_IPADD) {
                const unsigned char* s = ASN1_STRING_get0_data(gn->d.iPAddress);
                int len = ASN1_STRING_length(gn->d.iPAddress);
                if (len == 4)
                    info.subject_alt_names.push_back(asio::ip::address_v4({s[0], s[1], s[2], s[3]}).to_string());
                else if (len == 16) {
                    asio::ip::address_v6::bytes_type b;
                    std::copy(s, s + 16, b.begin());
                    info.subject_alt_names.push_back(asio::ip::address_v6(b).to_string());
                }
            }
        }
        GENERAL_NAMES_free(names);
    }
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
        char buf[32];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        info.not_after = buf;
    }
    int days = 0, seconds = 0;
    if (ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert)) == 1) info.days_left = days;
    return info;
}

// Plain TCP that can become TLS (STARTTLS or implicit), over the test's socket.
class tcp_transport {
public:
    tcp_transport(connection_state& conn, ssl::context& ctx, const smtp_uri& uri, bool verify_required)
        : conn_(conn), ctx_(ctx), uri_(uri), verify_required_(verify_required) {}

    awaitable<std::pair<error_code, std::size_t>> read_some(asio::mutable_buffer b) {
        if (tls_) {
            auto [ec, n] = co_await tls_->async_read_some(b, use_tuple);
            co_return std::pair{ec, n};
        }
        auto [ec, n] = co_await conn_.socket.async_read_some(b, use_tuple);
        co_return std::pair{ec, n};
    }

    awaitable<error_code> write(std::string_view bytes) {
        if (tls_) {
            auto [ec, n] = co_await asio::async_write(*tls_, asio::buffer(bytes), use_tuple);
            co_return ec;
        }
        auto [ec, n] = co_await asio::async_write(conn_.socket, asio::buffer(bytes), use_tuple);
        co_return ec;
    }

    awaitable<error_code> start_tls() {
        tls_.emplace(conn_.socket, ctx_);
        SSL* ssl_handle = tls_->native_handle();
        if (!uri_.host_is_address) SSL_set_tlsext_host_name(ssl_handle, uri_.host.c_str());
        // OpenSSL checks the name (or address) as part of verification.
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
        if (uri_.host_is_address)
            X509_VERIFY_PARAM_set1_ip_asc(param, uri_.host.c_str());
        else
            X509_VERIFY_PARAM_set1_host(param, uri_.host.c_str(), 0);
        tls_->set_verify_mode(ssl::verify_peer);
        tls_->set_verify_callback([this](bool preverified, ssl::verify_context& vc) {
            if (!preverified && conn_.verify_error == X509_V_OK)
                conn_.verify_error = X509_STORE_CTX_get_error(vc.native_handle());
            return preverified || !verify_required_;
        });
        auto [ec] = co_await tls_->async_handshake(ssl::stream_base::client, use_tuple);
        handshake_error_ = ec;
        co_return ec;
    }

    bool tls_active() const { return tls_.has_value() && !handshake_error_; }
    const error_code& handshake_error() const { return handshake_error_; }

    tls_info describe(std::string mode) const {
        tls_info info;
        info.mode = std::move(mode);
        SSL* s = const_cast<tcp_transport*>(this)->tls_->native_handle();
        // Only what is known: a handshake that failed agreed on no version or cipher and
        // verified nothing (the certificate, when the server sent one, is still described).
        const bool established = !handshake_error_;
        if (established) {
            info.version = SSL_get_version(s);
            if (const SSL_CIPHER* c = SSL_get_current_cipher(s)) {
                info.cipher = SSL_CIPHER_get_name(c);
                // TLS 1.3 has only forward-secret AEAD suites; 1.2 (the context's minimum) may not.
                if (SSL_version(s) <= TLS1_2_VERSION) {
                    if (SSL_CIPHER_get_kx_nid(c) == NID_kx_rsa) info.weakness = "no forward secrecy";
                    else if (!SSL_CIPHER_is_aead(c)) info.weakness = "no AEAD cipher";
                    else if (SSL_CIPHER_get_bits(c, nullptr) < 128) info.weakness = "a key under 128 bits";
                }
            }
        }
        if (X509* cert = SSL_get1_peer_certificate(s)) {
            info.certificate = describe_certificate(cert);
            X509_free(cert);
        }
        info.verified = established && conn_.verify_error == X509_V_OK && SSL_get_verify_result(s) == X509_V_OK;
        if (conn_.verify_error != X509_V_OK) info.verify_error = verify_error_text(conn_.verify_error);
        return info;
    }

private:
    connection_state& conn_;
    ssl::context& ctx_;
    const smtp_uri& uri_;
    bool verify_required_;
    std::optional<ssl::stream<tcp::socket&>> tls_;
    error_code handshake_error_;
};

std::string fill(std::string text, std::string_view key, std::string_view value) {
    for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + value.size()))
        text.replace(pos, key.size(), value);
    return text;
}

std::string literal_of(const asio::ip::address& a) {
    return a.is_v4() ? "[" + a.to_string() + "]" : "[IPv6:" + a.to_string() + "]";
}

bool wrong_tls_version(const error_code& ec) {
    if (ec.category() != asio::error::get_ssl_category()) return false;
    auto reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    return reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
           reason == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

}  // namespace

std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    // The system store, as set_default_verify_paths() names it (SSL_CERT_FILE and SSL_CERT_DIR
    // honoured), but without its third source: OpenSSL 3.0 also adds the directory as an
    // OSSL_STORE lookup, which reads the whole directory on every verification that looks
    // for an issuer (openssl/openssl#21067, fixed in 3.4 by #24140). The file is loaded into
    // memory once; the directory stays a hashed-name lookup.
    auto from_env = [](const char* name, const char* fallback) {
        const char* v = std::getenv(name);
        return std::string(v && *v ? v : fallback);
    };
    const std::string file = from_env(X509_get_default_cert_file_env(), X509_get_default_cert_file());
    const std::string dir = from_env(X509_get_default_cert_dir_env(), X509_get_default_cert_dir());
    std::error_code fs_error;
    const bool have_file = std::filesystem::is_regular_file(file, fs_error);
    const bool have_dir = std::filesystem::is_directory(dir, fs_error);
    if ((!have_file && !have_dir) ||
        SSL_CTX_load_verify_locations(ctx->native_handle(), have_file ? file.c_str() : nullptr,
                                      have_dir ? dir.c_str() : nullptr) != 1) {
        ERR_clear_error();
        ctx->set_default_verify_paths();
    }
    if (!ca_file.empty()) {
        error_code ec;
        ctx->load_verify_file(ca_file, ec);
        if (ec) throw std::runtime_error("smtp.ca_file " + ca_file + ": " + ec.message());
    }
    return ctx;
}

awaitable<test_report> run_test(asio::any_io_executor executor, test_request request, test_settings settings) {
    co_return co_await run_test(std::move(executor), std::move(request),
                                std::make_shared<const test_settings>(std::move(settings)));
}

awaitable<test_report> run_test(asio::any_io_executor executor, test_request request,
                                std::shared_ptr<const test_settings> settings) {
    auto prepared = prepare_test(request, *settings);
    if (auto* refused = std::get_if<test_report>(&prepared)) co_return std::move(*refused);
    co_return co_await run_test(std::move(executor), std::get<prepared_test>(std::move(prepared)), std::move(settings));
}

namespace {

// The coroutine below is split so that its frame holds only what lives across the dialog:
// GCC 12 gives every local and temporary of a coroutine its own slot in the frame, so the
// validation, connection and report-filling steps are functions (or a shorter coroutine) of
// their own. The frame was 7.4 KiB per test in flight (P3).

// validate: the URI, From and a stored password into `v`; false after fail() said why not.
template <class Fail>
bool validate(const test_request& request, const test_settings& settings, prepared_test& v, Fail&& fail) {
    auto parsed = parse_smtp_uri(request.smtp_uri);
    if (auto* bad = std::get_if<invalid_input>(&parsed)) {
        fail(outcome_code::uri_invalid, bad->reason);
        return false;
    }
    v.uri = std::get<smtp_uri>(std::move(parsed));
    v.report.host = v.uri.host;
    v.report.port = v.uri.port;
    auto from = parse_mailbox(request.from);
    if (auto* bad = std::get_if<invalid_input>(&from)) {
        fail(outcome_code::from_invalid, bad->reason);
        return false;
    }
    v.from = std::get<std::string>(std::move(from));
    if (request.use_stored_password) {
        if (!v.uri.user) {
            fail(outcome_code::no_stored_password, "the SMTP URI names no user");
            return false;
        }
        if (settings.shared_credentials) {  // fetched by run_test, which may wait for it
            v.stored_password = credential_key{*v.uri.user, v.uri.host, v.uri.port};
            return true;
        }
        std::optional<std::string> stored;
        try {
            if (settings.credentials) stored = settings.credentials->password_for({*v.uri.user, v.uri.host, v.uri.port});
        } catch (const std::exception& e) {
            fail(outcome_code::no_stored_password, e.what());
            return false;
        }
        if (!stored) {
            fail(outcome_code::no_stored_password, "nothing is stored for this user, host and port");
            return false;
        }
        v.uri.password = std::move(stored);
    }
    return true;
}

// resolve, destination policy, connect (Happy Eyeballs): true when connected; otherwise the
// report says why (finish() or stop_early() ran).
constexpr std::size_t max_addresses_used = 16;
// RFC 8305's recommended Connection Attempt Delay.
constexpr std::chrono::milliseconds attempt_delay{250};

std::string attempt_outcome(const error_code& ec) {
    return ec == asio::error::connection_refused ? "connect refused" : ec.message();
}

// Addresses interleaved by family, the family of the resolver's first choice first (RFC 8305
// section 4), keeping the resolver's order within each family.
std::vector<tcp::endpoint> interleave(const std::vector<tcp::endpoint>& allowed) {
    std::vector<tcp::endpoint> first, second, out;
    const bool v6_first = allowed.front().address().is_v6();
    for (const auto& ep : allowed) (ep.address().is_v6() == v6_first ? first : second).push_back(ep);
    for (std::size_t i = 0; i < std::max(first.size(), second.size()); ++i) {
        if (i < first.size()) out.push_back(first[i]);
        if (i < second.size()) out.push_back(second[i]);
    }
    return out;
}

template <class Finish, class StopEarly, class Cancelled>
awaitable<bool> connect_phase(const std::shared_ptr<connection_state>& conn, const smtp_uri& uri,
                              const test_settings& settings, test_report& report, detail::driver_context& ctx,
                              Finish& finish, StopEarly& stop_early, Cancelled& cancelled) {
    // resolve: every A and AAAA record
    ctx.enter(phase::resolve);
    // Listed after the addresses that were tried, however this phase ends.
    struct listed_last {
        test_report& report;
        std::vector<tried_address> entries;
        ~listed_last() {
            for (auto& e : entries) report.tried.push_back(std::move(e));
        }
    } not_tried{report, {}};
    std::vector<tcp::endpoint> endpoints;
    if (uri.host_is_address) {
        endpoints.emplace_back(asio::ip::make_address(uri.host), uri.port);
    } else {
        auto& resolver =
            settings.resolver ? *settings.resolver : dns_resolver::of(conn->socket.get_executor(), settings.dns);
        dns_answer answer = co_await resolver.async_resolve(uri.host, asio::use_awaitable, &conn->lookup);
        if (stop_early(phase::resolve)) co_return false;
        if (cancelled()) {
            finish(outcome_code::timeout, phase::resolve, "cancelled by the caller");
            co_return false;
        }
        if (answer.status != dns_status::ok) {
            finish(outcome_code::dns_failed, phase::resolve, answer.detail);
            co_return false;
        }
        report.dns_cached = answer.cached;
        // At most 16 addresses are used (SPEC 3.2): a name may answer with hundreds, and each
        // would cost a check, an entry in the report and perhaps a connect. The next 16 are
        // listed as not tried, and then only how many more there were.
        std::size_t skipped = 0;
        for (const auto& address : answer.addresses) {
            if (endpoints.size() < max_addresses_used)
                endpoints.emplace_back(address, uri.port);
            else if (++skipped <= max_addresses_used)
                not_tried.entries.push_back({address.to_string(), "not tried: more than 16 addresses"});
        }
        if (skipped > max_addresses_used)
            not_tried.entries.push_back(
                {"", "not tried: " + std::to_string(skipped - max_addresses_used) + " more addresses"});
    }

    // destination policy: only checked addresses are used
    std::optional<destination_policy> own_policy;
    const destination_policy& policy =
        settings.policy ? *settings.policy : own_policy.emplace(settings.destinations);
    std::vector<tcp::endpoint> allowed;
    for (const auto& ep : endpoints) {
        auto verdict = policy.check(ep.address(), ep.port());
        if (verdict == destination_policy::verdict::allowed)
            allowed.push_back(ep);
        else
            report.tried.push_back({ep.address().to_string(), "blocked: " + std::string(destination_policy::describe(verdict))});
    }
    if (allowed.empty()) {
        finish(outcome_code::destination_blocked, phase::resolve, "the destination is not allowed by policy");
        co_return false;
    }

    // connect, as Happy Eyeballs v2 does (RFC 8305 section 5): the next address 250 ms after
    // the previous attempt started if that one has not answered, or at once when it failed;
    // the first to connect wins and the others are closed.
    ctx.enter(phase::connect);
    const auto order = interleave(allowed);
    const auto executor = conn->socket.get_executor();
    conn->attempts.reserve(order.size());
    auto last_start = std::chrono::steady_clock::now();
    auto launch = [&] {
        const std::size_t i = conn->attempts.size();
        conn->attempts.emplace_back(executor, order[i]);
        conn->attempts[i].socket.async_connect(order[i], [conn, i](error_code ec) {
            auto& a = conn->attempts[i];
            a.finished = true;
            a.result = ec;
            conn->wake.cancel();
        });
        last_start = std::chrono::steady_clock::now();
    };
    // Every attempt's outcome into Tried, in the order they started.
    auto list_attempts = [&](std::optional<std::size_t> winner, const char* unfinished) {
        for (std::size_t i = 0; i < conn->attempts.size(); ++i) {
            const auto& a = conn->attempts[i];
            report.tried.push_back({a.endpoint.address().to_string(),
                                    winner == i                                                  ? "connected"
                                    : a.finished && a.result != asio::error::operation_aborted ? attempt_outcome(a.result)
                                                                                               : unfinished});
        }
    };

    // How the phase ends.
    auto won = [&](std::size_t i) {
        auto& a = conn->attempts[i];
        conn->socket = std::move(a.socket);
        error_code ignored;
        for (auto& other : conn->attempts) other.socket.close(ignored);  // the others: abandoned
        list_attempts(i, "abandoned: another address connected first");
        report.address = a.endpoint.address().to_string();
        conn->socket.set_option(tcp::no_delay(true), ignored);
    };
    auto timed_out = [&] {
        list_attempts(std::nullopt, "no answer before the deadline");
        stop_early(phase::connect);
    };
    auto caller_gone = [&] {
        list_attempts(std::nullopt, "cancelled by the caller");
        finish(outcome_code::timeout, phase::connect, "cancelled by the caller");
    };
    auto all_failed = [&] {
        list_attempts(std::nullopt, "");
        finish(outcome_code::connect_failed, phase::connect, "no address accepted the connection");
    };

    if (order.size() == 1) {  // one address (every literal): a plain connect, nothing to race
        conn->attempts.emplace_back(executor, order[0]);
        auto& a = conn->attempts[0];
        auto [ec] = co_await a.socket.async_connect(a.endpoint, use_tuple);
        a.finished = true;
        a.result = ec;
        if (conn->timed_out) timed_out();
        else if (!ec) won(0);
        else if (cancelled()) caller_gone();
        else all_failed();
        co_return !ec && !conn->timed_out;
    }

    launch();
    for (;;) {
        std::optional<std::size_t> winner;
        std::size_t running = 0;
        for (std::size_t i = 0; i < conn->attempts.size(); ++i) {
            const auto& a = conn->attempts[i];
            if (!a.finished) ++running;
            else if (!a.result && !winner) winner = i;
        }
        if (conn->timed_out) {
            timed_out();
            co_return false;
        }
        if (winner) {
            won(*winner);
            co_return true;
        }
        if (cancelled()) {
            caller_gone();
            co_return false;
        }
        const bool more = conn->attempts.size() < order.size();
        if (more && (conn->attempts.back().finished ||
                     std::chrono::steady_clock::now() >= last_start + attempt_delay)) {
            launch();
            continue;
        }
        if (!more && running == 0) break;
        conn->wake.expires_at(more ? last_start + attempt_delay : std::chrono::steady_clock::time_point::max());
        co_await conn->wake.async_wait(use_tuple);
    }
    all_failed();
    co_return false;
}

// The dialog's settings and the composed test message.
dialog make_dialog(const prepared_test& v, const test_settings& settings, connection_state& conn, const std::string& test_id) {
    std::string ehlo = !v.uri.ehlo_domain.empty() ? v.uri.ehlo_domain : settings.ehlo_domain;
    if (ehlo.empty()) {
        error_code ec;
        auto local = conn.socket.local_endpoint(ec);
        ehlo = ec ? "[127.0.0.1]" : literal_of(local.address());
    }
    dialog_settings ds;
    {  // the parts live only until the message is composed
        message_fields message;
        message.from = v.from;
        message.to = settings.test_recipient;
        message.subject = settings.subject;
        message.body = fill(fill(settings.body, "{from}", v.from), "{test_id}", test_id);
        message.message_id = random_message_id();
        message.date = std::chrono::system_clock::now();
        ds.message = compose_message(message);
    }
    ds.mode = v.uri.mode;
    ds.ehlo_domain = std::move(ehlo);
    ds.from = v.from;
    ds.recipient = settings.test_recipient;
    ds.user = v.uri.user;
    ds.password = v.uri.password;
    ds.mechanism = v.uri.mechanism;
    ds.allow_plaintext_auth = settings.allow_plaintext_auth;
    ds.send_message = settings.send_message;
    return dialog(std::move(ds));
}

// An implicit-TLS handshake that failed, into the report.
template <class Finish>
void implicit_tls_failed(test_report& report, const tcp_transport& transport, const connection_state& conn,
                         const smtp_uri& uri, const error_code& ec, Finish& finish) {
    report.tls = std::make_shared<const tls_info>(transport.describe("implicit"));
    if (conn.verify_error != X509_V_OK) {
        finish(outcome_code::tls_cert_invalid, phase::starttls, verify_error_text(conn.verify_error));
        return;
    }
    if (wrong_tls_version(ec)) {
        report.hint = "HINT_TRY_STARTTLS";
        report.hint_uri = endpoint_uri(tls_mode::starttls, uri.host, uri.port);
    }
    finish(outcome_code::tls_failed, phase::starttls, ec.message());
}

// What the dialog ended with, into the report.
// The registrable domain of a host name (the Public Suffix List, libpsl), lower-case; the
// name itself when it has none (localhost, a bare word); empty for an address literal.
// Findings that do not fail the test (issue 15): they go into the report whatever its outcome.
void add_warnings(test_report& report, const dialog& d, const smtp_uri& uri, std::string_view from,
                  std::string_view recipient) {
    if (report.tls && report.tls->certificate && report.tls->certificate->days_left) {
        const int days = *report.tls->certificate->days_left;
        if (days >= 0 && days < 30) report.warnings.push_back({warning_code::cert_expires_soon, std::to_string(days)});
    }
    if (report.tls && !report.tls->weakness.empty())
        report.warnings.push_back({report.tls->weakness == "no forward secrecy" ? warning_code::tls_no_forward_secrecy
                                                                                : warning_code::tls_weak_cipher,
                                   report.tls->cipher});
    if (uri.mode == tls_mode::opportunistic && d.tls_active() && !d.auth_offered_before_tls() &&
        !d.server_capabilities().auth.empty())
        report.warnings.push_back(
            {warning_code::starttls_not_required, endpoint_uri(tls_mode::starttls, uri.host, uri.port)});
    const std::string greeting = report.greeting ? smtp::greeting_name(*report.greeting) : std::string();
    const std::string host_domain = uri.host_is_address ? std::string() : registrable_domain(uri.host);
    const std::string greeting_domain = registrable_domain(greeting);
    // A greeting word that is no host name ("220 SG ESMTP") says nothing either way.
    if (!host_domain.empty() && !greeting_domain.empty() && greeting_domain != host_domain)
        report.warnings.push_back({warning_code::greeting_name_mismatch, greeting});
    // Relaying is about the recipient: the server took, without AUTH, a message from a domain
    // that is not its own to a recipient that is not its own either.
    if (report.success && !d.auth_attempted()) {
        auto domain_of = [](std::string_view address) {
            const auto at = address.rfind('@');
            return at == std::string_view::npos ? std::string() : registrable_domain(address.substr(at + 1));
        };
        const std::string from_domain = domain_of(from), recipient_domain = domain_of(recipient);
        const std::string& server_domain = host_domain.empty() ? greeting_domain : host_domain;
        auto foreign = [&](const std::string& domain) {
            return !domain.empty() && domain != server_domain && domain != greeting_domain;
        };
        if (!server_domain.empty() && foreign(from_domain) && foreign(recipient_domain))
            report.warnings.push_back({warning_code::possible_open_relay, from_domain});
    }
}

void conclude(test_report& report, const dialog& d, const tcp_transport& transport, const connection_state& conn,
              const smtp_uri& uri, std::string_view from, std::string_view recipient, const detail::driver_context& ctx,
              bool cancelled) {
    if (d.greeting()) report.greeting = d.greeting()->first_line();
    report.extensions = d.server_capabilities().extensions;
    report.server_name = d.server_capabilities().name;
    if (transport.tls_active() || transport.handshake_error())
        report.tls = std::make_shared<const tls_info>(transport.describe(uri.mode == tls_mode::implicit ? "implicit" : "starttls"));
    if (d.auth_attempted()) {
        report.auth_mechanism = d.auth_mechanism();
        report.auth_succeeded = d.auth_succeeded();
    }
    report.last_reply = d.last_reply();

    if (conn.timed_out && !d.succeeded()) {
        if (d.current_phase() == phase::greeting && uri.mode != tls_mode::implicit && !d.greeting()) {
            report.hint = "HINT_TRY_SMTPS";
            report.hint_uri = endpoint_uri(tls_mode::implicit, uri.host, uri.port);
        }
        report.code = outcome_code::timeout;
        report.failed_phase = d.current_phase();
        report.detail = "the test did not finish within the deadline";
    } else if (cancelled && !d.succeeded()) {
        report.code = outcome_code::timeout;
        report.failed_phase = d.current_phase();
        report.detail = "cancelled by the caller";
    } else if (!d.succeeded()) {
        report.code = d.outcome();
        report.failed_phase = d.current_phase();
        switch (d.outcome()) {
        case outcome_code::tls_failed:
            if (conn.verify_error != X509_V_OK) {
                report.code = outcome_code::tls_cert_invalid;
                report.detail = verify_error_text(conn.verify_error);
            } else {
                report.detail = transport.handshake_error().message();
            }
            break;
        case outcome_code::protocol_error: report.detail = ctx.protocol_error; break;
        case outcome_code::connection_lost:
            report.detail = "the server closed the connection";
            if (d.current_phase() == phase::greeting && !d.greeting() && uri.mode != tls_mode::implicit) {
                report.hint = "HINT_TRY_SMTPS";
                report.hint_uri = endpoint_uri(tls_mode::implicit, uri.host, uri.port);
            }
            break;
        case outcome_code::tls_unavailable: report.detail = "the server does not offer STARTTLS"; break;
        case outcome_code::auth_insecure:
            report.detail = "credentials would be sent without TLS (smtp.allow_plaintext_auth is off)";
            break;
        case outcome_code::auth_unavailable: report.detail = "no usable AUTH mechanism is offered"; break;
        case outcome_code::auth_failed:
            break;
        default: break;
        }
    } else {
        report.success = true;
    }
    remedies::builtin().apply(report, uri.user.value_or(std::string()));
    add_warnings(report, d, uri, from, recipient);
}

}  // namespace

namespace {
// A test refused by validation: its report says why, with the time validation took.
void refuse(prepared_test& p, outcome_code code, std::string detail) {
    auto& report = p.report;
    report.code = code;
    report.failed_phase = phase::validate;
    report.detail = std::move(detail);
    report.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - p.started).count();
    report.timings.push_back({phase::validate, report.total_ms});
}

// The stored password from settings.shared_credentials, opened with the instance's key;
// false after refuse() said why not (nothing stored, or the store did not answer).
awaitable<bool> fetch_stored_password(prepared_test& p, const test_settings& settings) {
    const credential_key key = std::move(*p.stored_password);
    p.stored_password.reset();
    std::string failure = "nothing is stored for this user, host and port";
    p.uri.password.reset();  // the stored one or none, never one the URI carried
    try {
        p.uri.password = co_await settings.shared_credentials->password_for(key);
    } catch (const std::exception& e) {
        failure = e.what();
        p.report.hint = "HINT_STORE_UNAVAILABLE";  // the store's fault, not the caller's: say so
    }
    if (!p.uri.password) refuse(p, outcome_code::no_stored_password, std::move(failure));
    co_return p.uri.password.has_value();
}
}  // namespace

std::variant<prepared_test, test_report> prepare_test(const test_request& request, const test_settings& settings) {
    // Filled in place: a report moved between temporaries costs more than the checks.
    std::variant<prepared_test, test_report> out(std::in_place_type<prepared_test>);
    auto& p = std::get<prepared_test>(out);
    p.started = std::chrono::steady_clock::now();
    const bool valid =
        validate(request, settings, p, [&](outcome_code code, std::string detail) { refuse(p, code, std::move(detail)); });
    if (!valid) out = test_report(std::move(p.report));
    return out;
}

namespace {

// After a failure that other settings may fix: the From domain's SRV records (RFC 8314,
// RFC 6186) and MX, asked at once on the test's executor and abandoned when what is left of
// the deadline has passed, give report.suggestions (issue 15).
awaitable<void> add_suggestions(asio::any_io_executor executor, test_report& report, std::string tested,
                                std::string domain, std::chrono::steady_clock::time_point started,
                                const test_settings& settings) {
    struct gather {
        explicit gather(const asio::any_io_executor& ex) : done(ex) {}
        asio::steady_timer done;
        int pending = 3;
        dns_answer answers[3];
        std::weak_ptr<detail::dns_wait> waits[3];
    };
    auto g = std::make_shared<gather>(executor);
    const auto left = settings.deadline - std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now() - started);
    const bool askable = !domain.empty() && domain.front() != '[' &&
                         std::all_of(domain.begin(), domain.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (askable && left > std::chrono::milliseconds(0)) {
        auto& resolver = settings.resolver ? *settings.resolver : dns_resolver::of(executor, settings.dns);
        const std::pair<std::string, dns_query> asks[3] = {{"_submissions._tcp." + domain, dns_query::srv},
                                                           {"_submission._tcp." + domain, dns_query::srv},
                                                           {domain, dns_query::mx}};
        for (int i = 0; i < 3; ++i)
            resolver.async_lookup(asks[i].first, asks[i].second,
                                  asio::bind_executor(executor,
                                                      [g, i](dns_answer a) {
                                                          g->answers[i] = std::move(a);
                                                          if (--g->pending == 0) g->done.cancel();
                                                      }),
                                  &g->waits[i]);
        g->done.expires_after(left);
        if (g->pending > 0) co_await g->done.async_wait(use_tuple);
        for (auto& w : g->waits)
            if (auto p = w.lock()) p->abandon();  // late answers land in `g`, read by nobody
    }
    report.suggestions = remedies::builtin().suggest(report, tested, domain, g->answers[0], g->answers[1], g->answers[2]);
}


// The test itself, filling test.report in place (the caller keeps `test` alive).
awaitable<void> run_prepared_test(asio::any_io_executor executor, prepared_test& test,
                                  const std::shared_ptr<const test_settings>& shared);

}  // namespace

awaitable<test_report> run_test(asio::any_io_executor executor, prepared_test test,
                                std::shared_ptr<const test_settings> shared) {
    co_await asio::this_coro::throw_if_cancelled(false);
    if (test.stored_password && !co_await fetch_stored_password(test, *shared)) co_return std::move(test.report);
    std::string tested = endpoint_uri(test.uri.mode, test.uri.host, test.uri.port);
    const auto at = test.from.rfind('@');
    std::string domain = core::lower_ascii(at == std::string::npos ? std::string_view() : std::string_view(test.from).substr(at + 1));
    co_await run_prepared_test(executor, test, shared);
    auto cancellation = co_await asio::this_coro::cancellation_state;
    if (shared->suggest && suggestion_wanted(test.report) && cancellation.cancelled() == asio::cancellation_type::none)
        co_await add_suggestions(executor, test.report, std::move(tested), std::move(domain), test.started, *shared);
    co_return std::move(test.report);
}

namespace {

awaitable<void> run_prepared_test(asio::any_io_executor executor, prepared_test& test,
                                  const std::shared_ptr<const test_settings>& shared) {
    co_await asio::this_coro::throw_if_cancelled(false);
    const test_settings& settings = *shared;
    test_report& report = test.report;
    detail::driver_context ctx(settings, report, test.started);
    // Returns the report itself, not a copy: a test_report temporary per `co_return` would
    // each take a slot in the frame.
    auto finish = [&](outcome_code code, phase where, std::string detail) -> test_report&& {
        report.code = code;
        report.failed_phase = where;
        report.detail = std::move(detail);
        ctx.close_phase();
        report.total_ms = ctx.elapsed_ms();
        return std::move(report);
    };

    ctx.resume(phase::validate);  // its time counts from test.started: validation is in it
    const smtp_uri& uri = test.uri;
    const auto tls = settings.tls ? settings.tls : make_client_tls_context({});

    report.test_id = random_message_id().substr(0, 16);  // only for tests that go on the wire
    auto conn = std::make_shared<connection_state>(executor);
    conn->timer.expires_after(settings.deadline);
    conn->timer.async_wait([conn](error_code ec) {
        if (ec) return;
        conn->timed_out = true;
        conn->close();
    });
    // The timer's handler and any pending connection attempt hold `conn`: all are released the
    // moment the test ends, on every path, not when the deadline would have passed.
    struct release_on_exit {
        std::shared_ptr<connection_state> conn;
        ~release_on_exit() {
            conn->timer.cancel();
            conn->close();
        }
    } release{conn};
    auto cancellation = co_await asio::this_coro::cancellation_state;
    auto cancelled = [&cancellation] { return cancellation.cancelled() != asio::cancellation_type::none; };
    auto stop_early = [&](phase where) {  // true: the report says timeout
        if (!conn->timed_out) return false;
        finish(outcome_code::timeout, where, "the test did not finish within the deadline");
        return true;
    };

    if (!co_await connect_phase(conn, uri, settings, report, ctx, finish, stop_early, cancelled))
        co_return;

    tcp_transport transport(*conn, *tls, uri, settings.tls_verify);
    if (uri.mode == tls_mode::implicit) {
        ctx.enter(phase::starttls);
        auto ec = co_await transport.start_tls();
        if (stop_early(phase::starttls)) co_return;
        if (ec) {
            implicit_tls_failed(report, transport, *conn, uri, ec, finish);
            co_return;
        }
    }

    // the dialog
    dialog d = make_dialog(test, settings, *conn, report.test_id);
    co_await detail::drive_dialog(transport, d, ctx);
    conclude(report, d, transport, *conn, uri, test.from, settings.test_recipient, ctx, cancelled());
    report.total_ms = ctx.elapsed_ms();
    co_return;  // `release` closes: after QUIT, close()'s FIN is all the server needs
}

}  // namespace

}  // namespace smtpcheck::smtp
