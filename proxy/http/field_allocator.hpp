#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <new>

#include <sanitizer/asan_interface.h>

namespace tg::proxy {

/// Recycles the small blocks of one thread by size class: every proxied message takes two for
/// its header (ProxyFields' arena and field list) and gives them back when it ends. A worker is
/// one thread and its messages never leave it, so the pool needs no lock. Kept blocks are
/// poisoned for AddressSanitizer, so a use after free is still reported.
class SmallBlockPool {
  public:
    static constexpr std::size_t smallest = 64;
    static constexpr std::size_t largest = 1024;
    /// Blocks kept per class; beyond that they go back to the heap (memory stays bounded).
    static constexpr std::size_t max_kept = 4096;

    SmallBlockPool() = default;
    SmallBlockPool(const SmallBlockPool&) = delete;
    SmallBlockPool& operator=(const SmallBlockPool&) = delete;
    ~SmallBlockPool() {
        for (std::size_t c = 0; c < classes; ++c)
            while (free_[c].head != nullptr) ::operator delete(pop(free_[c], class_size(c)));
    }

    /// The calling thread's pool.
    static SmallBlockPool& local() {
        thread_local SmallBlockPool pool;
        return pool;
    }

    void* allocate(std::size_t bytes) {
        if (bytes > largest) return ::operator new(bytes);
        const std::size_t c = class_of(bytes);
        if (free_[c].head == nullptr) return ::operator new(class_size(c));
        return pop(free_[c], class_size(c));
    }

    void deallocate(void* block, std::size_t bytes) {
        if (bytes > largest) return ::operator delete(block);
        const std::size_t c = class_of(bytes);
        auto& list = free_[c];
        if (list.count == max_kept) return ::operator delete(block);
        ++list.count;
        list.head = ::new (block) Node{list.head};
        ASAN_POISON_MEMORY_REGION(block, class_size(c));
    }

  private:
    struct Node {
        Node* next;
    };
    struct FreeList {
        Node* head = nullptr;
        std::size_t count = 0;
    };
    static constexpr std::size_t classes = std::countr_zero(largest / smallest) + 1;

    static constexpr std::size_t class_of(std::size_t bytes) {
        return bytes <= smallest ? 0 : std::bit_width((bytes - 1) / smallest);
    }
    static constexpr std::size_t class_size(std::size_t c) { return smallest << c; }

    static Node* pop(FreeList& list, std::size_t size) {
        Node* node = list.head;
        ASAN_UNPOISON_MEMORY_REGION(node, size);
        list.head = node->next;
        --list.count;
        return node;
    }

    std::array<FreeList, classes> free_{};
};

/// An allocator on the calling thread's SmallBlockPool, for ProxyFields' list. Stateless, so
/// every instance is interchangeable and a list can move between messages.
template <class T>
struct FieldAllocator {
    using value_type = T;

    FieldAllocator() = default;
    template <class U>
    FieldAllocator(const FieldAllocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        return static_cast<T*>(SmallBlockPool::local().allocate(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept {
        SmallBlockPool::local().deallocate(p, n * sizeof(T));
    }

    template <class U>
    bool operator==(const FieldAllocator<U>&) const noexcept {
        return true;
    }
};

}  // namespace tg::proxy
