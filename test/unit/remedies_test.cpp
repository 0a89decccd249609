// smtp/remedies.hpp: which hint a failed test gets, from config/remedies.ini's rules, with the
// providers' own reply texts.
#include "smtpcheck/smtp/remedies.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>

using smtpcheck::smtp::outcome_code;
using smtpcheck::smtp::remedies;
using smtpcheck::smtp::reply;
using smtpcheck::smtp::test_report;

namespace {
test_report failed(std::string host, std::string greeting, reply last) {
    test_report r;
    r.code = outcome_code::auth_failed;
    r.host = std::move(host);
    r.port = 587;
    if (!greeting.empty()) r.greeting = std::move(greeting);
    r.last_reply = std::move(last);
    return r;
}
std::string hint_of(test_report r, std::string_view user = "someone") {
    remedies::builtin().apply(r, user);
    return r.hint.value_or("");
}
const std::string m365_greeting = "220 BN6PR04CA0081.outlook.office365.com Microsoft ESMTP MAIL Service ready at Tue, 1 Dec 2026 10:00:00 +0000";
const std::string gmail_greeting = "220 smtp.gmail.com ESMTP a1sm123456wrx.12 - gsmtp";
const std::string ses_greeting = "220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-ABCDEF123";
const std::string sendgrid_greeting = "220 SG ESMTP service ready at ismtpd0004p1iad2.sendgrid.net";
const std::string postfix_greeting = "220 mail.example.net ESMTP Postfix (Debian/GNU)";
}  // namespace

BOOST_AUTO_TEST_SUITE(remedies_by_provider)

BOOST_AUTO_TEST_CASE(providers_are_recognised_by_host_greeting_or_ehlo_name) {
    const auto& rules = remedies::builtin();
    // the host asked for
    BOOST_TEST(rules.provider(failed("smtp.office365.com", "", {})) == "microsoft365");
    BOOST_TEST(rules.provider(failed("SMTP.Gmail.com", "", {})) == "google");
    BOOST_TEST(rules.provider(failed("email-smtp.eu-west-1.amazonaws.com", "", {})) == "amazon_ses");
    BOOST_TEST(rules.provider(failed("smtp.sendgrid.net", "", {})) == "sendgrid");
    BOOST_TEST(rules.provider(failed("smtp.eu.mailgun.org", "", {})) == "mailgun");
    // the greeting, when the host is the customer's own name (a CNAME, an IP literal)
    BOOST_TEST(rules.provider(failed("mail.contoso.com", m365_greeting, {})) == "microsoft365");
    BOOST_TEST(rules.provider(failed("203.0.113.5", gmail_greeting, {})) == "google");
    BOOST_TEST(rules.provider(failed("relay.example.com", ses_greeting, {})) == "amazon_ses");
    BOOST_TEST(rules.provider(failed("relay.example.com", sendgrid_greeting, {})) == "sendgrid");
    // the EHLO reply's name
    auto by_ehlo = failed("192.0.2.7", "220 ready", {});
    by_ehlo.server_name = "AM0PR02MB1234.eurprd02.prod.outlook.com";
    BOOST_TEST(rules.provider(by_ehlo) == "microsoft365");
    // nothing known: a lookalike does not count
    BOOST_TEST(rules.provider(failed("mail.example.net", postfix_greeting, {})).empty());
    BOOST_TEST(rules.provider(failed("gmail.com.evil.example", "220 gmail.com.evil.example ESMTP", {})).empty());
    BOOST_TEST(rules.provider(failed("ec2-203-0-113-5.compute-1.amazonaws.com", "220 x ESMTP", {})).empty());
}

