// The I/O side of the SMTP test: the dialog driver over a scripted transport with a fault
// injected at every operation in turn, and run_test cancelled from outside.
#include "smtpcheck/smtp/detail/dialog_driver.hpp"
#include "smtpcheck/smtp/engine.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <deque>

namespace asio = boost::asio;
using namespace smtpcheck::smtp;
using boost::system::error_code;

namespace {

enum class fault { none, error, close, garbage, silence };

// A server's side of a successful plain dialog; each read or write is one operation, and
// operation `fail_at` suffers `kind`.
class scripted_transport {
public:
    scripted_transport(std::deque<std::string> replies, std::size_t fail_at, fault kind)
        : replies_(std::move(replies)), fail_at_(fail_at), kind_(kind) {}

    asio::awaitable<std::pair<error_code, std::size_t>> read_some(asio::mutable_buffer b) {
        reads_.push_back(count_);
        if (operation() && kind_ != fault::none) {
            switch (kind_) {
            case fault::error: co_return std::pair{error_code(asio::error::connection_reset), std::size_t(0)};
            case fault::close: co_return std::pair{error_code(asio::error::eof), std::size_t(0)};
            case fault::silence:  // what the deadline's close looks like to a pending read
                co_return std::pair{error_code(asio::error::operation_aborted), std::size_t(0)};
            case fault::garbage: {
                std::string g = "this is not smtp\r\n";
                asio::buffer_copy(b, asio::buffer(g));
                co_return std::pair{error_code{}, g.size()};
            }
            case fault::none: break;
            }
        }
        if (replies_.empty()) co_return std::pair{error_code(asio::error::eof), std::size_t(0)};
        std::string r = std::move(replies_.front());
        replies_.pop_front();
        auto n = asio::buffer_copy(b, asio::buffer(r));
        co_return std::pair{error_code{}, n};
    }

    asio::awaitable<error_code> write(std::string_view) {
        if (operation() && (kind_ == fault::error || kind_ == fault::close)) co_return asio::error::broken_pipe;
        co_return error_code{};
    }

    asio::awaitable<error_code> start_tls() { co_return error_code{}; }
    bool tls_active() const { return false; }
    std::size_t operations() const { return count_; }
    const std::vector<std::size_t>& reads() const { return reads_; }

private:
    bool operation() { return count_++ == fail_at_; }

