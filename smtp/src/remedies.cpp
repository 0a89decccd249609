#include "smtpcheck/smtp/remedies.hpp"

#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/smtp/smtp_uri.hpp"

#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <fnmatch.h>
#include <libpsl.h>

#include <charconv>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace smtpcheck {
namespace embedded {
std::string_view remedies_ini();
}

namespace smtp {
namespace {

std::vector<std::string> patterns(const std::string& value) {
    std::vector<std::string> out;
    std::string_view rest = value;
    while (!rest.empty()) {
        auto bar = rest.find('|');
        auto p = core::trim(rest.substr(0, bar));
        if (!p.empty()) out.emplace_back(p);
        rest.remove_prefix(bar == std::string_view::npos ? rest.size() : bar + 1);
    }
    return out;
}

// fnmatch(3), any case; `*` also matches dots and spaces (no FNM_PATHNAME, no FNM_PERIOD).
bool matches_any(const std::vector<std::string>& pats, const std::string& subject) {
    for (const auto& p : pats)
        if (::fnmatch(p.c_str(), subject.c_str(), FNM_CASEFOLD) == 0) return true;
    return false;
}

}  // namespace

std::string greeting_name(std::string_view greeting) {
    std::string_view g = greeting;
    auto word = [&g]() {
        auto space = g.find(' ');
        if (space == std::string_view::npos) return std::string_view();
        g.remove_prefix(space + 1);
        return g.substr(0, g.find(' '));
    };
    auto name = word();
    if (!name.empty() && name.find_first_not_of("0123456789.") == std::string_view::npos) name = word();
    return std::string(name);
}

namespace {

[[noreturn]] void bad(const std::string& section, std::string_view key, std::string_view why) {
    throw std::invalid_argument("remedies: [" + section + "] " + std::string(key) + ": " + std::string(why));
}

}  // namespace

remedies::remedies(std::string_view ini) {
    namespace pt = boost::property_tree;
    pt::ptree tree;
    std::istringstream in{std::string(ini)};
    try {
        pt::read_ini(in, tree);
    } catch (const pt::ini_parser_error& e) {
        throw std::invalid_argument("remedies: " + e.message() + " (line " + std::to_string(e.line()) + ")");
    }
    for (const auto& [section, body] : tree) {
        auto colon = section.find(':');
        const std::string kind = section.substr(0, colon);
        const std::string name = colon == std::string::npos ? std::string() : section.substr(colon + 1);
        if (name.empty()) bad(section, "", "a section is [provider:NAME] or [rule:NAME]");
        if (kind == "provider") {
            provider_signature p{name, name, {}, {}, {}, {}};
            for (const auto& [key, v] : body) {
                if (key == "names") p.names = patterns(v.data());
                else if (key == "greeting") p.greeting = patterns(v.data());
                else if (key == "display") p.display = v.data();
                else if (key == "mx") p.mx = patterns(v.data());
                else if (key == "submission") {
                    if (!v.data().starts_with("smtp+starttls://") && !v.data().starts_with("smtps://"))
                        bad(section, key, "an smtp+starttls:// or smtps:// URI");
                    p.submission = v.data();
                } else bad(section, key, "unknown key");
            }
            if (!p.mx.empty() && p.submission.empty()) bad(section, "submission", "needed with mx");
            if (p.names.empty() && p.greeting.empty()) bad(section, "names", "a provider needs names or greeting");
            providers_.push_back(std::move(p));
        } else if (kind == "rule") {
            remedy_rule r;
            r.name = name;
            for (const auto& [key, v] : body) {
                const std::string& value = v.data();
                if (key == "provider") r.provider = value;
                else if (key == "code") {
                    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), r.code);
                    if (ec != std::errc() || end != value.data() + value.size() || r.code < 200 || r.code > 599)
                        bad(section, key, "a reply code from 200 to 599");
                } else if (key == "enhanced") r.enhanced = value;
                else if (key == "text") r.text = patterns(value);
                else if (key == "user_is_not") r.user_is_not = value;
                else if (key == "hint") r.hint = value;
                else if (key == "uri") {
                    if (value != "starttls" && value != "smtps") bad(section, key, "starttls or smtps");
                    r.uri = value;
                } else if (key == "port") {
                    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), r.port);
                    if (ec != std::errc() || end != value.data() + value.size() || r.port == 0)
                        bad(section, key, "a port from 1 to 65535");
                } else bad(section, key, "unknown key");
            }
            if (r.hint.empty()) bad(section, "hint", "missing");
            if (!r.provider.empty()) {
                bool known = false;
                for (const auto& p : providers_) known = known || p.name == r.provider;
                if (!known) bad(section, "provider", "no [provider:" + r.provider + "] before this rule");
            }
            rules_.push_back(std::move(r));
        } else {
            bad(section, "", "a section is [provider:NAME] or [rule:NAME]");
        }
    }
}

const remedies& remedies::builtin() {
    static const remedies rules(embedded::remedies_ini());
    return rules;
}

std::string_view remedies::provider(const test_report& r) const {
    const std::string from_greeting = r.greeting ? greeting_name(*r.greeting) : std::string();
    for (const auto& p : providers_) {
        if (matches_any(p.names, r.host) || (!from_greeting.empty() && matches_any(p.names, from_greeting)) ||
            (!r.server_name.empty() && matches_any(p.names, r.server_name)) ||
            (r.greeting && matches_any(p.greeting, *r.greeting)))
            return p.name;
    }
    return {};
}