BOOST_AUTO_TEST_CASE(each_provider_case_gets_its_hint) {
    struct case_ {
        const char* host;
        const std::string& greeting;
        reply last;
        const char* hint;
    };
    const std::string none;
    const case_ cases[] = {
        {"smtp.office365.com", m365_greeting,
         {535, "5.7.139", {"Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [MN2PR05CA0004.namprd05.prod.outlook.com]"}},
         "HINT_BASIC_AUTH_DISABLED"},
        {"smtp.office365.com", m365_greeting,
         {535, "5.7.139", {"Authentication unsuccessful, basic authentication is disabled. [PN0PR01CA0024.INDPRD01.PROD.OUTLOOK.COM]"}},
         "HINT_BASIC_AUTH_DISABLED"},
        {"smtp.office365.com", m365_greeting,
         {535, "5.7.3", {"Authentication unsuccessful [BN3PR03CA0067.namprd03.prod.outlook.com]"}}, "HINT_M365_AUTH_FAILED"},
        {"smtp.office365.com", m365_greeting,
         {550, "5.7.60", {"SMTP; Client does not have permissions to send as this sender"}}, "HINT_M365_SEND_AS_DENIED"},
        {"smtp.office365.com", m365_greeting,
         {554, "5.2.252", {"SendAsDenied; alice@contoso.com not allowed to send as bob@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied"}},
         "HINT_M365_SEND_AS_DENIED"},
        {"smtp.gmail.com", gmail_greeting,
         {534, "5.7.9", {"Application-specific password required. For more information, go to", " https://support.google.com/mail/?p=InvalidSecondFactor"}},
         "HINT_GOOGLE_APP_PASSWORD"},
        {"smtp.gmail.com", gmail_greeting,
         {535, "5.7.8", {"Username and Password not accepted. For more information, go to", " https://support.google.com/mail/?p=BadCredentials"}},
         "HINT_GOOGLE_BAD_CREDENTIALS"},
        {"smtp.gmail.com", gmail_greeting, {530, "5.7.0", {"Must issue a STARTTLS command first. a1sm123wrx.12 - gsmtp"}},
         "HINT_STARTTLS_FIRST"},
        {"smtp-relay.gmail.com", gmail_greeting,
         {550, "5.7.1", {"Invalid credentials for relay [203.0.113.5]. The IP address you've registered in your G Suite SMTP Relay service doesn't match domain of the account this email is being sent from."}},
         "HINT_GOOGLE_RELAY_DENIED"},
        {"email-smtp.us-east-1.amazonaws.com", ses_greeting,
         {554, "", {"Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: sender@example.com"}},
         "HINT_SES_NOT_VERIFIED"},
        {"email-smtp.us-east-1.amazonaws.com", ses_greeting, {535, "", {"Authentication Credentials Invalid"}},
         "HINT_SES_CREDENTIALS"},
        {"smtp.sendgrid.net", sendgrid_greeting,
         {550, "", {"The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements"}},
         "HINT_SENDGRID_SENDER_IDENTITY"},
        {"smtp.sendgrid.net", sendgrid_greeting, {535, "", {"Authentication failed: Bad username / password"}},
         "HINT_SENDGRID_APIKEY_USER"},
        {"smtp.mailgun.org", none, {535, "5.7.0", {"Mailgun is not loving your login or password"}}, "HINT_MAILGUN_CREDENTIALS"},
        {"smtp.mailgun.org", none,
         {421, "", {"Domain sandbox123.mailgun.org is not allowed to send: Free accounts are for test purposes only. Please upgrade or add the address to authorized recipients in Account Settings."}},
         "HINT_MAILGUN_AUTHORIZED_RECIPIENTS"},
        {"mail.example.net", postfix_greeting, {554, "5.7.1", {"<test@example.org>: Relay access denied"}}, "HINT_RELAY_DENIED"},
        {"mail.example.net", "220 mail.example.net ESMTP Exim 4.96 Tue, 01 Dec 2026 10:00:00 +0000",
         {550, "", {"relay not permitted"}}, "HINT_RELAY_DENIED"},
        {"mail.example.net", postfix_greeting,
         {553, "5.7.1", {"<ceo@example.com>: Sender address rejected: not owned by user alice"}}, "HINT_SENDER_NOT_OWNED"},
    };
    for (const auto& c : cases) BOOST_TEST(hint_of(failed(c.host, c.greeting, c.last)) == c.hint, c.host << " " << c.last.code << " " << c.last.text());
}

BOOST_AUTO_TEST_CASE(a_provider_rule_needs_its_provider) {
    // Google's 535 5.7.8 words about app passwords do not belong to any other server's 535 5.7.8.
    BOOST_TEST(hint_of(failed("mail.example.net", postfix_greeting, {535, "5.7.8", {"Error: authentication failed"}})).empty());
    BOOST_TEST(hint_of(failed("mail.example.net", postfix_greeting, {535, "5.7.3", {"Authentication unsuccessful"}})).empty());
}

BOOST_AUTO_TEST_CASE(sendgrid_user_apikey_gets_no_apikey_hint) {
    const reply bad{535, "", {"Authentication failed: Bad username / password"}};
    BOOST_TEST(hint_of(failed("smtp.sendgrid.net", sendgrid_greeting, bad), "apikey").empty());
    BOOST_TEST(hint_of(failed("smtp.sendgrid.net", sendgrid_greeting, bad), "APIKEY").empty());
    BOOST_TEST(hint_of(failed("smtp.sendgrid.net", sendgrid_greeting, bad), "me@example.com") == "HINT_SENDGRID_APIKEY_USER");
}

