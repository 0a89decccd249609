// A host program with its own io_context and its own route, running smtpcheck's HTTP server
// beside its other work. It asks itself for /healthz and /hello, prints the answers, stops
// the server gracefully and exits 0 when both answers were 200.
#include <smtpcheck/server/config.hpp>
#include <smtpcheck/server/http_server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <iostream>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using smtpcheck::server::http_server;
using smtpcheck::server::request;
using smtpcheck::server::request_context;
using smtpcheck::server::response;

asio::awaitable<response> hello(std::string who) {
    co_return response{http::status::ok, "text/plain; charset=utf-8", "hello, " + who, {}, false};
}

asio::awaitable<unsigned> get(asio::ip::tcp::endpoint at, std::string target) {
    boost::beast::tcp_stream stream(co_await asio::this_coro::executor);
    co_await stream.async_connect(at, asio::use_awaitable);
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, "localhost");
    co_await http::async_write(stream, req, asio::use_awaitable);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    co_await http::async_read(stream, buffer, res, asio::use_awaitable);
    std::cout << target << " -> " << res.result_int() << " " << res.body() << "\n";
    co_return res.result_int();
}

asio::awaitable<void> ask_and_stop(http_server& server, asio::ip::tcp::endpoint at, bool& ok) {
    ok = co_await get(at, "/healthz") == 200 && co_await get(at, "/hello") == 200;
    server.stop();
}

int main() {
    asio::io_context io;
    auto cfg = smtpcheck::load_config_text("", {"server.listen=127.0.0.1:0", "log.access=false"});

    smtpcheck::server::router routes(cfg.server.base_path);
    routes.add(smtpcheck::server::route_scope::root, "/hello", http::verb::get,
               {nullptr, [](request_context& ctx, request&) { return hello(std::string(ctx.peer)); }});

    http_server server(io.get_executor(), cfg, std::move(routes), nullptr);
    server.start();
    auto address = server.local_addresses().at(0);  // http://127.0.0.1:PORT
    auto port = static_cast<unsigned short>(std::stoi(address.substr(address.rfind(':') + 1)));

    bool ok = false;
    asio::co_spawn(io, ask_and_stop(server, {asio::ip::make_address("127.0.0.1"), port}, ok), asio::detached);
    asio::co_spawn(io, server.wait(), asio::detached);
    io.run();  // returns when the server has drained and nothing else is left
    std::cout << (ok ? "embedded server answered\n" : "embedded server failed\n");
    return ok ? 0 : 1;
}
