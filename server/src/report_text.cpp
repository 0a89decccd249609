#include "smtpcheck/server/report_text.hpp"

namespace smtpcheck::server {

std::optional<std::string> report_hint(const smtp::test_report& r, const serialization::language_choice& lang,
                                       const serialization::catalogs& texts) {
    if (!r.hint) return std::nullopt;
    if (lang.raw) return "[" + *r.hint + "]";
    return serialization::fill(texts.lookup(lang.language, "hints", *r.hint), {{"uri", r.hint_uri}});
}

std::optional<std::string> report_message(const smtp::test_report& r, const serialization::language_choice& lang,
                                          const serialization::catalogs& texts, std::chrono::milliseconds deadline) {
    if (r.success) return std::nullopt;
    const std::string_view code = smtp::resource_name(r.code);
    std::string s;
    if (lang.raw) {
        s = "[" + std::string(code) + "]";
    } else {
        const bool literal = r.host.find(':') != std::string::npos;  // IPv6: [host]
        s = serialization::fill(texts.lookup(lang.language, "messages", code),
                                {{"host", literal ? "[" + r.host + "]" : r.host},
                                 {"port", std::to_string(r.port)},
                                 {"phase", smtp::phase_name(r.failed_phase.value_or(smtp::phase::validate))},
                                 {"deadline", serialization::format_number(deadline.count(), lang.culture)},
                                 {"detail", r.detail}});
    }
    if (r.last_reply) s += " " + r.last_reply->first_line();
    if (!lang.raw)
        if (auto hint = report_hint(r, lang, texts)) s += " " + *hint;
    return s;
}

}  // namespace smtpcheck::server
