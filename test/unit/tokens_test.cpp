// auth/tokens.hpp: SOTicket tickets and session cookies.
#include "smtpcheck/auth/tokens.hpp"
#include "smtpcheck/auth/crypto.hpp"
#include "smtpcheck/core/base64.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <string_view>

using namespace smtpcheck::auth;
using std::chrono::seconds;
using sys = std::chrono::system_clock;

namespace {

const std::string secret(32, 's');

// A token signed with `secret` as the server signs its own, over a payload the test chooses.
std::string signed_as(std::string_view kind, const std::string& payload) {
    auto b64 = smtpcheck::core::base64url_encode(payload);
    return b64 + "." + smtpcheck::core::base64url_encode(keyed_hmac(secret)(std::string(kind) + ":" + b64));
}

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

// Found by fuzz_auth_tokens: an expiry in seconds beyond what the clock's nanoseconds hold
// overflowed on conversion (undefined; in practice an expiry in the past, or any other).
BOOST_AUTO_TEST_CASE(an_expiry_beyond_the_clock_is_held_to_its_end) {
    using namespace std::string_literals;
    for (std::string far : {"9223372037"s, "41024144800"s, "9223372036854775807"s}) {
        auto s = verify_session(secret, signed_as("session", "alice\0"s + far + "\0id"s), sys::now());
        BOOST_REQUIRE_MESSAGE(s, far);
        BOOST_TEST((s->expires == sys::time_point::max()), far);
        BOOST_TEST(verify_ticket(secret, "7T:" + signed_as("ticket", "alice\0"s + far), sys::now()).value_or("") ==
                   "alice");
    }
    for (std::string bad : {"-9223372037"s, "-9223372036854775808"s, "99999999999999999999"s, "1e9"s, ""s}) {
        BOOST_TEST(!verify_session(secret, signed_as("session", "alice\0"s + bad + "\0id"s), sys::now()), bad);
        BOOST_TEST(!verify_ticket(secret, signed_as("ticket", "alice\0"s + bad), sys::now()), bad);
    }
}

BOOST_AUTO_TEST_SUITE_END()
