// server/trusted_proxies.hpp: the client's address behind a reverse proxy.
#include "smtpcheck/server/trusted_proxies.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>

using smtpcheck::server::trusted_proxies;

BOOST_AUTO_TEST_SUITE(client_address)

BOOST_AUTO_TEST_CASE(only_a_trusted_peer_is_believed_and_only_from_the_right) {
    const trusted_proxies proxies({"127.0.0.1", "10.0.0.0/8", "fd00::/8"});
    // A client that sends the header itself is not believed.
    BOOST_TEST(proxies.client_of("203.0.113.9", {"198.51.100.1"}) == "203.0.113.9");
    // nginx with $remote_addr (replaces) or $proxy_add_x_forwarded_for (appends).
    BOOST_TEST(proxies.client_of("127.0.0.1", {"203.0.113.9"}) == "203.0.113.9");
    BOOST_TEST(proxies.client_of("127.0.0.1", {"198.51.100.1, 203.0.113.9"}) == "203.0.113.9");
    // Two proxies: the walk passes every trusted hop, and stops at the first untrusted one,
    // whatever the client put left of it.
    BOOST_TEST(proxies.client_of("127.0.0.1", {"1.2.3.4, 203.0.113.9, 10.1.2.3"}) == "203.0.113.9");
    BOOST_TEST(proxies.client_of("127.0.0.1", {"1.2.3.4", "203.0.113.9,10.1.2.3"}) == "203.0.113.9");  // two lines
    // IPv4-mapped peers, IPv6 clients, entries with ports.
    BOOST_TEST(proxies.client_of("::ffff:127.0.0.1", {"2001:db8::7"}) == "2001:db8::7");
    BOOST_TEST(proxies.client_of("fd12::1", {"[2001:db8::7]:4711"}) == "2001:db8::7");
    BOOST_TEST(proxies.client_of("127.0.0.1", {"203.0.113.9:4711"}) == "203.0.113.9");
    BOOST_TEST(proxies.client_of("127.0.0.1", {"::ffff:203.0.113.9"}) == "203.0.113.9");
    // Every hop trusted: the leftmost. Nothing readable: the hop that added it.
    BOOST_TEST(proxies.client_of("127.0.0.1", {"10.0.0.5"}) == "10.0.0.5");
    BOOST_TEST(proxies.client_of("127.0.0.1", {"unknown"}) == "127.0.0.1");
    BOOST_TEST(proxies.client_of("127.0.0.1", {"10.0.0.5, <script>"}) == "127.0.0.1");
    BOOST_TEST(proxies.client_of("127.0.0.1", {"<script>, 10.0.0.5"}) == "10.0.0.5");
    BOOST_TEST(proxies.client_of("127.0.0.1", {""}) == "127.0.0.1");
    BOOST_TEST(proxies.client_of("unix", {"203.0.113.9"}) == "unix");
}

BOOST_AUTO_TEST_CASE(without_trusted_proxies_the_header_is_ignored) {
    const trusted_proxies none;
    BOOST_TEST(none.empty());
    BOOST_TEST(none.client_of("127.0.0.1", {"203.0.113.9"}) == "127.0.0.1");
    BOOST_CHECK_THROW(trusted_proxies({"10.0.0.0/33"}), std::invalid_argument);
    BOOST_CHECK_THROW(trusted_proxies({"nginx"}), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
