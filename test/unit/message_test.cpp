#include "smtpcheck/core/base64.hpp"
#include "smtpcheck/smtp/dialog.hpp"
#include "smtpcheck/smtp/message.hpp"

#include <boost/test/unit_test.hpp>

using namespace smtpcheck::smtp;

namespace {
message_fields sample() {
    message_fields f;
    f.from = "jane@example.com";
    f.to = "smtp-test@superoffice.com";
    f.subject = "SMTP test";
    f.body = "This is an automatic test of the SMTP settings for jane@example.com.\nTest id: 42\n";
    f.message_id = "0123456789abcdef";
    f.date = std::chrono::system_clock::from_time_t(1795000000);
    return f;
}
std::vector<std::string> crlf_lines(const std::string& m) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < m.size()) {
        auto end = m.find("\r\n", pos);
        BOOST_REQUIRE(end != std::string::npos);
        out.push_back(m.substr(pos, end - pos));
        pos = end + 2;
    }
    return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_message)

BOOST_AUTO_TEST_CASE(has_the_spec_headers_in_crlf) {
    auto m = compose_message(sample());
    for (const char* h : {"Date: Wed, 18 Nov 2026 11:06:40 +0000\r\n", "From: <jane@example.com>\r\n", "To: <smtp-test@superoffice.com>\r\n",
                          "Subject: SMTP test\r\n", "Message-ID: <0123456789abcdef@example.com>\r\n",
                          "MIME-Version: 1.0\r\n", "Content-Type: text/plain; charset=utf-8\r\n",
                          "Auto-Submitted: auto-generated\r\n", "X-Auto-Response-Suppress: All\r\n"})
        BOOST_TEST(m.find(h) != std::string::npos, h);
    BOOST_TEST(m.find("\r\n\r\nThis is an automatic test") != std::string::npos);
    for (std::size_t i = 0; i < m.size(); ++i)
        if (m[i] == '\n') BOOST_TEST((i > 0 && m[i - 1] == '\r'));  // no bare LF
    BOOST_TEST(m.ends_with("Test id: 42\r\n"));
}

BOOST_AUTO_TEST_CASE(lines_starting_with_a_dot_are_stuffed) {
    auto f = sample();
    f.body = "first\n.\n.hidden\nlast";
    auto m = compose_message(f);
    BOOST_TEST(m.find("\r\nfirst\r\n..\r\n..hidden\r\nlast\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(no_line_reaches_998_octets) {
    auto f = sample();
    f.body = std::string(5000, 'x');
    for (const auto& line : crlf_lines(compose_message(f))) BOOST_TEST(line.size() < 998u);
}

BOOST_AUTO_TEST_CASE(non_ascii_subject_and_body_are_encoded) {
    auto f = sample();
    f.subject = "Test av SMTP-innstillingene for jørgen@example.com – automatisk melding fra SuperOffice";
    f.body = "Dette er en automatisk test av SMTP-innstillingene for jørgen@example.com.\nTest-ID: 42\n";
    auto m = compose_message(f);
    BOOST_TEST(m.find("Subject: =?utf-8?B?") != std::string::npos);
    BOOST_TEST(m.find("Content-Transfer-Encoding: base64\r\n") != std::string::npos);
    for (const auto& line : crlf_lines(m)) {
        BOOST_TEST(line.size() <= 78u);
        for (unsigned char c : line) BOOST_TEST(c < 0x80);
    }
    // The encoded words decode back to the subject.
    std::string decoded;
    for (const auto& line : crlf_lines(m)) {
        auto start = line.find("=?utf-8?B?");
        if (start == std::string::npos) continue;
        auto text = line.substr(start + 10, line.rfind("?=") - start - 10);
        decoded += *smtpcheck::core::base64_decode(text);
    }
    BOOST_TEST(decoded == f.subject);
}

BOOST_AUTO_TEST_CASE(a_subject_cannot_inject_headers) {
    auto f = sample();
    f.subject = "hi\r\nBcc: victim@example.com";
    auto m = compose_message(f);
    BOOST_TEST(m.find("\r\nBcc:") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(message_ids_are_random) {
    auto a = random_message_id(), b = random_message_id();
    BOOST_TEST(a.size() == 32u);
    BOOST_TEST(a != b);
}

// Issue 11 (fuzz_smtp_uri): 39 UTF-8 continuation octets in a row made the subject encoder
// loop for ever; a long ASCII subject was written on one line of more than 998 octets.
BOOST_AUTO_TEST_CASE(any_subject_is_encoded_in_finite_lines_under_998_octets) {
    for (std::string subject : {std::string(40, '\x86'), std::string(1000, 'a'), std::string(5000, '\xff'),
                                std::string("\xc3\xa4") + std::string(2000, 'b')}) {
        auto f = sample();
        f.subject = subject;
        for (const auto& line : crlf_lines(compose_message(f))) BOOST_TEST(line.size() < 998u);
    }
}

BOOST_AUTO_TEST_SUITE_END()
