// core/ascii.hpp: case and blanks of protocol text, never the C locale's.
#include "smtpcheck/core/ascii.hpp"

#include <boost/test/unit_test.hpp>

using namespace smtpcheck::core;

BOOST_AUTO_TEST_SUITE(ascii)

BOOST_AUTO_TEST_CASE(case_is_ascii_only) {
    BOOST_TEST(lower_ascii("Content-TYPE") == "content-type");
    BOOST_TEST(upper_ascii("ehlo x") == "EHLO X");
    BOOST_TEST(lower_ascii("\xc3\x89T\xc3\x89") == "\xc3\x89t\xc3\x89");  // UTF-8 octets stay as they are
    BOOST_TEST(iequals_ascii("X-XSRF-TOKEN", "x-xsrf-token"));
    BOOST_TEST(!iequals_ascii("abc", "abd"));
    BOOST_TEST(!iequals_ascii("abc", "ab"));
    BOOST_TEST(!iequals_ascii("[", "{"));  // 0x5b and 0x7b differ by 0x20 but are not letters
    BOOST_TEST(iequals_ascii("", ""));
}

BOOST_AUTO_TEST_CASE(trim_and_line_breaks) {
    BOOST_TEST(trim(" \t a b \t") == "a b");
    BOOST_TEST(trim("\r\nx\r\n") == "\r\nx\r\n");  // only the blanks asked for
    BOOST_TEST(trim("--x--", "-") == "x");
    BOOST_TEST(trim("   ").empty());
    BOOST_TEST(!has_line_break_or_nul("RCPT TO:<a@b>"));
    for (const char* s : {"a\rb", "a\nb", "\r", "x\n"}) BOOST_TEST(has_line_break_or_nul(s), s);
    BOOST_TEST(has_line_break_or_nul(std::string_view("a\0b", 3)));
}

BOOST_AUTO_TEST_SUITE_END()