    std::deque<std::string> replies_;
    std::size_t fail_at_;
    fault kind_;
    std::size_t count_ = 0;
    std::vector<std::size_t> reads_;
};

const std::deque<std::string> success_script = {
    "220 mx ESMTP\r\n", "250-mx\r\n250 8BITMIME\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n",
    "221 bye\r\n"};

struct driven {
    dialog d;
    test_report report;
    std::size_t operations = 0;
    std::vector<std::size_t> reads;
};

asio::awaitable<void> drive_over(scripted_transport& t, dialog& d, test_report& report, const test_settings& settings) {
    detail::driver_context ctx(settings, report, std::chrono::steady_clock::now());
    co_await detail::drive_dialog(t, d, ctx);
}

driven drive(std::size_t fail_at, fault kind) {
    dialog_settings s;
    s.ehlo_domain = "[127.0.0.1]";
    s.from = "jane@example.com";
    s.recipient = "smtp-test@superoffice.com";
    s.message = "Subject: t\r\n\r\nhi\r\n";
    driven out{dialog(s), {}, 0, {}};
    test_settings settings;
    asio::io_context io;
    scripted_transport t(success_script, fail_at, kind);
    asio::co_spawn(io, drive_over(t, out.d, out.report, settings), asio::detached);
    io.run();
    out.operations = t.operations();
    out.reads = t.reads();
    return out;
}


// Every script of issue 10: the server's replies, the dialog's settings, what the user sees.
struct script {
    const char* name;
    tls_mode mode;
    std::optional<std::string> user, password;
    std::string mechanism;
    std::vector<std::string> replies;
    outcome_code failure;  ///< none: the script succeeds
    bool tls_at_start = false;
};

std::vector<script> scripts() {
    const std::string tail_plain[] = {"250 2.1.0 ok\r\n", "250 2.1.5 ok\r\n", "354 go\r\n", "250 2.0.0 queued\r\n",
                                      "221 bye\r\n"};
    auto with_tail = [&](std::vector<std::string> head) {
        head.insert(head.end(), std::begin(tail_plain), std::end(tail_plain));
        return head;
    };
    const std::string tls_ehlo = "250-mx.example\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
    auto after_tls = [&](std::string auth_ehlo, std::vector<std::string> auth) {
        std::vector<std::string> r{"220 mx.example ESMTP\r\n", tls_ehlo, "220 2.0.0 go ahead\r\n", std::move(auth_ehlo)};
        r.insert(r.end(), auth.begin(), auth.end());
        return with_tail(std::move(r));
    };
    return {
        {"plain", tls_mode::opportunistic, {}, {}, "",
         with_tail({"220 mx.example ESMTP\r\n", "250-mx.example\r\n250 8BITMIME\r\n"}), outcome_code::none},
        {"starttls", tls_mode::starttls, {}, {}, "",
         after_tls("250-mx.example\r\n250 8BITMIME\r\n", {}), outcome_code::none},
        {"implicit tls, AUTH PLAIN", tls_mode::implicit, "jane", "secret", "",
         with_tail({"220 mx.example ESMTP\r\n", "250-mx.example\r\n250 AUTH PLAIN LOGIN\r\n", "235 2.7.0 ok\r\n"}),
         outcome_code::none, true},
        {"AUTH PLAIN", tls_mode::starttls, "jane", "secret", "",
         after_tls("250-mx.example\r\n250 AUTH PLAIN LOGIN\r\n", {"235 2.7.0 ok\r\n"}), outcome_code::none},
        {"AUTH LOGIN", tls_mode::starttls, "jane", "secret", "LOGIN",
         after_tls("250-mx.example\r\n250 AUTH PLAIN LOGIN\r\n",
                   {"334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n", "235 2.7.0 ok\r\n"}),
         outcome_code::none},
        {"AUTH CRAM-MD5", tls_mode::starttls, "jane", "secret", "CRAM-MD5",
         after_tls("250-mx.example\r\n250 AUTH CRAM-MD5\r\n",
                   {"334 PDQxOTI5NDIzNDEuMTI4Mjg0NzJAc291cmNlZm91ci5hbmRyZXcuY211LmVkdT4=\r\n", "235 2.7.0 ok\r\n"}),
         outcome_code::none},
        {"AUTH XOAUTH2 refused with its 334 error", tls_mode::starttls, "jane", "token", "XOAUTH2",
         {"220 mx.example ESMTP\r\n", tls_ehlo, "220 2.0.0 go ahead\r\n", "250-mx.example\r\n250 AUTH XOAUTH2\r\n",
          "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=\r\n", "535 5.7.8 token invalid\r\n", "221 bye\r\n"},
         outcome_code::auth_failed},
        {"PIPELINING", tls_mode::opportunistic, {}, {}, "",
         with_tail({"220 mx.example ESMTP\r\n", "250-mx.example\r\n250 PIPELINING\r\n"}), outcome_code::none},
        {"HELO fallback", tls_mode::opportunistic, {}, {}, "",
         with_tail({"220 mx.example\r\n", "502 5.5.1 no EHLO here\r\n", "250 mx.example\r\n"}), outcome_code::none},
    };
}

// The script's replies as a server sends them, reply `split` (if any) cut at byte `at` into
// two reads, and operation `fail_at` (a read, write or handshake) failing with a reset.
class script_transport {
public:
    script_transport(const script& s, std::optional<std::pair<std::size_t, std::size_t>> split, std::size_t fail_at)
        : tls_(s.tls_at_start), fail_at_(fail_at) {
        for (std::size_t i = 0; i < s.replies.size(); ++i) {
            if (split && split->first == i) {
                reads_.push_back(s.replies[i].substr(0, split->second));
                reads_.push_back(s.replies[i].substr(split->second));
            } else {
                reads_.push_back(s.replies[i]);
            }
        }
    }

