// smtpcheck::server embedded in a host program's io_context (SPEC section 5), driven over
// real loopback TCP by a blocking client on the test's own thread.
#include "smtpcheck/server/config.hpp"
#include "smtpcheck/server/demo_smtp_server.hpp"
#include "smtpcheck/server/error_document.hpp"
#include "smtpcheck/server/http_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include <unistd.h>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace smtpcheck;
using namespace smtpcheck::server;
using tcp = asio::ip::tcp;

namespace {

asio::awaitable<response> delayed_response(std::chrono::milliseconds delay, std::string body) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::use_awaitable);
    co_return response{http::status::ok, "text/plain", std::move(body), {}, false};
}

asio::awaitable<response> echo_body(std::string body) {
    co_return response{http::status::ok, "text/plain", std::move(body), {}, false};
}

asio::awaitable<response> failing_handler() {
    throw std::runtime_error("secret internal detail");
    co_return response{};
}

asio::awaitable<std::optional<response>> deny_when_asked(bool deny) {
    if (deny) co_return error_response(http::status::unauthorized, "denied", "auth");
    co_return std::nullopt;
}

// A handler's gate: the test sees the handler enter and lets it finish, so the order of
// events is the test's, not a matter of sleeping long enough.
struct gate {
    std::atomic<int> entered{0};
    std::atomic<bool> open{false};
};

asio::awaitable<response> gated_response(std::shared_ptr<gate> g, std::string body) {
    ++g->entered;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (int i = 0; i < 2000 && !g->open; ++i) {  // at most 10 s
        timer.expires_after(std::chrono::milliseconds(5));
        co_await timer.async_wait(asio::use_awaitable);
    }
    co_return response{http::status::ok, "text/plain", std::move(body), {}, false};
}

// Polls `done` every 5 ms for at most `limit`; whether it came true.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

router test_routes(std::string tag, std::shared_ptr<gate> slow = std::make_shared<gate>()) {
    router r;
    r.add(route_scope::root, "/slow", http::verb::get,
          {nullptr, [slow](request_context&, request&) { return gated_response(slow, "slow done"); }});
    r.add(route_scope::root, "/stuck", http::verb::get,
          {nullptr, [](request_context&, request&) { return delayed_response(std::chrono::seconds(60), "never"); }});
    r.add(route_scope::root, "/echo", http::verb::post,
          {[](request_context&, const request_header& h) { return deny_when_asked(h.count("X-Deny") > 0); },
           [](request_context&, request& req) { return echo_body(req.body()); }});
    r.add(route_scope::root, "/boom", http::verb::get,
          {nullptr, [](request_context&, request&) { return failing_handler(); }});
    r.add(route_scope::root, "/" + tag, http::verb::get,
          {nullptr, [tag](request_context&, request&) { return echo_body(tag); }});
    return r;
}

config test_config(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"server.listen=127.0.0.1:0", "log.access=false"});
    return load_config_text("", extra);
}

unsigned short port_of(const http_server& s) {
    auto a = s.local_addresses().at(0);
    return static_cast<unsigned short>(std::stoi(a.substr(a.rfind(':') + 1)));
}

// The servers' io_context on its own thread, as a host program would run it.
struct host_program {
    asio::io_context io;
    std::vector<std::unique_ptr<http_server>> servers;
    std::thread thread;

    http_server& add(config cfg, router routes) {
        servers.push_back(std::make_unique<http_server>(io.get_executor(), std::move(cfg), std::move(routes), nullptr));
        servers.back()->start();
        return *servers.back();
    }
    void run() {
        for (auto& s : servers) asio::co_spawn(io, s->wait(), asio::detached);
        thread = std::thread([this] { io.run(); });
    }
    // One server with the test routes, running; returns its port.
    unsigned short run_one(config cfg) {
        add(std::move(cfg), test_routes("a"));
        run();
        return port_of(*servers.back());
    }
    void stop_all() {
        for (auto& s : servers) s->stop();
    }
    // io.run() returns once every server has drained: nothing else keeps it busy.
    bool finished_within(std::chrono::milliseconds limit) {
        auto done = std::async(std::launch::async, [this] { thread.join(); });
        return done.wait_for(limit) == std::future_status::ready;
    }
    ~host_program() {
        if (thread.joinable()) {
            stop_all();
            thread.join();
        }
    }
};

struct client {
    asio::io_context io;
    tcp::socket socket{io};
    beast::flat_buffer buffer;

