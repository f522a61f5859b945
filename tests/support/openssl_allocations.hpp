// OpenSSL's allocations, counted through CRYPTO_set_mem_functions, so that a test can show
// that the per-packet calls make none. The hooks go in during the static initialisation of the
// program that includes this, before OpenSSL's first allocation; when something allocated
// first (OpenSSL then refuses them), installed is false and nothing is counted.
#pragma once

#include <openssl/crypto.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>

namespace ports::test::openssl_allocations {

inline std::atomic<std::uint64_t> count{0};

inline void* counting_malloc(std::size_t n, const char*, int) {
    count.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n);
}
inline void* counting_realloc(void* p, std::size_t n, const char*, int) {
    count.fetch_add(1, std::memory_order_relaxed);
    return std::realloc(p, n);
}
inline void counting_free(void* p, const char*, int) {
    std::free(p);
}

inline const bool installed =
    CRYPTO_set_mem_functions(counting_malloc, counting_realloc, counting_free) == 1;

}  // namespace ports::test::openssl_allocations
