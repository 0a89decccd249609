// Dialogs per second against an SMTP server on 127.0.0.1, by two clients in the same binary:
//   --client engine: smtpcheck::smtp::run_test, the whole test with its report
//   --client raw:    the bare dialog (greeting, EHLO, MAIL/RCPT/DATA pipelined, message, QUIT)
//                    with nothing else: the ceiling. Its message is one made once by the
//                    engine's composer (the same headers and lines as a test's), so the
//                    server does the same work for both clients.
// usage: smtp_dialogs --client engine|raw --port P [--concurrency N] [--seconds S]
//                     [--uri URI] [--insecure]   (engine only: another URI, e.g. STARTTLS + AUTH)
//                     [--one-at-a-time]          (raw only: no pipelining, one command per round trip)
// Prints dialogs per second and the median time of one dialog.
#include "smtpcheck/smtp/message.hpp"
#include "smtpcheck/smtp/engine.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <vector>
#include <cstdio>
#include <cstring>
#include <string>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct tally {
    std::uint64_t ok = 0, failed = 0;
    std::chrono::steady_clock::time_point until;
    std::vector<double> micros;  ///< each dialog's duration
};

void timed(tally& t, std::chrono::steady_clock::time_point start, bool ok) {
    (ok ? t.ok : t.failed)++;
    if (t.micros.size() < 1'000'000)
        t.micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
}

// Reads one reply (the line whose fourth octet is a space) and returns its code.
asio::awaitable<int> read_reply(tcp::socket& s, std::string& buf) {
    for (;;) {
        std::size_t start = 0;
        for (auto eol = buf.find('\n', start); eol != std::string::npos; eol = buf.find('\n', start)) {
            if (eol - start >= 4 && buf[start + 3] == ' ') {
                int code = std::atoi(buf.c_str() + start);
                buf.erase(0, eol + 1);
                co_return code;
            }
            start = eol + 1;
        }
        char tmp[2048];
        auto [ec, n] = co_await s.async_read_some(asio::buffer(tmp), use_tuple);
        if (ec) co_return -1;
        buf.append(tmp, n);
    }
}

asio::awaitable<bool> raw_dialog(tcp::endpoint at, bool one_at_a_time, const std::string& message) {
    tcp::socket s(co_await asio::this_coro::executor);
    auto [cec] = co_await s.async_connect(at, use_tuple);
    if (cec) co_return false;
    s.set_option(tcp::no_delay(true));
    std::string buf;
    auto say = [&](std::string_view text) -> asio::awaitable<bool> {
        auto [ec, n] = co_await asio::async_write(s, asio::buffer(text), use_tuple);
        co_return !ec;
    };
    if (co_await read_reply(s, buf) != 220) co_return false;
    if (!co_await say("EHLO [127.0.0.1]\r\n") || co_await read_reply(s, buf) != 250) co_return false;
    if (one_at_a_time) {
        if (!co_await say("MAIL FROM:<bench@example.com>\r\n") || co_await read_reply(s, buf) != 250) co_return false;
        if (!co_await say("RCPT TO:<sink@example.com>\r\n") || co_await read_reply(s, buf) != 250) co_return false;
        if (!co_await say("DATA\r\n") || co_await read_reply(s, buf) != 354) co_return false;
    } else {
        if (!co_await say("MAIL FROM:<bench@example.com>\r\nRCPT TO:<sink@example.com>\r\nDATA\r\n")) co_return false;
        if (co_await read_reply(s, buf) != 250 || co_await read_reply(s, buf) != 250 || co_await read_reply(s, buf) != 354)
            co_return false;
    }
    if (!co_await say(message) || co_await read_reply(s, buf) != 250) co_return false;
    if (!co_await say("QUIT\r\n")) co_return false;
    co_await read_reply(s, buf);
    co_return true;
}

asio::awaitable<void> raw_worker(tcp::endpoint at, bool one_at_a_time, const std::string& message, tally& t) {
    while (std::chrono::steady_clock::now() < t.until) {
        auto start = std::chrono::steady_clock::now();
        bool ok = co_await raw_dialog(at, one_at_a_time, message);
        timed(t, start, ok);
    }
}

