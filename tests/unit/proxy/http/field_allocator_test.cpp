#include "proxy/http/field_allocator.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <vector>

using tg::proxy::SmallBlockPool;

TEST_CASE("a freed block is reused for any size of its class", "[proxy][field_allocator]") {
    SmallBlockPool pool;
    void* first = pool.allocate(100);
    pool.deallocate(first, 100);
    void* again = pool.allocate(128);  // 65..128 bytes share a class
    CHECK(again == first);
    void* larger = pool.allocate(129);
    CHECK(larger != again);
    pool.deallocate(again, 128);
    pool.deallocate(larger, 129);
}

TEST_CASE("blocks beyond the largest class and beyond max_kept go back to the heap",
          "[proxy][field_allocator]") {
    SmallBlockPool pool;
    void* big = pool.allocate(SmallBlockPool::largest + 1);
    pool.deallocate(big, SmallBlockPool::largest + 1);
    void* next = pool.allocate(SmallBlockPool::largest + 1);
    pool.deallocate(next, SmallBlockPool::largest + 1);

    std::vector<void*> blocks;
    for (std::size_t i = 0; i < SmallBlockPool::max_kept + 10; ++i)
        blocks.push_back(pool.allocate(64));
    for (void* block : blocks) pool.deallocate(block, 64);
    // Only max_kept were kept: allocating that many again reuses them, all distinct.
    std::vector<void*> reused;
    for (std::size_t i = 0; i < SmallBlockPool::max_kept; ++i) reused.push_back(pool.allocate(64));
    std::sort(reused.begin(), reused.end());
    CHECK(std::adjacent_find(reused.begin(), reused.end()) == reused.end());
    for (void* block : reused) pool.deallocate(block, 64);
}
