// serialization/report.hpp: the report's words, its documents and probe's text.
#include "smtpcheck/serialization/report.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace smtpcheck::serialization;
using smtpcheck::smtp::outcome_code;
using smtpcheck::smtp::phase;
using smtpcheck::smtp::reply;
using smtpcheck::smtp::test_report;

namespace {
test_report auth_failure() {
    test_report r;
    r.code = outcome_code::auth_failed;
    r.failed_phase = phase::auth;
    r.host = "smtp.example.com";
    r.port = 587;
    r.last_reply = reply{535, "5.7.8", {"Authentication credentials invalid"}};
    return r;
}
const language_choice english{"en", false, "en"};
}  // namespace

BOOST_AUTO_TEST_SUITE(report)

BOOST_AUTO_TEST_CASE(the_report_document_has_the_spec_shape) {
    const auto d = report_document(auth_failure(), std::string("words"), std::nullopt);
    BOOST_TEST(d.root == "SmtpTestReport");
    std::vector<std::string> keys;
    for (const auto& kv : d.body) keys.emplace_back(kv.key());
    BOOST_TEST((keys == std::vector<std::string>{"Success", "ErrorCode", "ErrorMessage", "Phase", "Reply", "Hint", "Warnings", "Suggestions",
                                                  "Server", "Tls", "Auth", "Timings", "TotalMs", "Transcript"}));
    BOOST_TEST(d.body.at("ErrorCode").as_string() == "SR_SMTP_AUTH_FAILED");
    BOOST_TEST(d.body.at("ErrorMessage").as_string() == "words");
    BOOST_TEST(d.body.at("Phase").as_string() == "auth");
    BOOST_TEST(d.body.at("Reply").as_object().at("EnhancedCode").as_string() == "5.7.8");
    BOOST_TEST(d.body.at("Tls").is_null());
    test_report ok;
    ok.success = true;
    const auto good = report_document(ok, std::nullopt, std::nullopt);
    BOOST_TEST(good.body.at("ErrorMessage").is_null());
    BOOST_TEST(good.body.at("ErrorCode").is_null());
    BOOST_TEST(good.body.at("Phase").is_null());
}

BOOST_AUTO_TEST_CASE(the_error_message_is_the_codes_sentence_with_the_reply_and_the_hint) {
    const catalogs texts;
    auto r = auth_failure();
    auto en = report_message(r, english, texts, std::chrono::milliseconds(5000));
    BOOST_REQUIRE(en);
    BOOST_TEST(en->find("smtp.example.com") != std::string::npos, *en);
    BOOST_TEST(en->ends_with(" 535 5.7.8 Authentication credentials invalid"), *en);
    auto de = report_message(r, language_choice{"de", false, "de"}, texts, std::chrono::milliseconds(5000));
    BOOST_TEST(*de != *en);
    // raw mode: the reference and the reply line, no hint words
    r.hint = "HINT_TRY_SMTPS";
    r.hint_uri = "smtps://smtp.example.com:465";
    auto raw = report_message(r, language_choice{"en", true, "en"}, texts, std::chrono::milliseconds(5000));
    BOOST_TEST(*raw == "[SR_SMTP_AUTH_FAILED] 535 5.7.8 Authentication credentials invalid");
    BOOST_TEST(*report_hint(r, language_choice{"en", true, "en"}, texts) == "[HINT_TRY_SMTPS]");
    auto hint = report_hint(r, english, texts);
    BOOST_REQUIRE(hint);
    BOOST_TEST(hint->find("smtps://smtp.example.com:465") != std::string::npos, *hint);
    BOOST_TEST(report_message(r, english, texts, std::chrono::milliseconds(5000))->ends_with(" " + *hint));
    // the deadline in the culture's digits, an IPv6 host in brackets
    test_report slow;
    slow.code = outcome_code::timeout;
    slow.failed_phase = phase::greeting;
    slow.host = "2001:db8::1";
    slow.port = 25;
    auto t = *report_message(slow, language_choice{"en", false, "de"}, texts, std::chrono::milliseconds(12000));
    BOOST_TEST(t.find("12.000") != std::string::npos, t);
    BOOST_TEST(t.find("[2001:db8::1]") != std::string::npos, t);
    test_report ok;
    ok.success = true;
    BOOST_TEST(!report_message(ok, english, texts, std::chrono::milliseconds(5000)));
    BOOST_TEST(!report_hint(ok, english, texts));
}

