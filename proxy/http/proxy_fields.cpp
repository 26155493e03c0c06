#include "proxy/http/proxy_fields.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>
#include <utility>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace tg::proxy {
namespace http = boost::beast::http;

namespace {

/// A usual header fits the first block and the first list, each one block of the pool's
/// largest class; a larger header takes more blocks.
constexpr std::size_t first_block_bytes = SmallBlockPool::largest;
constexpr std::size_t usual_field_count = SmallBlockPool::largest / sizeof(ProxyFields::Field);
/// A byte after the last text of a block: Beast's iequals reads one byte past the end of a
/// string when its last characters differ in case only (basic_fields' own text always has the
/// CRLF after it).
constexpr std::size_t guard_bytes = 1;

}  // namespace

ProxyFields::ProxyFields(const ProxyFields& other) {
    copy_from(other);
}

ProxyFields::ProxyFields(ProxyFields&& other) noexcept
    : fields_(std::move(other.fields_)),
      arena_(std::exchange(other.arena_, nullptr)),
      method_(std::exchange(other.method_, {})),
      target_(std::exchange(other.target_, {})),
      reason_(std::exchange(other.reason_, {})) {
    other.fields_.clear();
}

ProxyFields& ProxyFields::operator=(const ProxyFields& other) {
    if (this == &other) return *this;
    fields_.clear();
    release();
    copy_from(other);
    return *this;
}

ProxyFields& ProxyFields::operator=(ProxyFields&& other) noexcept {
    if (this == &other) return *this;
    release();
    fields_ = std::move(other.fields_);
    other.fields_.clear();
    arena_ = std::exchange(other.arena_, nullptr);
    method_ = std::exchange(other.method_, {});
    target_ = std::exchange(other.target_, {});
    reason_ = std::exchange(other.reason_, {});
    return *this;
}

ProxyFields::~ProxyFields() {
    release();
}

ProxyFields::Matching ProxyFields::matching(http::field name, std::string_view name_string) const {
    const auto* first = fields_.data();
    const auto* last = first + fields_.size();
    return {const_iterator(first, last, name, name_string),
            const_iterator(last, last, name, name_string)};
}

ProxyFields::Matching ProxyFields::matching(http::field name) const {
    return matching(name, {});
}

ProxyFields::Matching ProxyFields::matching(std::string_view name) const {
    return matching(http::string_to_field(name), name);
}

ProxyFields::const_iterator ProxyFields::find(http::field name) const {
    return matching(name).begin();
}

ProxyFields::const_iterator ProxyFields::find(std::string_view name) const {
    return matching(name).begin();
}

std::size_t ProxyFields::count(http::field name) const {
    return count(matching(name));
}

std::size_t ProxyFields::count(std::string_view name) const {
    return count(matching(name));
}

std::size_t ProxyFields::count(const Matching& fields) {
    return static_cast<std::size_t>(std::distance(fields.begin(), fields.end()));
}

std::string_view ProxyFields::operator[](http::field name) const {
    const auto it = find(name);
    return it == end() ? std::string_view() : it->value();
}

std::string_view ProxyFields::operator[](std::string_view name) const {
    const auto it = find(name);
    return it == end() ? std::string_view() : it->value();
}

void ProxyFields::insert(http::field name, std::string_view value) {
    // Beast's own spelling of a known name is static text: nothing to copy.
    add(name, http::to_string(name), keep(value));
}

void ProxyFields::insert(std::string_view name, std::string_view value) {
    add(http::string_to_field(name), keep(name), keep(value));
}

void ProxyFields::insert(http::field name, std::string_view name_string, std::string_view value) {
    add(name, keep(name_string), keep(value));
}

void ProxyFields::insert_own(std::string_view literal_name, std::string_view value) {
    assert(http::string_to_field(literal_name) == http::field::unknown);
    add(http::field::unknown, literal_name, keep(value));
}

void ProxyFields::set(http::field name, std::string_view value) {
    erase(name);
    insert(name, value);
}

void ProxyFields::set(std::string_view name, std::string_view value) {
    erase(name);
    insert(name, value);
}

ProxyFields::const_iterator ProxyFields::erase(const_iterator at) {
    fields_[static_cast<std::size_t>(at.at_ - fields_.data())].removed_ = true;
    return ++at;
}

std::size_t ProxyFields::erase(http::field name) {
    return erase(matching(name));
}

std::size_t ProxyFields::erase(std::string_view name) {
    return erase(matching(name));
}

std::size_t ProxyFields::erase(const Matching& fields) {
    std::size_t erased = 0;
    for (auto it = fields.begin(); it != fields.end(); it = erase(it)) ++erased;
    return erased;
}

