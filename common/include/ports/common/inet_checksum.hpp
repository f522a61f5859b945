// The Internet checksum (RFC 1071), its incremental update (RFC 1624) and the pseudo header
// (RFC 768, RFC 8200 8.1), for every reply the engine builds and every request it verifies:
// the NTP service's IPv4 headers and UDP checksums (computed from scratch: a request's own UDP
// checksum may be unfinished, as veth leaves it, or 0, so nothing is carried over), and the
// neighbour responder's IPv4, ICMP and ICMPv6 checksums.
//
// The one's-complement sum is taken over native-endian 64-bit words with end-around carry and
// folded at the end: 2^16 = 1 modulo 0xFFFF, so that is the RFC's sum of 16-bit words, in
// the same byte order as the data, and it folds to 0 only when every word is 0, exactly as
// DPDK's rte_raw_cksum does. The results equal rte_ipv4_cksum and rte_ipv4/6_udptcp_cksum
// (tests/unit/common/test_inet_checksum.cpp holds them to that) at a fraction of the
// instructions: DPDK's raw sum adds one 16-bit word per step.
//
// Sums and checksums are in the data's own byte order, not host order: a checksum goes into
// its field as it is (store()), and a sum that verifies folds to 0xFFFF in either order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace ports::inet_checksum {

// sum + v with the carry out of bit 63 added back in (one's-complement addition on 64 bits:
// 2^64 = 1 modulo 0xFFFF); 0 only when both are 0.
inline std::uint64_t add_carry(std::uint64_t sum, std::uint64_t v) {
    std::uint64_t out;
    const bool carry = __builtin_add_overflow(sum, v, &out);
    return out + carry;
}

// Adds n bytes at p to a running sum of native-endian words, 8 bytes a step. An odd last byte
// counts as the first byte of a zero-padded 16-bit word (byte order independent, as in
// rte_raw_cksum).
inline std::uint64_t add(std::uint64_t sum, const std::uint8_t* p, std::size_t n) {
#ifdef __AVX2__
    // Long data (NTS replies: 274 to 1030 bytes) 32 bytes a step: its 32-bit words zero-extended
    // into four 64-bit lanes (no carry can leave a lane before 2^32 steps), the lanes added in
    // at the end. 2^32 = 1 modulo 0xFFFF too: the same one's-complement sum.
    if (n >= 64) {
        __m256i acc = _mm256_setzero_si256();
        while (n >= 32) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
            acc = _mm256_add_epi64(acc, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(v)));
            acc = _mm256_add_epi64(acc, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(v, 1)));
            p += 32;
            n -= 32;
        }
        alignas(32) std::uint64_t lanes[4];
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
        for (const std::uint64_t l : lanes) {
            sum = add_carry(sum, l);
        }
    }
#endif
    while (n >= 8) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        sum = add_carry(sum, v);
        p += 8;
        n -= 8;
    }
    std::uint64_t tail = 0;
    if (n >= 4) {
        std::uint32_t w;
        std::memcpy(&w, p, 4);
        tail += w;
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        std::uint16_t w;
        std::memcpy(&w, p, 2);
        tail += w;
        p += 2;
        n -= 2;
    }
    if (n != 0) {
        std::uint16_t w = 0;
        std::memcpy(&w, p, 1);
        tail += w;
    }
    return add_carry(sum, tail);
}

// The 16-bit one's-complement sum (not complemented): 0 only for an all-zero input. 64 to 32
// bits with the end-around carry, then the high half of x + rotr(x, 16) is the 16-bit fold
// with its carry (as Linux's csum_fold).
inline std::uint16_t fold(std::uint64_t sum) {
    std::uint32_t lo = static_cast<std::uint32_t>(sum);
    std::uint32_t s32;
    const bool carry = __builtin_add_overflow(lo, static_cast<std::uint32_t>(sum >> 32), &s32);
    s32 += carry;
    const std::uint32_t rotated = (s32 >> 16) | (s32 << 16);
    return static_cast<std::uint16_t>((s32 + rotated) >> 16);
}

inline std::uint16_t host_to_be16(std::uint16_t v) {
    return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? __builtin_bswap16(v) : v;
}

// The header checksum of a 20-byte IPv4 header (no options) whose checksum field is 0, in
// network byte order as stored: rte_ipv4_cksum's value.
inline std::uint16_t ipv4_header(const std::uint8_t* ip) {
    return static_cast<std::uint16_t>(~fold(add(0, ip, 20)));
}

// The sum of the pseudo header of an upper-layer message of `length` bytes whose addresses are
// at src_dst (8 bytes for IPv4, 32 for IPv6: source then destination, as both headers lay
// them out). Protocol and length go in as big-endian 16-bit words: IPv6 has them as 32-bit
// words, whose upper halves (zero for the protocol) are the same sum.
inline std::uint64_t pseudo_header(const std::uint8_t* src_dst, std::size_t address_bytes,
                                   std::uint8_t protocol, std::uint32_t length) {
    std::uint64_t sum = std::uint64_t{host_to_be16(protocol)} +
                        host_to_be16(static_cast<std::uint16_t>(length >> 16)) +
                        host_to_be16(static_cast<std::uint16_t>(length));
    return add(sum, src_dst, address_bytes);
}

// The value for a checksum field that was summed as 0, as stored.
inline std::uint16_t finish(std::uint64_t sum) {
    return static_cast<std::uint16_t>(~fold(sum));
}

// A message that carries its own correct checksum sums to 0xFFFF (RFC 1071 verification).
inline bool verifies(std::uint64_t sum) {
    return fold(sum) == 0xFFFF;
}

// Writes a checksum (as stored, see above) into its field.
inline void store(std::uint8_t* field, std::uint16_t checksum) {
    std::memcpy(field, &checksum, 2);
}

// The UDP checksum of a datagram of udp_length bytes at udp (checksum field 0) under the
// pseudo header of the addresses at src_dst (see pseudo_header), as stored: 0xFFFF stands
// for a computed 0 (RFC 768), as rte_ipv4/6_udptcp_cksum give it.
inline std::uint16_t udp(const std::uint8_t* src_dst, std::size_t address_bytes,
                         const std::uint8_t* udp, std::uint16_t udp_length) {
    constexpr std::uint8_t ipproto_udp = 17;
    std::uint64_t sum = pseudo_header(src_dst, address_bytes, ipproto_udp, udp_length);
    sum = add(sum, udp, udp_length);
    const std::uint16_t c = finish(sum);
    return c == 0 ? 0xFFFF : c;
}

// RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), when one 16-bit word changes from m to m' (all
// three in the same byte order, whichever it is). Cheaper than summing the message again,
// and eqn. 3 (unlike RFC 1141's form) keeps the result right when the sum crosses
// one's-complement zero.
inline std::uint16_t update(std::uint16_t old_checksum, std::uint16_t old_word,
                            std::uint16_t new_word) {
    const std::uint64_t sum = std::uint64_t{static_cast<std::uint16_t>(~old_checksum)} +
                              static_cast<std::uint16_t>(~old_word) + new_word;
    return finish(sum);
}

}  // namespace ports::inet_checksum
