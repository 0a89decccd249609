#include "smtpcheck/smtp/smtp_uri.hpp"

#include <boost/test/unit_test.hpp>

using namespace smtpcheck::smtp;

namespace {
smtp_uri ok(std::string_view text) {
    auto r = parse_smtp_uri(text);
    if (auto* e = std::get_if<invalid_input>(&r)) BOOST_FAIL(std::string(text) + ": " + e->reason);
    return std::get<smtp_uri>(r);
}
std::string refused(std::string_view text) {
    auto r = parse_smtp_uri(text);
    if (auto* e = std::get_if<invalid_input>(&r)) return e->reason;
    BOOST_FAIL(std::string(text) + " was accepted");
    return {};
}
std::string mailbox(std::string_view text) {
    auto r = parse_mailbox(text);
    if (auto* e = std::get_if<invalid_input>(&r)) return "refused: " + e->reason;
    return std::get<std::string>(r);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_uri_parsing)

BOOST_AUTO_TEST_CASE(schemes_pick_tls_mode_and_default_port) {
    auto a = ok("smtp://mail.example.com");
    BOOST_TEST((a.mode == tls_mode::opportunistic));
    BOOST_TEST(a.port == 25);
    auto b = ok("SMTP+STARTTLS://mail.example.com");
    BOOST_TEST((b.mode == tls_mode::starttls));
    BOOST_TEST(b.port == 587);
    auto c = ok("smtps://mail.example.com");
    BOOST_TEST((c.mode == tls_mode::implicit));
    BOOST_TEST(c.port == 465);
    BOOST_TEST(ok("smtp://mail.example.com:2525").port == 2525);
}

BOOST_AUTO_TEST_CASE(user_password_and_mechanism_follow_libcurl) {
    auto u = ok("smtp+starttls://jane%40example.com;auth=login:p%40ss%3Aw0rd@smtp.example.com:587");
    BOOST_TEST(*u.user == "jane@example.com");
    BOOST_TEST(*u.password == "p@ss:w0rd");
    BOOST_TEST(u.mechanism == "LOGIN");
    auto no_password = ok("smtp://jane@smtp.example.com");
    BOOST_TEST(*no_password.user == "jane");
    BOOST_TEST(!no_password.password);
    BOOST_TEST(ok("smtp://smtp.example.com").user.has_value() == false);
    BOOST_TEST(ok("smtps://u;AUTH=XOAUTH2:tok@h.example").mechanism == "XOAUTH2");
}

BOOST_AUTO_TEST_CASE(hosts_are_names_ipv4_ipv6_and_idn) {
    BOOST_TEST(ok("smtp://192.0.2.10").host == "192.0.2.10");
    BOOST_TEST(ok("smtp://192.0.2.10").host_is_address);
    auto v6 = ok("smtp://[2001:db8::5]:587");
    BOOST_TEST(v6.host == "2001:db8::5");
    BOOST_TEST(v6.port == 587);
    BOOST_TEST(ok("smtp://Mail.Example.COM").host == "mail.example.com");
    BOOST_TEST(ok("smtp://smtp.bücher.de").host == "smtp.xn--bcher-kva.de");
    BOOST_TEST(ok("smtp://smtp.b%C3%BCcher.de").host == "smtp.xn--bcher-kva.de");
}

BOOST_AUTO_TEST_CASE(the_path_is_the_ehlo_name) {
    BOOST_TEST(ok("smtp://h.example/client.example.org").ehlo_domain == "client.example.org");
    BOOST_TEST(ok("smtp://h.example/").ehlo_domain == "");
    // Brackets are not URI path characters: an address literal is written percent-encoded.
    BOOST_TEST(ok("smtp://h.example/%5B192.0.2.1%5D").ehlo_domain == "[192.0.2.1]");
}

BOOST_AUTO_TEST_CASE(refused_forms_say_why) {
    BOOST_TEST(refused("").find("empty") != std::string::npos);
    BOOST_TEST(refused("http://mail.example.com").find("scheme") != std::string::npos);
    BOOST_TEST(refused("smtp://h.example?x=1").find("query") != std::string::npos);
    BOOST_TEST(refused("smtp://h.example#top").find("fragment") != std::string::npos);
    BOOST_TEST(refused("smtp://h.example:0").find("port") != std::string::npos);
    BOOST_TEST(refused("smtp://h.example:70000").find("port") != std::string::npos);
    BOOST_TEST(refused("smtp://u;AUTH=GSSAPI@h.example").find("mechanism") != std::string::npos);
    BOOST_TEST(refused("smtp://h.example/a/b").find("EHLO") != std::string::npos);
    BOOST_TEST(refused("smtp://h.exa mple").find("spaces") != std::string::npos);
    BOOST_TEST(refused("smtp://u%0D%0A:p@h.example").find("CR") != std::string::npos);
    BOOST_TEST(refused("smtp://-bad-.example").find("host") != std::string::npos);
    BOOST_TEST(!refused("mail.example.com").empty());
    BOOST_TEST(!refused("smtp://").empty());
}

// A user name that is an address, or a password with '@', '/', '?' or '#', written without
// percent-encoding: the URI then names another host or port (one of these reached example.com
// instead of smtp.example.com). The error says what to encode, not what the misparse found.
BOOST_AUTO_TEST_CASE(an_unencoded_at_slash_question_mark_or_hash_in_the_userinfo_is_named) {
    for (auto text : {"smtp://jane@example.com@smtp.example.com", "smtp+starttls://jane@example.com:pw@smtp.example.com:587",
                      "smtp://jane:p@ss@smtp.example.com"}) {
        BOOST_TEST_CONTEXT(text) { BOOST_TEST(refused(text).find("%40") != std::string::npos, refused(text)); }
    }
    for (auto text : {"smtps://user:pa/ss@smtp.example.com", "smtps://user:pa?ss@smtp.example.com",
                      "smtps://user:pa#ss@smtp.example.com", "smtp://us/er@smtp.example.com", "smtp://user:123/x@smtp.example.com"}) {
        BOOST_TEST_CONTEXT(text) { BOOST_TEST(refused(text).find("%2F") != std::string::npos, refused(text)); }
    }
    // Encoded, each is what it says.
    auto u = ok("smtp+starttls://jane%40example.com:p%40s%2Fs%3F%23@smtp.example.com:587");
    BOOST_TEST(*u.user == "jane@example.com");
    BOOST_TEST(*u.password == "p@s/s?#");
    BOOST_TEST(u.host == "smtp.example.com");
}

BOOST_AUTO_TEST_CASE(redacted_never_shows_the_password) {
    auto u = ok("smtp+starttls://jane;AUTH=PLAIN:hunter2@smtp.example.com");
    BOOST_TEST(u.redacted() == "smtp+starttls://jane;AUTH=PLAIN@smtp.example.com:587");
    BOOST_TEST(ok("smtp://[::1]").redacted() == "smtp://[::1]:25");
}

BOOST_AUTO_TEST_CASE(from_must_be_exactly_one_mailbox) {
    BOOST_TEST(mailbox("jane.doe+test@example.com") == "jane.doe+test@example.com");
    BOOST_TEST(mailbox("\"jane doe\"@example.com") == "\"jane doe\"@example.com");
    BOOST_TEST(mailbox("jane@bücher.de") == "jane@xn--bcher-kva.de");
    BOOST_TEST(mailbox("jörg@example.com") == "jörg@example.com");
    BOOST_TEST(mailbox("postmaster@[192.0.2.1]") == "postmaster@[192.0.2.1]");
    BOOST_TEST(mailbox("postmaster@[IPv6:2001:db8::1]") == "postmaster@[IPv6:2001:db8::1]");
    for (std::string_view bad : {"", "jane", "@example.com", "jane@", "jane@example", "jane doe@example.com",
                                 "Jane <jane@example.com>", "a@example.com, b@example.com", "jane..doe@example.com",
                                 ".jane@example.com", "jane@-example.com", "jane@[300.1.1.1]", "jane@[2001:db8::1]"})
        BOOST_TEST(mailbox(bad).starts_with("refused"), bad);
    BOOST_TEST(mailbox(std::string_view("jane@example.com\r\nRCPT TO:<x@y.z>")).find("CR, LF or NUL") != std::string::npos);
    BOOST_TEST(mailbox(std::string_view("jane\0@example.com", 17)).find("CR, LF or NUL") != std::string::npos);
    BOOST_TEST(mailbox(std::string(65, 'a') + "@example.com").starts_with("refused"));
}

// Issue 11: Asio's make_address takes "%zone" with any text after it, so a percent-decoded
// CR LF in an address literal went onto the wire as a command of the caller's.
BOOST_AUTO_TEST_CASE(address_literals_are_hex_digits_dots_and_colons_only) {
    BOOST_TEST(refused("smtp://127.0.0.1:2525/%5BIPv6:::1%25%0D%0ARCPT%20TO:%3Cvictim@example.com%3E%5D")
                   .find("address literal") != std::string::npos);
    BOOST_TEST(refused("smtp://127.0.0.1/%5BIPv6:fe80::1%25eth0%5D").find("address literal") != std::string::npos);
    BOOST_TEST(refused("smtp://127.0.0.1/%5BIPv6:192.0.2.1%5D").find("address literal") != std::string::npos);
    BOOST_TEST(ok("smtp://127.0.0.1/%5BIPv6:2001:db8::1%5D").ehlo_domain == "[IPv6:2001:db8::1]");
    BOOST_TEST(ok("smtp://127.0.0.1/%5BIPv6:::ffff:192.0.2.1%5D").ehlo_domain == "[IPv6:::ffff:192.0.2.1]");
    BOOST_TEST(mailbox("a@[IPv6:::1%> SIZE=1 RET=FULL]").starts_with("refused"));
    BOOST_TEST(mailbox("a@[IPv6:::1%25eth0]").starts_with("refused"));
    BOOST_TEST(mailbox("a@[IPv6:::1%eth0]").starts_with("refused"));
    BOOST_TEST(mailbox("a@[192.0.2.1 ]").starts_with("refused"));
}

BOOST_AUTO_TEST_SUITE_END()
