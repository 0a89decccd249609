// Languages, cultures and message catalogs (SPEC 2.6). The catalogs are the data files in
// config/catalog/, compiled in.
#pragma once

#include <array>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace smtpcheck::serialization {

/// The languages with a catalog (config/catalog/<language>.ini), English first.
inline constexpr std::array<std::string_view, 7> supported_languages{"en", "nb", "sv", "da", "de", "nl", "fr"};

struct language_choice {
    std::string language;  ///< en, nb, sv, da, de, nl or fr
    bool raw = false;      ///< SO-Language * or x: resource references instead of text
    std::string culture;   ///< formats numbers; defaults to the language
};

/// SO-Language, else Accept-Language (q-values; sv-SE -> sv, no/nb-NO/nn -> nb), else
/// `default_language`. An unknown SO-Language means English. SO-Culture, when it names a
/// known culture, formats numbers.
language_choice choose_language(std::string_view so_language, std::string_view accept_language,
                                std::string_view so_culture, std::string_view default_language);

/// The seven catalogs; an unknown language gets English.
class catalogs {
public:
    catalogs();
    /// The text of `key` in `section` ([messages], [hints], [errors], [message]); English when
    /// the language lacks it, the key itself when English does too.
    std::string text(std::string_view language, std::string_view section, std::string_view key) const;
    /// The same without a copy: a view into the catalog (or of `key` itself when no catalog
    /// has it), valid while this object and `key` live.
    std::string_view lookup(std::string_view language, std::string_view section, std::string_view key) const;
    /// The languages that have a catalog.
    std::vector<std::string> languages() const;

private:
    /// language -> "section/key" -> text; transparent, so lookups need no key strings
    std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> entries_;
};

/// The compiled-in catalogs, parsed once on first use and shared by every part of the server.
const catalogs& builtin_catalogs();

/// An error document's message: the [errors] entry `key` in the chosen language with
/// {detail} filled in, or the reference `[SR_ERROR_<key>]` in raw mode.
std::string error_message(const catalogs& texts, const language_choice& lang, std::string_view key,
                          std::string_view detail = {});

/// `text` with each {name} replaced by its value, in one pass (values are not scanned again);
/// a {name} without a value stays as it is.
std::string fill(std::string_view text, std::initializer_list<std::pair<std::string_view, std::string_view>> values);

/// 5000 -> "5,000" (en), "5 000" (sv, nb, fr), "5.000" (de, da, nl).
std::string format_number(long long n, std::string_view culture);

/// SO-TimeZone: UTC, a location code (NO, US-NY), or a numeric id, optionally followed by
/// ", includeTZOffset".
bool valid_time_zone(std::string_view value);

}  // namespace smtpcheck::serialization
