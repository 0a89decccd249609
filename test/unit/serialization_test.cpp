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
test_request_body ok(std::string_view type, std::string_view body) {
    auto r = decode_request(type, body);
    if (auto* e = std::get_if<decode_error>(&r)) BOOST_FAIL(std::string(body) + ": " + e->message);
    return std::get<test_request_body>(r);
}
decode_error refused(std::string_view type, std::string_view body) {
    auto r = decode_request(type, body);
    if (auto* e = std::get_if<decode_error>(&r)) return *e;
    BOOST_FAIL(std::string(body) + " was accepted");
    return {};
}
// The server's own SmtpTestResult mapping, so that a change in it shows here.
document result(bool success, const char* message) {
    smtpcheck::smtp::test_report r;
    r.success = success;
    return test_result_document(r, message ? std::optional<std::string>(message) : std::nullopt);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(serialization)

BOOST_AUTO_TEST_CASE(json_bodies_with_any_case_and_string_booleans) {
    auto r = ok("application/json; charset=utf-8", R"({"smtpuri":"smtp://h","FROM":"a@b.c","usestoredpassword":"TRUE","x":1})");
    BOOST_TEST(*r.smtp_uri == "smtp://h");
    BOOST_TEST(*r.from == "a@b.c");
    BOOST_TEST(r.use_stored_password);
    auto n = ok("text/json", R"({"SmtpUri":null,"UseStoredPassword":false})");
    BOOST_TEST(!n.smtp_uri);
    BOOST_TEST(!n.use_stored_password);
    BOOST_TEST(refused("application/json", R"({"UseStoredPassword":"maybe"})").status == 400);
    BOOST_TEST(refused("application/json", R"({"SmtpUri":42})").message.find("SmtpUri") != std::string::npos);
    BOOST_TEST(refused("application/json", "[1,2]").status == 400);
    BOOST_TEST(refused("application/json", "{\"SmtpUri\":").status == 400);
    std::string deep = std::string(40, '[') + std::string(40, ']');
    BOOST_TEST(refused("application/json", deep).message.find("32") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_empty_body_is_the_default_request) {
    auto r = ok("", "");
    BOOST_TEST(!r.smtp_uri);
    BOOST_TEST(!r.from);
    BOOST_TEST(!r.use_stored_password);
}

BOOST_AUTO_TEST_CASE(media_types_and_charsets) {
    BOOST_TEST(refused("text/plain", "x").status == 415);
    BOOST_TEST(refused("application/json; charset=iso-8859-1", "{}").status == 415);
    BOOST_TEST(refused("", "{}").status == 415);
    BOOST_TEST(!check_content_type("application/json; charset=\"UTF-8\""));
    BOOST_TEST(check_content_type("application/xml; charset=utf-16")->status == 415);
}

BOOST_AUTO_TEST_CASE(xml_with_namespaces_nil_and_no_doctype) {
    auto r = ok("application/xml",
                R"(<?xml version="1.0"?><req xmlns:so="urn:x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">)"
                R"(<so:SmtpUri>smtp://h</so:SmtpUri><From xsi:nil="true"/><usestoredpassword>True</usestoredpassword></req>)");
    BOOST_TEST(*r.smtp_uri == "smtp://h");
    BOOST_TEST(!r.from);
    BOOST_TEST(r.use_stored_password);
    BOOST_TEST(refused("text/xml", R"(<!DOCTYPE r [<!ENTITY x "y">]><r><From>&x;</From></r>)").message.find("DOCTYPE") !=
               std::string::npos);
    std::string deep;
    for (int i = 0; i < 40; ++i) deep += "<a>";
    for (int i = 0; i < 40; ++i) deep += "</a>";
    BOOST_TEST(refused("application/xml", deep).message.find("32") != std::string::npos);
    BOOST_TEST(refused("application/xml", "<r><From>x</r>").status == 400);
    BOOST_TEST(refused("application/xml", "<r><UseStoredPassword>yes</UseStoredPassword></r>").status == 400);
}

BOOST_AUTO_TEST_CASE(form_bodies) {
    auto r = ok("application/x-www-form-urlencoded", "SmtpUri=smtp%3A%2F%2Fh&from=a%40b.c&UseStoredPassword=true");
    BOOST_TEST(*r.smtp_uri == "smtp://h");
    BOOST_TEST(*r.from == "a@b.c");
    BOOST_TEST(r.use_stored_password);
    BOOST_TEST(*ok("application/x-www-form-urlencoded", "From=a+b%40c.d").from == "a b@c.d");
    BOOST_TEST(refused("application/x-www-form-urlencoded", "UseStoredPassword=2").status == 400);
}

// Issue 11: the depth was counted by a text scan that a '>' inside an attribute value fooled;
// 40,000 such levels crashed the server. expat counts the elements it reports.
BOOST_AUTO_TEST_CASE(xml_depth_is_counted_by_the_parser_and_a_doctype_refused_anywhere) {
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += R"(<a x="/>">)";
    for (int i = 0; i < 100; ++i) deep += "</a>";
    BOOST_TEST(refused("application/xml", deep).message.find("32") != std::string::npos);
    std::string very_deep;
    for (int i = 0; i < 40000; ++i) very_deep += R"(<a x="/>">)";
    for (int i = 0; i < 40000; ++i) very_deep += "</a>";
    BOOST_TEST(std::get<decode_error>(decode_request("application/xml", very_deep, 1 << 20)).status == 400);
    std::string shallow = "<r>";
    for (int i = 0; i < 30; ++i) shallow += R"(<a x="/>">)";
    for (int i = 0; i < 30; ++i) shallow += "</a>";
    shallow += "<From>a@b.example</From></r>";
    BOOST_TEST(ok("application/xml", shallow).from.value_or("") == "a@b.example");
    BOOST_TEST(refused("application/xml", std::string(2000000, ' ') + "<!DOCTYPE r><r/>").message.find("DOCTYPE") !=
               std::string::npos);
    BOOST_TEST(refused("application/xml", "<?xml version=\"1.0\"?>\n<!-- x --><!DOCTYPE r SYSTEM \"file:///etc/passwd\"><r/>")
                   .message.find("DOCTYPE") != std::string::npos);
    BOOST_TEST(refused("application/xml", "<r><From>a</From></r><r/>").status == 400);
    BOOST_TEST(ok("application/xml", "<r><From><![CDATA[a@b.example]]></From></r>").from.value_or("") == "a@b.example");
}

// Issue 11: each copy of the root doubled the document (19 operations: 174 MB), and an array
// index beyond unsigned long answered 500.
BOOST_AUTO_TEST_CASE(a_json_patch_cannot_build_more_than_the_body_limit) {
    std::string bomb = "[";
    for (int i = 0; i < 40; ++i) bomb += std::string(i ? "," : "") + R"({"op":"copy","from":"","path":"/k)" + std::to_string(i) + "\"}";
    bomb += "]";
    auto e = refused("application/json-patch+json", bomb);
    BOOST_TEST(e.status == 400);
    BOOST_TEST(e.message.find("larger than") != std::string::npos, e.message);
    // A few copies of a small document stay allowed.
    auto r = ok("application/json-patch+json",
                R"([{"op":"add","path":"/SmtpUri","value":"smtp://h"},{"op":"copy","from":"","path":"/k0"},)"
                R"({"op":"copy","from":"/SmtpUri","path":"/From"}])");
    BOOST_TEST(r.from.value_or("") == "smtp://h");
    BOOST_TEST(refused("application/json-patch+json",
                       R"([{"op":"add","path":"/a","value":[1]},{"op":"add","path":"/a/99999999999999999999","value":2}])")
                   .status == 400);
    BOOST_TEST(refused("application/json-patch+json", R"([{"op":"add","path":"/a","value":[1]},{"op":"remove","path":"/a/99999999999999999999"}])")
                   .status == 400);
    BOOST_TEST(refused("application/json-patch+json", R"([{"op":"add","path":"/a","value":[1]},{"op":"add","path":"/a/01","value":2}])")
                   .status == 400);
    BOOST_TEST(refused("application/json-patch+json", R"([{"op":"add","path":"/a","value":{}},{"op":"move","from":"/a","path":"/a/b"}])")
                   .status == 400);
    std::string nest = R"([{"op":"add","path":"/a","value":{}})";
    for (int i = 0; i < 40; ++i) nest += R"(,{"op":"copy","from":"/a","path":"/a/x"})";
    nest += "]";
    BOOST_TEST(refused("application/json-patch+json", nest).message.find("deeper") != std::string::npos);
}

// Issue 11 (fuzz_request_body): Boost.URL 1.81's parse_query measured the body with strlen,
// reading past a buffer that does not end in NUL and taking whatever followed as form data.
BOOST_AUTO_TEST_CASE(a_form_body_is_read_within_its_bounds) {
    const std::string_view form = "SmtpUri=smtp%3A%2F%2Fh.example&From=a%40b.example";
    auto exact = std::make_unique<char[]>(form.size() + 8);
    std::copy(form.begin(), form.end(), exact.get());
    std::fill(exact.get() + form.size(), exact.get() + form.size() + 8, 'x');  // no NUL after it
    auto r = ok("application/x-www-form-urlencoded", std::string_view(exact.get(), form.size()));
    BOOST_TEST(r.from.value_or("") == "a@b.example");
    BOOST_TEST(r.smtp_uri.value_or("") == "smtp://h.example");
}

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

// The ASCII fast path reads eight octets at a time: every octet value, at every position of
// texts up to two words and a tail long, is judged as one at a time would judge it.
BOOST_AUTO_TEST_CASE(printable_text_judges_every_octet_at_every_position) {
    for (std::size_t len = 1; len <= 19; ++len)
        for (std::size_t at = 0; at < len; ++at)
            for (int b = 0; b < 256; ++b) {
                std::string s(len, 'a');
                s[at] = static_cast<char>(b);
                const bool expected = b >= 0x20 && b < 0x7f;  // alone, 0x80-0xFF is no UTF-8
                BOOST_TEST_REQUIRE(is_printable_text(s) == expected, "octet " << b << " at " << at << " of " << len);
                BOOST_TEST_REQUIRE(smtpcheck::core::is_printable_ascii(s) == expected);  // the fast path alone
                BOOST_TEST_REQUIRE((printable_text(s) == s) == expected);
            }
    // The edges of the range beside each other, and a multi-octet character after a full word.
    BOOST_TEST(is_printable_text(std::string(8, ' ') + std::string(8, '~')));
    BOOST_TEST(is_printable_text("12345678\xc3\xa9"));
    BOOST_TEST(!smtpcheck::core::is_printable_ascii("12345678\xc3\xa9"));  // not ASCII: the full check decides
    BOOST_TEST(!is_printable_text("12345678\x7f"));
}

BOOST_AUTO_TEST_CASE(merge_patch_onto_the_default_request) {
    auto r = ok("application/merge-patch+json", R"({"smtpuri":"smtp://h","UseStoredPassword":true})");
    BOOST_TEST(*r.smtp_uri == "smtp://h");
    BOOST_TEST(r.use_stored_password);
    auto cleared = ok("application/merge-patch+json", R"({"SmtpUri":null})");
    BOOST_TEST(!cleared.smtp_uri);
    BOOST_TEST(refused("application/merge-patch+json", "[]").status == 400);
}

BOOST_AUTO_TEST_CASE(json_patch_all_six_operations) {
    auto r = ok("application/json-patch+json",
                R"([{"op":"test","path":"/usestoredpassword","value":false},
                    {"op":"replace","path":"/SMTPURI","value":"smtp://h"},
                    {"op":"add","path":"/Scratch","value":"a@b.c"},
                    {"op":"copy","from":"/Scratch","path":"/From"},
                    {"op":"move","from":"/Scratch","path":"/Other"},
                    {"op":"remove","path":"/Other"}])");
    BOOST_TEST(*r.smtp_uri == "smtp://h");
    BOOST_TEST(*r.from == "a@b.c");
    BOOST_TEST(refused("application/json-patch+json", R"([{"op":"test","path":"/SmtpUri","value":"x"}])")
                   .message.find("test") != std::string::npos);
    BOOST_TEST(refused("application/json-patch+json", R"([{"op":"remove","path":"/Nope"}])").status == 400);
    BOOST_TEST(refused("application/json-patch+json", R"([{"op":"jump","path":"/From"}])").status == 400);
    BOOST_TEST(refused("application/json-patch+json", R"({"op":"add"})").status == 400);
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
    BOOST_TEST(selects("", "ErrorMessage"));
    BOOST_TEST(selects(" success , ERRORMESSAGE", "ErrorMessage"));
    BOOST_TEST(selects("server/host", "Server"));
    BOOST_TEST(!selects("success", "ErrorMessage"));
    BOOST_TEST(!selects("errormessages, error", "ErrorMessage"));
    BOOST_TEST(*select_parameter("/x?%24select=Success%2CErrorMessage") == "Success,ErrorMessage");
    BOOST_TEST(*select_parameter("/x?a=1&$select=Success") == "Success");
    BOOST_TEST(!select_parameter("/x?a=1"));
}

BOOST_AUTO_TEST_SUITE_END()
