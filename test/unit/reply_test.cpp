#include "smtpcheck/core/printable_text.hpp"
#include "smtpcheck/smtp/reply.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>

using namespace smtpcheck::smtp;
using smtpcheck::core::printable_text;

namespace {
// Feeds `wire` in pieces of `step` octets (0: all at once) and returns the parsed replies.
std::vector<reply> parse_all(std::string_view wire, std::size_t step = 0, std::string* error = nullptr,
                             reply_limits limits = {}) {
    reply_parser p(limits);
    std::vector<reply> out;
    std::size_t pos = 0;
    while (pos < wire.size()) {
        auto piece = wire.substr(pos, step ? step : wire.size());
        std::size_t used = 0;
        auto s = p.feed(piece, used);
        pos += used;
        if (s == reply_parser::status::done) out.push_back(p.take());
        if (s == reply_parser::status::error) {
            if (error) *error = p.error();
            break;
        }
    }
    return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_reply)

BOOST_AUTO_TEST_CASE(single_and_multi_line_replies) {
    auto r = parse_all("220 mx.example.com ESMTP ready\r\n");
    BOOST_REQUIRE_EQUAL(r.size(), 1u);
    BOOST_TEST(r[0].code == 220);
    BOOST_TEST(r[0].first_line() == "220 mx.example.com ESMTP ready");

    auto m = parse_all("250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n250 AUTH PLAIN LOGIN\r\n");
    BOOST_REQUIRE_EQUAL(m.size(), 1u);
    BOOST_TEST(m[0].lines.size() == 4u);
    BOOST_TEST(m[0].lines[3] == "AUTH PLAIN LOGIN");
}

BOOST_AUTO_TEST_CASE(enhanced_status_codes_are_split_off) {
    auto r = parse_all("535 5.7.8 Authentication credentials invalid\r\n");
    BOOST_TEST(r[0].enhanced == "5.7.8");
    BOOST_TEST(r[0].text() == "Authentication credentials invalid");
    BOOST_TEST(r[0].first_line() == "535 5.7.8 Authentication credentials invalid");
    // A number that does not match the class is text, not an enhanced code.
    auto t = parse_all("250 2.0.0 Ok: queued as 1234\r\n550 2.1.0 odd\r\n");
    BOOST_TEST(t[0].enhanced == "2.0.0");
    BOOST_TEST(t[1].enhanced == "");
    BOOST_TEST(parse_all("250\r\n")[0].code == 250);
}

BOOST_AUTO_TEST_CASE(any_split_of_the_bytes_gives_the_same_replies) {
    const std::string wire =
        "250-mx.example.com greets you\r\n250-8BITMIME\r\n250 STARTTLS\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
        "250 2.0.0 Ok\r\n";
    auto whole = parse_all(wire);
    BOOST_REQUIRE_EQUAL(whole.size(), 3u);
    for (std::size_t step = 1; step <= wire.size(); ++step) {
        auto split = parse_all(wire, step);
        BOOST_REQUIRE_EQUAL(split.size(), whole.size());
        for (std::size_t i = 0; i < whole.size(); ++i) {
            BOOST_TEST(split[i].code == whole[i].code);
            BOOST_TEST(split[i].lines == whole[i].lines);
            BOOST_TEST(split[i].enhanced == whole[i].enhanced);
        }
    }
}

BOOST_AUTO_TEST_CASE(broken_replies_are_protocol_errors) {
    for (std::string_view bad : {"hello\r\n", "2x0 nope\r\n", "250_x\r\n", "199 too low\r\n", "600 too high\r\n",
                                 "250-a\r\n251 b\r\n"}) {
        std::string error;
        auto r = parse_all(bad, 0, &error);
        BOOST_TEST(r.empty(), bad);
        BOOST_TEST(!error.empty(), bad);
    }
}

BOOST_AUTO_TEST_CASE(limits_bound_line_reply_and_line_count) {
    std::string error;
    parse_all("250 " + std::string(5000, 'x') + "\r\n", 0, &error);
    BOOST_TEST(error.find("longer than 4096") != std::string::npos);

    error.clear();
    std::string endless(10000, 'x');  // no line end ever: refused as soon as the bound passes
    parse_all(endless, 1000, &error);
    BOOST_TEST(error.find("longer than 4096") != std::string::npos);

    error.clear();
    std::string many;
    for (int i = 0; i < 101; ++i) many += "250-line\r\n";
    many += "250 end\r\n";
    parse_all(many, 0, &error);
    BOOST_TEST(error.find("more than 100 lines") != std::string::npos);

    error.clear();
    std::string big;
    for (int i = 0; i < 20; ++i) big += "250-" + std::string(4000, 'y') + "\r\n";
    big += "250 end\r\n";
    parse_all(big, 0, &error);
    BOOST_TEST(error.find("longer than 65536") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ehlo_capabilities) {
    auto r = parse_all(
        "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250-STARTTLS\r\n"
        "250-AUTH PLAIN LOGIN cram-md5\r\n250-AUTH=LOGIN\r\n250 SMTPUTF8\r\n")[0];
    auto caps = parse_ehlo(r);
    BOOST_TEST(caps.pipelining);
    BOOST_TEST(caps.starttls);
    BOOST_TEST(caps.eightbitmime);
    BOOST_TEST(caps.smtputf8);
    BOOST_TEST(caps.size.value_or(0) == 35882577u);
    BOOST_TEST((caps.auth == std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5"}));
    BOOST_TEST(caps.offers_auth("cram-md5"));
    BOOST_TEST(!caps.offers_auth("XOAUTH2"));
    BOOST_TEST(caps.extensions.size() == 7u);

    auto bare = parse_ehlo(parse_all("250 mx.example.com\r\n")[0]);
    BOOST_TEST(!bare.pipelining);
    BOOST_TEST(!bare.starttls);
    BOOST_TEST(bare.auth.empty());
}

// Issue 11: control characters and invalid UTF-8 from a hostile server went into
// ErrorMessage, the transcript and the XML answer unfiltered.
BOOST_AUTO_TEST_CASE(replies_keep_valid_utf8_and_lose_control_characters) {
    auto r = parse_all(std::string_view("554 5.7.1 bad\x1b[31m\x07 \xff\xfe text\tr\xc3\xa4tt \xe2\x82\r\n"))[0];
    const std::string fffd = "\xEF\xBF\xBD";
    BOOST_TEST(r.enhanced == "5.7.1");
    const std::string& line = r.lines[0];
    BOOST_TEST(line.starts_with("bad" + fffd + "[31m" + fffd + " " + fffd + fffd + " text r\xc3\xa4tt "));
    BOOST_TEST(line.ends_with(fffd));
    BOOST_TEST(std::none_of(line.begin(), line.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }));
    BOOST_TEST(printable_text(line) == line);  // valid UTF-8 already: nothing left to replace
    BOOST_TEST(printable_text("plain text") == "plain text");
    BOOST_TEST(printable_text(std::string_view("a\0b\x7f\xc2\x85" "c", 7)) == "a" + fffd + "b" + fffd + fffd + "c");
    BOOST_TEST(printable_text("\xed\xa0\x80") .find("\xed") == std::string::npos);  // a lone surrogate
    BOOST_TEST(printable_text("\xf0\x9f\x93\xa7 mail") == "\xf0\x9f\x93\xa7 mail");
    std::string error;
    parse_all(std::string_view("\x1b[2J\r\n"), 0, &error);
    BOOST_TEST(error.find('\x1b') == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
