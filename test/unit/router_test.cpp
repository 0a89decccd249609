#include "smtpcheck/server/router.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <memory>

using namespace smtpcheck::server;
using boost::beast::http::status;
using boost::beast::http::verb;

namespace {
route_handler handler() { return {nullptr, nullptr}; }

router sample(std::string base = "") {
    router r(std::move(base));
    r.add(route_scope::api, "/api/v1/Agents/CustomerService/TestSmtpServer", verb::post, handler());
    r.add(route_scope::api, "/api/v1/Agents/CustomerService/TestSmtpServer", verb::get, handler());
    r.add(route_scope::root, "/healthz", verb::get, handler());
    return r;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(router)

// Issue 11: Boost 1.81's beast::iequals read one octet past both strings once they differed in
// case; a target that ends its heap buffer shows it under scripts/sanitize asan.
BOOST_AUTO_TEST_CASE(a_path_that_differs_in_case_is_compared_within_its_bounds) {
    auto r = sample("/Cust12345");
    for (std::string_view path : {"/cust12345/api/v1/Agents/CustomerService/TestSmtpServer", "/HEALTHZ", "/healthZ"}) {
        auto exact = std::make_unique<char[]>(path.size());
        std::copy(path.begin(), path.end(), exact.get());
        BOOST_TEST(r.match(path.starts_with("/cust") ? verb::post : verb::get, std::string_view(exact.get(), path.size()))
                       .handler != nullptr, path);
    }
}

// Issue 13: the admin page is the API scope's "/", i.e. {base_path}/, which requests reach with
// or without the slash; at the root it is "/" itself.
BOOST_AUTO_TEST_CASE(the_base_paths_own_page_is_found_with_or_without_its_slash) {
    auto based = sample("/Cust12345");
    based.add(route_scope::api, "/", verb::get, handler());
    BOOST_TEST(based.match(verb::get, "/Cust12345/").handler != nullptr);
    BOOST_TEST(based.match(verb::get, "/Cust12345").handler != nullptr);
    BOOST_TEST(based.match(verb::get, "/Cust12345/?x=1").handler != nullptr);
    BOOST_TEST((based.match(verb::get, "/").status == status::not_found));
    auto root = sample();
    root.add(route_scope::api, "/", verb::get, handler());
    BOOST_TEST(root.match(verb::get, "/").handler != nullptr);
    BOOST_TEST((root.match(verb::post, "/").status == status::method_not_allowed));
}

BOOST_AUTO_TEST_CASE(paths_match_case_insensitively_with_one_trailing_slash) {
    auto r = sample();
    BOOST_TEST(r.match(verb::post, "/api/v1/Agents/CustomerService/TestSmtpServer").handler != nullptr);
    BOOST_TEST(r.match(verb::post, "/API/V1/agents/customerservice/testsmtpserver").handler != nullptr);
    BOOST_TEST(r.match(verb::post, "/api/v1/Agents/CustomerService/TestSmtpServer/").handler != nullptr);
    BOOST_TEST((r.match(verb::post, "/api/v1/Agents/CustomerService/TestSmtpServer//").status == status::not_found));
    BOOST_TEST((r.match(verb::post, "/api/v1/Agents/CustomerService").status == status::not_found));
    BOOST_TEST((r.match(verb::post, "/api/v1/Agents/CustomerService/TestSmtpServerX").status == status::not_found));
}

BOOST_AUTO_TEST_CASE(the_query_is_not_part_of_the_path) {
    auto r = sample();
    BOOST_TEST(r.match(verb::get, "/healthz?verbose=1").handler != nullptr);
    BOOST_TEST(r.match(verb::post, "/api/v1/Agents/CustomerService/TestSmtpServer?$select=Success").handler != nullptr);
}

BOOST_AUTO_TEST_CASE(percent_encoded_paths_are_compared_decoded) {
    auto r = sample();
    BOOST_TEST(r.match(verb::get, "/%68ealthz").handler != nullptr);
    BOOST_TEST((r.match(verb::get, "/%zzhealthz").status == status::bad_request));
}

BOOST_AUTO_TEST_CASE(other_methods_get_405_with_the_allowed_ones) {
    auto r = sample();
    auto m = r.match(verb::delete_, "/api/v1/agents/customerservice/testsmtpserver");
    BOOST_TEST((m.status == status::method_not_allowed));
    BOOST_TEST(m.allow == "POST, GET, HEAD");
    auto h = r.match(verb::post, "/healthz");
    BOOST_TEST((h.status == status::method_not_allowed));
    BOOST_TEST(h.allow == "GET, HEAD");
}

BOOST_AUTO_TEST_CASE(head_is_answered_by_the_get_handler) {
    auto r = sample();
    BOOST_TEST(r.match(verb::head, "/healthz").handler == r.match(verb::get, "/healthz").handler);
}

BOOST_AUTO_TEST_CASE(base_path_prefixes_api_routes_only) {
    auto r = sample("/Cust12345");
    BOOST_TEST(r.match(verb::post, "/Cust12345/api/v1/Agents/CustomerService/TestSmtpServer").handler != nullptr);
    BOOST_TEST(r.match(verb::post, "/cust12345/API/v1/Agents/CustomerService/TestSmtpServer").handler != nullptr);
    BOOST_TEST((r.match(verb::post, "/api/v1/Agents/CustomerService/TestSmtpServer").status == status::not_found));
    BOOST_TEST(r.match(verb::get, "/healthz").handler != nullptr);
    BOOST_TEST((r.match(verb::get, "/Cust12345/healthz").status == status::not_found));
}

BOOST_AUTO_TEST_SUITE_END()
