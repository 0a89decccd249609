#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/serialization/request_body.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/params_view.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <new>

#include <expat.h>

namespace smtpcheck::serialization {
namespace {

using core::trim;

namespace json = boost::json;




enum class media { none, json, merge_patch, json_patch, xml, form, unknown };

struct parsed_type {
    media kind = media::none;
    std::string_view charset;  ///< as sent (compare without case); a view into the header
};

parsed_type parse_type(std::string_view header) {
    parsed_type out;
    auto semi = header.find(';');
    // Compared without case and without a lowered copy: this runs on every request.
    auto type = trim(header.substr(0, semi));
    auto is = [&](std::string_view name) { return core::iequals_ascii(type, name); };
    if (type.empty()) out.kind = media::none;
    else if (is("application/json") || is("text/json")) out.kind = media::json;
    else if (is("application/merge-patch+json")) out.kind = media::merge_patch;
    else if (is("application/json-patch+json")) out.kind = media::json_patch;
    else if (is("application/xml") || is("text/xml")) out.kind = media::xml;
    else if (is("application/x-www-form-urlencoded")) out.kind = media::form;
    else out.kind = media::unknown;
    while (semi != std::string_view::npos) {
        header.remove_prefix(semi + 1);
        semi = header.find(';');
        auto param = trim(header.substr(0, semi));
        auto eq = param.find('=');
        if (eq != std::string_view::npos && core::iequals_ascii(trim(param.substr(0, eq)), "charset")) {
            auto v = trim(param.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
            out.charset = v;
        }
    }
    return out;
}

decode_error bad(std::string message) { return {400, std::move(message)}; }

std::optional<decode_error> set_bool(test_request_body& r, std::optional<std::string_view> text, bool is_null) {
    if (is_null || !text || text->empty()) {
        r.use_stored_password = false;
        return std::nullopt;
    }
    if (core::iequals_ascii(*text, "true")) r.use_stored_password = true;
    else if (core::iequals_ascii(*text, "false")) r.use_stored_password = false;
    else return bad("UseStoredPassword must be true or false.");
    return std::nullopt;
}

// The three properties from a JSON object, names case-insensitive, unknown ones ignored.
std::variant<test_request_body, decode_error> from_object(const json::value& v) {
    if (!v.is_object()) return bad("The request body must be a JSON object.");
    test_request_body r;
    for (const auto& kv : v.as_object()) {
        const json::value& x = kv.value();
        auto string_or_null = [&](std::optional<std::string>& target, const char* name) -> std::optional<decode_error> {
            if (x.is_null()) target.reset();
            else if (x.is_string()) target = std::string(x.as_string());
            else return bad(std::string(name) + " must be a string or null.");
            return std::nullopt;
        };
        std::optional<decode_error> e;
        if (core::iequals_ascii(kv.key(), "SmtpUri")) e = string_or_null(r.smtp_uri, "SmtpUri");
        else if (core::iequals_ascii(kv.key(), "From")) e = string_or_null(r.from, "From");
        else if (core::iequals_ascii(kv.key(), "UseStoredPassword")) {
            if (x.is_bool()) r.use_stored_password = x.as_bool();
            else if (x.is_string()) e = set_bool(r, std::string_view(x.as_string()), false);
            else if (x.is_null()) r.use_stored_password = false;
            else e = bad("UseStoredPassword must be true or false.");
        }
        if (e) return *e;
    }
    return r;
}

std::variant<json::value, decode_error> parse_json(std::string_view body, json::storage_ptr storage = {}) {
    json::parse_options opt;
    opt.max_depth = max_depth;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec, std::move(storage), opt);
    if (ec == json::error::too_deep) return bad("The request body is nested deeper than 32 levels.");
    if (ec) return bad("The request body is not valid JSON (" + ec.message() + ").");
    return v;
}

json::value default_document() {
    return json::object{{"SmtpUri", nullptr}, {"From", nullptr}, {"UseStoredPassword", false}};
}

json::object::iterator find_ci(json::object& o, std::string_view key) {
    for (auto it = o.begin(); it != o.end(); ++it)
        if (core::iequals_ascii(it->key(), key)) return it;
    return o.end();
}

// RFC 7396, member names matched case-insensitively.
json::value merge_patch(json::value target, const json::value& patch) {
    if (!patch.is_object()) return patch;
    if (!target.is_object()) target = json::object{};
    auto& t = target.as_object();
    for (const auto& kv : patch.as_object()) {
        auto it = find_ci(t, kv.key());
        if (kv.value().is_null()) {
            if (it != t.end()) t.erase(it);
        } else if (it != t.end()) {
            it->value() = merge_patch(it->value(), kv.value());
        } else {
            t[kv.key()] = merge_patch(nullptr, kv.value());
        }
    }
    return target;
}

// RFC 6901 pointer, member names matched case-insensitively; `parent` gets the container of
// the last token and `last` that token.
struct pointer_target {
    json::value* parent = nullptr;
    std::string last;
};

std::optional<std::vector<std::string>> split_pointer(std::string_view p) {
    std::vector<std::string> tokens;
    if (p.empty()) return tokens;
    if (p.front() != '/') return std::nullopt;
    p.remove_prefix(1);
    for (;;) {
        auto slash = p.find('/');
        std::string token(p.substr(0, slash));
        std::string unescaped;
        for (std::size_t i = 0; i < token.size(); ++i) {
            if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
                unescaped += token[i + 1] == '0' ? '~' : '/';
                ++i;
            } else if (token[i] == '~') {
                return std::nullopt;
            } else {
                unescaped += token[i];
            }
        }
        tokens.push_back(unescaped);
        if (slash == std::string_view::npos) break;
        p.remove_prefix(slash + 1);
    }
    return tokens;
}

// RFC 6901 array index: "0" or digits without a leading zero. A number too large for any
// array is no index at all (std::stoul threw out_of_range for it: a 500, issue 11).
std::optional<std::size_t> array_index(std::string_view token) {
    if (token.empty() || token.size() > 9 || (token.size() > 1 && token.front() == '0')) return std::nullopt;
    std::size_t i = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), i);
    if (ec != std::errc{} || end != token.data() + token.size()) return std::nullopt;
    return i;
}