    explicit client(unsigned short port) { socket.connect({asio::ip::make_address("127.0.0.1"), port}); }
    void send(std::string_view bytes) { asio::write(socket, asio::buffer(bytes)); }
    http::response<http::string_body> read() {
        http::response<http::string_body> res;
        http::read(socket, buffer, res);
        return res;
    }
    // The raw bytes up to the end of the next header block.
    std::string read_header_block() {
        std::string out;
        char c;
        while (!out.ends_with("\r\n\r\n")) {
            asio::read(socket, asio::buffer(&c, 1));
            out += c;
        }
        return out;
    }
    bool closed_by_peer() {
        char c;
        boost::system::error_code ec;
        socket.read_some(asio::buffer(&c, 1), ec);
        return ec == asio::error::eof || ec == asio::error::connection_reset;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(embedding)

BOOST_AUTO_TEST_CASE(two_servers_share_one_io_context_and_keep_their_own_routes) {
    host_program host;
    auto& a = host.add(test_config(), test_routes("a"));
    auto& b = host.add(test_config(), test_routes("b"));
    host.run();
    BOOST_TEST(port_of(a) != port_of(b));

    client ca(port_of(a));
    ca.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r1 = ca.read();
    BOOST_TEST(r1.result_int() == 200);
    BOOST_TEST(r1.body() == "ok");
    auto r2 = ca.read();
    BOOST_TEST(r2.body() == "a");
    BOOST_TEST(ca.read().result_int() == 404);

    client cb(port_of(b));
    cb.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(cb.read().body() == "b");

    host.stop_all();
    BOOST_TEST(host.finished_within(std::chrono::seconds(5)));
}

BOOST_AUTO_TEST_CASE(graceful_stop_answers_the_request_in_flight_and_closes_idle_connections) {
    host_program host;
    auto slow = std::make_shared<gate>();
    auto& s = host.add(test_config(), test_routes("a", slow));
    host.run();
    auto port = port_of(s);

    client idle(port);
    idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(idle.read().result_int() == 200);

    client busy(port);
    busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_REQUIRE(eventually([&] { return slow->entered == 1; }));

    // A request whose first bytes arrived before the stop is in flight too.
    client partial(port);
    partial.send("GET /readyz HTTP/1.1\r\n");
    BOOST_REQUIRE(eventually([&] { return s.busy_connections() == 2; }));

    s.stop();
    BOOST_TEST(eventually([&] { return s.draining(); }));
    BOOST_TEST(idle.closed_by_peer());

    partial.send("Host: x\r\n\r\n");
    auto ready = partial.read();
    BOOST_TEST(ready.result_int() == 503);
    BOOST_TEST(ready.body() == "draining");
    BOOST_TEST(!ready.keep_alive());

    slow->open = true;
    auto res = busy.read();
    BOOST_TEST(res.result_int() == 200);
    BOOST_TEST(res.body() == "slow done");
    BOOST_TEST(!res.keep_alive());  // Connection: close while draining

    BOOST_TEST(host.finished_within(std::chrono::seconds(5)));
    boost::system::error_code ec;
    asio::io_context io;
    tcp::socket late(io);
    late.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    BOOST_TEST(ec == asio::error::connection_refused);
}

BOOST_AUTO_TEST_CASE(the_grace_period_cancels_what_is_left) {
    host_program host;
    auto& s = host.add(test_config({"server.shutdown_grace_ms=200"}), test_routes("a"));
    host.run();
    client stuck(port_of(s));
    stuck.send("GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_REQUIRE(eventually([&] { return s.busy_connections() == 1; }));
    s.stop();
    // The handler waits 60 s; the stop must not.
    BOOST_TEST(host.finished_within(std::chrono::seconds(5)));
    BOOST_TEST(stuck.closed_by_peer());
}

BOOST_AUTO_TEST_CASE(expect_100_continue_comes_after_the_header_checks) {
    host_program host;
    auto port = host.run_one(test_config());

    client c(port);
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    BOOST_TEST(c.read_header_block() == "HTTP/1.1 100 Continue\r\n\r\n");
    c.send("hello");
    auto res = c.read();
    BOOST_TEST(res.result_int() == 200);
    BOOST_TEST(res.body() == "hello");

    client denied(port);
    denied.send("POST /echo HTTP/1.1\r\nHost: x\r\nX-Deny: 1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    auto refusal = denied.read();  // at once, without 100 Continue and without the body
    BOOST_TEST(refusal.result_int() == 401);
    BOOST_TEST(!refusal.keep_alive());
}

BOOST_AUTO_TEST_CASE(chunked_request_bodies_are_read_whole_and_bounded) {
    host_program host;
    auto port = host.run_one(test_config({"server.body_limit=16"}));

    client c(port);
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    auto res = c.read();
    BOOST_TEST(res.body() == "hello world");
    BOOST_TEST(res.keep_alive());

    client big(port);
    big.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n0\r\n\r\n");
    auto refused = big.read();
    BOOST_TEST(refused.result_int() == 413);
    BOOST_TEST(refused.body().find("\"ErrorType\":\"PayloadTooLarge\"") != std::string::npos);
    BOOST_TEST(!refused.keep_alive());
}

BOOST_AUTO_TEST_CASE(a_failing_handler_gives_500_without_internals_and_the_server_goes_on) {
    host_program host;
    client c(host.run_one(test_config()));
    c.send("GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto res = c.read();
    BOOST_TEST(res.result_int() == 500);
    BOOST_TEST(res.body().find("InternalError") != std::string::npos);
    BOOST_TEST(res.body().find("secret") == std::string::npos);
    BOOST_TEST(c.read().body() == "ok");
}

// The demo SMTP server cuts every client off at its limit by closing the socket from a timer.
// With two threads on the io_context that close ran beside the client's own reads and writes
// until each client got a strand of its own (issue 11): TSan (scripts/sanitize tsan, not run
// by ctest) reported the race on the socket; the plain build checks the cut-off itself. Here clients that never stop talking are all cut off, and the
// server goes on greeting new ones.
BOOST_AUTO_TEST_CASE(the_demo_smtp_server_cuts_off_endless_clients_with_two_threads) {
    asio::io_context io(2);
    const auto cert = std::filesystem::temp_directory_path() / ("demo-smtp-test-" + std::to_string(::getpid()) + ".pem");
    demo_smtp_server demo(io.get_executor(), "127.0.0.1", 0, "demo", "demo", cert.string(),
                           std::chrono::milliseconds(200));
    demo.start();
    auto work = asio::make_work_guard(io);
    std::thread t1([&] { io.run(); }), t2([&] { io.run(); });
    // However the test ends (a failed connect throws), the threads stop and the file goes.
    struct stop_and_join {
        asio::io_context& io;
        std::thread &a, &b;
        std::filesystem::path file;
        ~stop_and_join() {
            io.stop();
            if (a.joinable()) a.join();
            if (b.joinable()) b.join();
            std::error_code ec;
            std::filesystem::remove(file, ec);
        }
    } cleanup{io, t1, t2, cert};

    // Each client sends NOOP after NOOP, without waiting for the replies, until the server
    // closes the connection; it counts the replies it read.
    auto endless_client = [port = demo.port()] {
        asio::io_context cio;
        tcp::socket s(cio);
        s.connect({asio::ip::make_address("127.0.0.1"), port});
        std::string noops;
        for (int i = 0; i < 64; ++i) noops += "NOOP\r\n";
        std::array<char, 4096> in;
        std::size_t replies = 0;
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        boost::system::error_code ec;
        while (!ec && std::chrono::steady_clock::now() < give_up) {
            asio::write(s, asio::buffer(noops), ec);
            if (ec) break;
            auto n = s.read_some(asio::buffer(in), ec);
            replies += static_cast<std::size_t>(std::count(in.begin(), in.begin() + n, '\n'));
        }
        return std::pair(!!ec, replies);
    };
    std::vector<std::future<std::pair<bool, std::size_t>>> clients;
    for (int i = 0; i < 8; ++i) clients.push_back(std::async(std::launch::async, endless_client));
    for (auto& c : clients) {
        auto [cut_off, replies] = c.get();
        BOOST_TEST(cut_off);          // the server closed the connection
        BOOST_TEST(replies > 1u);     // after the greeting and some answers
    }

    // Still serving: a new client is greeted.
    asio::io_context cio;
    tcp::socket s(cio);
    s.connect({asio::ip::make_address("127.0.0.1"), demo.port()});
    std::string greeting;
    asio::read_until(s, asio::dynamic_buffer(greeting), "\r\n");
    BOOST_TEST(greeting.starts_with("220 "));
}

BOOST_AUTO_TEST_SUITE_END()