    asio::awaitable<std::pair<error_code, std::size_t>> read_some(asio::mutable_buffer b) {
        if (fails()) co_return std::pair{error_code(asio::error::connection_reset), std::size_t(0)};
        if (reads_.empty()) co_return std::pair{error_code(asio::error::eof), std::size_t(0)};
        std::string r = std::move(reads_.front());
        reads_.pop_front();
        auto n = asio::buffer_copy(b, asio::buffer(r));
        if (n < r.size()) reads_.push_front(r.substr(n));
        co_return std::pair{error_code{}, n};
    }
    asio::awaitable<error_code> write(std::string_view bytes) {
        written_ += bytes;
        co_return fails() ? error_code(asio::error::broken_pipe) : error_code{};
    }
    asio::awaitable<error_code> start_tls() {
        if (fails()) co_return error_code(asio::error::connection_reset);
        tls_ = true;
        co_return error_code{};
    }
    bool tls_active() const { return tls_; }
    std::size_t operations() const { return count_; }
    const std::string& written() const { return written_; }
    const dialog* watched = nullptr;
    std::vector<phase> phases;  ///< the dialog's phase at each operation

private:
    bool fails() {
        if (watched) phases.push_back(watched->current_phase());
        return count_++ == fail_at_;
    }
    std::deque<std::string> reads_;
    bool tls_;
    std::size_t fail_at_;
    std::size_t count_ = 0;
    std::string written_;
};

struct script_run {
    bool succeeded = false;
    outcome_code outcome = outcome_code::none;
    phase where = phase::validate;
    std::size_t operations = 0;
    std::string written;
    std::optional<reply> last;
    std::vector<phase> phases;
};

script_run play(const script& sc, std::optional<std::pair<std::size_t, std::size_t>> split = {},
                std::size_t fail_at = SIZE_MAX) {
    dialog_settings ds;
    ds.mode = sc.mode;
    ds.ehlo_domain = "[127.0.0.1]";
    ds.from = "jane@example.com";
    ds.recipient = "smtp-test@superoffice.com";
    ds.user = sc.user;
    ds.password = sc.password;
    ds.mechanism = sc.mechanism;
    ds.message = "Subject: t\r\n\r\nhi\r\n";
    dialog d(ds);
    test_settings settings;
    test_report report;
    script_transport t(sc, split, fail_at);
    t.watched = &d;
    asio::io_context io;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        detail::driver_context ctx(settings, report, std::chrono::steady_clock::now());
        co_await detail::drive_dialog(t, d, ctx);
    }, asio::detached);
    io.run();
    BOOST_TEST(d.finished());
    return {d.succeeded(), d.outcome(), d.current_phase(), t.operations(), t.written(), d.last_reply(), t.phases};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_engine)

