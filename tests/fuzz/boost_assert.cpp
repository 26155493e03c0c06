// Boost's assertions in the fuzz build (BOOST_ENABLE_ASSERT_HANDLER): every one aborts, as
// assert() does, except one that is known to be wrong.
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
    // Boost 1.81's Beast asserts n >= 5 in parse_chunk_header when the final chunk has been
    // seen, but a parser fed "0\r\n" and then "\r" gets there with 4 bytes; the code after it
    // handles that and asks for more (fixed upstream in boostorg/beast#2861). Release builds
    // compile the assertion out; the fuzzer feeds bytes one by one and reaches it.
    if (std::string_view(expr) == "n >= 5" &&
        std::string_view(file).ends_with("beast/http/impl/basic_parser.ipp"))
        return;
    std::fprintf(stderr, "%s:%ld: %s: Boost assertion failed: %s\n", file, line, function, expr);
    std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
    std::fprintf(stderr, "%s:%ld: %s: Boost assertion failed: %s (%s)\n", file, line, function,
                 expr, msg);
    std::abort();
}

}  // namespace boost
