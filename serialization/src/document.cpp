#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/serialization/document.hpp"
#include "weighted_list.hpp"

#include <boost/json/serialize.hpp>

#include "smtpcheck/core/printable_text.hpp"
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <sstream>
#include <vector>

namespace smtpcheck::serialization {
namespace {

using core::is_printable_text;
using core::printable_text;
using core::trim;

namespace json = boost::json;
namespace pt = boost::property_tree;



constexpr std::array<std::pair<media_type, std::string_view>, 6> types{{
    {media_type::json, "application/json"},
    {media_type::text_json, "text/json"},
    {media_type::xml, "application/xml"},
    {media_type::text_xml, "text/xml"},
    {media_type::json_patch, "application/json-patch+json"},
    {media_type::merge_patch, "application/merge-patch+json"},
}};

void to_ptree(pt::ptree& node, const json::value& v) {
    switch (v.kind()) {
    case json::kind::null: node.put("<xmlattr>.i:nil", "true"); break;
    case json::kind::bool_: node.put_value(v.as_bool() ? "true" : "false"); break;
    case json::kind::string: node.put_value(std::string(v.as_string())); break;
    case json::kind::object:
        for (const auto& kv : v.as_object()) to_ptree(node.add_child(std::string(kv.key()), pt::ptree()), kv.value());
        break;
    case json::kind::array:
        for (const auto& item : v.as_array())
            to_ptree(node.add_child(item.is_string() ? "string" : "Item", pt::ptree()), item);
        break;
    default: node.put_value(json::serialize(v)); break;  // numbers
    }
}

void select_in(json::object& o, const std::vector<std::string>& paths) {
    for (auto& kv : o) {
        std::string name = core::lower_ascii(kv.key());
        bool whole = false;
        std::vector<std::string> inner;
        for (const auto& p : paths) {
            if (p == name) whole = true;
            else if (p.size() > name.size() && p.compare(0, name.size(), name) == 0 && p[name.size()] == '/')
                inner.push_back(p.substr(name.size() + 1));
        }
        if (whole) continue;
        if (!inner.empty() && kv.value().is_object()) select_in(kv.value().as_object(), inner);
        else if (inner.empty()) kv.value() = nullptr;
    }
}

}  // namespace

media_type negotiate(std::string_view accept) {
    // What nearly every API client sends (curl's */*, or JSON by name) answers JSON without
    // building the list of ranges below.
    if (const auto whole = trim(accept); whole.empty() || whole == "*/*" || core::iequals_ascii(whole, "application/json"))
        return media_type::json;
    struct range {
        std::string type, subtype;
        double q = 1;
    };
    std::vector<range> ranges;
    detail::for_each_weighted(accept, [&](std::string_view item, double q) {
        auto mt = core::lower_ascii(item);
        auto slash = mt.find('/');
        if (slash != std::string::npos) ranges.push_back(range{mt.substr(0, slash), mt.substr(slash + 1), q});
    });
    if (ranges.empty()) return media_type::json;  // no Accept (the usual API client)
    media_type best = media_type::json;
    double best_q = 0;
    for (const auto& [m, name] : types) {
        auto slash = name.find('/');
        const std::string_view type = name.substr(0, slash), subtype = name.substr(slash + 1);
        int specificity = -1;
        double q = 0;
        for (const auto& r : ranges) {
            int s = r.type == type && r.subtype == subtype ? 2 : r.type == type && r.subtype == "*" ? 1
                    : r.type == "*" && r.subtype == "*"                                           ? 0
                                                                                                  : -1;
            if (s > specificity) {
                specificity = s;
                q = r.q;
            }
        }
        if (specificity >= 0 && q > best_q) {
            best_q = q;
            best = m;
        }
    }
    return best;
}

std::string_view content_type_of(media_type m) {
    switch (m) {
    case media_type::json: return "application/json; charset=utf-8";
    case media_type::text_json: return "text/json; charset=utf-8";
    case media_type::xml: return "application/xml; charset=utf-8";
    case media_type::text_xml: return "text/xml; charset=utf-8";
    case media_type::json_patch: return "application/json-patch+json; charset=utf-8";
    case media_type::merge_patch: return "application/merge-patch+json; charset=utf-8";
    }
    return "application/json; charset=utf-8";
}

bool is_xml(media_type m) { return m == media_type::xml || m == media_type::text_xml; }

namespace {

// Every text a document carries is written as valid UTF-8 without control characters, whoever
// put it there: a Content-Type of octet 0xff went into a 415's message and out as invalid JSON
// (found by fuzz_http_request); a control character makes XML ill-formed. Checked first, so a
// clean document (nearly all of them) is written without a copy.
bool printable(const json::value& v);

// The document's body as it is: passing a json::object where a json::value is taken copies it.
bool printable(const json::object& o) {
    for (const auto& kv : o)
        if (!is_printable_text(kv.key()) || !printable(kv.value())) return false;
    return true;
}

bool printable(const json::value& v) {
    switch (v.kind()) {
    case json::kind::string: return is_printable_text(v.get_string());
    case json::kind::array:
        return std::all_of(v.get_array().begin(), v.get_array().end(), [](const json::value& x) { return printable(x); });
    case json::kind::object: return printable(v.get_object());
    default: return true;
    }
}

json::value cleaned(const json::value& v) {
    switch (v.kind()) {
    case json::kind::string: return json::string(printable_text(v.get_string()));
    case json::kind::array: {
        json::array out;
        for (const auto& x : v.get_array()) out.push_back(cleaned(x));
        return out;
    }
    case json::kind::object: {
        json::object out;
        for (const auto& kv : v.get_object()) out[printable_text(kv.key())] = cleaned(kv.value());
        return out;
    }
    default: return v;
    }
}

}  // namespace

std::string write_json(const document& d) {
    if (printable(d.body)) return json::serialize(d.body);
    return json::serialize(cleaned(d.body));
}

std::string write_xml(const document& d) {
    if (!printable(d.body)) return write_xml(document{d.root, cleaned(d.body).as_object()});
    pt::ptree tree;
    auto& root = tree.add_child(d.root, pt::ptree());
    root.put("<xmlattr>.xmlns:i", "http://www.w3.org/2001/XMLSchema-instance");
    for (const auto& kv : d.body) to_ptree(root.add_child(std::string(kv.key()), pt::ptree()), kv.value());
    std::ostringstream out;
    pt::write_xml(out, tree);
    return out.str();
}

std::string write(const document& d, media_type m) { return is_xml(m) ? write_xml(d) : write_json(d); }

selection::selection(std::string_view select) {
    while (!select.empty()) {
        auto comma = select.find(',');
        auto item = trim(select.substr(0, comma));
        select.remove_prefix(comma == std::string_view::npos ? select.size() : comma + 1);
        if (!item.empty()) paths_.push_back(core::lower_ascii(item));
    }
}

void selection::apply(json::object& body) const {
    if (!paths_.empty()) select_in(body, paths_);
}

bool selection::keeps(std::string_view name) const {
    if (paths_.empty()) return true;
    const auto lower = core::lower_ascii(name);
    return std::any_of(paths_.begin(), paths_.end(), [&](const std::string& p) {
        return p == lower || (p.size() > lower.size() && p.starts_with(lower) && p[lower.size()] == '/');
    });
}

void apply_select(json::object& body, std::string_view select) { selection(select).apply(body); }

std::optional<std::string> select_parameter(std::string_view target) {
    auto q = target.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) return std::nullopt;
    for (auto p : parsed->params())  // decoded: %24select is $select
        if (core::lower_ascii(p.key) == "$select") return std::string(p.value);
    return std::nullopt;
}

}  // namespace smtpcheck::serialization
