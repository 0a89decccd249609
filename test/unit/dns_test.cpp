// DNS with c-ares (issue 10), against a fake DNS server on 127.0.0.1 (UDP, in this process):
// answers, the cache, NXDOMAIN, SERVFAIL, no address, a name that never answers, 100
// records; then whole tests through run_test: the resolve phase under the deadline, at most
// 16 addresses used, and Happy Eyeballs moving on from an address that drops SYNs.
#include "smtpcheck/smtp/dns.hpp"
#include "smtpcheck/smtp/engine.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <map>
#include <optional>

namespace asio = boost::asio;
using namespace smtpcheck::smtp;
using boost::system::error_code;
using asio::ip::udp;
using clock_type = std::chrono::steady_clock;

namespace {

// An authoritative server for a few names. Unknown names are NXDOMAIN.
class fake_dns {
public:
    struct entry {
        int rcode = 0;
        bool silent = false;  ///< never answers
        std::vector<asio::ip::address> addresses;
        std::uint32_t ttl = 60;
    };

    // One port for UDP and TCP. TCP's is chosen first and UDP tried on it, again with a new port
    // if that one is taken: a port free for UDP was sometimes in use by a TCP connection of an
    // earlier test (bind: address in use, about one run in six).
    explicit fake_dns(asio::io_context& io) : socket_(io), tcp_(io) {
        const auto loopback = asio::ip::make_address("127.0.0.1");
        for (int attempt = 0;; ++attempt) {
            tcp_ = asio::ip::tcp::acceptor(io, {loopback, 0});
            socket_ = udp::socket(io, udp::v4());
            error_code ec;
            socket_.bind({loopback, tcp_.local_endpoint().port()}, ec);
            if (!ec) break;
            if (attempt == 20) throw boost::system::system_error(ec);
        }
        receive();
        accept();
    }
    std::string server() const { return "127.0.0.1:" + std::to_string(socket_.local_endpoint().port()); }
    std::map<std::string, entry> zone;
    std::map<std::string, int> queries;  ///< per name, A and AAAA counted apart

private:
    // DNS over TCP (RFC 1035 4.2.2): what a resolver asks after a truncated UDP answer.
    void accept() {
        tcp_.async_accept([this](error_code ec, asio::ip::tcp::socket s) {
            if (ec) return;
            auto conn = std::make_shared<asio::ip::tcp::socket>(std::move(s));
            auto buf = std::make_shared<std::array<char, 2048>>();
            conn->async_read_some(asio::buffer(*buf), [this, conn, buf](error_code ec, std::size_t n) {
                if (ec || n < 2) return;
                auto reply = answer(std::string(buf->data() + 2, n - 2), false);
                if (reply.empty()) return;
                auto out = std::make_shared<std::string>();
                *out += static_cast<char>(reply.size() >> 8);
                *out += static_cast<char>(reply.size() & 0xFF);
                *out += reply;
                asio::async_write(*conn, asio::buffer(*out), [conn, out](error_code, std::size_t) {});
            });
            accept();
        });
    }

    void receive() {
        socket_.async_receive_from(asio::buffer(in_), peer_, [this](error_code ec, std::size_t n) {
            if (ec) return;
            auto reply = answer(std::string(in_.data(), n), true);
            if (!reply.empty()) socket_.send_to(asio::buffer(reply), peer_);
            receive();
        });
    }

