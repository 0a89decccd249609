#include "smtpcheck/serialization/report.hpp"

#include <boost/json/array.hpp>

#include <cmath>
#include <cstdio>

namespace smtpcheck::serialization {

namespace json = boost::json;

std::optional<std::string> report_hint(const smtp::test_report& r, const language_choice& lang, const catalogs& texts) {
    if (!r.hint) return std::nullopt;
    if (lang.raw) return "[" + *r.hint + "]";
    return fill(texts.lookup(lang.language, "hints", *r.hint), {{"uri", r.hint_uri}});
}

std::vector<worded_warning> report_warnings(const smtp::test_report& r, const language_choice& lang,
                                            const catalogs& texts) {
    std::vector<worded_warning> out;
    out.reserve(r.warnings.size());
    for (const auto& w : r.warnings) {
        const std::string_view code = smtp::warning_name(w.code);
        // A certificate that ends within a day, or in one day, has a sentence of its own
        // (W_CERT_EXPIRES_SOON_0, _1): "in 0 days" and "in 1 days" read badly in every language.
        std::string_view key = code;
        if (w.code == smtp::warning_code::cert_expires_soon && (w.value == "0" || w.value == "1"))
            key = w.value == "0" ? "W_CERT_EXPIRES_SOON_0" : "W_CERT_EXPIRES_SOON_1";
        out.push_back({std::string(code),
                       lang.raw ? "[" + std::string(code) + "]"
                                : fill(texts.lookup(lang.language, "warnings", key),
                                       {{smtp::warning_value_name(w.code), w.value}, {"host", r.host}})});
    }
    return out;
}

std::vector<worded_suggestion> report_suggestions(const smtp::test_report& r, const language_choice& lang,
                                                  const catalogs& texts) {
    std::vector<worded_suggestion> out;
    out.reserve(r.suggestions.size());
    for (const auto& s : r.suggestions)
        out.push_back({s.uri, lang.raw ? "[" + s.why + "]"
                                       : fill(texts.lookup(lang.language, "suggestions", s.why),
                                              {{"domain", s.domain}, {"via", s.via}, {"provider", s.provider}})});
    return out;
}

std::optional<std::string> report_message(const smtp::test_report& r, const language_choice& lang,
                                          const catalogs& texts, std::chrono::milliseconds deadline) {
    if (r.success) return std::nullopt;
    const std::string_view code = smtp::resource_name(r.code);
    std::string s;
    if (lang.raw) {
        s = "[" + std::string(code) + "]";
    } else {
        const bool literal = r.host.find(':') != std::string::npos;  // IPv6: [host]
        s = fill(texts.lookup(lang.language, "messages", code),
                 {{"host", literal ? "[" + r.host + "]" : r.host},
                  {"port", std::to_string(r.port)},
                  {"phase", smtp::phase_name(r.failed_phase.value_or(smtp::phase::validate))},
                  {"deadline", format_number(deadline.count(), lang.culture)},
                  {"detail", r.detail}});
    }
    if (r.last_reply) s += " " + r.last_reply->first_line();
    if (!lang.raw)
        if (auto hint = report_hint(r, lang, texts)) s += " " + *hint;
    return s;
}

document test_result_document(const smtp::test_report& report, const std::optional<std::string>& message,
                              json::storage_ptr storage) {
    json::object body(4, storage);
    body.emplace("Success", report.success);
    body.emplace("ErrorMessage", message ? json::value(*message, storage) : json::value(nullptr));
    body.emplace("TableRight", nullptr);
    body.emplace("FieldProperties", json::object(storage));
    return {"SmtpTestResult", std::move(body)};
}

document report_document(const smtp::test_report& r, const std::optional<std::string>& message,
                         const std::optional<std::string>& hint, const std::vector<worded_warning>& warnings,
                         const std::vector<worded_suggestion>& suggestions) {
    json::object o;
    o["Success"] = r.success;
    o["ErrorCode"] = r.success ? json::value(nullptr) : json::value(smtp::resource_name(r.code));
    o["ErrorMessage"] = message ? json::value(*message) : json::value(nullptr);
    o["Phase"] = r.failed_phase && !r.success ? json::value(smtp::phase_name(*r.failed_phase)) : json::value(nullptr);
    if (r.last_reply) {
        json::object rep;
        rep["Code"] = r.last_reply->code;
        rep["EnhancedCode"] = r.last_reply->enhanced.empty() ? json::value(nullptr) : json::value(r.last_reply->enhanced);
        rep["Text"] = r.last_reply->text();
        o["Reply"] = std::move(rep);
    } else {
        o["Reply"] = nullptr;
    }
    o["Hint"] = hint ? json::value(*hint) : json::value(nullptr);
    json::array warned;
    for (const auto& w : warnings) warned.push_back(json::object{{"Code", w.code}, {"Message", w.message}});
    o["Warnings"] = std::move(warned);
    json::array suggested;
    for (const auto& s : suggestions) suggested.push_back(json::object{{"SmtpUri", s.uri}, {"Why", s.why}});
    o["Suggestions"] = std::move(suggested);
    json::object server;
    server["Host"] = r.host;
    server["Port"] = r.port;
    server["Address"] = r.address ? json::value(*r.address) : json::value(nullptr);
    json::array tried;
    for (const auto& t : r.tried) tried.push_back(json::object{{"Address", t.address}, {"Outcome", t.outcome}});
    server["Tried"] = std::move(tried);
    server["Dns"] = r.dns_cached ? json::value(json::object{{"Cached", *r.dns_cached}}) : json::value(nullptr);
    server["Greeting"] = r.greeting ? json::value(*r.greeting) : json::value(nullptr);
    json::array ext;
    for (const auto& e : r.extensions) ext.push_back(json::value(e));
    server["Extensions"] = std::move(ext);
    o["Server"] = std::move(server);
    if (r.tls) {
        json::object t;
        t["Mode"] = r.tls->mode;
        t["Version"] = r.tls->version.empty() ? json::value(nullptr) : json::value(r.tls->version);
        t["Cipher"] = r.tls->cipher.empty() ? json::value(nullptr) : json::value(r.tls->cipher);
        t["Verified"] = r.tls->verified;
        t["VerifyError"] = r.tls->verify_error ? json::value(*r.tls->verify_error) : json::value(nullptr);
        if (r.tls->certificate) {
            const auto& c = *r.tls->certificate;
            json::array sans;
            for (const auto& n : c.subject_alt_names) sans.push_back(json::value(n));
            t["Certificate"] = json::object{{"Subject", c.subject},
                                            {"Issuer", c.issuer},
                                            {"SubjectAltNames", std::move(sans)},
                                            {"NotAfter", c.not_after}};
        } else {
            t["Certificate"] = nullptr;
        }
        o["Tls"] = std::move(t);
    } else {
        o["Tls"] = nullptr;
    }
    o["Auth"] = r.auth_mechanism ? json::value(json::object{{"Mechanism", *r.auth_mechanism}, {"Succeeded", r.auth_succeeded}})
                                 : json::value(nullptr);
    json::array timings;
    for (const auto& t : r.timings)
        timings.push_back(json::object{{"Phase", smtp::phase_name(t.which)}, {"Ms", std::round(t.ms * 10) / 10}});
    o["Timings"] = std::move(timings);
    o["TotalMs"] = std::round(r.total_ms * 10) / 10;
    json::array transcript;
    for (const auto& l : r.transcript)
        transcript.push_back(json::object{{"Ms", std::round(l.ms * 10) / 10}, {"Dir", std::string(1, l.dir)}, {"Line", l.line}});
    o["Transcript"] = std::move(transcript);
    return {"SmtpTestReport", std::move(o)};
}

const document& test_smtp_server_description() {
    static const document description{
        "MethodDescription",
        json::object{
            {"Name", "TestSmtpServer"},
            {"Agent", "CustomerService"},
            {"Method", "POST"},
            {"Parameters", json::array{json::object{{"Name", "SmtpUri"}, {"Type", "string"}},
                                       json::object{{"Name", "From"}, {"Type", "string"}},
                                       json::object{{"Name", "UseStoredPassword"}, {"Type", "bool"}}}},
            {"ReturnType", "SmtpTestResult"},
            {"ReturnProperties",
             json::array{json::object{{"Name", "Success"}, {"Type", "bool"}},
                         json::object{{"Name", "ErrorMessage"}, {"Type", "string"}},
                         json::object{{"Name", "TableRight"}, {"Type", "TableRight"}},
                         json::object{{"Name", "FieldProperties"}, {"Type", "FieldPropertyDictionary"}}}}}};
    return description;
}

std::string report_text(const smtp::test_report& r, const std::optional<std::string>& message, bool with_transcript,
                        const std::vector<worded_warning>& warnings, const std::vector<worded_suggestion>& suggestions) {
    std::string out;
    char buf[96];
    if (r.success) {
        out += "OK      the server accepted the test message\n";
    } else {
        out += "FAILED  ";
        out += smtp::resource_name(r.code);
        out += " in phase ";
        out += smtp::phase_name(r.failed_phase.value_or(smtp::phase::validate));
        out += "\n        " + message.value_or("") + "\n";
    }
    for (const auto& w : warnings) out += "WARNING " + w.message + " (" + w.code + ")\n";
    for (const auto& s : suggestions) out += "TRY     " + s.uri + ": " + s.why + "\n";
    if (!r.host.empty())
        out += "server  " + r.host + ":" + std::to_string(r.port) + (r.address ? " (" + *r.address + ")" : "") + "\n";
    for (const auto& t : r.tried) out += "tried   " + t.address + ": " + t.outcome + "\n";
    if (r.greeting) out += "greets  " + *r.greeting + "\n";
    for (const auto& e : r.extensions) out += "offers  " + e + "\n";
    if (r.tls) {
        out += "tls     " + r.tls->mode + ", " + r.tls->version + " " + r.tls->cipher + ", " +
               (r.tls->verified ? "verified" : "NOT verified") + (r.tls->verify_error ? ": " + *r.tls->verify_error : "") +
               "\n";
        if (r.tls->certificate) {
            const auto& c = *r.tls->certificate;
            out += "cert    " + c.subject + ", issued by " + c.issuer + ", valid until " + c.not_after + "\n";
        }
    }
    if (r.auth_mechanism) out += "auth    " + *r.auth_mechanism + (r.auth_succeeded ? " accepted" : " refused") + "\n";
    out += "timing ";
    for (const auto& t : r.timings) {
        std::snprintf(buf, sizeof buf, " %s %.1f ms", std::string(smtp::phase_name(t.which)).c_str(), t.ms);
        out += buf;
    }
    std::snprintf(buf, sizeof buf, "; total %.1f ms", r.total_ms);
    out += buf;
    out += "\n";
    if (with_transcript) {
        for (const auto& l : r.transcript) {
            std::snprintf(buf, sizeof buf, "%8.1f ms ", l.ms);
            out += buf;
            out += l.dir;
            out += ": " + l.line + "\n";
        }
    }
    return out;
}

}  // namespace smtpcheck::serialization
