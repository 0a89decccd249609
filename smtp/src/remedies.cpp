#include "smtpcheck/smtp/remedies.hpp"

#include "smtpcheck/core/ascii.hpp"

#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <fnmatch.h>

#include <charconv>
#include <sstream>
#include <stdexcept>

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

// "220 mx.example.com ESMTP ..." -> "mx.example.com"
std::string greeting_name(const std::string& greeting) {
    std::string_view g = greeting;
    auto space = g.find(' ');
    if (space == std::string_view::npos) return {};
    g.remove_prefix(space + 1);
    return std::string(g.substr(0, g.find(' ')));
}

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
            provider_signature p{name, {}, {}};
            for (const auto& [key, v] : body) {
                if (key == "names") p.names = patterns(v.data());
                else if (key == "greeting") p.greeting = patterns(v.data());
                else bad(section, key, "unknown key");
            }
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

void remedies::apply(test_report& r, std::string_view user) const {
    if (r.success || r.hint) return;
    const remedy_rule* rule = match(r, user);
    if (!rule) return;
    r.hint = rule->hint;
    if (rule->uri == "starttls") r.hint_uri = "smtp+starttls://" + r.host + ":" + std::to_string(r.port);
    else if (rule->uri == "smtps") r.hint_uri = "smtps://" + r.host + ":" + std::to_string(r.port);
}

}  // namespace smtp
}  // namespace smtpcheck
