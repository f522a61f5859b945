// The fast path's NTS reply (see server.hpp). Everything happens inside the request's buffer:
// the request is verified first (its bytes are needed until then), then the reply's fields
// overwrite it from byte 48 on.
#include "ports/nts/server.hpp"

#include <cstring>

namespace ports::nts {

namespace {

constexpr std::size_t header_length = 48;

void store_be16(std::uint8_t* p, std::size_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

// True when `inner` lies within `outer`: the view must come from this payload, as the
// in-place decryption writes through it.
bool within(parsers::byte_span inner, std::span<const std::uint8_t> outer) {
    return inner.data() >= outer.data() &&
           inner.data() + inner.size() <= outer.data() + outer.size();
}

// How many fresh cookies the reply carries: what the client asked for, capped, and reduced
// until the reply fits in `room` bytes (min of request length and capacity).
std::uint8_t reply_cookie_count(const parsers::nts_request_view& request, std::size_t room) {
    std::size_t wanted = std::size_t{request.cookies} + request.placeholders;
    if (wanted > max_reply_cookies) {
        wanted = max_reply_cookies;
    }
    const std::size_t fixed = header_length + request.uid_length + reply_auth_overhead;
    if (fixed > room) {
        return 0;  // cannot happen for a parsed request (its own fields are larger); guarded
    }
    const std::size_t fit = (room - fixed) / reply_cookie_ef_length;
    return static_cast<std::uint8_t>(wanted < fit ? wanted : fit);
}

}  // namespace

prepared_reply prepare_reply(std::span<std::uint8_t> payload, std::size_t capacity,
                             const parsers::nts_request_view& request, const key_ring& ring,
                             nonce_source& nonces) noexcept {
    prepared_reply out;
    if (request.st != parsers::status::ok || !request.is_nts || request.auth_offset == 0 ||
        request.uid_length == 0 || !within(request.unique_id, payload) ||
        !within(request.auth_ciphertext, payload) || !within(request.auth_nonce, payload) ||
        request.auth_offset > payload.size() || request.auth_ciphertext.size() < siv_tag_length) {
        out.what = verdict::malformed;
        return out;
    }
    const std::optional<session_keys> keys = open_cookie(ring, request.cookie);
    const master_key* current = ring.current();
    if (!keys || current == nullptr) {
        out.what = verdict::nak;
        return out;
    }
    // The request's Authenticator: AD = everything before it, N = its nonce, V || C. C may
    // hold encrypted extension fields (none is defined for requests): they are decrypted in
    // place, over the ciphertext this function overwrites anyway, so any size works without
    // stack space, and ignored once they verify.
    {
        const aes_siv c2s(keys->c2s);
        std::uint8_t* plain =
            payload.data() + (request.auth_ciphertext.data() - payload.data()) + siv_tag_length;
        if (!c2s.open(bytes_view(payload.data(), request.auth_offset), request.auth_nonce,
                      request.auth_ciphertext, plain)) {
            out.what = verdict::auth_failed;
            return out;
        }
    }
    const std::size_t room = payload.size() < capacity ? payload.size() : capacity;
    const std::uint8_t cookies = reply_cookie_count(request, room);
    const std::size_t plaintext_length = std::size_t{cookies} * reply_cookie_ef_length;
    const std::size_t auth_offset = header_length + request.uid_length;
    const std::size_t auth_length = reply_auth_overhead + plaintext_length;
    const std::size_t reply_length = auth_offset + auth_length;
    if (reply_length > room) {
        out.what = verdict::malformed;  // unreachable (see reply_cookie_count); never overrun
        return out;
    }

    // The UID EF first (RFC 8915 5.7 asks it echoed; first is where chrony puts it). It moves
    // towards the header within the same buffer: memmove.
    std::memmove(payload.data() + header_length, payload.data() + request.uid_offset,
                 request.uid_length);
    std::uint8_t* a = payload.data() + auth_offset;
    store_be16(a, parsers::nts_ef_authenticator);
    store_be16(a + 2, auth_length);
    store_be16(a + 4, reply_nonce_length);
    store_be16(a + 6, siv_tag_length + plaintext_length);
    // a + 8: the nonce, a + 24: V, both written by seal_reply.
    std::uint8_t* c = a + reply_auth_overhead;
    for (std::uint8_t i = 0; i < cookies; ++i, c += reply_cookie_ef_length) {
        std::uint8_t nonce[16];
        nonces.next(nonce);
        store_be16(c, parsers::nts_ef_cookie);
        store_be16(c + 2, reply_cookie_ef_length);
        make_cookie(*current, nonce, *keys, c + 4);
    }

    out.what = verdict::reply;
    out.reply_length = static_cast<std::uint16_t>(reply_length);
    out.auth_offset = static_cast<std::uint16_t>(auth_offset);
    out.plaintext_offset = static_cast<std::uint16_t>(auth_offset + reply_auth_overhead);
    out.plaintext_length = static_cast<std::uint16_t>(plaintext_length);
    out.cookies = cookies;
    out.s2c.set_key(keys->s2c);
    return out;
}

void seal_reply(std::span<std::uint8_t> payload, const prepared_reply& p,
                nonce_source& nonces) noexcept {
    if (p.what != verdict::reply || payload.size() < p.reply_length) {
        return;
    }
    std::uint8_t* nonce = payload.data() + p.auth_offset + 8;
    nonces.next(nonce);
    std::uint8_t* plain = payload.data() + p.plaintext_offset;
    // In place: V goes right before the plaintext, which becomes C.
    p.s2c.seal(bytes_view(payload.data(), p.auth_offset), bytes_view(nonce, reply_nonce_length),
               bytes_view(plain, p.plaintext_length), plain - siv_tag_length);
}

std::uint16_t build_nak(std::span<std::uint8_t> payload,
                        const parsers::nts_request_view& request) noexcept {
    if (request.uid_length == 0 || request.uid_offset < header_length ||
        std::size_t{request.uid_offset} + request.uid_length > payload.size()) {
        return 0;
    }
    std::memmove(payload.data() + header_length, payload.data() + request.uid_offset,
                 request.uid_length);
    return static_cast<std::uint16_t>(header_length + request.uid_length);
}

}  // namespace ports::nts