BOOST_AUTO_TEST_CASE(starttls_first_suggests_implicit_tls_on_465) {
    // smtp:// takes STARTTLS whenever offered: this reply means it was not, so smtp+starttls://
    // would fail the same way.
    auto r = failed("mail.example.net", postfix_greeting, {530, "5.7.0", {"Must issue a STARTTLS command first"}});
    r.port = 25;
    remedies::builtin().apply(r, "");
    BOOST_TEST(r.hint.value_or("") == "HINT_STARTTLS_FIRST");
    BOOST_TEST(r.hint_uri == "smtps://mail.example.net:465");
    auto v6 = failed("2001:db8::5", postfix_greeting, {530, "5.7.0", {"Must issue a STARTTLS command first"}});
    remedies::builtin().apply(v6, "");
    BOOST_TEST(v6.hint_uri == "smtps://[2001:db8::5]:465");
}

BOOST_AUTO_TEST_CASE(a_greeting_with_an_enhanced_code_still_names_its_provider) {
    BOOST_TEST(remedies::builtin().provider(failed("192.0.2.1", "220 2.0.0 smtp.gmail.com ESMTP ready", {})) == "google");
}

BOOST_AUTO_TEST_CASE(a_hint_already_found_a_success_or_an_acceptance_gets_none) {
    auto mismatch = failed("smtp.office365.com", m365_greeting, {535, "5.7.139", {"Authentication unsuccessful"}});
    mismatch.hint = "HINT_TRY_SMTPS";
    BOOST_TEST(hint_of(mismatch) == "HINT_TRY_SMTPS");
    auto ok = failed("mail.example.net", postfix_greeting, {250, "2.0.0", {"Ok: queued as ABC, relay not permitted"}});
    BOOST_TEST(hint_of(ok).empty());  // a 2xx is no refusal, whatever its words
    ok.success = true;
    ok.last_reply = reply{554, "5.7.1", {"Relay access denied"}};
    BOOST_TEST(hint_of(ok).empty());
    auto no_reply = failed("smtp.gmail.com", gmail_greeting, {});
    no_reply.last_reply.reset();
    BOOST_TEST(hint_of(no_reply).empty());
}

namespace {
smtpcheck::smtp::dns_answer records(std::vector<smtpcheck::smtp::dns_record> rs) {
    smtpcheck::smtp::dns_answer a;
    a.status = smtpcheck::smtp::dns_status::ok;
    a.records = std::move(rs);
    return a;
}
smtpcheck::smtp::dns_answer none() {
    smtpcheck::smtp::dns_answer a;
    a.status = smtpcheck::smtp::dns_status::not_found;
    return a;
}
}  // namespace

