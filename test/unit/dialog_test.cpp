#include "smtpcheck/smtp/dialog.hpp"

#include <boost/test/unit_test.hpp>

#include <deque>

using namespace smtpcheck::smtp;

namespace {

// Plays a server: each time the dialog reads, the next scripted reply is handed over.
struct scripted_run {
    std::string written;                  // every byte the client wrote
    std::vector<std::string> transcript;  // the client lines as a transcript shows them
    int tls_handshakes = 0;
};

scripted_run play(dialog& d, std::deque<std::string> replies, bool tls_works = true, bool implicit = false) {
    scripted_run run;
    auto step = d.start(implicit);
    for (int guard = 0; guard < 50; ++guard) {
        run.written += step.bytes;
        for (auto& line : step.transcript) run.transcript.push_back(line);
        if (step.what == dialog_step::kind::finish) return run;
        if (step.what == dialog_step::kind::start_tls) {
            ++run.tls_handshakes;
            step = tls_works ? d.on_tls_started() : d.on_tls_failed();
            continue;
        }
        if (replies.empty()) {
            d.on_connection_lost();
            return run;
        }
        reply_parser parser;
        std::size_t used = 0;
        auto status = parser.feed(replies.front(), used);
        replies.pop_front();
        BOOST_REQUIRE(status == reply_parser::status::done);
        step = d.on_reply(parser.take());
    }
    BOOST_FAIL("the dialog did not finish");
    return run;
}

dialog_settings base() {
    dialog_settings s;
    s.ehlo_domain = "[192.0.2.10]";
    s.from = "jane@example.com";
    s.recipient = "smtp-test@superoffice.com";
    s.message = "Subject: test\r\n\r\nhello\r\n";
    return s;
}

const std::string greeting = "220 mx.example.com ESMTP\r\n";
const std::string ehlo_plain = "250-mx.example.com\r\n250 8BITMIME\r\n";
const std::string ok = "250 2.0.0 Ok\r\n";
const std::string go_ahead = "354 End data with <CR><LF>.<CR><LF>\r\n";
const std::string bye = "221 2.0.0 Bye\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_dialog)

BOOST_AUTO_TEST_CASE(a_plain_dialog_sends_one_message_and_quits) {
    dialog d(base());
    auto run = play(d, {greeting, ehlo_plain, ok, ok, go_ahead, ok, bye});
    BOOST_TEST(d.succeeded());
    BOOST_TEST(run.written ==
               "EHLO [192.0.2.10]\r\nMAIL FROM:<jane@example.com>\r\nRCPT TO:<smtp-test@superoffice.com>\r\n"
               "DATA\r\nSubject: test\r\n\r\nhello\r\n.\r\nQUIT\r\n");
    BOOST_TEST(d.greeting()->first_line() == "220 mx.example.com ESMTP");
}

BOOST_AUTO_TEST_CASE(pipelining_sends_mail_rcpt_and_data_in_one_write) {
    dialog d(base());
    auto step = d.start(false);
    reply_parser p;
    std::size_t used;
    p.feed(greeting, used);
    step = d.on_reply(p.take());
    p.feed("250-mx\r\n250-PIPELINING\r\n250 SIZE 1000000\r\n", used);
    step = d.on_reply(p.take());
    BOOST_TEST(step.bytes ==
               "MAIL FROM:<jane@example.com> SIZE=24\r\nRCPT TO:<smtp-test@superoffice.com>\r\nDATA\r\n");
    dialog d2(base());
    auto run = play(d2, {greeting, "250-mx\r\n250 PIPELINING\r\n", ok, ok, go_ahead, ok, bye});
    BOOST_TEST(d2.succeeded());
}

BOOST_AUTO_TEST_CASE(starttls_then_a_second_ehlo_then_auth_plain) {
    auto s = base();
    s.user = "tim";
    s.password = "tanstaafl";
    dialog d(s);
    auto run = play(d, {greeting, "250-mx\r\n250-STARTTLS\r\n250 AUTH LOGIN\r\n", "220 Go ahead\r\n",
                        "250-mx\r\n250 AUTH PLAIN LOGIN\r\n", "235 2.7.0 Authentication successful\r\n", ok, ok,
                        go_ahead, ok, bye});
    BOOST_TEST(d.succeeded());
    BOOST_TEST(run.tls_handshakes == 1);
    BOOST_TEST(d.tls_active());
    BOOST_TEST(d.auth_mechanism() == "PLAIN");
    BOOST_TEST(d.auth_succeeded());
    // RFC 4616's example credentials.
    BOOST_TEST(run.written.find("STARTTLS\r\nEHLO [192.0.2.10]\r\nAUTH PLAIN AHRpbQB0YW5zdGFhZmw=\r\n") !=
               std::string::npos);
    for (const auto& line : run.transcript) {
        BOOST_TEST(line.find("tanstaafl") == std::string::npos);
        BOOST_TEST(line.find("AHRpbQB0YW5zdGFhZmw=") == std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(required_starttls_that_is_not_offered_stops_before_credentials) {
    auto s = base();
    s.mode = tls_mode::starttls;
    s.user = "tim";
    s.password = "secret";
    dialog d(s);
    auto run = play(d, {greeting, "250-mx\r\n250 AUTH PLAIN\r\n"});
    BOOST_TEST((d.outcome() == outcome_code::tls_unavailable));
    BOOST_TEST((d.current_phase() == phase::starttls));
    BOOST_TEST(run.written.find("AUTH") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_refused_starttls_is_fatal_only_when_required) {
    dialog opportunistic(base());
    play(opportunistic, {greeting, "250-mx\r\n250 STARTTLS\r\n", "454 4.7.0 TLS not available\r\n", ok, ok, go_ahead,
                         ok, bye});
    BOOST_TEST(opportunistic.succeeded());
    BOOST_TEST(!opportunistic.tls_active());

    auto s = base();
    s.mode = tls_mode::starttls;
    dialog required(s);
    play(required, {greeting, "250-mx\r\n250 STARTTLS\r\n", "454 4.7.0 TLS not available\r\n"});
    BOOST_TEST((required.outcome() == outcome_code::tls_unavailable));
    BOOST_TEST(required.last_reply()->code == 454);
}

BOOST_AUTO_TEST_CASE(a_failed_handshake_is_tls_failed) {
    dialog d(base());
    play(d, {greeting, "250-mx\r\n250 STARTTLS\r\n", "220 Go ahead\r\n"}, false);
    BOOST_TEST((d.outcome() == outcome_code::tls_failed));
    BOOST_TEST((d.current_phase() == phase::starttls));
}

BOOST_AUTO_TEST_CASE(credentials_are_never_sent_in_plaintext_unless_allowed) {
    auto s = base();
    s.user = "tim";
    s.password = "secret";
    dialog refused(s);
    auto run = play(refused, {greeting, "250-mx\r\n250 AUTH PLAIN LOGIN\r\n"});
    BOOST_TEST((refused.outcome() == outcome_code::auth_insecure));
    BOOST_TEST(run.written.find("AUTH") == std::string::npos);

    s.allow_plaintext_auth = true;
    s.mechanism = "LOGIN";
    dialog allowed(s);
    auto ok_run = play(allowed, {greeting, "250-mx\r\n250 AUTH PLAIN LOGIN\r\n", "334 VXNlcm5hbWU6\r\n",
                                 "334 UGFzc3dvcmQ6\r\n", "235 ok\r\n", ok, ok, go_ahead, ok, bye});
    BOOST_TEST(allowed.succeeded());
    BOOST_TEST(ok_run.written.find("AUTH LOGIN\r\ndGlt\r\nc2VjcmV0\r\n") != std::string::npos);
    BOOST_TEST(std::count(ok_run.transcript.begin(), ok_run.transcript.end(), "***") == 2);
}

BOOST_AUTO_TEST_CASE(cram_md5_answers_the_rfc_2195_example) {
    BOOST_TEST(detail::cram_md5_response("tim", "tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.net>") ==
               "tim b913a602c7eda7a495b4e6e7334d3890");
    auto s = base();
    s.user = "tim";
    s.password = "tanstaaftanstaaf";
    s.allow_plaintext_auth = true;
    dialog d(s);
    auto run = play(d, {greeting, "250-mx\r\n250 AUTH CRAM-MD5\r\n",
                        "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n", "235 ok\r\n", ok, ok,
                        go_ahead, ok, bye});
    BOOST_TEST(d.succeeded());
    BOOST_TEST(run.written.find("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(xoauth2_error_challenge_is_answered_empty_and_the_final_reply_reported) {
    auto s = base();
    s.user = "jane@example.com";
    s.password = "ya29.token";
    s.mechanism = "XOAUTH2";
    dialog d(s);
    auto run = play(d, {greeting, "250-mx\r\n250-STARTTLS\r\n250 AUTH XOAUTH2\r\n", "220 go\r\n",
                        "250-mx\r\n250 AUTH XOAUTH2 PLAIN\r\n", "334 eyJzdGF0dXMiOiI0MDAifQ==\r\n",
                        "535 5.7.139 Authentication unsuccessful, basic authentication is disabled\r\n"});
    BOOST_TEST((d.outcome() == outcome_code::auth_failed));
    BOOST_TEST(d.last_reply()->enhanced == "5.7.139");
    BOOST_TEST(run.written.find("\r\n\r\nQUIT\r\n") != std::string::npos);  // the empty answer, then QUIT
    for (const auto& line : run.transcript) BOOST_TEST(line.find("ya29") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(no_usable_mechanism_is_auth_unavailable) {
    auto s = base();
    s.user = "tim";
    s.allow_plaintext_auth = true;
    dialog none(s);
    play(none, {greeting, "250 mx\r\n"});
    BOOST_TEST((none.outcome() == outcome_code::auth_unavailable));
    s.mechanism = "CRAM-MD5";
    dialog not_offered(s);
    play(not_offered, {greeting, "250-mx\r\n250 AUTH PLAIN\r\n"});
    BOOST_TEST((not_offered.outcome() == outcome_code::auth_unavailable));
}

BOOST_AUTO_TEST_CASE(ehlo_refused_falls_back_to_helo) {
    dialog d(base());
    auto run = play(d, {greeting, "502 5.5.2 Command not recognized\r\n", "250 mx\r\n", ok, ok, go_ahead, ok, bye});
    BOOST_TEST(d.succeeded());
    BOOST_TEST(run.written.starts_with("EHLO [192.0.2.10]\r\nHELO [192.0.2.10]\r\nMAIL FROM"));
}

BOOST_AUTO_TEST_CASE(each_refusal_has_its_code_phase_and_reply) {
    struct refusal {
        std::deque<std::string> script;
        outcome_code code;
        phase where;
        int reply_code;
    };
    const refusal cases[] = {
        {{"554 5.7.1 go away\r\n"}, outcome_code::greeting_rejected, phase::greeting, 554},
        {{"421 4.3.2 busy\r\n"}, outcome_code::greeting_rejected, phase::greeting, 421},
        {{greeting, "421 4.7.0 later\r\n"}, outcome_code::greeting_rejected, phase::ehlo, 421},
        {{greeting, ehlo_plain, "553 5.1.8 sender domain does not exist\r\n"}, outcome_code::sender_rejected,
         phase::mail, 553},
        {{greeting, ehlo_plain, ok, "554 5.7.1 Relay access denied\r\n"}, outcome_code::recipient_rejected,
         phase::rcpt, 554},
        {{greeting, ehlo_plain, ok, ok, "554 5.5.1 no valid recipients\r\n"}, outcome_code::message_rejected,
         phase::data, 554},
        {{greeting, ehlo_plain, ok, ok, go_ahead, "552 5.3.4 message too big\r\n"}, outcome_code::message_rejected,
         phase::data, 552},
    };
    for (const auto& c : cases) {
        dialog d(base());
        auto run = play(d, c.script);
        BOOST_TEST(!d.succeeded());
        BOOST_TEST((d.outcome() == c.code));
        BOOST_TEST((d.current_phase() == c.where));
        BOOST_REQUIRE(d.last_reply());
        BOOST_TEST(d.last_reply()->code == c.reply_code);
        BOOST_TEST(run.written.ends_with("QUIT\r\n"));
    }
}

BOOST_AUTO_TEST_CASE(auth_rejected_is_auth_failed_with_the_servers_words) {
    auto s = base();
    s.user = "tim";
    s.password = "wrong";
    s.allow_plaintext_auth = true;
    dialog d(s);
    play(d, {greeting, "250-mx\r\n250 AUTH PLAIN\r\n", "535 5.7.8 Authentication credentials invalid\r\n"});
    BOOST_TEST((d.outcome() == outcome_code::auth_failed));
    BOOST_TEST((d.current_phase() == phase::auth));
    BOOST_TEST(d.last_reply()->first_line() == "535 5.7.8 Authentication credentials invalid");
}

BOOST_AUTO_TEST_CASE(send_message_off_stops_after_rcpt_with_rset) {
    auto s = base();
    s.send_message = false;
    dialog d(s);
    auto run = play(d, {greeting, "250-mx\r\n250 PIPELINING\r\n", ok, ok, ok, bye});
    BOOST_TEST(d.succeeded());
    BOOST_TEST(run.written.find("DATA") == std::string::npos);
    BOOST_TEST(run.written.ends_with("RCPT TO:<smtp-test@superoffice.com>\r\nRSET\r\nQUIT\r\n"));
}

BOOST_AUTO_TEST_CASE(a_connection_lost_mid_dialog_is_connection_lost_but_not_after_acceptance) {
    dialog mid(base());
    play(mid, {greeting, ehlo_plain, ok});
    BOOST_TEST((mid.outcome() == outcome_code::connection_lost));
    BOOST_TEST((mid.current_phase() == phase::rcpt));

    dialog late(base());
    play(late, {greeting, ehlo_plain, ok, ok, go_ahead, ok});  // no reply to QUIT
    BOOST_TEST(late.succeeded());
}

BOOST_AUTO_TEST_CASE(a_utf8_sender_needs_smtputf8) {
    auto s = base();
    s.from = "jörg@example.com";
    dialog without(s);
    play(without, {greeting, ehlo_plain});
    BOOST_TEST((without.outcome() == outcome_code::sender_rejected));
    dialog with(s);
    auto run = play(with, {greeting, "250-mx\r\n250 SMTPUTF8\r\n", ok, ok, go_ahead, ok, bye});
    BOOST_TEST(with.succeeded());
    BOOST_TEST(run.written.find("MAIL FROM:<jörg@example.com> SMTPUTF8\r\n") != std::string::npos);
}

// Issue 11: whatever validated them before, texts with CR, LF or NUL never reach the wire.
BOOST_AUTO_TEST_CASE(a_line_with_cr_lf_or_nul_is_refused_where_it_would_be_written) {
    {
        auto s = base();
        s.ehlo_domain = "[IPv6:::1%\r\nRCPT TO:<victim@example.com>]";
        dialog d(s);
        auto run = play(d, {greeting, ehlo_plain, ok, ok, go_ahead, ok, bye});
        BOOST_TEST(run.written.find("RCPT") == std::string::npos);
        BOOST_TEST(run.written.find("EHLO") == std::string::npos);
        BOOST_TEST((d.outcome() == outcome_code::uri_invalid));
        BOOST_TEST(!d.succeeded());
    }
    for (const std::string& ehlo : {ehlo_plain, std::string("250-mx.example.com\r\n250 PIPELINING\r\n")}) {
        auto s = base();
        s.from = std::string("jane@example.com> SIZE=1\r\nRCPT TO:<victim@example.com", 53);
        dialog d(s);
        auto run = play(d, {greeting, ehlo, ok, ok, go_ahead, ok, bye});
        BOOST_TEST(run.written.find("MAIL FROM") == std::string::npos);
        BOOST_TEST(run.written.find("victim") == std::string::npos);
        BOOST_TEST((d.outcome() == outcome_code::from_invalid));
    }
    {
        auto s = base();
        s.from = std::string("jane@exa\0mple.com", 17);
        dialog d(s);
        auto run = play(d, {greeting, ehlo_plain, ok, ok, go_ahead, ok, bye});
        BOOST_TEST(run.written.find("MAIL FROM") == std::string::npos);
        BOOST_TEST((d.outcome() == outcome_code::from_invalid));
    }
}

BOOST_AUTO_TEST_SUITE_END()
