#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/serialization/localization.hpp"
#include "weighted_list.hpp"

#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <sstream>
#include <vector>

namespace smtpcheck::embedded {
std::string_view catalog_en();
std::string_view catalog_nb();
std::string_view catalog_sv();
std::string_view catalog_da();
std::string_view catalog_de();
std::string_view catalog_nl();
std::string_view catalog_fr();
}  // namespace smtpcheck::embedded

namespace smtpcheck::serialization {
namespace {

using core::trim;

// A tag to one of the seven: region subtags fall back, Norwegian is bokmål.
std::string supported(std::string_view tag) {
    auto t = core::lower_ascii(trim(tag));
    auto base = t.substr(0, t.find_first_of("-_"));
    if (base == "no" || base == "nn" || base == "nb") return "nb";
    for (auto l : supported_languages)
        if (base == l) return std::string(l);
    return {};
}

}  // namespace

language_choice choose_language(std::string_view so_language, std::string_view accept_language,
                                std::string_view so_culture, std::string_view default_language) {
    language_choice c;
    auto so = trim(so_language);
    if (so == "*" || so == "x" || so == "X") {
        c.raw = true;
        c.language = "en";
    } else if (!so.empty()) {
        c.language = supported(so);
        if (c.language.empty()) c.language = "en";
    } else {
        double best = 0;
        detail::for_each_weighted(accept_language, [&](std::string_view item, double q) {
            auto lang = supported(item);
            if (!lang.empty() && q > best) {
                best = q;
                c.language = std::move(lang);
            }
        });
        if (c.language.empty()) c.language = supported(default_language);
        if (c.language.empty()) c.language = "en";
    }
    auto culture = supported(so_culture);
    c.culture = culture.empty() ? c.language : culture;
    return c;
}

const catalogs& builtin_catalogs() {
    static const catalogs texts;
    return texts;
}

catalogs::catalogs() {
    // In supported_languages' order.
    const std::string_view files[] = {embedded::catalog_en(), embedded::catalog_nb(), embedded::catalog_sv(),
                                      embedded::catalog_da(), embedded::catalog_de(), embedded::catalog_nl(),
                                      embedded::catalog_fr()};
    static_assert(std::size(files) == supported_languages.size());
    for (std::size_t i = 0; i < supported_languages.size(); ++i) {
        const std::string_view lang = supported_languages[i], text = files[i];
        boost::property_tree::ptree tree;
        std::istringstream in{std::string(text)};
        boost::property_tree::read_ini(in, tree);
        auto& table = entries_[std::string(lang)];
        for (const auto& [section, keys] : tree)
            for (const auto& [key, value] : keys) {
                std::string v = value.data(), unescaped;
                for (std::size_t i = 0; i < v.size(); ++i) {
                    if (v[i] == '\\' && i + 1 < v.size() && v[i + 1] == 'n') {
                        unescaped += '\n';
                        ++i;
                    } else {
                        unescaped += v[i];
                    }
                }
                table[section + "/" + key] = unescaped;
            }
    }
}

std::string_view catalogs::lookup(std::string_view language, std::string_view section, std::string_view key) const {
    char buffer[128];
    std::string composed;
    std::string_view k;
    if (section.size() + 1 + key.size() <= sizeof buffer) {
        auto end = std::copy(section.begin(), section.end(), buffer);
        *end++ = '/';
        end = std::copy(key.begin(), key.end(), end);
        k = std::string_view(buffer, static_cast<std::size_t>(end - buffer));
    } else {
        composed = std::string(section) + "/" + std::string(key);
        k = composed;
    }
    for (std::string_view lang : {language, std::string_view("en")}) {
        auto t = entries_.find(lang);
        if (t == entries_.end()) continue;
        auto e = t->second.find(k);
        if (e != t->second.end()) return e->second;
    }
    return key;
}

std::vector<std::string> catalogs::languages() const {
    std::vector<std::string> out;
    for (const auto& [lang, table] : entries_) out.push_back(lang);
    return out;
}

std::string catalogs::text(std::string_view language, std::string_view section, std::string_view key) const {
    return std::string(lookup(language, section, key));
}

std::string error_message(const catalogs& texts, const language_choice& lang, std::string_view key,
                          std::string_view detail) {
    if (lang.raw) return "[SR_ERROR_" + std::string(key) + "]";
    return fill(texts.lookup(lang.language, "errors", key), {{"detail", detail}});
}

std::string fill(std::string_view text, std::initializer_list<std::pair<std::string_view, std::string_view>> values) {
    std::string out;
    out.reserve(text.size() + 64);
    while (!text.empty()) {
        auto open = text.find('{');
        out.append(text.substr(0, open));
        if (open == std::string_view::npos) break;
        text.remove_prefix(open);
        auto close = text.find('}');
        const std::string_view* value = nullptr;
        if (close != std::string_view::npos)
            for (const auto& [name, v] : values)
                if (text.substr(1, close - 1) == name) value = &v;
        if (value) {
            out.append(*value);
            text.remove_prefix(close + 1);
        } else {
            out += '{';
            text.remove_prefix(1);
        }
    }
    return out;
}

std::string format_number(long long n, std::string_view culture) {
    std::string_view sep = ",";
    if (culture == "sv" || culture == "nb" || culture == "fr") sep = " ";
    else if (culture == "de" || culture == "da" || culture == "nl") sep = ".";
    std::string digits = std::to_string(n < 0 ? -n : n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += sep;
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

bool valid_time_zone(std::string_view value) {
    auto comma = value.find(',');
    auto zone = trim(value.substr(0, comma));
    if (comma != std::string_view::npos && core::lower_ascii(trim(value.substr(comma + 1))) != "includetzoffset") return false;
    if (zone.empty() || zone.size() > 16) return false;
    if (core::lower_ascii(zone) == "utc") return true;
    if (std::all_of(zone.begin(), zone.end(), [](unsigned char c) { return std::isdigit(c); })) return true;
    // A location code: two letters, optionally a dash and one to three more (US-NY, NO).
    auto dash = zone.find('-');
    auto country = zone.substr(0, dash);
    if (country.size() != 2 || !std::all_of(country.begin(), country.end(), [](unsigned char c) { return std::isalpha(c); }))
        return false;
    if (dash == std::string_view::npos) return true;
    auto region = zone.substr(dash + 1);
    return !region.empty() && region.size() <= 3 &&
           std::all_of(region.begin(), region.end(), [](unsigned char c) { return std::isalnum(c); });
}

}  // namespace smtpcheck::serialization
