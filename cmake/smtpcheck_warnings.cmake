# Warnings every smtpcheck target compiles with; the build is kept clean of them.
add_library(smtpcheck_warnings INTERFACE)
target_compile_options(smtpcheck_warnings INTERFACE -Wall -Wextra -Wpedantic)
