// The admin page (SPEC 2.8, issue 13): web/index.html, app.css and app.js, embedded in the
// binary and served at {base_path}/ without authentication (the page logs in through /login).
// Every answer carries a strict Content-Security-Policy (scripts and styles from this origin
// only, no inline code, no framing) and an ETag, so a browser revalidates with one 304.
#include "guard.hpp"

#include "smtpcheck/core/system.hpp"

namespace smtpcheck {
namespace embedded {
std::string_view web_index_html();
std::string_view web_app_css();
std::string_view web_app_js();
}  // namespace embedded

namespace server {
namespace {

namespace asio = boost::asio;

constexpr std::string_view content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

struct asset {
    std::string_view content_type;  // a literal, as response::content_type needs
    std::string_view body;
    std::string etag;  // a quoted strong validator: the first 16 octets of the body's SHA-256, in hex
};

std::string etag_of(std::string_view body) { return "\"" + core::hex_digest("SHA256", body, 16) + "\""; }

// RFC 9110 13.1.2: If-None-Match is "*" or a list of entity tags, compared weakly.
bool matches_if_none_match(std::string_view field, std::string_view etag) {
    while (!field.empty()) {
        auto comma = field.find(',');
        auto item = field.substr(0, comma);
        field = comma == std::string_view::npos ? std::string_view{} : field.substr(comma + 1);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (item.starts_with("W/")) item.remove_prefix(2);
        if (item == "*" || item == etag) return true;
    }
    return false;
}

void add_page_headers(response& r, const asset& a) {
    r.headers.emplace_back("ETag", a.etag);
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("Content-Security-Policy", std::string(content_security_policy));
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    r.headers.emplace_back("X-Frame-Options", "DENY");
}

asio::awaitable<response> serve_asset(const asset& a, const request& req, std::string_view page_path) {
    // The page's links are relative: {base_path} without its slash is sent to {base_path}/.
    if (!page_path.empty()) {
        auto target = std::string_view(req.target());
        target = target.substr(0, target.find_first_of("?#"));
        if (!target.ends_with('/')) {
            response r{http::status::permanent_redirect, {}, {}, {}, false};
            r.headers.emplace_back("Location", std::string(page_path));
            co_return r;
        }
    }
    auto inm = req.find(http::field::if_none_match);
    if (inm != req.end() && matches_if_none_match(inm->value(), a.etag)) {
        response r{http::status::not_modified, {}, {}, {}, false};
        add_page_headers(r, a);
        co_return r;
    }
    response r{http::status::ok, a.content_type, std::string(a.body), {}, false};
    add_page_headers(r, a);
    co_return r;
}

}  // namespace

void add_web_routes(router& routes, std::string_view base_path) {
    auto make = [](std::string_view type, std::string_view body) {
        return std::make_shared<const asset>(asset{type, body, etag_of(body)});
    };
    auto index = make("text/html; charset=utf-8", embedded::web_index_html());
    auto css = make("text/css; charset=utf-8", embedded::web_app_css());
    auto js = make("text/javascript; charset=utf-8", embedded::web_app_js());
    // Under a base path the page is at {base_path}/ (the router matches it with or without the
    // slash; the handler redirects the latter). At the root it is simply /.
    std::string page = base_path.empty() ? std::string() : std::string(base_path) + "/";
    routes.add(route_scope::api, "/", http::verb::get,
               {nullptr, [index, page](request_context&, request& req) { return serve_asset(*index, req, page); }});
    routes.add(route_scope::api, "/app.css", http::verb::get,
               {nullptr, [css](request_context&, request& req) { return serve_asset(*css, req, {}); }});
    routes.add(route_scope::api, "/app.js", http::verb::get,
               {nullptr, [js](request_context&, request& req) { return serve_asset(*js, req, {}); }});
}

}  // namespace server
}  // namespace smtpcheck
