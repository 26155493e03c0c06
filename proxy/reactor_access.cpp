#include "proxy/reactor_access.hpp"

namespace tg::proxy::reactor_access {
namespace {

// Asio keeps a descriptor's try-at-once flags private. An explicit instantiation may name a
// private member ([temp.spec.general]), which is how mark_just_tried reaches them.
using DescriptorState = detail::epoll_reactor::descriptor_state;
struct TrySpeculativeTag {};
constexpr auto try_speculative_member(TrySpeculativeTag);

template <auto Member>
struct ExposeTrySpeculative {
    friend constexpr auto try_speculative_member(TrySpeculativeTag) { return Member; }
};
template struct ExposeTrySpeculative<&DescriptorState::try_speculative_>;

}  // namespace

void mark_just_tried(Implementation& implementation, detail::reactor::op_types side) {
    assert(implementation.reactor_data_);
    (implementation.reactor_data_->*try_speculative_member(TrySpeculativeTag{}))[side] = false;
}

}  // namespace tg::proxy::reactor_access