json::value* child(json::value& v, const std::string& token) {
    if (v.is_object()) {
        auto it = find_ci(v.as_object(), token);
        return it == v.as_object().end() ? nullptr : &it->value();
    }
    if (v.is_array()) {
        auto i = array_index(token);
        return i && *i < v.as_array().size() ? &v.as_array()[*i] : nullptr;
    }
    return nullptr;
}

std::optional<pointer_target> resolve_parent(json::value& doc, std::string_view pointer) {
    auto tokens = split_pointer(pointer);
    if (!tokens || tokens->empty()) return std::nullopt;
    json::value* cur = &doc;
    for (std::size_t i = 0; i + 1 < tokens->size(); ++i) {
        cur = child(*cur, (*tokens)[i]);
        if (!cur) return std::nullopt;
    }
    return pointer_target{cur, tokens->back()};
}

json::value* resolve(json::value& doc, std::string_view pointer) {
    if (pointer.empty()) return &doc;
    auto t = resolve_parent(doc, pointer);
    return t ? child(*t->parent, t->last) : nullptr;
}

bool add_at(json::value& doc, std::string_view pointer, json::value v) {
    auto t = resolve_parent(doc, pointer);
    if (!t) return false;
    if (t->parent->is_object()) {
        auto& o = t->parent->as_object();
        auto it = find_ci(o, t->last);
        if (it != o.end()) it->value() = std::move(v);
        else o[t->last] = std::move(v);
        return true;
    }
    if (t->parent->is_array()) {
        auto& a = t->parent->as_array();
        if (t->last == "-") {
            a.push_back(std::move(v));
            return true;
        }
        auto i = array_index(t->last);
        if (!i || *i > a.size()) return false;
        a.insert(a.begin() + static_cast<std::ptrdiff_t>(*i), std::move(v));
        return true;
    }
    return false;
}

std::optional<json::value> remove_at(json::value& doc, std::string_view pointer) {
    auto t = resolve_parent(doc, pointer);
    if (!t) return std::nullopt;
    if (t->parent->is_object()) {
        auto& o = t->parent->as_object();
        auto it = find_ci(o, t->last);
        if (it == o.end()) return std::nullopt;
        json::value v = it->value();
        o.erase(it);
        return v;
    }
    if (t->parent->is_array()) {
        auto* c = child(*t->parent, t->last);
        if (!c) return std::nullopt;
        json::value v = *c;
        auto& a = t->parent->as_array();
        a.erase(a.begin() + static_cast<std::ptrdiff_t>(*array_index(t->last)));
        return v;
    }
    return std::nullopt;
}

