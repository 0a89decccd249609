// The route table: the seam where endpoints plug into the HTTP front end.
#pragma once

#include "smtpcheck/server/http_types.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpcheck::server {

/// One method of one path.
struct route_handler {
    /// Optional. Runs when the header has arrived and before the body is read (authentication,
    /// Content-Type and length checks). A response returned here is sent at once, before any
    /// `100 Continue`, and the body is never read.
    std::function<boost::asio::awaitable<std::optional<response>>(request_context&, const request_header&)>
        on_header;
    /// Runs with the whole request.
    std::function<boost::asio::awaitable<response>(request_context&, request&)> on_request;
    /// Watch the connection while on_request runs and cancel it when the client goes away
    /// (for long handlers such as an SMTP test; it costs a wait on the socket per request).
    bool cancel_on_disconnect = false;
};

/// Where a path lives: API routes sit under `server.base_path`, the others at the root.
enum class route_scope { api, root };

/// Matches request targets to handlers as ASP.NET does: case-insensitive paths, one trailing
/// '/' allowed, the query ignored. GET routes answer HEAD too.
class router {
public:
    explicit router(std::string base_path = {});

    /// Adds a method to a path (such as "/api/v1/Agents/CustomerService/TestSmtpServer").
    router& add(route_scope scope, std::string_view path, http::verb method, route_handler handler);

    struct match_result {
        const route_handler* handler = nullptr;  ///< null: see status
        http::status status = http::status::ok;  ///< not_found, method_not_allowed or bad_request
        std::string_view allow;                  ///< the Allow header for method_not_allowed
        std::size_t resource = static_cast<std::size_t>(-1);  ///< index in paths(), when the path is known
    };
    match_result match(http::verb method, std::string_view target) const;

    /// Every path, in the order of match_result::resource.
    std::vector<std::string> paths() const;

    /// The Allow header of paths()[resource]: its methods, HEAD with GET ("GET, HEAD, POST").
    std::string_view allow(std::size_t resource) const { return resources_.at(resource).allow; }

private:
    struct resource {
        std::string path;
        std::vector<std::pair<http::verb, route_handler>> methods;
        std::string allow;
    };
    std::string base_path_;
    std::vector<resource> resources_;
};

}  // namespace smtpcheck::server