// Issue 10, in the manner of Boost.Beast's and Boost.MySQL's tests: every script with every
// reply cut at every byte boundary gives what the whole replies give; a reset at every
// operation ends as the connection lost, in the phase of that operation, unless the message
// had been accepted already.
BOOST_AUTO_TEST_CASE(every_script_at_every_byte_boundary_and_with_a_fault_at_every_step) {
    for (const auto& sc : scripts()) {
        BOOST_TEST_CONTEXT("script " << sc.name) {
            const auto whole = play(sc);
            BOOST_TEST(whole.succeeded == (sc.failure == outcome_code::none));
            if (sc.failure != outcome_code::none) BOOST_TEST((whole.outcome == sc.failure));
            if (whole.succeeded) BOOST_TEST(whole.written.find("MAIL FROM:<jane@example.com>") != std::string::npos);
            BOOST_TEST(whole.written.find("secret") == std::string::npos);  // never in clear

            for (std::size_t r = 0; r < sc.replies.size(); ++r)
                for (std::size_t at = 1; at < sc.replies[r].size(); ++at) {
                    auto cut = play(sc, std::pair{r, at});
                    BOOST_TEST_CONTEXT("reply " << r << " cut at " << at) {
                        BOOST_TEST(cut.succeeded == whole.succeeded);
                        BOOST_TEST((cut.outcome == whole.outcome));
                        BOOST_TEST(cut.written == whole.written);
                        BOOST_TEST((cut.last.has_value() == whole.last.has_value()));
                        if (cut.last && whole.last) BOOST_TEST(cut.last->code == whole.last->code);
                    }
                }

            // The phase each operation runs in, from a run that fails there.
            bool accepted = false;
            for (std::size_t at = 0; at < whole.operations; ++at) {
                auto faulty = play(sc, std::nullopt, at);
                BOOST_TEST_CONTEXT("reset at operation " << at) {
                    if (faulty.succeeded) {  // only after the message was accepted (QUIT)
                        BOOST_TEST(whole.succeeded);
                        BOOST_TEST((faulty.where == phase::quit));
                        accepted = true;
                        continue;
                    }
                    BOOST_TEST(!accepted);  // once accepted, every later fault leaves success
                    if (!whole.succeeded && faulty.outcome == whole.outcome) {
                        // a fault in the courtesy QUIT after the failure changes nothing
                        BOOST_TEST(phase_name(faulty.where) == phase_name(whole.where));
                        continue;
                    }
                    BOOST_TEST((faulty.outcome == outcome_code::connection_lost || faulty.outcome == outcome_code::tls_failed));
                    BOOST_TEST(phase_name(faulty.where) == phase_name(whole.phases.at(at)));
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_fault_at_every_operation_ends_in_the_right_outcome) {
    auto clean = drive(SIZE_MAX, fault::none);
    BOOST_REQUIRE(clean.d.succeeded());
    const std::size_t total = clean.operations;
    BOOST_TEST(total == 13u);  // 7 replies read, 6 writes

    auto is_read = [&](std::size_t op) {
        return std::find(clean.reads.begin(), clean.reads.end(), op) != clean.reads.end();
    };
    for (fault kind : {fault::error, fault::close, fault::garbage, fault::silence}) {
        for (std::size_t at = 0; at < total; ++at) {
            auto run = drive(at, kind);
            BOOST_TEST_CONTEXT("fault " << static_cast<int>(kind) << " at operation " << at) {
                BOOST_TEST(run.d.finished());
                // Garbage and silence only happen to reads; after the message was accepted
                // (the last write and read are QUIT's) nothing changes the outcome.
                bool hits = is_read(at) || kind == fault::error || kind == fault::close;
                bool after_acceptance = at >= total - 2;
                if (!hits || after_acceptance) {
                    BOOST_TEST(run.d.succeeded());
                    continue;
                }
                BOOST_TEST(!run.d.succeeded());
                auto expected = kind == fault::garbage ? outcome_code::protocol_error : outcome_code::connection_lost;
                BOOST_TEST((run.d.outcome() == expected));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_transcript_is_kept_only_when_asked_for) {
    // Diagnose shows the transcript; TestSmtpServer never does and runs with keep_transcript off.
    for (bool keep : {true, false}) {
        test_settings settings;
        settings.keep_transcript = keep;
        test_report report;
        detail::driver_context ctx(settings, report, std::chrono::steady_clock::now());
        ctx.note('C', "EHLO [127.0.0.1]");
        detail::note_server_bytes(ctx, "250-smtp.example.com\r\n250 PIPELINING\r\n");
        ctx.enter(phase::ehlo);
        ctx.close_phase();
        BOOST_TEST(report.transcript.size() == (keep ? 3u : 0u), "keep_transcript=" << keep);
        BOOST_TEST(report.timings.size() == 1u);  // the phase timings are kept either way
    }
}

BOOST_AUTO_TEST_CASE(validation_needs_no_io_and_refuses_with_a_report) {
    test_settings settings;
    auto bad = prepare_test({"smtp://[::1%25eth0]:25", "a@example.com", false}, settings);
    BOOST_REQUIRE(std::holds_alternative<test_report>(bad));
    const auto& refused = std::get<test_report>(bad);
    BOOST_TEST((refused.code == outcome_code::uri_invalid));
    BOOST_TEST((refused.failed_phase == phase::validate));
    BOOST_REQUIRE(refused.timings.size() == 1u);
    BOOST_TEST((refused.timings[0].which == phase::validate));
    auto from = prepare_test({"smtp://mail.example.com:587", "not a mailbox", false}, settings);
    BOOST_REQUIRE(std::holds_alternative<test_report>(from));
    BOOST_TEST((std::get<test_report>(from).code == outcome_code::from_invalid));
    BOOST_TEST(std::get<test_report>(from).host == "mail.example.com");  // the URI was read
    auto stored = prepare_test({"smtp://bob@mail.example.com:587", "a@example.com", true}, settings);
    BOOST_TEST((std::get<test_report>(stored).code == outcome_code::no_stored_password));
    auto good = prepare_test({"smtp+starttls://bob:pw@mail.example.com:587", "a@example.com", false}, settings);
    BOOST_REQUIRE(std::holds_alternative<prepared_test>(good));
    const auto& p = std::get<prepared_test>(good);
    BOOST_TEST(p.uri.host == "mail.example.com");
    BOOST_TEST(p.from == "a@example.com");
    BOOST_TEST(p.report.port == 587);
    BOOST_TEST(p.report.timings.empty());  // run_test times the validate phase from p.started
}

// The validate phase is timed from when validation began, not from when run_test started
// (its timing had left out the parsing, the store lookup and the coroutine's start).
BOOST_AUTO_TEST_CASE(the_validate_phase_counts_from_the_prepared_tests_clock) {
    asio::io_context io;
    asio::ip::tcp::acceptor closed(io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = closed.local_endpoint().port();
    closed.close();  // nothing listens: the connect is refused at once
    auto settings = std::make_shared<test_settings>();
    settings->destinations.allow_private = true;
    settings->destinations.any_port = true;
    auto ready = prepare_test({"smtp://127.0.0.1:" + std::to_string(port), "a@example.com", false}, *settings);
    BOOST_REQUIRE(std::holds_alternative<prepared_test>(ready));
    auto& p = std::get<prepared_test>(ready);
    p.started -= std::chrono::seconds(1);  // as if validation had taken a second
    std::optional<test_report> report;
    asio::co_spawn(io, run_test(io.get_executor(), std::move(p), settings),
                   [&](std::exception_ptr e, test_report r) {
                       if (e) std::rethrow_exception(e);
                       report = std::move(r);
                   });
    io.run();
    BOOST_REQUIRE(report);
    BOOST_TEST((report->code == outcome_code::connect_failed));
    BOOST_REQUIRE(!report->timings.empty());
    BOOST_TEST((report->timings[0].which == phase::validate));
    BOOST_TEST(report->timings[0].ms >= 1000.0);
    BOOST_TEST(report->total_ms >= 1000.0);
}

BOOST_AUTO_TEST_CASE(a_cancelled_test_ends_at_once) {
    asio::io_context io;
    // A tarpit: accepts and never speaks.
    asio::ip::tcp::acceptor tarpit(io, {asio::ip::make_address("127.0.0.1"), 0});
    asio::ip::tcp::socket held(io);
    tarpit.async_accept(held, [](error_code) {});

    test_settings settings;
    settings.deadline = std::chrono::seconds(30);
    settings.destinations.allow_private = true;
    settings.destinations.any_port = true;
    test_request request{"smtp://127.0.0.1:" + std::to_string(tarpit.local_endpoint().port()), "jane@example.com",
                         false};

    asio::cancellation_signal cancel;
    std::optional<test_report> report;
    const auto started = std::chrono::steady_clock::now();
    asio::co_spawn(io, run_test(io.get_executor(), request, settings),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, test_report r) {
                       report = std::move(r);
                   }));
    asio::steady_timer later(io, std::chrono::milliseconds(200));
    later.async_wait([&](error_code) { cancel.emit(asio::cancellation_type::terminal); });
    io.run_for(std::chrono::seconds(10));

    BOOST_REQUIRE(report.has_value());
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(5)));
    BOOST_TEST(!report->success);
    BOOST_TEST((report->code == outcome_code::timeout));
    BOOST_TEST((report->failed_phase == phase::greeting));
    BOOST_TEST(report->detail == "cancelled by the caller");
}

BOOST_AUTO_TEST_SUITE_END()
