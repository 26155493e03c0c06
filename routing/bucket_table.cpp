#include "routing/bucket_table.hpp"

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>

#include "routing/mix64.hpp"

namespace tg::routing {
namespace {

using std::chrono::nanoseconds;

std::uint64_t absorb(std::uint64_t h, std::uint64_t word) {
    return mix64(h ^ (word * 0x9e3779b97f4a7c15ULL));
}

std::uint64_t absorb_bytes(std::uint64_t h, const std::uint8_t* bytes, std::size_t size) {
    while (size >= 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, bytes, 8);
        h = absorb(h, word);
        bytes += 8;
        size -= 8;
    }
    std::uint64_t tail = size;  // the length tells "ab" from "ab\0"
    for (std::size_t i = 0; i < size; ++i) tail |= std::uint64_t{bytes[i]} << (8 * (i + 1));
    return absorb(h, tail);
}

std::uint64_t nonzero(std::uint64_t key) {
    return key == 0 ? 1 : key;
}

bool reusable(const auto& slot, std::int64_t now_ns) {
    return slot.key == 0 || (slot.tat_ns <= now_ns && slot.in_flight == 0);
}

}  // namespace

void BucketTable::Free::operator()(Slot* slots) const {
    std::free(slots);
}

BucketTable::BucketTable(unsigned slots_log2)
    : slots_log2_(slots_log2), shards_(std::make_unique<Shard[]>(std::size_t{1} << shard_bits)) {
    assert(slots_log2 >= shard_bits + 3);
    // calloc of a large block maps fresh zero pages: resident only once a slot is written.
    void* memory = std::calloc(capacity(), sizeof(Slot));
    if (!memory) throw std::bad_alloc();
    slots_.reset(static_cast<Slot*>(memory));
}

BucketTable::~BucketTable() = default;

BucketTable::Slot* BucketTable::find_existing(std::uint64_t key) {
    const std::size_t per_shard = capacity() >> shard_bits;
    Slot* shard = slots_.get() + (key >> (64 - shard_bits)) * per_shard;
    for (std::size_t i = 0; i < probe_window; ++i) {
        Slot& slot = shard[(key + i) & (per_shard - 1)];
        if (slot.key == key) return &slot;
    }
    return nullptr;
}

BucketTable::Slot* BucketTable::find(std::uint64_t key, std::int64_t now_ns) {
    const std::size_t per_shard = capacity() >> shard_bits;
    Slot* shard = slots_.get() + (key >> (64 - shard_bits)) * per_shard;
    Slot* free = nullptr;
    Slot* fullest = nullptr;  // the evictable bucket closest to full (earliest TAT)
    for (std::size_t i = 0; i < probe_window; ++i) {
        Slot& slot = shard[(key + i) & (per_shard - 1)];
        if (slot.key == key) return &slot;
        if (!free && reusable(slot, now_ns)) free = &slot;
        if (slot.in_flight == 0 && (!fullest || slot.tat_ns < fullest->tat_ns)) fullest = &slot;
    }
    Slot* taken = free ? free : fullest;
    if (!taken) return nullptr;
    *taken = Slot{key, 0, 0};
    return taken;
}

GcraStep BucketTable::admit(std::uint64_t key, nanoseconds now, nanoseconds increment,
                            nanoseconds capacity) {
    std::lock_guard lock(shard_of(key).mutex);
    Slot* slot = find(key, now.count());
    if (!slot) return {true, now, nanoseconds(0)};  // every slot in flight: cannot track
    const auto step = gcra_step(nanoseconds(slot->tat_ns), now, increment, capacity);
    slot->tat_ns = step.tat.count();
    return step;
}

void BucketTable::refund(std::uint64_t key, nanoseconds increment) {
    std::lock_guard lock(shard_of(key).mutex);
    if (Slot* slot = find_existing(key)) slot->tat_ns -= increment.count();
}

std::optional<bool> BucketTable::enter(std::uint64_t key, nanoseconds now, std::uint32_t limit) {
    std::lock_guard lock(shard_of(key).mutex);
    Slot* slot = find(key, now.count());
    if (!slot) return std::nullopt;
    if (slot->in_flight >= limit) return false;
    ++slot->in_flight;
    return true;
}

void BucketTable::leave(std::uint64_t key) {
    std::lock_guard lock(shard_of(key).mutex);
    Slot* slot = find_existing(key);
    assert(slot && slot->in_flight > 0);
    if (slot && slot->in_flight > 0) --slot->in_flight;
}

std::size_t BucketTable::live(nanoseconds now) const {
    const std::size_t per_shard = capacity() >> shard_bits;
    std::size_t count = 0;
    for (std::size_t s = 0; s < (std::size_t{1} << shard_bits); ++s) {
        std::lock_guard lock(shards_[s].mutex);
        for (std::size_t i = 0; i < per_shard; ++i)
            if (!reusable(slots_[s * per_shard + i], now.count())) ++count;
    }
    return count;
}

std::uint64_t BucketKeys::tenant(std::string_view tenant) const {
    return nonzero(absorb_bytes(mix64(seed_), reinterpret_cast<const std::uint8_t*>(tenant.data()),
                                tenant.size()));
}

std::uint64_t BucketKeys::client(std::string_view tenant_name,
                                 const config::IpAddress& address) const {
    const std::size_t size = address.v6 ? 16 : 4;
    return nonzero(
        absorb_bytes(tenant(tenant_name) ^ (address.v6 ? 6 : 4), address.bytes.data(), size));
}

}  // namespace tg::routing
