// store/redis_client.hpp: the URL, and the client against a real redis-server: commands and
// replies, a Redis that hangs (a command ends at its timeout, the connection is made anew), one
// that dies and comes back (not ready with the reason, then ready by itself).
#include "smtpcheck/store/redis_client.hpp"

#include "redis_server.hpp"

#include <boost/test/unit_test.hpp>

using namespace smtpcheck::store;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using smtpcheck::test::run;
using smtpcheck::test::sleep;

// Polls until the client is ready (or `limit` passes); whether it is.
asio::awaitable<bool> ready_within(const redis_client& c, std::chrono::milliseconds limit) {
    for (auto waited = 0ms; waited < limit; waited += 20ms) {
        if (!c.not_ready()) co_return true;
        co_await sleep(20ms);
    }
    co_return !c.not_ready();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis)

BOOST_AUTO_TEST_CASE(urls_name_a_host_or_a_socket_and_never_show_the_password) {
    auto a = parse_redis_url("redis://app:s3cret@10.0.0.5:6380/2");
    BOOST_TEST(a.host == "10.0.0.5");
    BOOST_TEST(a.port == "6380");
    BOOST_TEST(a.user == "app");
    BOOST_TEST(a.password == "s3cret");
    BOOST_TEST(a.database == 2u);
    BOOST_TEST(a.text == "redis://app@10.0.0.5:6380/2");
    BOOST_TEST(parse_redis_url("redis://localhost").host == "127.0.0.1");
    auto b = parse_redis_url("redis://:pw%40x@[::1]");
    BOOST_TEST(b.host == "::1");
    BOOST_TEST(b.port == "6379");
    BOOST_TEST(b.password == "pw@x");
    BOOST_TEST(b.text == "redis://[::1]:6379");
    BOOST_TEST(parse_redis_url("unix:/run/redis/redis.sock").socket_path == "/run/redis/redis.sock");
    for (const char* bad : {"", "redis://", "http://h", "redis://h/x", "redis://h:0", "redis://h?db=1", "unix:",
                            "unix:relative.sock", "rediss://h", "rediss://h:0", "redis://cache.example:6379"}) {
        BOOST_CHECK_THROW(parse_redis_url(bad), std::invalid_argument);
    }
    BOOST_CHECK_EXCEPTION(parse_redis_url("rediss://u:topsecret@h"), std::invalid_argument, [](const auto& e) {
        const std::string what = e.what();
        return what.find("numeric address") != std::string::npos && what.find("topsecret") == std::string::npos;
    });
    // rediss://: TLS, the certificate checked for the address as written (localhost stays a name).
    auto t = parse_redis_url("rediss://u:topsecret@10.0.0.5:6380");
    BOOST_TEST(t.tls);
    BOOST_TEST(t.tls_name == "10.0.0.5");
    BOOST_TEST(t.text == "rediss://u@10.0.0.5:6380");
    auto l = parse_redis_url("rediss://localhost");
    BOOST_TEST((l.host == "127.0.0.1" && l.tls_name == "localhost"));
    BOOST_TEST(!parse_redis_url("redis://10.0.0.5").tls);
}

BOOST_AUTO_TEST_CASE(commands_get_their_replies_in_order_and_binary_safe) {
    smtpcheck::test::redis_server redis;
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto c = redis_client::create(io.get_executor(), {redis.url()});
        c->start();
        BOOST_REQUIRE(co_await ready_within(*c, 2000ms));
        std::string value("a\0b\r\nc", 6);
        std::vector<std::string> set{"SET", "k", value};
        auto r = co_await c->command(set);
        BOOST_TEST(!r.error);
        BOOST_TEST(r.reply.text == "OK");
        std::vector<std::string> get{"GET", "k"};
        r = co_await c->command(get);
        BOOST_TEST((r.reply.type == redis_reply::kind::string));
        BOOST_TEST(r.reply.text == value);
        std::vector<std::string> wrong{"INCR", "k"};
        r = co_await c->command(wrong);
        BOOST_TEST((r.error == redis_errc::server_error));
        BOOST_TEST(r.reply.text.find("not an integer") != std::string::npos);
        c->stop();
    });
}

BOOST_AUTO_TEST_CASE(a_redis_that_hangs_costs_a_command_its_timeout_and_the_connection) {
    smtpcheck::test::redis_server redis;
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto c = redis_client::create(io.get_executor(), {redis.url(), 1000ms, 200ms, 1000ms});
        c->start();
        BOOST_REQUIRE(co_await ready_within(*c, 2000ms));
        redis.pause();
        std::vector<std::string> ping{"PING"};
        auto r = co_await c->command(ping);
        BOOST_TEST((r.error == redis_errc::timeout));
        // The connection is dropped: the client says so, and commands fail at once.
        BOOST_TEST(c->not_ready().has_value());
        r = co_await c->command(ping);
        BOOST_TEST((r.error == redis_errc::unavailable));
        // Still hung while the client tries again: each handshake times out (the connect
        // itself succeeds through the listen queue), and the tries go on with back-off.
        co_await sleep(800ms);
        BOOST_TEST(c->not_ready().has_value());
        redis.resume();
        BOOST_TEST(co_await ready_within(*c, 8000ms));
        r = co_await c->command(ping);
        BOOST_TEST(!r.error);
        c->stop();
    });
}

BOOST_AUTO_TEST_CASE(a_redis_that_dies_is_reported_and_found_again_when_it_returns) {
    smtpcheck::test::redis_server redis;
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto c = redis_client::create(io.get_executor(), {redis.url(), 1000ms, 200ms, 200ms});
        c->start();
        BOOST_REQUIRE(co_await ready_within(*c, 2000ms));
        redis.stop();
        for (int i = 0; i < 100 && !c->not_ready(); ++i) co_await sleep(20ms);
        auto why = c->not_ready();
        BOOST_REQUIRE(why.has_value());
        BOOST_TEST(why->find("redis at " + redis.url()) == 0, *why);
        std::vector<std::string> ping{"PING"};
        auto r = co_await c->command(ping);
        BOOST_TEST((r.error == redis_errc::unavailable));
        redis.start();
        BOOST_TEST(co_await ready_within(*c, 8000ms));
        c->stop();
    });
}

BOOST_AUTO_TEST_CASE(no_redis_at_all_is_a_reason_not_a_wait) {
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto c = redis_client::create(io.get_executor(), {"unix:/nonexistent/redis.sock"});
        c->start();
        co_await sleep(200ms);
        auto why = c->not_ready();
        BOOST_REQUIRE(why.has_value());
        BOOST_TEST(why->find("unix:/nonexistent/redis.sock") != std::string::npos, *why);
        std::vector<std::string> ping{"PING"};
        auto r = co_await c->command(ping);
        BOOST_TEST((r.error == redis_errc::unavailable));
        c->stop();
    });
}

BOOST_AUTO_TEST_SUITE_END()
