#include "smtpcheck/serialization/localization.hpp"
#include "smtpcheck/smtp/report.hpp"
#include "smtpcheck/smtp/remedies.hpp"

#include <boost/test/unit_test.hpp>

using namespace smtpcheck::serialization;

BOOST_AUTO_TEST_SUITE(localization)

BOOST_AUTO_TEST_CASE(language_comes_from_so_language_then_accept_language_then_the_default) {
    BOOST_TEST(choose_language("de", "sv", "", "en").language == "de");
    BOOST_TEST(choose_language("", "sv-SE,en;q=0.5", "", "en").language == "sv");
    BOOST_TEST(choose_language("", "nn", "", "en").language == "nb");
    BOOST_TEST(choose_language("", "no", "", "en").language == "nb");
    BOOST_TEST(choose_language("nb-NO", "", "", "en").language == "nb");
    BOOST_TEST(choose_language("", "ja, fr;q=0.3, nl;q=0.8", "", "en").language == "nl");
    BOOST_TEST(choose_language("", "ja", "", "da").language == "da");
    BOOST_TEST(choose_language("", "", "", "fr").language == "fr");
    BOOST_TEST(choose_language("tlh", "de", "", "sv").language == "en");  // an unknown SO-Language is English
    // q-values are read as for Accept: clamped to 1, Q= as q=, not a number is 0
    BOOST_TEST(choose_language("", "nl;q=1, fr;q=2", "", "en").language == "nl");
    BOOST_TEST(choose_language("", "de;Q=0.5, sv;q=0.9", "", "en").language == "sv");
    BOOST_TEST(choose_language("", "de;q=inf, sv;q=0.9", "", "en").language == "sv");
    BOOST_TEST(choose_language("", "de;level=1;q=0.2, sv;q=0.3", "", "en").language == "sv");
    BOOST_TEST(choose_language("*", "", "", "de").raw);
    BOOST_TEST(choose_language("x", "", "", "de").raw);
}

BOOST_AUTO_TEST_CASE(culture_defaults_to_the_language_and_formats_numbers) {
    BOOST_TEST(choose_language("sv", "", "", "en").culture == "sv");
    BOOST_TEST(choose_language("sv", "", "de-DE", "en").culture == "de");
    BOOST_TEST(choose_language("sv", "", "tlh", "en").culture == "sv");
    BOOST_TEST(format_number(5000, "en") == "5,000");
    BOOST_TEST(format_number(5000, "sv") == "5 000");
    BOOST_TEST(format_number(5000, "de") == "5.000");
    BOOST_TEST(format_number(1234567, "nl") == "1.234.567");
    BOOST_TEST(format_number(999, "en") == "999");
}

BOOST_AUTO_TEST_CASE(every_catalog_words_every_outcome_error_and_the_message) {
    using smtpcheck::smtp::outcome_code;
    catalogs texts;
    std::vector<std::string> codes;
    // Every code of the enum: it ends at last_outcome_code (past it there is no name).
    const int last = static_cast<int>(smtpcheck::smtp::last_outcome_code);
    for (int c = static_cast<int>(outcome_code::uri_invalid); c <= last; ++c) {
        codes.emplace_back(smtpcheck::smtp::resource_name(static_cast<outcome_code>(c)));
        BOOST_TEST(codes.back().starts_with("SR_SMTP_"), c);
    }
    BOOST_TEST(smtpcheck::smtp::resource_name(static_cast<outcome_code>(last + 1)).empty());
    BOOST_TEST(codes.size() == 19u);  // SPEC 3.7's table
    BOOST_TEST(texts.languages().size() == supported_languages.size());
    for (auto lang : texts.languages()) {
        for (const auto& code : codes) {
            auto text = texts.text(lang, "messages", code);
            BOOST_TEST(text != code, lang << " " << code);
            if (std::string(lang) != "en") BOOST_TEST(text != texts.text("en", "messages", code), lang << " " << code);
        }
        for (const char* key : {"BadRequest", "UnsupportedMediaType", "Unauthorized", "Forbidden", "TooManyRequests",
                                "TooManyTests", "ServiceUnavailable", "NotFound", "MethodNotAllowed",
                                "PayloadTooLarge", "RequestHeaderFieldsTooLarge", "MalformedRequest",
                                "AmbiguousFraming", "InternalError"})
            BOOST_TEST(texts.text(lang, "errors", key) != key, lang << " " << key);
        // The mismatch hints and every hint a remedy rule can give (config/remedies.ini), in
        // the language's own words.
        std::vector<std::string> hints{"HINT_TRY_SMTPS", "HINT_TRY_STARTTLS"};
        for (const auto& rule : smtpcheck::smtp::remedies::builtin().rules()) hints.push_back(rule.hint);
        for (const auto& key : hints) {
            auto text = texts.text(lang, "hints", key);
            BOOST_TEST(text != key, lang << " " << key);
            if (std::string(lang) != "en") BOOST_TEST(text != texts.text("en", "hints", key), lang << " " << key);
        }
        for (int w = 0; w <= static_cast<int>(smtpcheck::smtp::last_warning_code); ++w) {
            const auto code = static_cast<smtpcheck::smtp::warning_code>(w);
            const std::string key(smtpcheck::smtp::warning_name(code));
            auto text = texts.text(lang, "warnings", key);
            BOOST_TEST(text != key, lang << " " << key);
            BOOST_TEST(text.find("{" + std::string(smtpcheck::smtp::warning_value_name(code)) + "}") != std::string::npos,
                       lang << " " << key);
            if (std::string(lang) != "en") BOOST_TEST(text != texts.text("en", "warnings", key), lang << " " << key);
        }
        for (const char* key : {"S_SRV_SUBMISSIONS", "S_SRV_SUBMISSION", "S_MX_PROVIDER", "S_PORT_TLS_MISMATCH"}) {
            auto text = texts.text(lang, "suggestions", key);
            BOOST_TEST(text != key, lang << " " << key);
            if (std::string(lang) != "en") BOOST_TEST(text != texts.text("en", "suggestions", key), lang << " " << key);
        }
        BOOST_TEST(texts.text(lang, "message", "body").find("{test_id}") != std::string::npos, lang);
        BOOST_TEST(texts.text(lang, "message", "body").find('\n') != std::string::npos, lang);
    }
    BOOST_TEST(texts.text("tlh", "messages", "SR_SMTP_DNS_FAILED") == texts.text("en", "messages", "SR_SMTP_DNS_FAILED"));
    BOOST_TEST(fill("{host}:{port} {host}", {{"host", "h"}, {"port", "25"}}) == "h:25 h");
}

BOOST_AUTO_TEST_CASE(time_zones) {
    for (const char* ok : {"UTC", "utc", "NO", "US-NY", "123", "NO, includeTZOffset", "UTC,includetzoffset"})
        BOOST_TEST(valid_time_zone(ok), ok);
    for (const char* bad : {"", "Mars/Olympus", "N", "NOR-TOOLONG", "UTC, sometimes", "US-"})
        BOOST_TEST(!valid_time_zone(bad), bad);
}

BOOST_AUTO_TEST_SUITE_END()
