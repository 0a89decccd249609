// core/printable_text.hpp: what text from outside may reach a document, a log or a transcript.
#include "smtpcheck/serialization/document.hpp"
#include "smtpcheck/core/printable_text.hpp"
#include "smtpcheck/serialization/report.hpp"
#include "smtpcheck/serialization/request_body.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <memory>

using namespace smtpcheck::serialization;
using smtpcheck::core::is_printable_text;
using smtpcheck::core::printable_text;
namespace json = boost::json;

BOOST_AUTO_TEST_SUITE(printable_texts)

// The ASCII fast path reads eight octets at a time: every octet value, at every position of
// texts up to two words and a tail long, is judged as one at a time would judge it.
BOOST_AUTO_TEST_CASE(printable_text_judges_every_octet_at_every_position) {
    for (std::size_t len = 1; len <= 19; ++len)
        for (std::size_t at = 0; at < len; ++at)
            for (int b = 0; b < 256; ++b) {
                std::string s(len, 'a');
                s[at] = static_cast<char>(b);
                const bool expected = b >= 0x20 && b < 0x7f;  // alone, 0x80-0xFF is no UTF-8
                BOOST_TEST_REQUIRE(is_printable_text(s) == expected, "octet " << b << " at " << at << " of " << len);
                BOOST_TEST_REQUIRE(smtpcheck::core::is_printable_ascii(s) == expected);  // the fast path alone
                BOOST_TEST_REQUIRE((printable_text(s) == s) == expected);
            }
    // The edges of the range beside each other, and a multi-octet character after a full word.
    BOOST_TEST(is_printable_text(std::string(8, ' ') + std::string(8, '~')));
    BOOST_TEST(is_printable_text("12345678\xc3\xa9"));
    BOOST_TEST(!smtpcheck::core::is_printable_ascii("12345678\xc3\xa9"));  // not ASCII: the full check decides
    BOOST_TEST(!is_printable_text("12345678\x7f"));
}

BOOST_AUTO_TEST_SUITE_END()
