// core/system.hpp: random octets and a file's content.
#include "smtpcheck/core/system.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

using namespace smtpcheck::core;

BOOST_AUTO_TEST_SUITE(system_facilities)

BOOST_AUTO_TEST_CASE(random_octets_have_the_length_asked_and_differ) {
    BOOST_TEST(random_bytes(0).empty());
    BOOST_TEST(random_bytes(32).size() == 32u);
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) seen.insert(random_bytes(16));
    BOOST_TEST(seen.size() == 100u);
}

BOOST_AUTO_TEST_CASE(digests_are_lower_case_hex_and_may_be_cut) {
    // FIPS 180 test vectors for "abc".
    BOOST_TEST(hex_digest("SHA1", "abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
    BOOST_TEST(hex_digest("SHA256", "abc", 4) == "ba7816bf");
    BOOST_CHECK_THROW(hex_digest("NO-SUCH-DIGEST", "abc"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(a_file_is_read_whole_or_not_at_all) {
    const auto dir = std::filesystem::temp_directory_path() / ("smtpcheck-system-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = (dir / "f").string();
    const std::string content("line 1\r\n\0binary\xff", 16);
    std::ofstream(path, std::ios::binary) << content;
    BOOST_TEST(read_file(path).value_or("(none)") == content);
    std::ofstream(path, std::ios::binary | std::ios::trunc).flush();
    BOOST_TEST(read_file(path).value_or("(none)").empty());
    BOOST_TEST(!read_file((dir / "missing").string()));
    BOOST_TEST(!read_file(dir.string()));  // a directory is not a file
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
