// core/rate_limiter.hpp: the failed-login and tests-per-user limits.
#include "smtpcheck/core/rate_limiter.hpp"

#include <boost/test/unit_test.hpp>

using smtpcheck::core::rate_limiter;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(rate_limits)

BOOST_AUTO_TEST_CASE(a_key_counts_up_to_its_limit_then_waits_for_its_window) {
    rate_limiter l(3);
    const auto t0 = rate_limiter::clock::now();
    BOOST_TEST(l.empty());
    for (int i = 0; i < 3; ++i) BOOST_TEST(!l.take("alice", t0));
    auto wait = l.take("alice", t0 + 20s);
    BOOST_REQUIRE(wait);
    BOOST_TEST(wait->count() == 41);  // 40 s left in the window, rounded up
    BOOST_TEST(l.over_limit("alice", t0 + 20s).has_value());
    BOOST_TEST(!l.over_limit("bob", t0 + 20s));
    BOOST_TEST(!l.take("bob", t0 + 20s));
    // a new window after a minute
    BOOST_TEST(!l.over_limit("alice", t0 + 60s));
    BOOST_TEST(!l.take("alice", t0 + 61s));
}

BOOST_AUTO_TEST_CASE(add_counts_past_the_limit_and_give_back_drops_an_empty_window) {
    rate_limiter l(2);
    const auto t0 = rate_limiter::clock::now();
    l.add("10.0.0.1", t0);
    l.add("10.0.0.1", t0);
    l.add("10.0.0.1", t0);
    BOOST_TEST(l.over_limit("10.0.0.1", t0).has_value());
    l.give_back("10.0.0.1");
    l.give_back("10.0.0.1");
    BOOST_TEST(!l.over_limit("10.0.0.1", t0));
    l.give_back("10.0.0.1");
    BOOST_TEST(l.empty());
    l.give_back("10.0.0.1");  // nothing to give back: no harm
    BOOST_TEST(l.empty());
}

BOOST_AUTO_TEST_CASE(past_the_tracked_keys_new_keys_share_one_window_and_get_it_back) {
    rate_limiter l(2, 2);
    const auto t0 = rate_limiter::clock::now();
    BOOST_TEST(!l.take("a", t0));
    BOOST_TEST(!l.take("b", t0));
    // Full: c and d share the overflow window, and a and b keep their counts.
    BOOST_TEST(!l.take("c", t0));
    BOOST_TEST(!l.take("d", t0));
    BOOST_TEST(l.take("e", t0).has_value());
    BOOST_TEST(l.tracked_keys() == 3u);
    BOOST_TEST(!l.take("a", t0));
    BOOST_TEST(l.take("a", t0).has_value());
    // A success counted in the overflow window is given back there (the authenticator looked
    // for the address's own window, found none, and the overflow window only ever grew).
    rate_limiter::counted_in where;
    BOOST_TEST(!rate_limiter(2, 2).take("x", t0, &where));
    BOOST_TEST(!where.overflow);
    l.give_back("d", {true});
    BOOST_TEST(!l.over_limit("e", t0));
    // Once the tracked windows expire, a new key gets a window of its own again.
    BOOST_TEST(!l.take("f", t0 + 61s));
    BOOST_TEST(!l.take("f", t0 + 61s));
    BOOST_TEST(l.take("f", t0 + 61s).has_value());
    BOOST_TEST(!l.over_limit("g", t0 + 61s));
}

// The table may shrink between take() and give_back() (a PBKDF2 runs in between): the give-back
// goes to the window take() used, not to where the table's size would now send it.
BOOST_AUTO_TEST_CASE(a_give_back_goes_to_the_window_that_counted_whatever_the_table_did_since) {
    rate_limiter l(1, 2);
    const auto t0 = rate_limiter::clock::now();
    rate_limiter::counted_in a, b, c;
    BOOST_TEST(!l.take("a", t0, &a));
    BOOST_TEST(!l.take("b", t0, &b));
    BOOST_TEST(!l.take("c", t0, &c));
    BOOST_TEST((!a.overflow && !b.overflow && c.overflow));
    l.give_back("a", a);
    l.give_back("b", b);  // the table is no longer full
    l.give_back("c", c);
    BOOST_TEST(l.empty());
    BOOST_TEST(!l.take("d", t0));
}

BOOST_AUTO_TEST_SUITE_END()
