// The SMTP server of `smtpcheck serve --demo`: small, in the same process and executor as
// the API, STARTTLS with a certificate made at start, AUTH PLAIN and LOGIN for one user.
// It accepts every message and keeps none.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace smtpcheck::server {

class demo_smtp_server {
public:
    /// Binds `address:port` (throws std::system_error) and makes a self-signed certificate
    /// for 127.0.0.1 and localhost, written as PEM to `cert_file` for clients to trust. Each
    /// client is cut off `client_limit` after it connects, whatever it is doing.
    demo_smtp_server(boost::asio::any_io_executor executor, const std::string& address, unsigned short port,
                     std::string user, std::string password, const std::string& cert_file,
                     std::chrono::milliseconds client_limit = std::chrono::seconds(60));
    ~demo_smtp_server();

    void start();
    void stop();
    unsigned short port() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace smtpcheck::server
