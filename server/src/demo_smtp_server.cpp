#include "smtpcheck/server/demo_smtp_server.hpp"

#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/core/base64.hpp"

#include "smtpcheck/auth/crypto.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <optional>

namespace smtpcheck::server {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_line = 4096;
constexpr std::size_t max_message = 1 << 20;

// A P-256 key and a self-signed certificate for localhost and 127.0.0.1, valid for a year: a
// shorter life would make every demo test warn that the certificate expires soon.
void make_certificate(ssl::context& ctx, const std::string& cert_file) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), static_cast<long>(std::time(nullptr)));
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
    if (X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1")) {
        X509_add_ext(cert, san, -1);
        X509_EXTENSION_free(san);
    }
    X509_sign(cert, key, EVP_sha256());
    SSL_CTX_use_certificate(ctx.native_handle(), cert);
    SSL_CTX_use_PrivateKey(ctx.native_handle(), key);

    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::ofstream(cert_file, std::ios::binary).write(data, n);
    BIO_free(bio);
    X509_free(cert);
    EVP_PKEY_free(key);
}


}  // namespace

struct demo_smtp_server::impl {
    impl(asio::any_io_executor ex, const std::string& address, unsigned short port, std::string u, std::string p,
         std::chrono::milliseconds limit)
        : executor(ex), acceptor(ex, {asio::ip::make_address(address), port}), user(std::move(u)),
          password(std::move(p)), tls(ssl::context::tls_server), client_limit(limit) {}
    asio::any_io_executor executor;
    tcp::acceptor acceptor;
    std::string user, password;
    ssl::context tls;
    std::chrono::milliseconds client_limit;  // a bound on every client's whole dialog
};

namespace {

// One client: a line-at-a-time SMTP server, plaintext until STARTTLS.
struct demo_connection {
    demo_smtp_server::impl& server;
    tcp::socket socket;
    std::optional<ssl::stream<tcp::socket&>> tls;
    std::string buffer;
    bool authenticated = false;

    asio::awaitable<bool> say(std::string_view text) {
        error_code ec;
        if (tls)
            std::tie(ec, std::ignore) = co_await asio::async_write(*tls, asio::buffer(text), use_tuple);
        else
            std::tie(ec, std::ignore) = co_await asio::async_write(socket, asio::buffer(text), use_tuple);
        co_return !ec;
    }

    asio::awaitable<std::optional<std::string>> line() {
        auto dyn = asio::dynamic_buffer(buffer, max_line);
        error_code ec;
        std::size_t n = 0;
        if (tls)
            std::tie(ec, n) = co_await asio::async_read_until(*tls, dyn, "\r\n", use_tuple);
        else
            std::tie(ec, n) = co_await asio::async_read_until(socket, dyn, "\r\n", use_tuple);
        if (ec) co_return std::nullopt;
        std::string l = buffer.substr(0, n - 2);
        buffer.erase(0, n);
        co_return l;
    }

