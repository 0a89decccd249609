// What a route handler receives and returns.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smtpcheck::auth {
struct remembered_credential;
}

namespace smtpcheck::server {

namespace http = boost::beast::http;

using request = http::request<http::string_body>;
using request_header = http::request_header<>;

/// A response as handlers build it; the connection adds Date, Content-Length, X-Request-Id
/// and Connection, and writes it from prepared pieces without a Beast serializer.
struct response {
    http::status status = http::status::ok;
    std::string_view content_type;  ///< must outlive the write: use string literals
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  ///< any further fields
    bool close = false;  ///< close the connection after this response
};

/// What the connection knows of the request besides its bytes.
struct request_context {
    /// The connection's memory of its last accepted Basic credential (auth::authenticator::check).
    auth::remembered_credential* remembered = nullptr;
    std::string_view request_id;
    std::string_view peer;  ///< the client's address, for logs and limits
    bool tls = false;
    std::string principal;  ///< set by authentication
    /// For handlers of routes with cancel_on_disconnect: call when the long wait begins; from
    /// then on a client that goes away cancels the handler. Empty on other routes.
    std::function<void()> watch_for_disconnect;
};

}  // namespace smtpcheck::server
