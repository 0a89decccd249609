// One document model (an ordered Boost.JSON object under a root name), written as JSON or as
// XML by writers that know nothing of each other (SPEC 2.4); Accept negotiation; $select.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpcheck::serialization {

/// In SPEC 2.4's order: ties in negotiation go to the earlier one.
enum class media_type { json, text_json, xml, text_xml, json_patch, merge_patch };

/// RFC 9110 content negotiation over the six types: q-values, `type/*`, `*/*`, the most
/// specific range deciding a type's q. No header, or nothing acceptable: application/json.
media_type negotiate(std::string_view accept);
/// "application/json; charset=utf-8", ...
std::string_view content_type_of(media_type m);
bool is_xml(media_type m);

struct document {
    std::string root;  ///< the XML root element: SmtpTestResult, ErrorInfo, SmtpTestReport, ...
    boost::json::object body;
};

/// Compact JSON, properties in the model's order.
std::string write_json(const document& d);
/// `<?xml version="1.0" encoding="utf-8"?>` and the root with `xmlns:i`; null is
/// `<X i:nil="true"/>`, booleans `true`/`false`, text escaped, an empty object `<X/>`;
/// array items are `<string>` for text and `<Item>` for objects.
std::string write_xml(const document& d);
std::string write(const document& d, media_type m);

/// SPEC 2.5's `$select`, parsed once: names case-insensitive, spaces trimmed, `/` for nested
/// paths, unknown names ignored; empty selects everything.
class selection {
public:
    explicit selection(std::string_view select);
    /// Every property not selected becomes null in its place.
    void apply(boost::json::object& body) const;
    /// Whether apply() keeps the top-level property `name` (or part of it), so that a value it
    /// would null need not be made.
    bool keeps(std::string_view name) const;

private:
    std::vector<std::string> paths_;  ///< lowercase
};
void apply_select(boost::json::object& body, std::string_view select);

/// The `$select` (or `%24select`) query parameter of a request target, percent-decoded.
std::optional<std::string> select_parameter(std::string_view target);

}  // namespace smtpcheck::serialization
