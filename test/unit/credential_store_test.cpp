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

BOOST_AUTO_TEST_SUITE_END()
