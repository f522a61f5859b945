// Whatever arrives, respond() reads and writes only inside the frame and the capacity it was
// given (the scratch build runs this under AddressSanitizer), and what it does not answer it
// leaves as it was.
#include <array>

#include "fixtures.hpp"
#include "support.hpp"

namespace {

using namespace ntest;

const std::array<std::span<const std::uint8_t>, 21> requests = {
    nfix::arp_request,
    nfix::arp_request_other_ip,
    nfix::arp_probe,
    nfix::arp_reply_to_us,
    nfix::arp_request_vlan,
    nfix::arp_request_qinq,
    nfix::echo4_request,
    nfix::echo4_request_padded,
    nfix::echo4_request_options,
    nfix::echo4_request_fragment,
    nfix::echo6_request,
    nfix::echo6_request_multicast,
    nfix::ns_unicast_sll,
    nfix::ns_multicast_sll,
    nfix::ns_unicast_bare,
    nfix::ns_dad,
    nfix::ns_hop_limit_64,
    nfix::ns_zero_length_option,
    nfix::ns_vlan,
    nfix::ns_dad_nonce,
    nfix::echo6_request_hop_by_hop,
};

bool is_reply(outcome o) {
    return o != outcome::not_for_us && o != outcome::dropped_malformed;
}

TEST(Robustness, TruncatedFramesAtEveryLength) {
    for (const auto& full : requests) {
        for (std::size_t n = 0; n < full.size(); ++n) {
            const std::span<const std::uint8_t> cut = full.first(n);
            // Capacity equal to the cut length: any write past it lands outside the buffer.
            const reply out = run(cut, n);
            if (!is_reply(out.r.what)) {
                EXPECT_EQ(out.bytes, bytes_of(cut)) << "length " << n;
            }
            EXPECT_LE(out.r.length, n) << "length " << n;
        }
    }
}

TEST(Robustness, TruncatedIpDatagramsAreNeverAnswered) {
    // Cutting into the IP datagram leaves IP's length claiming more than the frame holds.
    for (const auto& full : {std::span<const std::uint8_t>(nfix::echo4_request),
                             std::span<const std::uint8_t>(nfix::echo6_request),
                             std::span<const std::uint8_t>(nfix::ns_multicast_sll)}) {
        for (std::size_t n = 0; n < full.size(); ++n) {
            EXPECT_FALSE(is_reply(run(full.first(n), 256).r.what)) << "length " << n;
        }
    }
}

TEST(Robustness, LayersOfAnotherFrameAreNotTrusted) {
    // The layers of a long frame applied to a short one: offsets past its end.
    const ports::parsers::layers l = ports::parsers::parse_ethernet(nfix::echo6_request);
    for (std::size_t n = 14; n < nfix::echo6_request.size(); ++n) {
        std::vector<std::uint8_t> buf(nfix::echo6_request.begin(),
                                      nfix::echo6_request.begin() + static_cast<long>(n));
        const result r = respond(buf, buf.size(), l, service(), my_mac());
        EXPECT_EQ(r.what, outcome::not_for_us) << "length " << n;
    }
}

TEST(Robustness, EverySingleByteCorruptionStaysInBounds) {
    for (const auto& full : requests) {
        for (std::size_t i = 0; i < full.size(); ++i) {
            for (const std::uint8_t v : {0x00, 0xFF, 0x01, 0x80}) {
                std::vector<std::uint8_t> f = bytes_of(full);
                f[i] = v;
                const reply out = run(f, f.size() + 8);
                EXPECT_LE(out.r.length, f.size() + 8);
                if (!is_reply(out.r.what)) {
                    EXPECT_EQ(out.bytes, f);
                }
            }
        }
    }
}

TEST(Robustness, EmptyServiceSetAnswersNothing) {
    const service_addresses none;
    for (const auto& full : requests) {
        std::vector<std::uint8_t> f = bytes_of(full);
        const ports::parsers::layers l = ports::parsers::parse_ethernet(f);
        EXPECT_EQ(respond(f, f.size() + 64, l, none, my_mac()).what, outcome::not_for_us);
        EXPECT_EQ(f, bytes_of(full));
    }
}

}  // namespace