// About the size of a value written as JSON, and its depth, without writing it; the walk
// stops once it is over `budget` or deeper than the depth limit.
struct value_measure {
    std::size_t bytes = 0;
    std::size_t depth = 0;
};

void measure(const json::value& v, std::size_t level, std::size_t budget, value_measure& m) {
    m.depth = std::max(m.depth, level);
    if (m.bytes > budget || level > max_depth) return;
    switch (v.kind()) {
    case json::kind::object:
        m.bytes += 2;
        for (const auto& kv : v.get_object()) {
            m.bytes += kv.key().size() + 4;
            measure(kv.value(), level + 1, budget, m);
            if (m.bytes > budget) return;
        }
        break;
    case json::kind::array:
        m.bytes += 2;
        for (const auto& x : v.get_array()) {
            m.bytes += 1;
            measure(x, level + 1, budget, m);
            if (m.bytes > budget) return;
        }
        break;
    case json::kind::string: m.bytes += v.get_string().size() + 2; break;
    default: m.bytes += 8; break;
    }
}

std::size_t pointer_length(std::string_view pointer) {
    return static_cast<std::size_t>(std::count(pointer.begin(), pointer.end(), '/'));
}

// RFC 6902 applied to the default request document. Each operation may only add what the body
// itself could hold: `copy` of the root doubled the document with each operation (19 of them
// took 174 MB, issue 11). The running size counts what was added and never subtracts what
// was removed, so it can only overestimate.
std::variant<json::value, decode_error> json_patch(const json::value& patch, std::size_t max_document) {
    if (!patch.is_array()) return bad("A JSON patch must be an array of operations.");
    json::value doc = default_document();
    value_measure total;
    measure(doc, 1, max_document, total);
    // What placing `v` at `path` adds; an error when the document would be too large or deep.
    auto grow = [&](const std::string& where, const json::value& v, std::string_view path,
                    bool replaces_all) -> std::optional<decode_error> {
        value_measure m;
        measure(v, 1, max_document, m);
        if (m.depth + pointer_length(path) > max_depth)
            return bad(where + " would nest the document deeper than 32 levels.");
        total.bytes = replaces_all ? m.bytes : total.bytes + m.bytes;
        if (total.bytes > max_document)
            return bad(where + " would make the document larger than " + std::to_string(max_document) + " bytes.");
        return std::nullopt;
    };
    std::size_t n = 0;
    for (const auto& opv : patch.as_array()) {
        ++n;
        const std::string where = "Patch operation " + std::to_string(n);
        if (!opv.is_object()) return bad(where + " is not an object.");
        const auto& op = opv.as_object();
        auto str = [&](const char* name) -> std::optional<std::string> {
            auto it = op.find(name);
            if (it == op.end() || !it->value().is_string()) return std::nullopt;
            return std::string(it->value().as_string());
        };
        auto kind = str("op");
        auto path = str("path");
        if (!kind || !path) return bad(where + " needs \"op\" and \"path\".");
        auto value = op.find("value");
        if (*kind == "add" || *kind == "replace") {
            if (value == op.end()) return bad(where + " (" + *kind + ") needs a \"value\".");
            if (*kind == "replace" && !resolve(doc, *path)) return bad(where + " (replace): " + *path + " does not exist.");
            if (auto e = grow(where, value->value(), *path, path->empty())) return *e;
            if (path->empty()) doc = value->value();
            else if (!add_at(doc, *path, value->value())) return bad(where + " (" + *kind + "): " + *path + " cannot be set.");
        } else if (*kind == "remove") {
            if (!remove_at(doc, *path)) return bad(where + " (remove): " + *path + " does not exist.");
        } else if (*kind == "test") {
            if (value == op.end()) return bad(where + " (test) needs a \"value\".");
            auto* cur = resolve(doc, *path);
            if (!cur || *cur != value->value()) return bad(where + " (test) failed at " + *path + ".");
        } else if (*kind == "copy" || *kind == "move") {
            auto from = str("from");
            if (!from) return bad(where + " (" + *kind + ") needs \"from\".");
            // RFC 6902 4.4: a value cannot move into one of its own children.
            if (*kind == "move" && path->size() > from->size() && path->starts_with(*from) &&
                (*path)[from->size()] == '/')
                return bad(where + " (move): " + *path + " is inside " + *from + ".");
            std::optional<json::value> v;
            if (*kind == "move") {
                v = remove_at(doc, *from);
            } else if (auto* c = resolve(doc, *from)) {
                if (auto e = grow(where, *c, *path, false)) return *e;
                v = *c;
            }
            if (!v) return bad(where + " (" + *kind + "): " + *from + " does not exist.");
            if (*kind == "move" && v->is_structured()) {
                value_measure m;
                measure(*v, 1, max_document, m);
                if (m.depth + pointer_length(*path) > max_depth)
                    return bad(where + " would nest the document deeper than 32 levels.");
            }
            if (!add_at(doc, *path, std::move(*v))) return bad(where + " (" + *kind + "): " + *path + " cannot be set.");
        } else {
            return bad(where + " has an unknown op \"" + *kind + "\".");
        }
    }
    return doc;
}

