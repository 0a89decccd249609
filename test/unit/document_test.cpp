// serialization/document.hpp: negotiation, the JSON and XML writers, $select.
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

namespace {

// The server's own SmtpTestResult mapping, so that a change in it shows here.
document result(bool success, const char* message) {
    smtpcheck::smtp::test_report r;
    r.success = success;
    return test_result_document(r, message ? std::optional<std::string>(message) : std::nullopt);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(documents)

// Issue 11 (fuzz_http_request): a Content-Type of octet 0xff went into a 415's message and
// out as invalid JSON; control characters make XML ill-formed.
BOOST_AUTO_TEST_CASE(documents_are_written_as_valid_utf8_without_controls) {
    auto e = check_content_type("\xff/\x01");
    BOOST_REQUIRE(e.has_value());
    document d{"ErrorInfo", json::object{{"ErrorMessage", e->message}, {"Nested", json::array{"a\x1b[2Jb"}}}};
    auto text = write_json(d);
    boost::system::error_code ec;
    auto back = json::parse(text, ec);
    BOOST_TEST(!ec);
    BOOST_TEST(text.find('\xff') == std::string::npos);
    BOOST_TEST(text.find("\\u0001") == std::string::npos);
    BOOST_TEST(text.find("\\u001b") == std::string::npos);
    auto xml = write_xml(d);
    BOOST_TEST(xml.find('\x01') == std::string::npos);
    BOOST_TEST(xml.find('\x1b') == std::string::npos);
    // Invalid sequences of three octets (overlong, surrogate) are invalid too; a real U+FFFD is not.
    for (std::string_view bad : {"\xe0\x9e\x8f<xml", "\xed\xa0\x80"}) {
        auto t = write_json(document{"ErrorInfo", json::object{{"ErrorMessage", bad}}});
        BOOST_TEST(t.find(bad) == std::string::npos);
        BOOST_TEST(!json::parse(t, ec).is_null());
        BOOST_TEST(!ec);
    }
    BOOST_TEST(is_printable_text("ok \xef\xbf\xbd"));
    BOOST_TEST(write_json(result(false, "plain")) == R"({"Success":false,"ErrorMessage":"plain","TableRight":null,"FieldProperties":{}})");
}

BOOST_AUTO_TEST_CASE(negotiation_follows_q_values_and_specificity) {
    BOOST_TEST((negotiate("") == media_type::json));
    BOOST_TEST((negotiate("application/xml") == media_type::xml));
    BOOST_TEST((negotiate("text/xml, application/json;q=0.5") == media_type::text_xml));
    BOOST_TEST((negotiate("application/json;q=0.4, application/xml;q=0.9") == media_type::xml));
    BOOST_TEST((negotiate("*/*") == media_type::json));
    BOOST_TEST((negotiate(" APPLICATION/JSON ") == media_type::json));  // the fast path: no list of ranges
    BOOST_TEST((negotiate("text/*") == media_type::text_json));
    BOOST_TEST((negotiate("text/*, text/json;q=0") == media_type::text_xml));
    BOOST_TEST((negotiate("image/png") == media_type::json));
    BOOST_TEST((negotiate("application/merge-patch+json") == media_type::merge_patch));
    BOOST_TEST((negotiate("application/xml;q=0.5, text/xml;q=0.5") == media_type::xml));
    BOOST_TEST((negotiate("application/xml;q=7, application/json;q=0.9") == media_type::xml));  // clamped to 1
    BOOST_TEST((negotiate("application/xml;q=1e0, application/json;q=0.9") == media_type::json));  // not a qvalue: 0
    BOOST_TEST((negotiate("application/xml;q=0.5abc, text/json;q=0.1") == media_type::text_json));
    BOOST_TEST(content_type_of(media_type::text_xml) == "text/xml; charset=utf-8");
}

BOOST_AUTO_TEST_CASE(writers_produce_the_spec_documents_byte_for_byte) {
    BOOST_TEST(write_json(result(false, "Nope <&>")) ==
               R"({"Success":false,"ErrorMessage":"Nope <&>","TableRight":null,"FieldProperties":{}})");
    BOOST_TEST(write_xml(result(false, "Nope <&>")) ==
               "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
               R"(<SmtpTestResult xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><Success>false</Success>)"
               R"(<ErrorMessage>Nope &lt;&amp;&gt;</ErrorMessage><TableRight i:nil="true"/><FieldProperties/></SmtpTestResult>)");
    BOOST_TEST(write_xml(result(true, nullptr)).find("<Success>true</Success><ErrorMessage i:nil=\"true\"/>") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(select_nulls_what_is_not_named_and_keeps_places) {
    auto d = result(false, "x");
    apply_select(d.body, " success , nonsense");
    BOOST_TEST(write_json(d) == R"({"Success":false,"ErrorMessage":null,"TableRight":null,"FieldProperties":null})");
    auto all = result(false, "x");
    apply_select(all.body, "");
    BOOST_TEST(write_json(all) == write_json(result(false, "x")));
    document nested{"R", json::object{{"Server", json::object{{"Host", "h"}, {"Port", 25}}}, {"Code", "c"}}};
    apply_select(nested.body, "server/host");
    BOOST_TEST(write_json(nested) == R"({"Server":{"Host":"h","Port":null},"Code":null})");
    BOOST_TEST(selection("").keeps("ErrorMessage"));
    BOOST_TEST(selection(" success , ERRORMESSAGE").keeps("ErrorMessage"));
    BOOST_TEST(selection("server/host").keeps("Server"));
    BOOST_TEST(!selection("success").keeps("ErrorMessage"));
    BOOST_TEST(!selection("errormessages, error").keeps("ErrorMessage"));
    BOOST_TEST(*select_parameter("/x?%24select=Success%2CErrorMessage") == "Success,ErrorMessage");
    BOOST_TEST(*select_parameter("/x?a=1&$select=Success") == "Success");
    BOOST_TEST(!select_parameter("/x?a=1"));
}

BOOST_AUTO_TEST_SUITE_END()
