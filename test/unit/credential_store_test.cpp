#include "smtpcheck/smtp/credential_store.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace smtpcheck::smtp;
namespace fs = std::filesystem;

namespace {
struct scratch {
    fs::path dir = fs::temp_directory_path() / ("smtpcheck-cred-" + std::to_string(::getpid()) + "-" +
                                                std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    scratch() { fs::create_directories(dir); }
    ~scratch() { fs::remove_all(dir); }
    fs::path file() const { return dir / "credentials.json"; }
};
std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
void spit(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
}  // namespace

BOOST_AUTO_TEST_SUITE(credentials)

BOOST_AUTO_TEST_CASE(a_password_is_found_only_for_its_user_host_and_port) {
    scratch s;
    credential_store store(s.file(), {});
    store.set({"jane", "smtp.example.com", 587}, "s3cret-pass");
    BOOST_TEST(store.password_for({"jane", "smtp.example.com", 587}).value_or("") == "s3cret-pass");
    BOOST_TEST(!store.password_for({"jane", "smtp.example.com", 465}));
    BOOST_TEST(!store.password_for({"jane", "smtp.example.org", 587}));
    BOOST_TEST(!store.password_for({"john", "smtp.example.com", 587}));
    BOOST_TEST(slurp(s.file()).find("s3cret") == std::string::npos);
    BOOST_TEST(((fs::status(s.dir / "credentials.json.key").permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none));
}

BOOST_AUTO_TEST_CASE(an_entry_moved_to_another_host_or_tampered_with_does_not_decrypt) {
    scratch s;
    credential_store store(s.file(), {});
    store.set({"jane", "smtp.example.com", 587}, "s3cret-pass");
    auto text = slurp(s.file());
    auto moved = text;
    moved.replace(moved.find("smtp.example.com"), 16, "evil.example.com");
    spit(s.file(), moved);
    credential_store reader(s.file(), {});
    BOOST_TEST(!reader.password_for({"jane", "evil.example.com", 587}));

    auto tampered = text;
    auto at = tampered.find("\"ciphertext\":\"") + 14;
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    spit(s.file(), tampered);
    BOOST_TEST(!reader.password_for({"jane", "smtp.example.com", 587}));
}

BOOST_AUTO_TEST_CASE(another_key_cannot_read_and_changes_are_seen_without_reopening) {
    scratch s;
    credential_store writer(s.file(), {});
    credential_store reader(s.file(), {});
    BOOST_TEST(!reader.password_for({"jane", "h.example", 25}));
    writer.set({"jane", "h.example", 25}, "one");
    BOOST_TEST(reader.password_for({"jane", "h.example", 25}).value_or("") == "one");
    writer.set({"jane", "h.example", 25}, "two-longer");
    BOOST_TEST(reader.password_for({"jane", "h.example", 25}).value_or("") == "two-longer");
    BOOST_TEST(writer.list().size() == 1u);
    BOOST_TEST(writer.remove({"jane", "h.example", 25}));
    BOOST_TEST(!reader.password_for({"jane", "h.example", 25}));

    writer.set({"jane", "h.example", 25}, "three");
    spit(s.dir / "other.key", std::string(32, 'k'));
    credential_store stranger(s.file(), s.dir / "other.key");
    BOOST_TEST(!stranger.password_for({"jane", "h.example", 25}));
}

// Issue 14: what a shared store (Redis) keeps: sealed text under user NUL host NUL port.
BOOST_AUTO_TEST_CASE(sealed_text_opens_only_for_its_key_and_with_the_same_key_file) {
    scratch s;
    credential_store store(s.file(), {});
    const credential_key jane{"jane@example.com", "2001:db8::1", 587};
    auto text = store.seal_text(jane, "p@ss:w0rd");
    BOOST_TEST(text.find("p@ss") == std::string::npos);
    BOOST_TEST(text.find("\"nonce\"") != std::string::npos);
    BOOST_TEST(store.open_text(jane, text).value_or("") == "p@ss:w0rd");
    BOOST_TEST(!store.open_text({"jane@example.com", "2001:db8::1", 465}, text));
    BOOST_TEST(!fs::exists(s.file()));  // sealing writes no entry, only the key
    // An instance with a copy of the key opens it; one with its own key does not.
    fs::copy_file(s.dir / "credentials.json.key", s.dir / "copy.key");
    BOOST_TEST(credential_store(s.dir / "other.json", s.dir / "copy.key").open_text(jane, text).value_or("") == "p@ss:w0rd");
    BOOST_TEST(!credential_store(s.dir / "other.json", s.dir / "own.key").open_text(jane, text));
    BOOST_CHECK_THROW(store.open_text(jane, "not json"), credential_error);
    BOOST_CHECK_THROW(store.open_text(jane, R"({"nonce":"AAAA","ciphertext":1,"tag":"AAAA"})"), credential_error);

    auto field = credential_store::field_of(jane);
    BOOST_TEST(field == std::string("jane@example.com\0002001:db8::1\000587", 32));
    auto back = credential_store::key_of_field(field);
    BOOST_REQUIRE(back);
    BOOST_TEST((*back == jane));
    const std::string nul(1, '\0');
    for (std::string bad : {std::string("jane"), "a" + nul + "b", "a" + nul + "b" + nul, "a" + nul + "b" + nul + "x",
                            "a" + nul + "b" + nul + "70000", "a" + nul + "b" + nul + "0"})
        BOOST_TEST(!credential_store::key_of_field(bad), bad.size());
}

BOOST_AUTO_TEST_SUITE_END()
