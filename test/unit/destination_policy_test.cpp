#include "smtpcheck/smtp/destination_policy.hpp"

#include <boost/test/unit_test.hpp>

using namespace smtpcheck::smtp;
using verdict = destination_policy::verdict;

namespace {
destination_rules rules(bool allow_private = false, std::vector<std::string> allow = {},
                        std::vector<std::string> deny = {}) {
    destination_rules r;
    r.allow_private = allow_private;
    r.allow = std::move(allow);
    r.deny = std::move(deny);
    return r;
}

verdict check(const destination_policy& p, const char* address, std::uint16_t port = 25) {
    return p.check(boost::asio::ip::make_address(address), port);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(destination_policy_table)

BOOST_AUTO_TEST_CASE(public_addresses_on_allowed_ports_pass) {
    destination_policy p(rules());
    BOOST_TEST((check(p, "8.8.8.8") == verdict::allowed));
    BOOST_TEST((check(p, "2a00:1450:4001:80b::201a", 587) == verdict::allowed));
    BOOST_TEST((check(p, "8.8.8.8", 80) == verdict::port_not_allowed));
    BOOST_TEST((check(p, "8.8.8.8", 2525) == verdict::allowed));
}

BOOST_AUTO_TEST_CASE(special_purpose_ranges_are_always_denied) {
    destination_policy p(rules(true));
    for (const char* a : {"0.0.0.0", "169.254.169.254", "224.0.0.1", "239.255.255.250", "255.255.255.255",
                          "240.0.0.1", "192.0.2.1", "::", "fe80::1", "ff02::1", "2001:db8::1",
                          "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
                          // issue 11: IPv4-compatible, 6to4, Teredo
                          "::a9fe:a9fe", "::10.0.0.1", "2002:a9fe:a9fe::1", "2001:0:4136:e378::1"})
        BOOST_TEST((check(p, a) == verdict::always_denied), a);
    destination_policy strict(rules());
    for (const char* a : {"fec0::1", "64:ff9b:1::a00:1"})  // site-local, local-use NAT64
        BOOST_TEST((check(strict, a) == verdict::private_range), a);
    BOOST_TEST((check(strict, "::1") == verdict::private_range));
}

BOOST_AUTO_TEST_CASE(loopback_and_private_ranges_need_allow_private) {
    destination_policy strict(rules());
    destination_policy lax(rules(true));
    for (const char* a : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1",
                          "::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"}) {
        BOOST_TEST((check(strict, a) == verdict::private_range), a);
        BOOST_TEST((check(lax, a) == verdict::allowed), a);
    }
    BOOST_TEST((check(strict, "172.32.0.1") == verdict::allowed));
    BOOST_TEST((check(strict, "100.128.0.1") == verdict::allowed));
}

BOOST_AUTO_TEST_CASE(lists_override_ranges_and_deny_overrides_allow) {
    destination_policy p(rules(false, {"10.9.0.0/16", "fd12::/16"}, {"8.8.8.0/24", "10.9.9.0/24"}));
    BOOST_TEST((check(p, "10.9.1.1") == verdict::allowed));
    BOOST_TEST((check(p, "10.9.9.9") == verdict::denied_by_list));
    BOOST_TEST((check(p, "8.8.8.8") == verdict::denied_by_list));
    BOOST_TEST((check(p, "::ffff:8.8.8.8") == verdict::denied_by_list));
    BOOST_TEST((check(p, "fd12::5") == verdict::allowed));
    BOOST_TEST((check(p, "10.8.0.1") == verdict::private_range));
}

BOOST_AUTO_TEST_CASE(ports_star_allows_any) {
    auto any = rules();
    any.any_port = true;
    destination_policy p(any);
    BOOST_TEST((check(p, "8.8.8.8", 8025) == verdict::allowed));
    auto submission_only = rules();
    submission_only.allowed_ports = {587};
    destination_policy only(submission_only);
    BOOST_TEST((check(only, "8.8.8.8", 25) == verdict::port_not_allowed));
}

BOOST_AUTO_TEST_CASE(a_bad_cidr_is_refused) {
    BOOST_CHECK_THROW(destination_policy(rules(false, {}, {"10.0.0.0/33"})), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
