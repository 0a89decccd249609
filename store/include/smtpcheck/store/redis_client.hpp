// One connection to Redis, shared by every request of an instance (issue 14): commands are
// pipelined on it and answered in order. It runs on the server's own executor (a strand of
// it), connects again with back-off when the connection is lost, and never lets a caller
// wait past command_timeout: a command that gets no reply in time fails with `timeout`, and
// the connection, which can no longer be trusted to answer in order, is closed and made anew.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smtpcheck::store {

struct redis_settings {
    /// redis://[[user]:password@]address[:port][/db] (a numeric address, or localhost),
    /// rediss://... for TLS, or unix:/path/to/redis.sock
    std::string url;
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds command_timeout{250};
    /// A PING when the connection has been quiet this long, so that a server that went away
    /// without closing it is found before a request needs it.
    std::chrono::milliseconds heartbeat{1000};
    /// rediss://: the CA certificates (PEM) that the server's certificate must chain to, besides
    /// the system's. The certificate must also name the URL's address (or localhost).
    std::string tls_ca_file;
};

/// Where and how to connect, from redis_settings::url. Throws std::invalid_argument with
/// the reason (never the password) for a URL that cannot be used.
struct redis_address {
    std::string host;  ///< empty for a unix socket
    std::string port = "6379";
    std::string socket_path;
    std::string user, password;
    unsigned database = 0;
    bool tls = false;       ///< rediss://
    std::string tls_name;   ///< the name or address the server's certificate must carry
    std::string text;  ///< for messages: the URL without its password
};
redis_address parse_redis_url(const std::string& url);

/// A reply, copied out of the parser (RESP2 types).
struct redis_reply {
    enum class kind { nil, status, error, integer, string, array };
    kind type = kind::nil;
    long long integer = 0;
    std::string text;  ///< status, error and string replies
    std::vector<redis_reply> elements;
};

enum class redis_errc {
    unavailable = 1,  ///< not connected: the reason is redis_client::not_ready()
    timeout,          ///< no reply within command_timeout
    connection_lost,  ///< the connection ended with the command sent
    server_error,     ///< an error reply (its text is in the reply)
};
const boost::system::error_category& redis_category();
boost::system::error_code make_error_code(redis_errc e);

class redis_client : public std::enable_shared_from_this<redis_client> {
public:
    /// Throws std::invalid_argument for a URL that cannot be used, or a tls_ca_file that
    /// cannot be loaded.
    static std::shared_ptr<redis_client> create(boost::asio::any_io_executor executor, redis_settings settings);
    ~redis_client();

    /// Starts connecting (and reconnecting, with back-off from 100 ms to 2 s).
    void start();
    /// Closes the connection and stops reconnecting; commands then fail with `unavailable`.
    /// Safe from any thread.
    void stop();

    struct result {
        boost::system::error_code error;
        redis_reply reply;
    };
    /// Sends one command (its arguments binary-safe) and waits for its reply, at most
    /// command_timeout. Fails at once with `unavailable` while not connected, and with
    /// operation_aborted when the caller is cancelled. The caller's executor must be a strand
    /// or run by one thread.
    boost::asio::awaitable<result> command(std::vector<std::string> args);

    /// Empty while connected; else why not ("redis at unix:/run/redis.sock: connection
    /// refused"), for /readyz. Safe from any thread, no I/O.
    std::optional<std::string> not_ready() const;
    const redis_address& address() const;

    struct impl;

private:
    explicit redis_client(std::shared_ptr<impl> p) : impl_(std::move(p)) {}
    std::shared_ptr<impl> impl_;
};

}  // namespace smtpcheck::store

namespace boost::system {
template <>
struct is_error_code_enum<smtpcheck::store::redis_errc> : std::true_type {};
}  // namespace boost::system