BOOST_AUTO_TEST_CASE(suggestions_come_from_srv_and_the_mx_provider_only) {
    using smtpcheck::smtp::suggestion_wanted;
    auto r = failed("smtp.example.com", "", {});
    r.last_reply.reset();
    r.code = outcome_code::connect_failed;
    BOOST_TEST(suggestion_wanted(r));
    const auto& rules = remedies::builtin();
    const auto s = rules.suggest(r, "smtp://smtp.example.com:25", "example.com",
                                 records({{"mail.example.com", 465, 0, 1}}),
                                 records({{"mail.example.com", 587, 10, 1}, {"backup.example.com", 587, 20, 1}}),
                                 records({{"example-com.mail.protection.outlook.com", 0, 0, 0}}));
    BOOST_TEST_REQUIRE(s.size() == 4u);
    BOOST_TEST(s[0].uri == "smtps://mail.example.com:465");
    BOOST_TEST(s[0].why == "S_SRV_SUBMISSIONS");
    BOOST_TEST(s[1].uri == "smtp+starttls://mail.example.com:587");
    BOOST_TEST(s[2].uri == "smtp+starttls://backup.example.com:587");
    BOOST_TEST(s[3].uri == "smtp+starttls://smtp.office365.com:587");
    BOOST_TEST(s[3].why == "S_MX_PROVIDER");
    BOOST_TEST(s[3].provider == "Microsoft 365");
    BOOST_TEST(s[3].via == "example-com.mail.protection.outlook.com");
    // Google's MX; the URI that was tested is never suggested; an unknown MX gives nothing.
    const auto g = rules.suggest(r, "smtp+starttls://smtp.gmail.com:587", "example.org", none(), none(),
                                 records({{"aspmx.l.google.com", 0, 1, 0}}));
    BOOST_TEST(g.empty());
    const auto g2 = rules.suggest(r, "smtp://mail.example.org:25", "example.org", none(), none(),
                                  records({{"aspmx.l.google.com", 0, 1, 0}, {"alt1.aspmx.l.google.com", 0, 5, 0}}));
    BOOST_TEST_REQUIRE(g2.size() == 1u);
    BOOST_TEST(g2[0].uri == "smtp+starttls://smtp.gmail.com:587");
    BOOST_TEST(rules.suggest(r, "smtp://x:25", "example.net", none(), none(),
                             records({{"mx.example.net", 0, 10, 0}})).empty());
    BOOST_TEST(rules.suggest(r, "smtp://x:25", "example.net", none(), none(), none()).empty());
    // The server tested, under another scheme, is no suggestion; port 0 neither; at most three
    // from one SRV name and max_suggestions in all.
    BOOST_TEST(rules.suggest(r, "smtp://mail.example.com:587", "example.com", none(),
                             records({{"mail.example.com", 587, 0, 1}, {"other.example.com", 0, 0, 1}}), none()).empty());
    std::vector<smtpcheck::smtp::dns_record> many;
    for (int i = 0; i < 200; ++i) many.push_back({"m" + std::to_string(i) + ".example.com", 587, 0, 1});
    BOOST_TEST(rules.suggest(r, "smtp://x:25", "example.com", records(many), records(many), none()).size() ==
               smtpcheck::smtp::max_suggestions);
    BOOST_TEST(rules.suggest(r, "smtp://x:25", "example.com", none(), records(many), none()).size() == 3u);
}

BOOST_AUTO_TEST_CASE(only_failures_other_settings_may_fix_want_suggestions) {
    using smtpcheck::smtp::suggestion_wanted;
    auto r = failed("smtp.example.com", "220 hi", {535, "5.7.8", {"no"}});
    BOOST_TEST(!suggestion_wanted(r));  // auth_failed: the settings reach the server
    r.code = outcome_code::timeout;
    BOOST_TEST(!suggestion_wanted(r));  // it greeted
    r.greeting.reset();
    BOOST_TEST(suggestion_wanted(r));
    r.code = outcome_code::tls_failed;
    BOOST_TEST(suggestion_wanted(r));
    r.code = outcome_code::recipient_rejected;
    r.hint = "HINT_TRY_SMTPS";
    r.hint_uri = "smtps://smtp.example.com:587";
    BOOST_TEST(suggestion_wanted(r));
    const auto s = remedies::builtin().suggest(r, "smtp://smtp.example.com:587", "", none(), none(), none());
    BOOST_TEST_REQUIRE(s.size() == 1u);
    BOOST_TEST(s[0].uri == "smtps://smtp.example.com:587");
    BOOST_TEST(s[0].why == "S_PORT_TLS_MISMATCH");
    r.success = true;
    BOOST_TEST(!suggestion_wanted(r));
}

BOOST_AUTO_TEST_CASE(bad_rules_are_refused_with_the_section_named) {
    auto refused = [](const char* ini, const char* words) {
        try {
            remedies r(ini);
        } catch (const std::invalid_argument& e) {
            BOOST_TEST(std::string(e.what()).find(words) != std::string::npos, e.what());
            return;
        }
        BOOST_TEST(false, "accepted: " << ini);
    };
    refused("[rule:x]\ncode = 535\n", "[rule:x] hint: missing");
    refused("[rule:x]\ncode = 5355\nhint = H\n", "[rule:x] code");
    refused("[rule:x]\ncode = abc\nhint = H\n", "[rule:x] code");
    refused("[rule:x]\nprovider = nobody\nhint = H\n", "[rule:x] provider");
    refused("[rule:x]\nhint = H\ncolour = red\n", "[rule:x] colour: unknown key");
    refused("[rule:x]\nhint = H\nuri = ftp\n", "[rule:x] uri");
    refused("[thing:x]\nhint = H\n", "[thing:x]");
    refused("[provider:p]\ngreeting =\n", "[provider:p] names");
    refused("[provider:p]\nnames = x\nmx = *.p.example\n", "[provider:p] submission");
    refused("[provider:p]\nnames = x\nmx = *.p.example\nsubmission = http://x\n", "[provider:p] submission");
    BOOST_TEST(remedies("[provider:p]\nnames = *.p.example\n[rule:x]\nprovider = p\nhint = H\n").rules().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
