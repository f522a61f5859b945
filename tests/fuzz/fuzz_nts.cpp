// parse_nts_request on arbitrary input; when it parses as NTS, prepare_reply (and seal_reply,
// build_nak) with a fixed key ring, in a buffer with guard bytes past the input: nothing may
// be written beyond the input, no reply may be longer than the request.
//
// Random tags never verify, so each input is tried twice: as it is, and with its
// Authenticator resealed under the fixed C2S key (the fuzzer's stand-in for a client that
// knows the key). The seeds (corpus/fuzz_nts/, made once with tests/support/nts_request.hpp)
// carry cookies sealed under this fixed ring for these fixed session keys (C2S bytes 0x11 +
// i), so the second pass reaches the reply's layout and sealing code.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_check.hpp"
#include "ports/nts/keys.hpp"
#include "ports/nts/server.hpp"
#include "ports/parsers/nts.hpp"

namespace {

using namespace ports;

constexpr std::uint32_t fixed_key_id = 0x4E545331;  // "NTS1"
constexpr std::size_t guard = 64;

struct fixture {
    nts::key_ring ring;
    nts::aes_siv c2s;
    nts::nonce_source nonces;
    fixture() {
        std::array<std::uint8_t, nts::siv_key_length> secret{};
        std::array<std::uint8_t, nts::c2s_key_length> c2s_key{};
        for (std::size_t i = 0; i < secret.size(); ++i) {
            secret[i] = static_cast<std::uint8_t>(i);
            c2s_key[i] = static_cast<std::uint8_t>(0x11 + i);
        }
        ring.add(fixed_key_id, secret, 0);
        c2s.set_key(c2s_key);
    }
};

fixture& fixed() {
    static fixture f;
    return f;
}

void serve(std::vector<std::uint8_t>& buffer, std::size_t size) {
    fixture& f = fixed();
    const parsers::byte_span input(buffer.data(), size);
    const parsers::nts_request_view v = parsers::parse_nts_request(input);
    fuzz::require_within(v.unique_id, input);
    fuzz::require_within(v.cookie, input);
    fuzz::require_within(v.auth_nonce, input);
    fuzz::require_within(v.auth_ciphertext, input);
    if (v.st != parsers::status::ok) {
        return;
    }
    fuzz::require(v.auth_offset == 0 || std::size_t{v.auth_offset} + v.auth_length == size);
    if (!v.is_nts) {
        return;
    }
    const std::span<std::uint8_t> payload(buffer.data(), size);
    const nts::prepared_reply r = nts::prepare_reply(payload, buffer.size(), v, f.ring, f.nonces);
    switch (r.what) {
        case nts::verdict::reply:
            fuzz::require(r.reply_length <= size && r.reply_length >= 48);
            fuzz::require(r.plaintext_offset + std::size_t{r.plaintext_length} == r.reply_length);
            fuzz::require(r.cookies <= nts::max_reply_cookies);
            nts::seal_reply(std::span<std::uint8_t>(buffer.data(), r.reply_length), r, f.nonces);
            break;
        case nts::verdict::nak: {
            const std::uint16_t n = nts::build_nak(payload, v);
            fuzz::require(n >= 48 && n <= size);
            break;
        }
        case nts::verdict::auth_failed:
        case nts::verdict::malformed:
            break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The capacity beyond the request is guard bytes that must stay as they are.
    std::vector<std::uint8_t> buffer(size + guard, 0xA5);
    std::memcpy(buffer.data(), data, size);
    serve(buffer, size);
    for (std::size_t i = size; i < buffer.size(); ++i) {
        fuzz::require(buffer[i] == 0xA5);
    }

    // Second pass: resealed under the fixed C2S key.
    std::memcpy(buffer.data(), data, size);
    const parsers::nts_request_view v =
        parsers::parse_nts_request(parsers::byte_span(buffer.data(), size));
    if (v.st != parsers::status::ok || !v.is_nts || v.auth_offset == 0) {
        return 0;
    }
    const std::size_t ct = static_cast<std::size_t>(v.auth_ciphertext.data() - buffer.data());
    std::uint8_t* sealed = buffer.data() + ct;
    fixed().c2s.seal(nts::bytes_view(buffer.data(), v.auth_offset), v.auth_nonce,
                     nts::bytes_view(sealed + nts::siv_tag_length,
                                     v.auth_ciphertext.size() - nts::siv_tag_length),
                     sealed);
    serve(buffer, size);
    for (std::size_t i = size; i < buffer.size(); ++i) {
        fuzz::require(buffer[i] == 0xA5);
    }
    return 0;
}
