# Script mode helper of smtpcheck_embed_text(): writes the file's bytes as a char array.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
file(WRITE "${OUT}"
"// Generated from ${IN}; do not edit.\n#include <string_view>\nnamespace smtpcheck::embedded {\nnamespace { constexpr char data[] = {${bytes} 0}; }\nstd::string_view ${SYMBOL}() { return {data, sizeof(data) - 1}; }\n}\n")
