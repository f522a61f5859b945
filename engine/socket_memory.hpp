// Memory on a NUMA socket for what a worker lcore owns (its rate-limit table, its service and
// NTS state): rte_malloc_socket, so it comes from the socket's hugepages when EAL has them and
// from EAL's heap on that socket otherwise; never from the main thread's node by accident.
#pragma once

#include <rte_malloc.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <memory_resource>
#include <new>
#include <utility>

namespace ports::engine {

// A std::pmr resource over rte_malloc_socket (for containers inside the DPDK-free libraries).
class socket_memory_resource final : public std::pmr::memory_resource {
  public:
    explicit socket_memory_resource(int socket) : socket_(socket) {}
    int socket() const { return socket_; }

  private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        void* p =
            rte_malloc_socket("ports_lcore", bytes,
                              static_cast<unsigned>(std::max<std::size_t>(alignment, 64)), socket_);
        if (p == nullptr) {
            throw std::bad_alloc();
        }
        return p;
    }
    void do_deallocate(void* p, std::size_t, std::size_t) override { rte_free(p); }
    bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override {
        const auto* s = dynamic_cast<const socket_memory_resource*>(&o);
        return s != nullptr && s->socket_ == socket_;
    }

    int socket_;
};

struct socket_deleter {
    template <typename T>
    void operator()(T* p) const {
        p->~T();
        rte_free(p);
    }
};
template <typename T>
using socket_ptr = std::unique_ptr<T, socket_deleter>;

// A T built in zeroed memory of the socket (then constructed: zeroing is only what the
// allocator gives, construction still runs).
template <typename T, typename... Args>
socket_ptr<T> make_on_socket(int socket, Args&&... args) {
    void* mem =
        rte_zmalloc_socket("ports_lcore", sizeof(T),
                           static_cast<unsigned>(std::max<std::size_t>(alignof(T), 64)), socket);
    if (mem == nullptr) {
        throw std::bad_alloc();
    }
    try {
        return socket_ptr<T>(new (mem) T(std::forward<Args>(args)...));
    } catch (...) {
        rte_free(mem);
        throw;
    }
}

}  // namespace ports::engine