    bool check_plain(std::string_view b64) const {
        auto decoded = core::base64_decode(b64);
        if (!decoded) return false;
        auto first = decoded->find('\0');
        auto second = first == std::string::npos ? first : decoded->find('\0', first + 1);
        if (second == std::string::npos) return false;
        return auth::constant_time_equal(decoded->substr(first + 1, second - first - 1), server.user) &&
               auth::constant_time_equal(decoded->substr(second + 1), server.password);
    }
};

asio::awaitable<void> serve_demo_client(std::shared_ptr<demo_smtp_server::impl> server, tcp::socket socket) {
    // Shared with the timer below, which may fire as the dialog ends.
    auto conn = std::make_shared<demo_connection>(demo_connection{*server, std::move(socket), std::nullopt, {}, false});
    demo_connection& c = *conn;
    asio::steady_timer limit(c.socket.get_executor(), server->client_limit);
    limit.async_wait([conn](error_code ec) {
        if (!ec) conn->socket.close(ec);
    });
    if (!co_await c.say("220 smtpcheck-demo ESMTP ready\r\n")) co_return;
    for (;;) {
        auto l = co_await c.line();
        if (!l) break;
        std::string verb = core::upper_ascii(l->substr(0, l->find(' ')));
        std::string arg = l->find(' ') == std::string::npos ? "" : l->substr(l->find(' ') + 1);
        if (verb == "EHLO") {
            std::string caps = "250-smtpcheck-demo\r\n250-SIZE 1048576\r\n250-8BITMIME\r\n";
            caps += c.tls ? "250 AUTH PLAIN LOGIN\r\n" : "250 STARTTLS\r\n";
            if (!co_await c.say(caps)) break;
        } else if (verb == "HELO") {
            if (!co_await c.say("250 smtpcheck-demo\r\n")) break;
        } else if (verb == "STARTTLS" && !c.tls) {
            if (!co_await c.say("220 2.0.0 Ready to start TLS\r\n")) break;
            c.buffer.clear();
            c.tls.emplace(c.socket, server->tls);
            auto [ec] = co_await c.tls->async_handshake(ssl::stream_base::server, use_tuple);
            if (ec) break;
        } else if (verb == "AUTH" && c.tls) {
            std::string mech = core::upper_ascii(arg.substr(0, arg.find(' ')));
            std::string initial = arg.find(' ') == std::string::npos ? "" : arg.substr(arg.find(' ') + 1);
            bool ok = false;
            if (mech == "PLAIN") {
                if (initial.empty()) {
                    if (!co_await c.say("334 \r\n")) break;
                    auto resp = co_await c.line();
                    if (!resp) break;
                    initial = *resp;
                }
                ok = c.check_plain(initial);
            } else if (mech == "LOGIN") {
                if (!co_await c.say("334 VXNlcm5hbWU6\r\n")) break;
                auto u = co_await c.line();
                if (!u || !co_await c.say("334 UGFzc3dvcmQ6\r\n")) break;
                auto p = co_await c.line();
                if (!p) break;
                auto du = core::base64_decode(*u), dp = core::base64_decode(*p);
                ok = du && dp && auth::constant_time_equal(*du, server->user) &&
                     auth::constant_time_equal(*dp, server->password);
            }
            c.authenticated = ok;
            if (!co_await c.say(ok ? "235 2.7.0 Authentication successful\r\n"
                                   : "535 5.7.8 Authentication credentials invalid\r\n"))
                break;
        } else if (verb == "MAIL") {
            if (!co_await c.say(c.authenticated ? "250 2.1.0 Ok\r\n" : "530 5.7.0 Authentication required\r\n")) break;
        } else if (verb == "RCPT") {
            if (!co_await c.say("250 2.1.5 Ok\r\n")) break;
        } else if (verb == "DATA") {
            if (!co_await c.say("354 End data with <CR><LF>.<CR><LF>\r\n")) break;
            std::size_t size = 0;
            bool ended = false;
            while (auto body = co_await c.line()) {
                if (*body == ".") {
                    ended = true;
                    break;
                }
                if ((size += body->size()) > max_message) break;
            }
            if (!ended || !co_await c.say("250 2.0.0 Ok: accepted by the demo server, not delivered\r\n")) break;
        } else if (verb == "RSET" || verb == "NOOP") {
            if (!co_await c.say("250 2.0.0 Ok\r\n")) break;
        } else if (verb == "QUIT") {
            co_await c.say("221 2.0.0 Bye\r\n");
            break;
        } else {
            if (!co_await c.say("502 5.5.2 Command not recognized\r\n")) break;
        }
    }
    limit.cancel();
    error_code ignored;
    c.socket.close(ignored);
}

asio::awaitable<void> accept_demo_clients(std::shared_ptr<demo_smtp_server::impl> server) {
    for (;;) {
        // Each client on a strand of its own: its 60-second limit closes the socket from a
        // timer, which with server.threads > 1 ran beside the dialog's reads (issue 11).
        auto [ec, socket] = co_await server->acceptor.async_accept(asio::make_strand(server->executor), use_tuple);
        if (!server->acceptor.is_open()) break;
        if (ec) continue;
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);  // replies are small: no Nagle delay
        auto client_executor = socket.get_executor();
        asio::co_spawn(client_executor, serve_demo_client(server, std::move(socket)), asio::detached);
    }
}

}  // namespace

demo_smtp_server::demo_smtp_server(asio::any_io_executor executor, const std::string& address, unsigned short port,
                                   std::string user, std::string password, const std::string& cert_file,
                                   std::chrono::milliseconds client_limit)
    : impl_(std::make_shared<impl>(std::move(executor), address, port, std::move(user), std::move(password),
                                   client_limit)) {
    make_certificate(impl_->tls, cert_file);
}

demo_smtp_server::~demo_smtp_server() { stop(); }

void demo_smtp_server::start() { asio::co_spawn(impl_->executor, accept_demo_clients(impl_), asio::detached); }

void demo_smtp_server::stop() {
    error_code ignored;
    impl_->acceptor.close(ignored);
}

unsigned short demo_smtp_server::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace smtpcheck::server
