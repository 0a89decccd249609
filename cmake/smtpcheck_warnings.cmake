# Warnings every smtpcheck target compiles with; the build is kept clean of them.
add_library(smtpcheck_warnings INTERFACE)
target_compile_options(smtpcheck_warnings INTERFACE -Wall -Wextra -Wpedantic)
# GCC 12 pairs the aligned_alloc inside Asio's awaitable frame allocator with its operator
# delete and warns (-Wmismatched-new-delete) for large coroutine frames, although Asio frees
# them with the matching aligned_delete: a known false positive, silenced for GCC only.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(smtpcheck_warnings INTERFACE -Wno-mismatched-new-delete)
endif()
