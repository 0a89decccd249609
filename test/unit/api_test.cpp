// The OpenAPI document (issue 13) against the route table the server really has, both ways:
// every path the server answers is documented with exactly its methods, and every documented
// path is answered. integration.openapi checks the same from outside for the documented paths
// only; a route added without its description fails here.
#include "smtpcheck/server/api.hpp"
#include "smtpcheck/server/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <map>
#include <set>
#include <string>

using namespace smtpcheck::server;

namespace {

using methods_by_path = std::map<std::string, std::set<std::string>>;

// The server as `smtpcheck serve` composes it (main.cpp): the API routes, then the server's own.
methods_by_path served(const std::string& base_path) {
    auto cfg = smtpcheck::load_config_text("", {"server.listen=127.0.0.1:0", "server.base_path=" + base_path});
    boost::asio::io_context io;
    router routes(cfg.server.base_path);
    auto counters = std::make_shared<metrics>();
    add_api_routes(routes, cfg, std::make_shared<smtpcheck::auth::authenticator>(make_auth_settings(cfg, nullptr)),
                   nullptr, counters);
    http_server server(io.get_executor(), cfg, std::move(routes), nullptr, counters);
    methods_by_path out;
    const auto paths = server.routes().paths();
    for (std::size_t i = 0; i < paths.size(); ++i) {
        std::string_view allow = server.routes().allow(i);
        auto& set = out[paths[i]];
        while (!allow.empty()) {
            auto comma = allow.find(',');
            auto m = allow.substr(0, comma);
            while (m.starts_with(' ')) m.remove_prefix(1);
            set.emplace(m);
            allow = comma == std::string_view::npos ? std::string_view{} : allow.substr(comma + 1);
        }
    }
    return out;
}

methods_by_path documented(const std::string& base_path) {
    auto doc = boost::json::parse(openapi_document(base_path)).as_object();
    methods_by_path out;
    for (const auto& [path, item] : doc.at("paths").as_object()) {
        auto& set = out[std::string(path)];
        for (const auto& [key, _] : item.as_object()) {
            std::string m(key);
            if (m != "get" && m != "post" && m != "put" && m != "delete" && m != "patch") continue;  // parameters, summary
            for (auto& c : m) c = static_cast<char>(c - 'a' + 'A');
            set.insert(m);
            if (m == "GET") set.insert("HEAD");
        }
    }
    return out;
}

void same(const methods_by_path& server, const methods_by_path& doc) {
    for (const auto& [path, methods] : server) {
        auto it = doc.find(path);
        BOOST_TEST_CONTEXT("the server answers " << path) {
            BOOST_TEST((it != doc.end()), "not in config/openapi.json");
            if (it != doc.end()) BOOST_TEST((it->second == methods), "documented methods differ from the server's Allow");
        }
    }
    for (const auto& [path, _] : doc)
        BOOST_TEST_CONTEXT("config/openapi.json documents " << path) { BOOST_TEST(server.contains(path)); }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(openapi_routes)

BOOST_AUTO_TEST_CASE(every_route_is_documented_with_its_methods_and_nothing_else_is) {
    auto server = served("");
    BOOST_TEST(server.size() >= 10u);  // the API, /login, /logout, the page and its assets, the server's own
    same(server, documented(""));
}

BOOST_AUTO_TEST_CASE(under_a_base_path_too) {
    auto server = served("/Cust12345");
    BOOST_TEST(server.contains("/Cust12345/api/v1/Agents/CustomerService/TestSmtpServer"));
    same(server, documented("/Cust12345"));
}

BOOST_AUTO_TEST_SUITE_END()
