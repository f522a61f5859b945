// The fast path's NTS reply (see server.hpp). Everything happens inside the request's buffer:
// the request is verified first (its bytes are needed until then), then the reply's fields
// overwrite it from byte 48 on.
#include "ports/nts/server.hpp"

#include <algorithm>
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

namespace {

bool well_formed(const parsers::nts_request_view& request, std::span<const std::uint8_t> payload) {
    return request.st == parsers::status::ok && request.is_nts && request.auth_offset != 0 &&
           request.uid_length != 0 && within(request.unique_id, payload) &&
           within(request.auth_ciphertext, payload) && within(request.auth_nonce, payload) &&
           request.auth_offset <= payload.size() &&
           request.auth_ciphertext.size() >= siv_tag_length;
}

// One chunk (<= siv_batch_lanes jobs) through the four steps. Per request and step, what it
// costs alone -> in a full batch (bench-nts-crypto): cookie open, C2S/S2C key setup, request
// verify, fresh cookie seal.
void prepare_chunk(const request_job* jobs, std::size_t n, const key_ring& ring,
                   nonce_source& nonces) noexcept {
    constexpr std::size_t lanes = siv_batch_lanes;
    const master_key* current = ring.current();
    siv_op ops[lanes];
    std::size_t op_job[lanes];
    std::uint8_t plain[lanes][cookie_plaintext_length];
    session_keys keys[lanes];
    aes_siv c2s[lanes];

    // 1. Checks, then the cookies opened under their master keys.
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const request_job& j = jobs[i];
        prepared_reply& out = *j.out;
        out.what = verdict::malformed;
        out.reply_length = out.auth_offset = out.plaintext_offset = out.plaintext_length = 0;
        out.cookies = 0;
        const parsers::nts_request_view& request = *j.request;
        if (!well_formed(request, j.payload)) {
            continue;
        }
        out.what = verdict::nak;
        const bytes_view cookie = request.cookie;
        if (cookie.size() != cookie_length || current == nullptr) {
            continue;
        }
        const master_key* key = ring.find(parsers::load_be32(cookie.data()));
        if (key == nullptr) {
            continue;
        }
        siv_op& op = ops[k];
        op.key = &key->siv;
        op.ad[0] = cookie.first(4);
        op.ad[1] = cookie.subspan(cookie_nonce_offset, 16);
        op.input = cookie.subspan(cookie_sealed_offset);
        op.out = plain[k];
        op_job[k++] = i;
    }
    open_batch({ops, k});

    // 2. The session keys: C2S for the check below, S2C (into the prepared reply) for the seal
    // at flush, set up together.
    // C2S without its CTR half when the request's Authenticator encrypts nothing (the usual
    // case): one key schedule of four saved.
    aes_siv* key_out[2 * lanes];
    const std::uint8_t* secrets[2 * lanes];
    aes_siv* mac_out[lanes];
    const std::uint8_t* mac_secrets[lanes];
    std::size_t live[lanes];
    std::size_t m = 0;
    std::size_t full = 0;
    std::size_t mac_only = 0;
    for (std::size_t o = 0; o < k; ++o) {
        if (!ops[o].ok) {
            continue;
        }
        const auto sk = keys_from_cookie_plaintext(plain[o]);
        if (!sk) {
            continue;
        }
        keys[m] = *sk;
        live[m] = op_job[o];
        if (jobs[op_job[o]].request->auth_ciphertext.size() == siv_tag_length) {
            mac_out[mac_only] = &c2s[m];
            mac_secrets[mac_only++] = keys[m].c2s.data();
        } else {
            key_out[full] = &c2s[m];
            secrets[full++] = keys[m].c2s.data();
        }
        key_out[full] = &jobs[op_job[o]].out->s2c;
        secrets[full++] = keys[m].s2c.data();
        ++m;
    }
    set_keys({key_out, full}, {secrets, full});
    set_mac_keys({mac_out, mac_only}, {mac_secrets, mac_only});

    // 3. The requests' Authenticators: AD = everything before it, N = its nonce, V || C. C may
    // hold encrypted extension fields (none is defined for requests): decrypted in place, over
    // the ciphertext the layout overwrites anyway, and ignored once they verify.
    for (std::size_t r = 0; r < m; ++r) {
        const request_job& j = jobs[live[r]];
        const parsers::nts_request_view& request = *j.request;
        siv_op& op = ops[r];
        op.key = &c2s[r];
        op.ad[0] = bytes_view(j.payload.data(), request.auth_offset);
        op.ad[1] = request.auth_nonce;
        op.input = request.auth_ciphertext;
        op.out =
            j.payload.data() + (request.auth_ciphertext.data() - j.payload.data()) + siv_tag_length;
    }
    open_batch({ops, m});

