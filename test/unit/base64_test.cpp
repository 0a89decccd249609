// core/base64.hpp: base64 with padding and base64url without (RFC 4648 sections 4, 5, 10).
#include "smtpcheck/core/base64.hpp"

#include <boost/test/unit_test.hpp>

using namespace smtpcheck::core;

BOOST_AUTO_TEST_SUITE(base64)

BOOST_AUTO_TEST_CASE(the_rfc_4648_test_vectors_both_ways) {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, coded] : vectors) {
        BOOST_TEST(base64_encode(plain) == coded);
        BOOST_TEST(base64_decode(coded).value_or("(none)") == plain);
        std::string url(coded);
        while (!url.empty() && url.back() == '=') url.pop_back();
        BOOST_TEST(base64url_encode(plain) == url);
        BOOST_TEST(base64url_decode(url).value_or("(none)") == plain);
    }
}

BOOST_AUTO_TEST_CASE(url_safe_letters_and_refusals) {
    const std::string octets("\xfb\xff\xbf", 3);
    BOOST_TEST(base64_encode(octets) == "+/+/");
    BOOST_TEST(base64url_encode(octets) == "-_-_");
    BOOST_TEST(*base64url_decode("-_-_") == octets);
    for (const char* bad : {"Zg", "Zg=", "Z===", "====", "Zg=a", "Zm9v!", "-_-_", "Zm 9v"}) BOOST_TEST(!base64_decode(bad), bad);
    for (const char* bad : {"+/+/", "Zg==", "Z", "Zm9v!"}) BOOST_TEST(!base64url_decode(bad), bad);
}

BOOST_AUTO_TEST_SUITE_END()