void ProxyFields::clear() {
    std::vector<Field, FieldAllocator<Field>>().swap(fields_);
    // The start line survives in a block of its own, sized for it.
    std::string start_line;
    start_line.append(method_).append(target_).append(reason_);
    const auto method_size = method_.size();
    const auto target_size = target_.size();
    release();
    if (!start_line.empty()) add_block(start_line.size());
    const auto kept = keep(start_line);
    method_ = kept.substr(0, method_size);
    target_ = kept.substr(method_size, target_size);
    reason_ = kept.substr(method_size + target_size);
}

bool ProxyFields::get_chunked_impl() const {
    const http::token_list codings{(*this)[http::field::transfer_encoding]};
    for (auto it = codings.begin(); it != codings.end();) {
        const auto next = std::next(it);
        if (next == codings.end()) return boost::beast::iequals(*it, "chunked");
        it = next;
    }
    return false;
}

bool ProxyFields::get_keep_alive_impl(unsigned version) const {
    const auto it = find(http::field::connection);
    if (version < 11) return it != end() && http::token_list{it->value()}.exists("keep-alive");
    return it == end() || !http::token_list{it->value()}.exists("close");
}

bool ProxyFields::has_content_length_impl() const {
    return count(http::field::content_length) != 0;
}

void ProxyFields::set_chunked_impl(bool value) {
    const auto it = find(http::field::transfer_encoding);
    if (value) {
        if (it == end()) return set(http::field::transfer_encoding, "chunked");
        if (get_chunked_impl()) return;
        std::string codings(it->value());
        codings.append(", chunked");
        return set(http::field::transfer_encoding, codings);
    }
    if (it == end()) return;
    boost::beast::detail::temporary_buffer others;
    http::detail::filter_token_list_last(others, it->value(), {"chunked", {}});
    if (others.empty())
        erase(http::field::transfer_encoding);
    else
        set(http::field::transfer_encoding, others.view());
}

void ProxyFields::set_content_length_impl(const boost::optional<std::uint64_t>& value) {
    if (!value)
        erase(http::field::content_length);
    else
        set(http::field::content_length, std::to_string(*value));
}

void ProxyFields::set_keep_alive_impl(unsigned version, bool keep_alive) {
    boost::beast::detail::temporary_buffer options;
    http::detail::keep_alive_impl(options, (*this)[http::field::connection], version, keep_alive);
    if (options.empty())
        erase(http::field::connection);
    else
        set(http::field::connection, options.view());
}

std::string_view ProxyFields::keep(std::string_view text) {
    if (text.empty()) return std::string_view("", 0);  // never null: it may be memcpy'd
    if (arena_ == nullptr || arena_->capacity - arena_->used < text.size()) {
        const std::size_t usual = arena_ == nullptr
                                      ? first_block_bytes - sizeof(Block) - guard_bytes
                                      : 2 * arena_->capacity;
        add_block(std::max(usual, text.size()));
    }
    char* copy = arena_->bytes() + arena_->used;
    std::memcpy(copy, text.data(), text.size());
    arena_->used += text.size();
    return {copy, text.size()};
}

void ProxyFields::add_block(std::size_t capacity) {
    void* memory = SmallBlockPool::local().allocate(sizeof(Block) + capacity + guard_bytes);
    arena_ = ::new (memory) Block{arena_, capacity, 0};
}

std::size_t ProxyFields::held_bytes() const {
    std::size_t bytes = fields_.capacity() * sizeof(Field);
    for (const Block* block = arena_; block != nullptr; block = block->next)
        bytes += sizeof(Block) + block->capacity + guard_bytes;
    return bytes;
}

void ProxyFields::add(http::field name, std::string_view name_string, std::string_view value) {
    if (fields_.capacity() == 0) fields_.reserve(usual_field_count);
    Field& field = fields_.emplace_back();
    field.name_text_ = name_string.data();
    field.name_size_ = static_cast<std::uint32_t>(name_string.size());
    field.value_text_ = value.data();
    field.value_size_ = static_cast<std::uint32_t>(value.size());
    field.name_ = name;
    field.removed_ = false;
}

void ProxyFields::release() {
    while (arena_ != nullptr) {
        Block* block = arena_;
        arena_ = block->next;
        SmallBlockPool::local().deallocate(block, sizeof(Block) + block->capacity + guard_bytes);
    }
    method_ = target_ = reason_ = {};
}

void ProxyFields::copy_from(const ProxyFields& other) {
    for (const auto& field : other) insert(field.name(), field.name_string(), field.value());
    method_ = keep(other.method_);
    target_ = keep(other.target_);
    reason_ = keep(other.reason_);
}

}  // namespace tg::proxy