const remedy_rule* remedies::match(const test_report& r, std::string_view user) const {
    if (r.success || !r.last_reply || r.last_reply->code < 400) return nullptr;  // only a refusal has a remedy
    const reply& last = *r.last_reply;
    std::string text;  // built on the first rule that asks for it
    std::optional<std::string_view> recognised;
    for (const auto& rule : rules_) {
        if (rule.code != 0 && rule.code != last.code) continue;
        if (!rule.enhanced.empty() && rule.enhanced != last.enhanced) continue;
        if (!rule.user_is_not.empty() && core::iequals_ascii(rule.user_is_not, user)) continue;
        if (!rule.text.empty()) {
            if (text.empty()) text = last.text();
            if (!matches_any(rule.text, text)) continue;
        }
        if (!rule.provider.empty()) {
            if (!recognised) recognised = provider(r);
            if (*recognised != rule.provider) continue;
        }
        return &rule;
    }
    return nullptr;
}

// Remembered per thread (at most 1,024 names, then forgotten at once): the same greeting and
// From domains come back test after test, and libpsl's lookups cost thousands of instructions.
std::string registrable_domain(std::string_view name) {
    if (name.empty() || name.front() == '[' || name.find(':') != std::string_view::npos ||
        name.find_first_not_of("0123456789.") == std::string_view::npos)
        return {};  // an address literal
    std::string lower = core::lower_ascii(name);
    while (!lower.empty() && lower.back() == '.') lower.pop_back();
    if (lower.find('.') == std::string::npos) return lower == "localhost" ? lower : std::string();
    thread_local std::unordered_map<std::string, std::string> known;
    if (auto hit = known.find(lower); hit != known.end()) return hit->second;
    if (known.size() >= 1024) known.clear();
    // The longest ICANN public suffix, and one label before it.
    std::string domain = lower;
    for (std::size_t start = 0, previous = std::string::npos;; ) {
        if (psl_is_public_suffix2(psl_builtin(), lower.c_str() + start, PSL_TYPE_ICANN)) {
            domain = previous == std::string::npos ? lower : lower.substr(previous);
            break;
        }
        auto dot = lower.find('.', start);
        if (dot == std::string::npos) break;
        previous = start;
        start = dot + 1;
    }
    known.emplace(std::move(lower), domain);
    return domain;
}

bool suggestion_wanted(const test_report& r) {
    if (r.success) return false;
    if (r.hint && (*r.hint == "HINT_TRY_SMTPS" || *r.hint == "HINT_TRY_STARTTLS")) return true;
    switch (r.code) {
    case outcome_code::dns_failed:
    case outcome_code::connect_failed:
    case outcome_code::tls_unavailable:
    case outcome_code::tls_failed:
    case outcome_code::tls_cert_invalid: return true;
    case outcome_code::timeout:
    case outcome_code::connection_lost: return !r.greeting;  // nothing SMTP answered
    default: return false;
    }
}

std::vector<suggestion> remedies::suggest(const test_report& r, std::string_view tested, std::string_view domain,
                                          const dns_answer& submissions, const dns_answer& submission,
                                          const dns_answer& mx) const {
    std::vector<suggestion> out;
    // "scheme://host:port" -> "host:port": a DNS answer naming the server tested suggests
    // nothing, whatever the scheme.
    auto endpoint = [](std::string_view uri) {
        auto sep = uri.find("://");
        return sep == std::string_view::npos ? uri : uri.substr(sep + 3);
    };
    auto add = [&](suggestion s, bool from_dns) {
        if (out.size() >= max_suggestions || s.uri == tested) return false;
        if (from_dns && endpoint(s.uri) == endpoint(tested)) return false;
        for (const auto& o : out)
            if (o.uri == s.uri) return false;
        out.push_back(std::move(s));
        return true;
    };
    auto add_srv = [&](const dns_answer& answer, tls_mode mode, const char* why) {
        if (answer.status != dns_status::ok) return;
        int taken = 0;
        for (const auto& rec : answer.records)
            if (rec.port != 0 && taken < 3 &&
                add({endpoint_uri(mode, rec.target, rec.port), why, std::string(domain), rec.target, {}}, true))
                ++taken;
    };
    if (r.hint && (*r.hint == "HINT_TRY_SMTPS" || *r.hint == "HINT_TRY_STARTTLS") && !r.hint_uri.empty())
        add({r.hint_uri, "S_PORT_TLS_MISMATCH", {}, {}, {}}, false);
    add_srv(submissions, tls_mode::implicit, "S_SRV_SUBMISSIONS");
    add_srv(submission, tls_mode::starttls, "S_SRV_SUBMISSION");
    if (mx.status == dns_status::ok)
        for (const auto& rec : mx.records) {
            const provider_signature* found = nullptr;
            for (const auto& p : providers_)
                if (!p.submission.empty() && matches_any(p.mx, rec.target)) {
                    found = &p;
                    break;
                }
            if (found && add({found->submission, "S_MX_PROVIDER", std::string(domain), rec.target, found->display}, true))
                break;  // one provider: its other MX hosts say the same
        }
    return out;
}

void remedies::apply(test_report& r, std::string_view user) const {
    if (r.success || r.hint) return;
    const remedy_rule* rule = match(r, user);
    if (!rule) return;
    r.hint = rule->hint;
    const std::uint16_t port = rule->port ? rule->port : r.port;
    if (rule->uri == "starttls") r.hint_uri = endpoint_uri(tls_mode::starttls, r.host, port);
    else if (rule->uri == "smtps") r.hint_uri = endpoint_uri(tls_mode::implicit, r.host, port);
}

}  // namespace smtp
}  // namespace smtpcheck