    // 4. The replies laid out, their fresh cookies sealed together under the current key.
    siv_op cookie_ops[lanes * max_reply_cookies];
    std::uint8_t cookie_plain[lanes * max_reply_cookies][cookie_plaintext_length];
    std::size_t c_count = 0;
    for (std::size_t r = 0; r < m; ++r) {
        const request_job& j = jobs[live[r]];
        prepared_reply& out = *j.out;
        if (!ops[r].ok) {
            out.what = verdict::auth_failed;
            continue;
        }
        const parsers::nts_request_view& request = *j.request;
        const std::span<std::uint8_t> payload = j.payload;
        const std::size_t room = payload.size() < j.capacity ? payload.size() : j.capacity;
        const std::uint8_t cookies = reply_cookie_count(request, room);
        const std::size_t plaintext_length = std::size_t{cookies} * reply_cookie_ef_length;
        const std::size_t auth_offset = header_length + request.uid_length;
        const std::size_t auth_length = reply_auth_overhead + plaintext_length;
        const std::size_t reply_length = auth_offset + auth_length;
        if (reply_length > room) {
            out.what = verdict::malformed;  // unreachable (see reply_cookie_count); never overrun
            continue;
        }
        // The UID EF first (RFC 8915 5.7 asks it echoed; first is where chrony puts it). It
        // moves towards the header within the same buffer: memmove.
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
            store_be16(c, parsers::nts_ef_cookie);
            store_be16(c + 2, reply_cookie_ef_length);
            std::uint8_t* cookie = c + 4;
            cookie[0] = static_cast<std::uint8_t>(current->id >> 24);
            cookie[1] = static_cast<std::uint8_t>(current->id >> 16);
            cookie[2] = static_cast<std::uint8_t>(current->id >> 8);
            cookie[3] = static_cast<std::uint8_t>(current->id);
            nonces.next(cookie + cookie_nonce_offset);
            cookie_plaintext(keys[r], cookie_plain[c_count]);
            siv_op& op = cookie_ops[c_count];
            op.key = &current->siv;
            op.ad[0] = bytes_view(cookie, 4);
            op.ad[1] = bytes_view(cookie + cookie_nonce_offset, 16);
            op.input = bytes_view(cookie_plain[c_count], cookie_plaintext_length);
            op.out = cookie + cookie_sealed_offset;
            ++c_count;
        }
        out.what = verdict::reply;
        out.reply_length = static_cast<std::uint16_t>(reply_length);
        out.auth_offset = static_cast<std::uint16_t>(auth_offset);
        out.plaintext_offset = static_cast<std::uint16_t>(auth_offset + reply_auth_overhead);
        out.plaintext_length = static_cast<std::uint16_t>(plaintext_length);
        out.cookies = cookies;
    }
    seal_batch({cookie_ops, c_count});
}

}  // namespace

void prepare_replies(std::span<const request_job> jobs, const key_ring& ring,
                     nonce_source& nonces) noexcept {
    for (std::size_t at = 0; at < jobs.size(); at += siv_batch_lanes) {
        prepare_chunk(jobs.data() + at, std::min(siv_batch_lanes, jobs.size() - at), ring, nonces);
    }
}

prepared_reply prepare_reply(std::span<std::uint8_t> payload, std::size_t capacity,
                             const parsers::nts_request_view& request, const key_ring& ring,
                             nonce_source& nonces) noexcept {
    prepared_reply out;
    const request_job job{payload, capacity, &request, &out};
    prepare_replies({&job, 1}, ring, nonces);
    return out;
}

void seal_replies(std::span<const seal_job> jobs, nonce_source& nonces) noexcept {
    siv_op ops[siv_batch_lanes];
    std::size_t k = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        const prepared_reply& p = *jobs[i].reply;
        const std::span<std::uint8_t> payload = jobs[i].payload;
        if (p.what != verdict::reply || payload.size() < p.reply_length) {
            continue;
        }
        std::uint8_t* nonce = payload.data() + p.auth_offset + 8;
        nonces.next(nonce);
        std::uint8_t* plain = payload.data() + p.plaintext_offset;
        // In place: V goes right before the plaintext, which becomes C.
        siv_op& op = ops[k++];
        op.key = &p.s2c;
        op.ad[0] = bytes_view(payload.data(), p.auth_offset);
        op.ad[1] = bytes_view(nonce, reply_nonce_length);
        op.input = bytes_view(plain, p.plaintext_length);
        op.out = plain - siv_tag_length;
        if (k == siv_batch_lanes) {
            seal_batch({ops, k});
            k = 0;
        }
    }
    seal_batch({ops, k});
}

void seal_reply(std::span<std::uint8_t> payload, const prepared_reply& p,
                nonce_source& nonces) noexcept {
    const seal_job job{payload, &p};
    seal_replies({&job, 1}, nonces);
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