std::string_view local_name(std::string_view name) {
    auto colon = name.find(':');
    return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// The XML body read with expat, a streaming parser: depth is counted on the elements the
// parser reports (a text scan was fooled by '>' inside an attribute value, and the recursive
// parser behind it overflowed the stack at 40,000 levels, issue 11), and a DOCTYPE anywhere
// stops it. The root's children SmtpUri, From and UseStoredPassword are read; the rest ignored.
class xml_body_reader {
public:
    xml_body_reader() : parser_(XML_ParserCreate("UTF-8")) {
        if (!parser_) throw std::bad_alloc();
        XML_SetUserData(parser_, this);
        XML_SetElementHandler(parser_, &xml_body_reader::on_start, &xml_body_reader::on_end);
        XML_SetCharacterDataHandler(parser_, &xml_body_reader::on_text);
        XML_SetStartDoctypeDeclHandler(parser_, &xml_body_reader::on_doctype);
        XML_SetEntityDeclHandler(parser_, &xml_body_reader::on_entity);
    }
    ~xml_body_reader() { XML_ParserFree(parser_); }
    xml_body_reader(const xml_body_reader&) = delete;
    xml_body_reader& operator=(const xml_body_reader&) = delete;

    std::variant<test_request_body, decode_error> read(std::string_view body) {
        if (body.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
            return bad("The request body is too large.");
        auto status = XML_Parse(parser_, body.data(), static_cast<int>(body.size()), XML_TRUE);
        if (error_) return *error_;
        if (status != XML_STATUS_OK)
            return bad(std::string("The request body is not valid XML (") + XML_ErrorString(XML_GetErrorCode(parser_)) +
                       ").");
        return result_;
    }

private:
    void stop(decode_error e) {
        if (!error_) error_ = std::move(e);
        XML_StopParser(parser_, XML_FALSE);
    }

    static void XMLCALL on_start(void* self, const XML_Char* name, const XML_Char** attributes) {
        auto& x = *static_cast<xml_body_reader*>(self);
        if (x.error_) return;
        if (++x.depth_ > max_depth) return x.stop(bad("The request body is nested deeper than 32 levels."));
        if (x.depth_ != 2) return;
        x.field_ = local_name(name);
        x.text_.clear();
        x.is_null_ = false;
        for (auto a = attributes; a && a[0]; a += 2)
            if (core::iequals_ascii(local_name(a[0]), "nil") && core::iequals_ascii(trim(a[1]), "true")) x.is_null_ = true;
    }

    static void XMLCALL on_end(void* self, const XML_Char*) {
        auto& x = *static_cast<xml_body_reader*>(self);
        if (x.error_) return;
        if (x.depth_-- != 2) return;
        std::string_view text_view = x.text_;
        auto first = text_view.find_first_not_of(" \t\r\n");
        text_view = first == std::string_view::npos ? std::string_view() : text_view.substr(first);
        text_view = text_view.substr(0, text_view.find_last_not_of(" \t\r\n") + 1);
        std::string text(text_view);
        auto& r = x.result_;
        if (core::iequals_ascii(x.field_, "SmtpUri")) r.smtp_uri = x.is_null_ ? std::nullopt : std::optional(text);
        else if (core::iequals_ascii(x.field_, "From")) r.from = x.is_null_ ? std::nullopt : std::optional(text);
        else if (core::iequals_ascii(x.field_, "UseStoredPassword")) {
            if (auto e = set_bool(r, text, x.is_null_)) x.stop(std::move(*e));
        }
    }

    static void XMLCALL on_text(void* self, const XML_Char* s, int length) {
        auto& x = *static_cast<xml_body_reader*>(self);
        if (!x.error_ && x.depth_ == 2) x.text_.append(s, static_cast<std::size_t>(length));
    }

    static void XMLCALL on_doctype(void* self, const XML_Char*, const XML_Char*, const XML_Char*, int) {
        static_cast<xml_body_reader*>(self)->stop(bad("XML with a DOCTYPE is refused."));
    }

    static void XMLCALL on_entity(void* self, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                                  const XML_Char*, const XML_Char*, const XML_Char*) {
        static_cast<xml_body_reader*>(self)->stop(bad("XML with a DOCTYPE is refused."));
    }

    XML_Parser parser_;
    std::size_t depth_ = 0;
    std::string field_, text_;
    bool is_null_ = false;
    test_request_body result_;
    std::optional<decode_error> error_;
};

std::variant<test_request_body, decode_error> from_xml(std::string_view body) {
    return xml_body_reader().read(body);
}

std::variant<test_request_body, decode_error> from_form(std::string_view body) {
    test_request_body r;
    try {
        // A NUL-terminated copy: Boost.URL 1.81's parse_query rebuilds its view from the data
        // pointer alone (strlen), reading past a buffer that does not end in NUL (found by
        // fuzz_request_body). A query that parsed holds no NUL, so the length then agrees.
        const std::string terminated(body);
        boost::urls::params_view params(terminated, boost::urls::encoding_opts(true));
        for (auto p : params) {
            if (core::iequals_ascii(p.key, "SmtpUri")) r.smtp_uri = p.has_value && !p.value.empty() ? std::optional(p.value) : std::nullopt;
            else if (core::iequals_ascii(p.key, "From")) r.from = p.has_value && !p.value.empty() ? std::optional(p.value) : std::nullopt;
            else if (core::iequals_ascii(p.key, "UseStoredPassword")) {
                if (auto e = set_bool(r, std::string_view(p.value), !p.has_value)) return *e;
            }
        }
    } catch (const std::exception&) {
        return bad("The form body is not valid application/x-www-form-urlencoded.");
    }
    return r;
}

}  // namespace

namespace {

std::optional<decode_error> check_parsed_type(const parsed_type& t, std::string_view content_type) {
    if (!t.charset.empty() && !core::iequals_ascii(t.charset, "utf-8") && !core::iequals_ascii(t.charset, "utf8") && !core::iequals_ascii(t.charset, "us-ascii"))
        return decode_error{415, "The charset " + core::lower_ascii(t.charset) + " is not supported; use utf-8."};
    if (t.kind == media::unknown)
        return decode_error{415, "The Content-Type " + std::string(trim(content_type.substr(0, content_type.find(';')))) +
                                     " is not supported."};
    return std::nullopt;
}

}  // namespace

std::optional<decode_error> check_content_type(std::string_view content_type) {
    return check_parsed_type(parse_type(content_type), content_type);
}

std::variant<test_request_body, decode_error> decode_request(std::string_view content_type, std::string_view body,
                                                             std::size_t max_document) {
    if (body.empty()) return test_request_body{};
    const auto type = parse_type(content_type);  // once: no copies
    if (auto e = check_parsed_type(type, content_type)) return *e;
    switch (type.kind) {
    case media::none:
        return decode_error{415, "A request body needs a Content-Type."};
    case media::json: {
        // The document lives only until its fields are copied out: parsed into a buffer on
        // the stack (spilling to the heap when larger) instead of one allocation per node.
        unsigned char arena_buffer[2048];
        json::monotonic_resource arena(arena_buffer, sizeof arena_buffer);
        auto v = parse_json(body, &arena);
        if (auto* e = std::get_if<decode_error>(&v)) return *e;
        return from_object(std::get<json::value>(v));
    }
    case media::merge_patch: {
        auto v = parse_json(body);
        if (auto* e = std::get_if<decode_error>(&v)) return *e;
        return from_object(merge_patch(default_document(), std::get<json::value>(v)));
    }
    case media::json_patch: {
        auto v = parse_json(body);
        if (auto* e = std::get_if<decode_error>(&v)) return *e;
        auto doc = json_patch(std::get<json::value>(v), max_document);
        if (auto* e = std::get_if<decode_error>(&doc)) return *e;
        return from_object(std::get<json::value>(doc));
    }
    case media::xml: return from_xml(body);
    case media::form: return from_form(body);
    case media::unknown: break;
    }
    return decode_error{415, "The Content-Type is not supported."};
}

}  // namespace smtpcheck::serialization
