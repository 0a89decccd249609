// auth/crypto.hpp: password hashes.
#include "smtpcheck/auth/crypto.hpp"

#include <boost/test/unit_test.hpp>

#include <string_view>

using namespace smtpcheck::auth;

BOOST_AUTO_TEST_SUITE(crypto)

BOOST_AUTO_TEST_CASE(password_hashes_verify_only_their_password) {
    auto h = hash_password("correct horse", 100000);
    BOOST_TEST(h.starts_with("pbkdf2-sha256$100000$"));
    BOOST_TEST(verify_password("correct horse", h));
    BOOST_TEST(!verify_password("correct horsE", h));
    BOOST_TEST(hash_password("correct horse", 100000) != h);  // a fresh salt each time
    for (std::string_view bad : {"", "pbkdf2-sha256$100000$x", "md5$1$a$b", "pbkdf2-sha256$1000$AAAA$AAAA"})
        BOOST_TEST(!verify_password("x", bad), bad);
}

BOOST_AUTO_TEST_SUITE_END()
