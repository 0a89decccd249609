#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/server/router.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

namespace smtpcheck::server {

router::router(std::string base_path) : base_path_(std::move(base_path)) {
    if (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
}

router& router::add(route_scope scope, std::string_view path, http::verb method, route_handler handler) {
    std::string full = (scope == route_scope::api ? base_path_ : std::string()) + std::string(path);
    if (full.size() > 1 && full.back() == '/') full.pop_back();  // as match() compares paths
    auto it = std::find_if(resources_.begin(), resources_.end(),
                           [&](const resource& r) { return core::iequals_ascii(r.path, full); });
    if (it == resources_.end()) it = resources_.insert(resources_.end(), resource{full, {}, {}});
    it->methods.emplace_back(method, std::move(handler));
    std::string allow;
    auto append = [&](std::string_view m) {
        if (allow.find(m) != std::string::npos) return;
        allow += (allow.empty() ? "" : ", ") + std::string(m);
    };
    for (const auto& [verb, _] : it->methods) {
        append(http::to_string(verb));
        if (verb == http::verb::get) append("HEAD");
    }
    it->allow = std::move(allow);
    return *this;
}

std::vector<std::string> router::paths() const {
    std::vector<std::string> out;
    for (const auto& r : resources_) out.push_back(r.path);
    return out;
}

router::match_result router::match(http::verb method, std::string_view target) const {
    // (find_first_of walks char_traits::find once per character: a plain scan is cheaper)
    const auto end = std::find_if(target.begin(), target.end(), [](char c) { return c == '?' || c == '#'; });
    std::string_view path = target.substr(0, static_cast<std::size_t>(end - target.begin()));
    std::string decoded;
    if (path.find('%') != std::string_view::npos) {
        // Rare: compare the decoded path so that %41pi matches Api, as ASP.NET does.
        auto parsed = boost::urls::parse_origin_form(target);
        if (!parsed) return {nullptr, http::status::bad_request, {}};
        decoded = parsed->path();
        path = decoded;
    }
    if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);

    for (std::size_t i = 0; i < resources_.size(); ++i) {
        const auto& r = resources_[i];
        // The exact spelling first (what clients send); then without case, as ASP.NET matches.
        if (r.path.size() != path.size() || (r.path != path && !core::iequals_ascii(r.path, path))) continue;
        auto lookup = method == http::verb::head ? http::verb::get : method;
        for (const auto& [verb, handler] : r.methods)
            if (verb == lookup) return {&handler, http::status::ok, {}, i};
        return {nullptr, http::status::method_not_allowed, r.allow, i};
    }
    return {nullptr, http::status::not_found, {}};
}

}  // namespace smtpcheck::server
