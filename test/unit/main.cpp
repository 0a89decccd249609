#define BOOST_TEST_MODULE smtpcheck unit tests
#include <boost/test/unit_test.hpp>