    std::string answer(const std::string& q, bool udp) {
        if (q.size() < 17) return {};
        std::size_t i = 12;
        std::string name;
        while (i < q.size() && q[i] != 0) {
            const auto len = static_cast<unsigned char>(q[i]);
            if (i + 1 + len > q.size()) return {};
            if (!name.empty()) name += '.';
            for (std::size_t k = 0; k < len; ++k) name += static_cast<char>(std::tolower(q[i + 1 + k]));
            i += 1 + len;
        }
        if (i + 5 > q.size()) return {};
        const int qtype = (static_cast<unsigned char>(q[i + 1]) << 8) | static_cast<unsigned char>(q[i + 2]);
        const std::size_t question_end = i + 5;
        ++queries[name];

        entry e;
        e.rcode = 3;  // NXDOMAIN
        if (auto z = zone.find(name); z != zone.end()) e = z->second;
        if (e.silent) return {};
        std::string records;
        int count = 0;
        for (const auto& a : e.addresses) {
            if ((qtype == 1 && !a.is_v4()) || (qtype == 28 && !a.is_v6()) || (qtype != 1 && qtype != 28)) continue;
            records += "\xC0\x0C";  // the question's name
            records += static_cast<char>(0);
            records += static_cast<char>(qtype);
            records += std::string("\x00\x01", 2);
            for (int s = 24; s >= 0; s -= 8) records += static_cast<char>((e.ttl >> s) & 0xFF);
            if (a.is_v4()) {
                auto b = a.to_v4().to_bytes();
                records += std::string("\x00\x04", 2) + std::string(b.begin(), b.end());
            } else {
                auto b = a.to_v6().to_bytes();
                records += std::string("\x00\x10", 2) + std::string(b.begin(), b.end());
            }
            ++count;
        }
        const bool truncated = udp && 12 + (question_end - 12) + records.size() > 512;
        if (truncated) records.clear(), count = 0;
        std::string out = q.substr(0, 2);                                      // id
        out += static_cast<char>(0x84 | (truncated ? 0x02 : 0) | (q[2] & 0x01));  // QR, AA, TC, RD
        out += static_cast<char>(0x80 | (e.rcode & 0x0F));      // RA, rcode
        out += std::string("\x00\x01", 2);                      // one question
        out += static_cast<char>(count >> 8);
        out += static_cast<char>(count & 0xFF);
        out += std::string(4, '\0');                            // no authority, no additional
        out += q.substr(12, question_end - 12);
        out += records;
        return out;
    }

    udp::socket socket_;
    asio::ip::tcp::acceptor tcp_;
    std::array<char, 1500> in_{};
    udp::endpoint peer_;
};

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

dns_options options_for(const fake_dns& dns) {
    dns_options o;
    o.servers = {dns.server()};
    o.lookups = "b";  // DNS only: /etc/hosts is not part of these tests
    o.query_timeout = std::chrono::milliseconds(3000);
    o.tries = 1;
    return o;
}

struct fixture {
    asio::io_context io;
    fake_dns dns{io};

    fixture() {
        dns.zone["ok.test"] = {0, false, {ip("127.0.0.1")}, 60};
        dns.zone["both.test"] = {0, false, {ip("127.0.0.1"), ip("::1")}, 60};
        dns.zone["fail.test"] = {2, false, {}, 60};
        dns.zone["empty.test"] = {0, false, {}, 60};
        for (int i = 0; i < 4; ++i) dns.zone["silent" + std::to_string(i) + ".test"] = {0, true, {}, 60};
        for (int i = 0; i < 10; ++i) dns.zone["ok" + std::to_string(i) + ".test"] = {0, false, {ip("127.0.0.1")}, 60};
    }

    // One lookup, run to completion.
    dns_answer resolve(dns_resolver& r, std::string host) {
        std::optional<dns_answer> out;
        r.async_resolve(std::move(host), [&](dns_answer a) { out = std::move(a); });
        io.restart();
        while (!out && io.run_one_for(std::chrono::seconds(10))) {
        }
        BOOST_REQUIRE(out.has_value());
        return *out;
    }