asio::awaitable<void> engine_worker(std::string uri, std::shared_ptr<const smtpcheck::smtp::test_settings> settings,
                                    tally& t) {
    auto ex = co_await asio::this_coro::executor;
    while (std::chrono::steady_clock::now() < t.until) {
        // A named request: GCC 12 destroys a braced temporary inside co_await twice.
        smtpcheck::smtp::test_request request{uri, "bench@example.com", false};
        auto start = std::chrono::steady_clock::now();
        // Shared settings, as the endpoint runs its tests.
        auto report = co_await smtpcheck::smtp::run_test(ex, std::move(request), settings);
        timed(t, start, report.success);
    }
}

int main(int argc, char** argv) {
    std::string client = "engine", uri;
    bool insecure = false, one_at_a_time = false;
    unsigned short port = 0;
    int concurrency = 1;
    double seconds = 5;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--insecure")) insecure = true;
        if (!std::strcmp(argv[i], "--one-at-a-time")) one_at_a_time = true;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--insecure") || !std::strcmp(argv[i], "--one-at-a-time")) {
            --i;
            continue;
        }
        if (!std::strcmp(argv[i], "--client")) client = argv[i + 1];
        else if (!std::strcmp(argv[i], "--uri")) uri = argv[i + 1];
        else if (!std::strcmp(argv[i], "--port")) port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--concurrency")) concurrency = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    }
    if (!port || (client != "engine" && client != "raw")) {
        std::fprintf(stderr, "usage: smtp_dialogs --client engine|raw --port P [--concurrency N] [--seconds S]\n");
        return 2;
    }
    asio::io_context io(1);
    tally t;
    auto started = std::chrono::steady_clock::now();
    t.until = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
    smtpcheck::smtp::test_settings settings;
    settings.destinations.allow_private = true;
    settings.destinations.any_port = true;
    settings.test_recipient = "sink@example.com";
    settings.tls = smtpcheck::smtp::make_client_tls_context({});
    settings.tls_verify = !insecure;
    settings.keep_transcript = false;  // as TestSmtpServer runs the engine (the raw client keeps none either)
    auto shared = std::make_shared<const smtpcheck::smtp::test_settings>(std::move(settings));
    if (uri.empty()) uri = "smtp://127.0.0.1:" + std::to_string(port);
    // The raw client's message: what a test sends, composed once (ids fixed), with the final dot.
    std::string message;
    {
        smtpcheck::smtp::message_fields fields;
        fields.from = "bench@example.com";
        fields.to = shared->test_recipient;
        fields.subject = shared->subject;
        fields.body = shared->body;
        for (auto [key, value] : {std::pair<std::string_view, std::string_view>{"{from}", fields.from},
                                  {"{test_id}", "0123456789abcdef"}})
            if (auto at = fields.body.find(key); at != std::string::npos) fields.body.replace(at, key.size(), value);
        fields.message_id = smtpcheck::smtp::random_message_id();
        fields.date = std::chrono::system_clock::now();
        message = smtpcheck::smtp::compose_message(fields) + ".\r\n";
    }
    for (int i = 0; i < concurrency; ++i) {
        if (client == "raw")
            asio::co_spawn(io, raw_worker({asio::ip::make_address("127.0.0.1"), port}, one_at_a_time, message, t),
                           asio::detached);
        else
            asio::co_spawn(io, engine_worker(uri, shared, t), asio::detached);
    }
    io.run();
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::sort(t.micros.begin(), t.micros.end());
    double median = t.micros.empty() ? 0 : t.micros[t.micros.size() / 2];
    std::printf("%.0f dialogs/s (%llu ok, %llu failed), median %.0f us\n", static_cast<double>(t.ok) / elapsed,
                static_cast<unsigned long long>(t.ok), static_cast<unsigned long long>(t.failed), median);
    return t.failed ? 1 : 0;
}
