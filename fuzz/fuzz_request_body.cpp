// decode_request(content_type, body): the TestSmtpServer body in its seven media types.
// Input: the first byte picks the Content-Type (and a charset parameter), the rest is the body.
#include "smtpcheck/serialization/request_body.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

namespace {

constexpr std::string_view types[] = {
    "application/json",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/xml",
    "text/xml",
    "application/x-www-form-urlencoded",
    "text/json",
    "",  // no type: only an empty body is the default request
};

constexpr std::string_view parameters[] = {
    "",
    "; charset=utf-8",
    "; charset=\"UTF-8\"",
    "; charset=iso-8859-1",
    "; charset=us-ascii; q=1",
    ";charset=",
    " ; foo=bar",
    "; charset=utf8 ; charset=latin1",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t pick = data[0];
    std::string content_type(types[pick & 7]);
    content_type += parameters[(pick >> 3) & 7];
    if (pick & 0x40)  // media types are case-insensitive
        for (auto& c : content_type)
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

    auto decoded = smtpcheck::serialization::decode_request(content_type, body);
    if (auto* e = std::get_if<smtpcheck::serialization::decode_error>(&decoded)) {
        if (e->status != 400 && e->status != 415) __builtin_trap();  // the header promises 400 or 415
    }
    (void)smtpcheck::serialization::check_content_type(content_type);
    return 0;
}
