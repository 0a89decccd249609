// How the unit tests run coroutines: to completion on an io_context (`run(io, awaitable)`,
// its value returned), or as a whole test body bounded to 30 s (`run(body)`); and `sleep`.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>

namespace smtpcheck::test {

template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> a) {
    std::optional<T> out;
    boost::asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
        if (e) std::rethrow_exception(e);
        out = std::move(v);
    });
    io.restart();
    io.run();
    return std::move(*out);
}

// Runs `body` on an io_context until it ends (at most 30 s); its exception, if any, is rethrown.
inline void run(const std::function<boost::asio::awaitable<void>(boost::asio::io_context&)>& body) {
    boost::asio::io_context io;
    bool done = false;
    std::exception_ptr error;
    boost::asio::co_spawn(io, body(io), [&](std::exception_ptr e) {
        error = e;
        done = true;
        io.stop();
    });
    io.run_for(std::chrono::seconds(30));
    BOOST_REQUIRE_MESSAGE(done, "the test did not end within 30 s");
    if (error) std::rethrow_exception(error);
}

inline boost::asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
    co_await t.async_wait(boost::asio::use_awaitable);
}

}  // namespace smtpcheck::test