    test_report run(test_settings settings, std::string uri) {
        std::optional<test_report> report;
        asio::co_spawn(io, run_test(io.get_executor(), test_request{std::move(uri), "jane@example.com", false}, settings),
                       [&](std::exception_ptr, test_report r) { report = std::move(r); });
        io.restart();
        while (!report && io.run_one_for(std::chrono::seconds(20))) {
        }
        BOOST_REQUIRE(report.has_value());
        return *report;
    }
};

// A port on 127.0.0.1 where nothing listens.
std::uint16_t closed_port(asio::io_context& io) {
    asio::ip::tcp::acceptor a(io, {ip("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dns)

BOOST_FIXTURE_TEST_CASE(a_name_resolves_and_then_comes_from_the_cache, fixture) {
    dns_resolver r(io.get_executor(), options_for(dns));
    auto first = resolve(r, "OK.test");
    BOOST_TEST((first.status == dns_status::ok));
    BOOST_TEST(!first.cached);
    BOOST_TEST((first.addresses == std::vector<asio::ip::address>{ip("127.0.0.1")}));
    const int asked = dns.queries["ok.test"];
    BOOST_TEST(asked >= 1);  // A and AAAA

    auto second = resolve(r, "ok.test");
    BOOST_TEST((second.status == dns_status::ok));
    BOOST_TEST(second.cached);
    BOOST_TEST((second.addresses == first.addresses));
    BOOST_TEST(dns.queries["ok.test"] == asked);  // nothing sent

    r.clear_cache();
    auto third = resolve(r, "ok.test");
    BOOST_TEST(!third.cached);
    BOOST_TEST(dns.queries["ok.test"] == 2 * asked);
}

BOOST_FIXTURE_TEST_CASE(without_the_cache_every_lookup_asks, fixture) {
    auto o = options_for(dns);
    o.cache_entries = 0;
    dns_resolver r(io.get_executor(), o);
    resolve(r, "ok.test");
    const int asked = dns.queries["ok.test"];
    auto again = resolve(r, "ok.test");
    BOOST_TEST(!again.cached);
    BOOST_TEST(dns.queries["ok.test"] == 2 * asked);
}

BOOST_FIXTURE_TEST_CASE(the_cache_keeps_at_most_its_entries, fixture) {
    auto o = options_for(dns);
    o.cache_entries = 2;
    dns_resolver r(io.get_executor(), o);
    resolve(r, "ok0.test");
    resolve(r, "ok1.test");
    resolve(r, "ok2.test");  // ok0 is dropped: the least recently used
    BOOST_TEST(resolve(r, "ok2.test").cached);
    BOOST_TEST(resolve(r, "ok1.test").cached);
    BOOST_TEST(!resolve(r, "ok0.test").cached);
}

BOOST_FIXTURE_TEST_CASE(a_zero_ttl_answer_is_not_kept, fixture) {
    dns.zone["zero.test"] = {0, false, {ip("127.0.0.1")}, 0};
    dns_resolver r(io.get_executor(), options_for(dns));
    resolve(r, "zero.test");
    BOOST_TEST(!resolve(r, "zero.test").cached);
}

BOOST_FIXTURE_TEST_CASE(both_families_are_asked, fixture) {
    dns_resolver r(io.get_executor(), options_for(dns));
    auto a = resolve(r, "both.test");
    BOOST_TEST((a.status == dns_status::ok));
    BOOST_TEST(a.addresses.size() == 2u);
}

BOOST_FIXTURE_TEST_CASE(each_failure_names_its_cause, fixture) {
    dns_resolver r(io.get_executor(), options_for(dns));
    auto nx = resolve(r, "nosuch.test");
    BOOST_TEST((nx.status == dns_status::not_found));
    BOOST_TEST(nx.detail.find("NXDOMAIN") != std::string::npos, nx.detail);
    auto fail = resolve(r, "fail.test");
    BOOST_TEST((fail.status == dns_status::server_failed));
    BOOST_TEST(fail.detail.find("SERVFAIL") != std::string::npos, fail.detail);
    auto empty = resolve(r, "empty.test");
    BOOST_TEST((empty.status == dns_status::no_address || empty.status == dns_status::not_found));
    BOOST_TEST(!empty.detail.empty());
    BOOST_TEST(!resolve(r, "nosuch.test").cached);  // failures are not cached
}

BOOST_FIXTURE_TEST_CASE(names_that_never_answer_do_not_delay_the_others, fixture) {
    dns_resolver r(io.get_executor(), options_for(dns));  // 3 s per query
    std::vector<std::weak_ptr<detail::dns_wait>> silent(4);
    int silent_done = 0, ok_done = 0;
    for (int i = 0; i < 4; ++i)
        r.async_resolve("silent" + std::to_string(i) + ".test", [&](dns_answer a) {
            ++silent_done;
            BOOST_TEST((a.status == dns_status::cancelled));
        }, &silent[static_cast<std::size_t>(i)]);
    const auto started = clock_type::now();
    for (int i = 0; i < 10; ++i)
        r.async_resolve("ok" + std::to_string(i) + ".test", [&](dns_answer a) {
            ++ok_done;
            BOOST_TEST((a.status == dns_status::ok));
        });
    while (ok_done < 10 && io.run_one_for(std::chrono::seconds(5))) {
    }
    BOOST_TEST(ok_done == 10);
    BOOST_TEST(silent_done == 0);
    BOOST_TEST((clock_type::now() - started < std::chrono::seconds(1)));
    // A deadline abandons a lookup at once.
    for (auto& w : silent)
        if (auto p = w.lock()) p->abandon();
    io.restart();
    while (silent_done < 4 && io.run_one_for(std::chrono::seconds(1))) {
    }
    BOOST_TEST(silent_done == 4);
}

// The context's own resolver (dns_resolver::of) used from strands on two threads, as `serve`
// with server.threads = 2 uses it (scripts/sanitize tsan runs this).
BOOST_FIXTURE_TEST_CASE(lookups_from_two_threads_share_the_context_resolver_safely, fixture) {
    asio::io_context clients(2);
    std::atomic<int> ok{0}, cached{0};
    for (int i = 0; i < 200; ++i) {
        auto strand = asio::make_strand(clients);
        asio::co_spawn(strand, [&, strand, i]() -> asio::awaitable<void> {
            auto& r = dns_resolver::of(asio::any_io_executor(strand), options_for(dns));
            auto a = co_await r.async_resolve("ok" + std::to_string(i % 10) + ".test", asio::use_awaitable);
            ok += a.status == dns_status::ok;
            cached += a.cached;
        }, asio::detached);
    }
    std::thread dns_thread([&] { io.run_for(std::chrono::seconds(10)); });
    std::thread other([&] { clients.run_for(std::chrono::seconds(10)); });
    clients.run_for(std::chrono::seconds(10));
    other.join();
    io.stop();
    dns_thread.join();
    BOOST_TEST(ok.load() == 200);
    BOOST_TEST(dns.queries.size() <= 10u);  // ten names, each asked once (A and AAAA)
}

BOOST_FIXTURE_TEST_CASE(a_name_that_never_answers_ends_at_the_deadline_in_phase_resolve, fixture) {
    test_settings s;
    s.deadline = std::chrono::milliseconds(300);
    s.destinations.allow_private = true;
    s.destinations.any_port = true;
    s.resolver = std::make_shared<dns_resolver>(io.get_executor(), options_for(dns));
    const auto started = clock_type::now();
    auto report = run(s, "smtp://silent0.test:25");
    BOOST_TEST((report.code == outcome_code::timeout));
    BOOST_TEST((report.failed_phase == phase::resolve));
    BOOST_TEST((clock_type::now() - started < std::chrono::seconds(2)));
}

BOOST_FIXTURE_TEST_CASE(a_failed_lookup_is_dns_failed_with_its_cause, fixture) {
    test_settings s;
    s.resolver = std::make_shared<dns_resolver>(io.get_executor(), options_for(dns));
    auto report = run(s, "smtp://fail.test:25");
    BOOST_TEST((report.code == outcome_code::dns_failed));
    BOOST_TEST((report.failed_phase == phase::resolve));
    BOOST_TEST(report.detail.find("SERVFAIL") != std::string::npos, report.detail);
}

BOOST_FIXTURE_TEST_CASE(of_100_addresses_16_are_used, fixture) {
    auto& many = dns.zone["many.test"];
    for (int i = 1; i <= 100; ++i) many.addresses.push_back(ip(("127.0.1." + std::to_string(i)).c_str()));
    test_settings s;
    s.destinations.allow_private = true;
    s.destinations.any_port = true;
    s.resolver = std::make_shared<dns_resolver>(io.get_executor(), options_for(dns));
    auto report = run(s, "smtp://many.test:" + std::to_string(closed_port(io)));
    BOOST_TEST((report.code == outcome_code::connect_failed), report.detail);
    BOOST_REQUIRE(report.tried.size() == 33u);
    for (std::size_t i = 0; i < 16; ++i) BOOST_TEST(report.tried[i].outcome == "connect refused");
    for (std::size_t i = 16; i < 32; ++i) BOOST_TEST(report.tried[i].outcome == "not tried: more than 16 addresses");
    BOOST_TEST(report.tried[32].outcome == "not tried: 68 more addresses");
}

BOOST_FIXTURE_TEST_CASE(happy_eyeballs_moves_on_from_an_address_that_drops_syns, fixture) {
    using asio::ip::tcp;
    // 127.0.0.1:P answers with a refusal to serve: enough to show which address was used. Its
    // port is chosen first: a port free on 127.0.0.2 was sometimes taken on 127.0.0.1 by another
    // test's socket (bind: address in use).
    // 127.0.0.2:P never answers a SYN: its accept queue is full and nobody accepts. (Tried
    // again on a new port if P is taken on 127.0.0.2.)
    tcp::acceptor server(io), full(io);
    for (int attempt = 0;; ++attempt) {
        server = tcp::acceptor(io, {ip("127.0.0.1"), 0});
        full = tcp::acceptor(io);
        full.open(tcp::v4());
        error_code ec;
        full.bind({ip("127.0.0.2"), server.local_endpoint().port()}, ec);
        if (!ec) break;
        if (attempt == 20) throw boost::system::system_error(ec);
    }
    const auto port = server.local_endpoint().port();
    full.listen(0);
    tcp::socket filler(io);
    filler.connect(full.local_endpoint());
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        auto s = co_await server.async_accept(asio::use_awaitable);
        co_await asio::async_write(s, asio::buffer(std::string("554 no service here\r\n")), asio::use_awaitable);
        char b[64];
        error_code ec;
        co_await s.async_read_some(asio::buffer(b), asio::redirect_error(asio::use_awaitable, ec));
    }, asio::detached);
    dns.zone["he.test"] = {0, false, {ip("127.0.0.2"), ip("127.0.0.1")}, 60};

    test_settings s;
    s.deadline = std::chrono::seconds(10);
    s.destinations.allow_private = true;
    s.destinations.any_port = true;
    s.resolver = std::make_shared<dns_resolver>(io.get_executor(), options_for(dns));
    const auto started = clock_type::now();
    auto report = run(s, "smtp://he.test:" + std::to_string(port));
    BOOST_TEST((clock_type::now() - started < std::chrono::seconds(2)));
    BOOST_TEST((report.code == outcome_code::greeting_rejected));
    BOOST_TEST(report.address.value_or("") == "127.0.0.1");
    BOOST_REQUIRE(report.tried.size() == 2u);
    BOOST_TEST(report.tried[0].address == "127.0.0.2");
    BOOST_TEST(report.tried[0].outcome == "abandoned: another address connected first");
    BOOST_TEST(report.tried[1].address == "127.0.0.1");
    BOOST_TEST(report.tried[1].outcome == "connected");
    BOOST_TEST(report.dns_cached.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
