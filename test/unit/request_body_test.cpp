// serialization/request_body.hpp: the seven request body types into a test request.
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

}  // namespace

BOOST_AUTO_TEST_SUITE(request_body)

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

BOOST_AUTO_TEST_SUITE_END()
