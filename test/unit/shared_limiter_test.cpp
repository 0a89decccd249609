// store/shared_limiter.hpp against a real redis-server: the counting of core::rate_limiter,
// shared by two clients as two instances would share it, one round trip per event.
#include "smtpcheck/store/shared_limiter.hpp"

#include "redis_server.hpp"

#include <boost/test/unit_test.hpp>

using namespace smtpcheck::store;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using smtpcheck::test::run;
using smtpcheck::test::sleep;

asio::awaitable<std::shared_ptr<redis_client>> connected(asio::io_context& io, const std::string& url) {
    auto c = redis_client::create(io.get_executor(), {url});
    c->start();
    for (int i = 0; i < 100 && c->not_ready(); ++i) co_await sleep(20ms);
    BOOST_REQUIRE(!c->not_ready());
    co_return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shared_limits)

BOOST_AUTO_TEST_CASE(two_instances_share_one_count_per_key) {
    smtpcheck::test::redis_server redis;
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto a = co_await connected(io, redis.url());
        auto b = co_await connected(io, redis.url());
        shared_limiter on_a(a, "t:", 3), on_b(b, "t:", 3);
        for (auto* l : {&on_a, &on_b, &on_a}) {
            auto v = co_await l->take("alice");
            BOOST_TEST(!v.error);
            BOOST_TEST(!v.wait);
        }
        for (auto* l : {&on_a, &on_b}) {  // the fourth, wherever it lands
            auto v = co_await l->take("alice");
            BOOST_TEST(!v.error);
            BOOST_REQUIRE(v.wait.has_value());
            BOOST_TEST(v.wait->count() >= 1);
            BOOST_TEST(v.wait->count() <= 61);
        }
        BOOST_TEST(!(co_await on_b.take("bob")).wait);  // another key counts on its own
        // A refused event does not count: the count is still 3, not 5.
        std::vector<std::string> get{"GET", "t:alice"};
        auto r = co_await a->command(get);
        BOOST_TEST(r.reply.text == "3");
        a->stop();
        b->stop();
    });
}

BOOST_AUTO_TEST_CASE(the_window_starts_with_the_first_event_and_a_script_flush_changes_nothing) {
    smtpcheck::test::redis_server redis;
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto c = co_await connected(io, redis.url());
        shared_limiter l(c, "w:", 1, 300ms);
        auto first = co_await l.take("k");
        BOOST_TEST(!first.error);
        BOOST_TEST(!first.wait);
        BOOST_TEST((co_await l.take("k")).wait.has_value());
        co_await sleep(400ms);
        // A new window; and a Redis that forgot its scripts (SCRIPT FLUSH, a new server) still counts.
        std::vector<std::string> flush{"SCRIPT", "FLUSH"};
        BOOST_TEST(!(co_await c->command(flush)).error);
        auto v = co_await l.take("k");
        BOOST_TEST(!v.error);
        BOOST_TEST(!v.wait);
        BOOST_TEST((co_await l.take("k")).wait.has_value());
        c->stop();
    });
}

// The failed-login limit's operations: add counts past the limit, give un-counts a take, and
// each reply says how many are in the window and for how long.
BOOST_AUTO_TEST_CASE(add_counts_whatever_the_limit_and_give_takes_one_back) {
    smtpcheck::test::redis_server redis;
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto c = co_await connected(io, redis.url());
        shared_limiter l(c, "f:", 2);
        auto t = co_await l.take("k");
        BOOST_TEST(!t.error);
        BOOST_TEST(t.count == 1);
        BOOST_TEST(t.left.count() > 59000);
        BOOST_TEST((co_await l.add("k")).count == 2);
        auto over = co_await l.add("k");  // past the limit, still counted
        BOOST_TEST(!over.wait);
        BOOST_TEST(over.count == 3);
        BOOST_TEST((co_await l.take("k")).wait.has_value());
        BOOST_TEST((co_await l.give("k")).count == 2);
        BOOST_TEST((co_await l.give("k")).count == 1);
        BOOST_TEST((co_await l.give("k")).count == 0);  // the window is dropped, not at -1
        std::vector<std::string> exists{"EXISTS", "f:k"};
        BOOST_TEST((co_await c->command(exists)).reply.integer == 0);
        BOOST_TEST((co_await l.give("k")).count == 0);
        auto again = co_await l.take("k");
        BOOST_TEST(again.count == 1);
        c->stop();
    });
}

BOOST_AUTO_TEST_CASE(without_redis_the_verdict_is_an_error_not_a_wait) {
    smtpcheck::test::redis_server redis;
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto c = co_await connected(io, redis.url());
        shared_limiter l(c, "e:", 5);
        redis.stop();
        for (int i = 0; i < 100 && !c->not_ready(); ++i) co_await sleep(20ms);
        auto v = co_await l.take("k");
        BOOST_TEST(v.error.failed());
        BOOST_TEST(!v.wait);
        c->stop();
    });
}

BOOST_AUTO_TEST_SUITE_END()