BOOST_AUTO_TEST_CASE(warnings_are_worded_in_the_callers_language_and_listed_in_the_document) {
    const auto& texts = builtin_catalogs();
    test_report r = auth_failure();
    r.warnings.push_back({smtpcheck::smtp::warning_code::cert_expires_soon, "12"});
    r.warnings.push_back({smtpcheck::smtp::warning_code::possible_open_relay, "example.org"});
    const auto en = report_warnings(r, english, texts);
    BOOST_TEST_REQUIRE(en.size() == 2u);
    BOOST_TEST(en[0].code == "W_CERT_EXPIRES_SOON");
    BOOST_TEST(en[0].message == "The certificate of smtp.example.com expires in 12 days: renew it before then.");
    BOOST_TEST(en[1].code == "W_POSSIBLE_OPEN_RELAY");
    BOOST_TEST(en[1].message.find("example.org") != std::string::npos);
    const auto de = report_warnings(r, language_choice{"de", false, "de"}, texts);
    BOOST_TEST(de[0].message != en[0].message);
    BOOST_TEST(de[0].message.find("12") != std::string::npos);
    const auto raw = report_warnings(r, language_choice{"en", true, "en"}, texts);
    BOOST_TEST(raw[0].message == "[W_CERT_EXPIRES_SOON]");
    const auto d = report_document(r, std::nullopt, std::nullopt, en);
    const auto& listed = d.body.at("Warnings").as_array();
    BOOST_TEST_REQUIRE(listed.size() == 2u);
    BOOST_TEST(listed[1].as_object().at("Code").as_string() == "W_POSSIBLE_OPEN_RELAY");
    BOOST_TEST(report_document(auth_failure(), std::nullopt, std::nullopt).body.at("Warnings").as_array().empty());
    BOOST_TEST(report_text(r, std::string("m"), false, en).find("WARNING The certificate of smtp.example.com") != std::string::npos);
}

// "expires in 0 days" and "in 1 days" were what an admin read for a certificate about to end:
// under a day and one day have sentences of their own, in every language; the code stays.
BOOST_AUTO_TEST_CASE(a_certificate_ending_within_a_day_or_in_one_day_is_worded_as_such) {
    const auto& texts = builtin_catalogs();
    auto worded = [&](std::string days, std::string_view language) {
        test_report r = auth_failure();
        r.warnings.push_back({smtpcheck::smtp::warning_code::cert_expires_soon, std::move(days)});
        auto w = report_warnings(r, language_choice{std::string(language), false, std::string(language)}, texts);
        BOOST_TEST_REQUIRE(w.size() == 1u);
        BOOST_TEST(w[0].code == "W_CERT_EXPIRES_SOON");
        return w[0].message;
    };
    BOOST_TEST(worded("0", "en") == "The certificate of smtp.example.com expires within a day: renew it now.");
    BOOST_TEST(worded("1", "en") == "The certificate of smtp.example.com expires in 1 day: renew it now.");
    BOOST_TEST(worded("2", "en") == "The certificate of smtp.example.com expires in 2 days: renew it before then.");
    for (const auto& lang : texts.languages()) {
        BOOST_TEST_CONTEXT(lang) {
            BOOST_TEST(worded("0", lang).find("0") == std::string::npos);
            BOOST_TEST(worded("1", lang).find("1 ") != std::string::npos);
            BOOST_TEST(worded("0", lang) != worded("1", lang));
            if (lang != "en") BOOST_TEST(worded("0", lang) != worded("0", "en"));
        }
    }
}

BOOST_AUTO_TEST_CASE(the_test_result_and_the_method_description) {
    auto r = auth_failure();
    const auto d = test_result_document(r, std::string("why"));
    BOOST_TEST(write_json(d) == R"({"Success":false,"ErrorMessage":"why","TableRight":null,"FieldProperties":{}})");
    const auto& m = test_smtp_server_description();
    BOOST_TEST(m.root == "MethodDescription");
    BOOST_TEST(m.body.at("ReturnType").as_string() == "SmtpTestResult");
    BOOST_TEST(m.body.at("Parameters").as_array().size() == 3u);
    BOOST_TEST(write_xml(m).find("<Name>UseStoredPassword</Name><Type>bool</Type>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(probes_text_names_the_verdict_and_every_fact) {
    auto r = auth_failure();
    r.address = "192.0.2.7";
    r.tried = {{"192.0.2.7", "connected"}};
    r.greeting = "220 mx ESMTP";
    r.extensions = {"STARTTLS", "AUTH PLAIN LOGIN"};
    r.auth_mechanism = "PLAIN";
    r.timings = {{phase::connect, 1.25}, {phase::auth, 3.0}};
    r.total_ms = 4.25;
    r.transcript = {{0.5, 'S', "220 mx ESMTP"}, {1.0, 'C', "AUTH PLAIN ***"}};
    const auto text = report_text(r, std::string("the words"), false);
    BOOST_TEST(text == "FAILED  SR_SMTP_AUTH_FAILED in phase auth\n"
                       "        the words\n"
                       "server  smtp.example.com:587 (192.0.2.7)\n"
                       "tried   192.0.2.7: connected\n"
                       "greets  220 mx ESMTP\n"
                       "offers  STARTTLS\n"
                       "offers  AUTH PLAIN LOGIN\n"
                       "auth    PLAIN refused\n"
                       "timing  connect 1.2 ms auth 3.0 ms; total 4.2 ms\n");
    const auto with = report_text(r, std::string("the words"), true);
    BOOST_TEST(with.ends_with("     0.5 ms S: 220 mx ESMTP\n     1.0 ms C: AUTH PLAIN ***\n"), with);
    test_report ok;
    ok.success = true;
    BOOST_TEST(report_text(ok, std::nullopt, false).starts_with("OK      the server accepted the test message\n"));
}

BOOST_AUTO_TEST_SUITE_END()
