// auth/revocations.hpp: this process's list of logged-out sessions.
#include "smtpcheck/auth/revocations.hpp"

#include "coroutine_support.hpp"

#include <boost/test/unit_test.hpp>

using namespace smtpcheck::auth;
namespace asio = boost::asio;
using namespace std::chrono_literals;

using smtpcheck::test::run;

BOOST_AUTO_TEST_SUITE(session_revocations_list)

BOOST_AUTO_TEST_CASE(a_session_stays_revoked_until_its_own_expiry_and_the_list_is_bounded) {
    asio::io_context io;
    local_revocations list(3);
    const auto now = std::chrono::system_clock::now();
    BOOST_TEST(run(io, list.revoke("a", now + 1h)));
    BOOST_TEST(*run(io, list.revoked("a")));
    BOOST_TEST(!*run(io, list.revoked("b")));
    // Already expired: nothing to keep (the cookie is refused by its expiry anyway).
    BOOST_TEST(run(io, list.revoke("old", now - 1s)));
    BOOST_TEST(list.size() == 1u);
    // Past the bound, the entry that expires first goes: its cookie dies first.
    BOOST_TEST(run(io, list.revoke("b", now + 2h)));
    BOOST_TEST(run(io, list.revoke("c", now + 3h)));
    BOOST_TEST(run(io, list.revoke("d", now + 4h)));
    BOOST_TEST(list.size() == 3u);
    BOOST_TEST(!*run(io, list.revoked("a")));
    BOOST_TEST(*run(io, list.revoked("d")));
}

BOOST_AUTO_TEST_SUITE_END()
