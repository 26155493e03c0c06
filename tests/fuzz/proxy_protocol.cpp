// PROXY protocol v1/v2 header parser (proxy/http/proxy_protocol.*), called the way
// Session::read_proxy_header calls it: on every growing prefix of the connection's bytes.
#include <array>
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "proxy/http/proxy_protocol.hpp"

namespace pp = tg::proxy::proxy_protocol;

namespace {

bool same_header(const pp::Header& a, const pp::Header& b) {
    return a.length == b.length && a.version == b.version && a.local == b.local &&
           (a.local || (a.source == b.source && a.destination == b.destination));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    const auto result = pp::parse(bytes);
    switch (result.status) {
        case pp::Status::need_more:
            // The session reads at most max_length bytes before it needs a verdict.
            FUZZ_CHECK(size < pp::max_length);
            break;
        case pp::Status::malformed:
            FUZZ_CHECK(!result.reason.empty());
            break;
        case pp::Status::parsed: {
            const auto& header = result.header;
            FUZZ_CHECK(header.length > 0 && header.length <= size);
            FUZZ_CHECK(header.length <= pp::max_length);
            FUZZ_CHECK(header.version == 1 || header.version == 2);
            if (header.version == 1) {
                FUZZ_CHECK(header.length <= pp::max_v1_length);
                FUZZ_CHECK(data[header.length - 2] == '\r' && data[header.length - 1] == '\n');
            }
            // The verdict depends on the header's bytes only, not on what follows them.
            const auto exact = pp::parse(bytes.first(header.length));
            FUZZ_CHECK(exact.status == pp::Status::parsed);
            FUZZ_CHECK(same_header(exact.header, header));
            // A TCP header written back by write_v2 reads the same.
            if (!header.local && header.source.address.v6 == header.destination.address.v6) {
                std::array<std::uint8_t, pp::max_written_length> written;
                const auto length = pp::write_v2(header.source, header.destination, written);
                const auto again = pp::parse(std::span(written.data(), length));
                FUZZ_CHECK(again.status == pp::Status::parsed && !again.header.local);
                FUZZ_CHECK(again.header.length == length);
                FUZZ_CHECK(again.header.source == header.source);
                FUZZ_CHECK(again.header.destination == header.destination);
            }
            break;
        }
    }
    // Bytes arrive in pieces: no prefix may be refused when the whole is accepted or still
    // incomplete, and once a prefix is refused every longer one is (the session closes at once).
    const std::size_t decided = result.status == pp::Status::parsed ? result.header.length : size;
    bool refused = false;
    for (std::size_t n = 0; n < decided; ++n) {
        const auto prefix = pp::parse(bytes.first(n));
        FUZZ_CHECK(prefix.status != pp::Status::parsed);
        if (prefix.status == pp::Status::malformed) refused = true;
        FUZZ_CHECK(refused == (prefix.status == pp::Status::malformed));
    }
    FUZZ_CHECK(!refused || result.status == pp::Status::malformed);
    return 0;
}
