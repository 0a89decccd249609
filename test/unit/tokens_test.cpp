// auth/tokens.hpp: SOTicket tickets and session cookies.
#include "smtpcheck/auth/tokens.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

using namespace smtpcheck::auth;
using std::chrono::seconds;
using sys = std::chrono::system_clock;

namespace {

const std::string secret(32, 's');

}  // namespace

BOOST_AUTO_TEST_SUITE(tokens)

BOOST_AUTO_TEST_CASE(tickets_carry_user_and_expiry_under_the_signature) {
    auto t = mint_ticket(secret, "alice", sys::now() + seconds(60));
    BOOST_TEST(t.starts_with("7T:"));
    BOOST_TEST(verify_ticket(secret, t, sys::now()).value_or("") == "alice");
    BOOST_TEST(!verify_ticket(secret, t, sys::now() + seconds(61)));
    BOOST_TEST(!verify_ticket(std::string(32, 'x'), t, sys::now()));
    auto tampered = t;
    tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
    BOOST_TEST(!verify_ticket(secret, tampered, sys::now()));
    BOOST_TEST(!verify_ticket(secret, "7T:garbage", sys::now()));
    BOOST_TEST(!verify_ticket(secret, std::string(5000, 'a'), sys::now()));
}

BOOST_AUTO_TEST_CASE(sessions_and_tickets_cannot_stand_in_for_each_other) {
    std::string id;
    auto s = mint_session(secret, "alice", sys::now() + seconds(60), &id);
    auto ok = verify_session(secret, s, sys::now());
    BOOST_REQUIRE(ok);
    BOOST_TEST(ok->user == "alice");
    BOOST_TEST(ok->id == id);
    BOOST_TEST(!verify_ticket(secret, s, sys::now()));
    BOOST_TEST(!verify_session(secret, mint_ticket(secret, "alice", sys::now() + seconds(60)).substr(3), sys::now()));
    std::string other;
    mint_session(secret, "alice", sys::now() + seconds(60), &other);
    BOOST_TEST(xsrf_token(secret, id) != xsrf_token(secret, other));
}

BOOST_AUTO_TEST_SUITE_END()
