#include "routing/chunked_vector.hpp"

#include <catch2/catch.hpp>
#include <memory>

using tg::routing::ChunkedVector;

TEST_CASE("ChunkedVector: a copy shares every chunk but the ones changed since",
          "[routing][chunked_vector]") {
    ChunkedVector<int> vector;
    vector.resize(1000);
    CHECK(vector.size() == 1000);
    CHECK(vector.chunk_count() == 4);
    CHECK(vector[999] == 0);  // never set: default
    for (std::size_t i = 0; i < 1000; ++i) vector.set(i, static_cast<int>(i));

    ChunkedVector<int> copy = vector;
    copy.set(300, -1);
    CHECK(copy[300] == -1);
    CHECK(vector[300] == 300);  // the original does not see the change
    CHECK(copy.shares_chunk(vector, 0));
    CHECK_FALSE(copy.shares_chunk(vector, 1));  // 256..511 was copied
    CHECK(copy.shares_chunk(vector, 2));
    CHECK(copy.shares_chunk(vector, 3));

    // A second change to the same chunk writes the copy already made.
    copy.set(301, -2);
    CHECK(vector[301] == 301);
    copy.share_chunk(vector, 1);
    CHECK(copy[300] == 300);
    CHECK(copy.shares_chunk(vector, 1));
    CHECK_FALSE(copy.shares_chunk(ChunkedVector<int>{}, 0));
}

TEST_CASE("ChunkedVector: growing keeps what was set", "[routing][chunked_vector]") {
    ChunkedVector<std::shared_ptr<int>> vector;
    vector.resize(1);
    vector.set(0, std::make_shared<int>(7));
    const auto before = vector;
    vector.resize(600);
    vector.set(599, std::make_shared<int>(8));
    CHECK(*vector[0] == 7);
    CHECK(*vector[599] == 8);
    CHECK(vector[300] == nullptr);
    CHECK(before.size() == 1);
    CHECK(vector.shares_chunk(before, 0));
}
