// Receive stamps with a known bound, and interleaved mode, through the engine's worker stage in
// process (rte_eth_from_rings ports, the worker's poll_queue and process_burst). Deterministic
// without timing: a frame held back before a poll has a window at least as long as the hold,
// so a limit below half of it must refuse it; a limit far above any poll's window must not.
#include <gtest/gtest.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "eal_environment.hpp"
#include "engine_port.hpp"
#include "fates.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/pipelines/service.hpp"
#include "runtime.hpp"
#include "trafficgen.hpp"

using namespace ports;

namespace {

using test::eal_environment;
using sc = pipelines::server_counter;

std::uint64_t be64_at(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return rte_be_to_cpu_64(v);
}
std::uint32_t be32_at(const std::uint8_t* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return rte_be_to_cpu_32(v);
}

// The NTP payload of a reply frame (untagged IPv4, 20-byte header, UDP).
struct ntp_reply {
    std::uint32_t root_dispersion;
    std::uint64_t origin;
    std::uint64_t receive;
    std::uint64_t transmit;
};

// One engine with an NTP service on one ring port; the test is its worker.
class NtpStamps : public ::testing::Test {
  protected:
    void start(std::uint32_t max_error_us) {
        static int n = 0;
        const std::string name = "stamps" + std::to_string(n++);
        rx_ = rte_ring_create((name + "_rx").c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        tx_ = rte_ring_create((name + "_tx").c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        const int id = rte_eth_from_rings(name.c_str(), &rx_, 1, &tx_, 1, 0);
        ASSERT_GE(id, 0);
        port_ = static_cast<std::uint16_t>(id);
        rte_ether_addr mac{};
        rte_eth_macaddr_get(port_, &mac);
        std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), client_.dst_mac.begin());
        client_.src_ip4 = {198, 51, 100, 7};
        client_.dst_ip4 = {192, 0, 2, 1};
        client_.src_port = 40123;
        engine::engine_config cfg;
        cfg.ntp.enabled = true;
        cfg.ntp.addresses = {*engine::parse_ip_address("192.0.2.1")};
        cfg.ntp.assume_synchronized = true;
        cfg.ntp.max_timestamp_error_us = max_error_us;
        rt_.start(cfg, {test::port_of(port_, name)});
        conf_ = &rt_.blocks()[0]->conf;
    }
    void TearDown() override {
        if (conf_ != nullptr) {
            rt_.release();
        }
        rte_ring_free(rx_);
        rte_ring_free(tx_);
    }

    void send(const gen::bytes& payload) {
        const auto frame = gen::udp_frame(client_, payload);
        rte_mbuf* m = rte_pktmbuf_alloc(eal_environment::pool());
        ASSERT_NE(m, nullptr);
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size())), frame.data(),
                    frame.size());
        ASSERT_EQ(rte_ring_enqueue(rx_, m), 0);
    }
    // One poll of the worker (poll_queue, then the burst's stages); frames received.
    std::uint16_t poll() {
        rte_mbuf* pkts[pipelines::burst_size];
        const std::uint16_t n = pipelines::poll_queue(conf_->rx[0], pkts);
        if (n != 0) {
            pipelines::process_burst(*conf_, conf_->rx[0], pkts, n);
        }
        return n;
    }
    std::vector<ntp_reply> replies() {
        std::vector<ntp_reply> out;
        rte_mbuf* m = nullptr;
        while (rte_ring_dequeue(tx_, reinterpret_cast<void**>(&m)) == 0) {
            const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*) + 14 + 20 + 8;
            out.push_back({be32_at(p + 8), be64_at(p + 24), be64_at(p + 32), be64_at(p + 40)});
            rte_pktmbuf_free(m);
        }
        return out;
    }
    std::uint64_t server(sc c) { return engine::sum_over_lcores(rt_.service()->counters(), c); }

    // A basic request: origin and receive zero, transmit T1.
    static gen::bytes basic(std::uint64_t t1) {
        gen::ntp_header h;
        h.transmit_ts = t1;
        return gen::ntp_packet(h);
    }

    // A basic exchange, then the client's next request in interleaved mode (origin = our
    // receive stamp, receive = when it got our reply, T4 = t + 1, transmit = its new T1 =
    // t + 2), each sent after an empty poll: the two replies.
    struct exchange {
        ntp_reply first;
        ntp_reply second;
    };
    std::optional<exchange> interleaved_exchange(std::uint64_t t) {
        EXPECT_EQ(poll(), 0);
        send(basic(gen::ntp_timestamp(t)));
        EXPECT_EQ(poll(), 1);
        const auto first = replies();
        if (first.size() != 1) {
            ADD_FAILURE() << first.size() << " replies to the basic request";
            return std::nullopt;
        }
        gen::ntp_header h;
        h.origin_ts = first[0].receive;
        h.receive_ts = gen::ntp_timestamp(t + 1);
        h.transmit_ts = gen::ntp_timestamp(t + 2);
        EXPECT_EQ(poll(), 0);
        send(gen::ntp_packet(h));
        EXPECT_EQ(poll(), 1);
        const auto second = replies();
        if (second.size() != 1) {
            ADD_FAILURE() << second.size() << " replies to the interleaved request";
            return std::nullopt;
        }
        return exchange{first[0], second[0]};
    }

    engine::runtime rt_;
    pipelines::lcore_conf* conf_ = nullptr;
    rte_ring* rx_ = nullptr;
    rte_ring* tx_ = nullptr;
    std::uint16_t port_ = 0;
    gen::endpoint_options client_;
};

constexpr std::uint32_t nominal_dispersion = 65;  // assume_synchronized: 1 ms, 16.16

TEST_F(NtpStamps, ARequestHeldBackLongerThanTheLimitIsNotAnsweredAndIsCounted) {
    start(200000);         // 200 ms
    EXPECT_EQ(poll(), 0);  // drains the queue: the window starts here
    send(basic(gen::ntp_timestamp(1)));
    std::this_thread::sleep_for(std::chrono::milliseconds(450));  // window >= 450 ms
    EXPECT_EQ(poll(), 1);
    EXPECT_TRUE(replies().empty());
    EXPECT_EQ(server(sc::drop_timestamp_error), 1u);
    EXPECT_EQ(server(sc::replies), 0u);
    EXPECT_EQ(rt_.service()->port_stamps(port_).timestamp_error_drops, 1u);
    const auto f = test::fates(rt_);
    EXPECT_EQ(f.dropped_for(pipelines::drop_reason::timestamp_error), 1u);
    EXPECT_EQ(f.accounted(), f.rx);
}

TEST_F(NtpStamps, AFullBurstLeavesTheWindowOpenForTheFramesBehindIt) {
    start(200000);
    EXPECT_EQ(poll(), 0);
    for (std::uint16_t i = 0; i < pipelines::burst_size + 1; ++i) {
        send(basic(gen::ntp_timestamp(100 + i)));
    }
    EXPECT_EQ(poll(), pipelines::burst_size);  // full: an older frame may still wait
    EXPECT_EQ(replies().size(), pipelines::burst_size);
    std::this_thread::sleep_for(std::chrono::milliseconds(450));
    EXPECT_EQ(poll(), 1);  // its window still starts at the drained poll, 450 ms ago
    EXPECT_TRUE(replies().empty());
    EXPECT_EQ(server(sc::drop_timestamp_error), 1u);
}

TEST_F(NtpStamps, APromptRequestIsAnsweredWithItsBoundInTheRootDispersion) {
    start(200000);
    EXPECT_EQ(poll(), 0);
    const std::uint64_t before = rte_rdtsc();
    send(basic(gen::ntp_timestamp(7)));
    EXPECT_EQ(poll(), 1);
    const double window_s =
        static_cast<double>(rte_rdtsc() - before) / static_cast<double>(rte_get_tsc_hz());
    const auto r = replies();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].origin, gen::ntp_timestamp(7));
    // The clock's 1 ms plus the stamp's bound (half a window no longer than the test saw,
    // rounded up to 2^-16 s): more than the clock's alone, no more than the window allows.
    EXPECT_GT(r[0].root_dispersion, nominal_dispersion);
    EXPECT_LE(r[0].root_dispersion, nominal_dispersion + 2 + window_s * 65536.0);
    EXPECT_EQ(rt_.service()->port_stamps(port_).stamped[0], 1u);  // software
    EXPECT_EQ(server(sc::drop_timestamp_error), 0u);
}

TEST_F(NtpStamps, TwoRequestsOfOneBurstGetDistinctReceiveStamps) {
    start(200000);
    EXPECT_EQ(poll(), 0);
    send(basic(gen::ntp_timestamp(1)));
    send(basic(gen::ntp_timestamp(2)));
    EXPECT_EQ(poll(), 2);
    const auto r = replies();
    ASSERT_EQ(r.size(), 2u);
    // One window, one middle: made unique by 2^-32 s steps (the RX->TX map's key).
    EXPECT_NE(r[0].receive, r[1].receive);
    EXPECT_LT(r[1].receive - r[0].receive, 64u);
}

TEST_F(NtpStamps, AnInterleavedRequestGetsThePreviousReplysTrueTransmitTime) {
    start(200000);
    const auto x = interleaved_exchange(10);
    ASSERT_TRUE(x);
    EXPECT_EQ(x->second.origin, gen::ntp_timestamp(11));  // the request's receive field
    EXPECT_GT(x->second.receive, x->first.receive);       // this exchange's own
    // The first reply's transmit time measured after the hand-off: not before the estimate
    // it carried, which was stamped before it.
    EXPECT_GE(x->second.transmit, x->first.transmit);
    EXPECT_LT(x->second.transmit, x->second.receive);
    EXPECT_EQ(server(sc::interleaved_replies), 1u);
    EXPECT_EQ(server(sc::interleaved_misses), 0u);
}

TEST_F(NtpStamps, AnInterleavedRequestForAReplyNotRememberedGetsABasicReply) {
    start(200000);
    EXPECT_EQ(poll(), 0);
    gen::ntp_header h;
    h.origin_ts = gen::ntp_timestamp(5000);  // no reply of ours carried this
    h.receive_ts = gen::ntp_timestamp(5001);
    h.transmit_ts = gen::ntp_timestamp(5002);
    send(gen::ntp_packet(h));
    EXPECT_EQ(poll(), 1);
    const auto r = replies();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].origin, gen::ntp_timestamp(5002));  // basic: the request's transmit
    EXPECT_EQ(server(sc::interleaved_misses), 1u);
    EXPECT_EQ(server(sc::interleaved_replies), 0u);
}

// A PMD that sends inside tx_burst (port_service::tx_in_call: net_af_packet, net_tap,
// net_pcap) as the ring port stands in for, its hand-off made at least `hold` long by a TX
// callback that spins the TSC: deterministic, the call cannot be shorter.
class SlowHandOff {
  public:
    SlowHandOff(const pipelines::lcore_conf& conf, std::uint16_t port,
                std::chrono::microseconds hold)
        : port_(port), hold_cycles_(rte_get_tsc_hz() / 1000000 * hold.count()) {
        // The test plays the engine's start, which sets it from the PMD's name.
        const_cast<pipelines::port_service*>(conf.rx[0].service)->tx_in_call = true;
        if (hold.count() != 0) {
            cb_ = rte_eth_add_tx_callback(port, 0, &spin, this);
        }
    }
    ~SlowHandOff() {
        if (cb_ != nullptr) {
            rte_eth_remove_tx_callback(port_, 0, cb_);
        }
    }
    bool spinning() const { return cb_ != nullptr; }

  private:
    static std::uint16_t spin(std::uint16_t, std::uint16_t, rte_mbuf**, std::uint16_t n,
                              void* self) {
        const std::uint64_t until = rte_rdtsc() + static_cast<SlowHandOff*>(self)->hold_cycles_;
        while (rte_rdtsc() < until) {
            rte_pause();
        }
        return n;
    }
    std::uint16_t port_;
    std::uint64_t hold_cycles_;
    const rte_eth_rxtx_callback* cb_ = nullptr;
};

TEST_F(NtpStamps, ASendInsideTheCallIsRememberedAtTheMiddleOfTheHandOff) {
    start(200000);
    const SlowHandOff pmd(*conf_, port_, std::chrono::microseconds(0));
    const auto x = interleaved_exchange(30);
    ASSERT_TRUE(x);
    EXPECT_GE(x->second.transmit, x->first.transmit);
    EXPECT_LT(x->second.transmit, x->second.receive);
    EXPECT_EQ(server(sc::interleaved_replies), 1u);
}

TEST_F(NtpStamps, ASendInsideACallLongerThanTwiceTheLimitIsNotRemembered) {
    // Half of a 450 ms hand-off is beyond the 200 ms limit: when the reply left is not known
    // well enough for an interleaved answer.
    start(200000);
    const SlowHandOff pmd(*conf_, port_, std::chrono::microseconds(450000));
    ASSERT_TRUE(pmd.spinning()) << "rte_eth_add_tx_callback failed";
    const auto x = interleaved_exchange(40);
    ASSERT_TRUE(x);
    EXPECT_EQ(x->second.origin, gen::ntp_timestamp(42));  // basic: the request's transmit
    EXPECT_EQ(server(sc::interleaved_replies), 0u);
    EXPECT_EQ(server(sc::interleaved_misses), 1u);
}

TEST_F(NtpStamps, ABasicClientEchoingOurTransmitStampStaysBasic) {
    start(200000);
    EXPECT_EQ(poll(), 0);
    send(basic(gen::ntp_timestamp(20)));
    EXPECT_EQ(poll(), 1);
    const auto first = replies();
    ASSERT_EQ(first.size(), 1u);
    // RFC 5905 clients put our last transmit stamp in the origin field: never a receive key.
    gen::ntp_header h;
    h.origin_ts = first[0].transmit;
    h.transmit_ts = gen::ntp_timestamp(21);
    EXPECT_EQ(poll(), 0);
    send(gen::ntp_packet(h));
    EXPECT_EQ(poll(), 1);
    const auto second = replies();
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].origin, gen::ntp_timestamp(21));
    EXPECT_EQ(server(sc::interleaved_replies), 0u);
}

// The NTP server's fast lane (serve_ntp_lane: the plain IPv4 request, answered before the
// classifier) against the general path (classify_count_record, serve, flush_replies) on the
// same frames with the same arrival window: the same reply bytes but for the receive and
// transmit stamps (unique per reply, and later for the second) and the checksum that follows
// from them, which must verify; the same class, detail and server counts.
using NtpLane = NtpStamps;

struct lane_run {
    std::vector<std::uint8_t> reply;
    std::array<std::uint64_t, pipelines::counter_count> classes{};
    std::array<std::uint64_t, pipelines::server_counter_count> server{};
};

// The UDP checksum of an untagged IPv4 frame verifies (RFC 768 with the pseudo header).
bool udp_checksum_verifies(const std::vector<std::uint8_t>& f) {
    const std::size_t udp_length = (std::size_t{f[38]} << 8) | f[39];
    std::uint32_t sum = 17 + static_cast<std::uint32_t>(udp_length);
    for (std::size_t i = 26; i < 34; i += 2) {
        sum += (std::uint32_t{f[i]} << 8) | f[i + 1];
    }
    for (std::size_t i = 0; i < udp_length; i += 2) {
        const std::uint32_t hi = f[34 + i];
        const std::uint32_t lo = i + 1 < udp_length ? f[35 + i] : 0;
        sum += (hi << 8) | lo;
    }
    while (sum >> 16) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return sum == 0xFFFF;
}

TEST_F(NtpLane, ItsRepliesAndCountsAreTheGeneralPathsByteForByte) {
    start(0);
    auto& conf = *conf_;
    pipelines::rx_queue_conf& rx = conf.rx[0];
    const std::uint64_t t0 = rte_rdtsc();
    const pipelines::rx_window window{t0, t0 + 1000};
    const auto counts = [&](lane_run& r, const lane_run& before) {
        for (std::size_t i = 0; i < r.classes.size(); ++i) {
            r.classes[i] = conf.counters->values[i] - before.classes[i];
        }
        for (std::size_t i = 0; i < r.server.size(); ++i) {
            r.server[i] = conf.service->counters->values[i] - before.server[i];
        }
    };
    const auto snapshot = [&] {
        lane_run r;
        std::copy(conf.counters->values.begin(), conf.counters->values.end(), r.classes.begin());
        std::copy(conf.service->counters->values.begin(), conf.service->counters->values.end(),
                  r.server.begin());
        return r;
    };
    const auto take_reply = [&] {
        rte_mbuf* m = nullptr;
        EXPECT_EQ(rte_ring_dequeue(tx_, reinterpret_cast<void**>(&m)), 0);
        std::vector<std::uint8_t> out;
        if (m != nullptr) {
            const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
            out.assign(p, p + m->data_len);
            rte_pktmbuf_free(m);
        }
        return out;
    };
    const auto mbuf_of = [&](const gen::bytes& frame) {
        rte_mbuf* m = rte_pktmbuf_alloc(eal_environment::pool());
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size())), frame.data(),
                    frame.size());
        return m;
    };
    std::vector<gen::bytes> requests;
    for (std::uint8_t v = 1; v <= 4; ++v) {
        gen::ntp_header h;
        h.version = v;
        h.poll = static_cast<std::int8_t>(v + 3);
        h.transmit_ts = gen::ntp_timestamp(100 + v);
        requests.push_back(gen::ntp_packet(h));
    }
    requests.push_back(basic(gen::ntp_timestamp(200)));  // SNTP's body
    gen::ntp_header ntpd;  // an RFC 5905 client: origin and receive of the last exchange
    ntpd.origin_ts = gen::ntp_timestamp(300);
    ntpd.receive_ts = gen::ntp_timestamp(299);
    ntpd.transmit_ts = gen::ntp_timestamp(301);
    requests.push_back(gen::ntp_packet(ntpd));
    for (const auto& payload : requests) {
        const auto frame = gen::udp_frame(client_, payload);
        ASSERT_TRUE(pipelines::plain_ntp_v4::matches(frame.data(), frame.size()));
        // The lane: the worker's burst.
        lane_run lane;
        const lane_run before_lane = snapshot();
        rte_mbuf* a = mbuf_of(frame);
        rx.earliest_tsc = window.earliest_tsc;
        rx.latest_tsc = window.latest_tsc;
        pipelines::process_burst(conf, rx, &a, 1);
        counts(lane, before_lane);
        lane.reply = take_reply();
        // The general path, step by step.
        lane_run general;
        const lane_run before_general = snapshot();
        rte_mbuf* b = mbuf_of(frame);
        pipelines::frame_record record;
        pipelines::classify_count_record(*conf.counters, {frame.data(), frame.size()},
                                         static_cast<std::uint32_t>(frame.size()), record);
        ASSERT_EQ(pipelines::serve(conf, rx, b, record, window).what,
                  pipelines::verdict::kind::reply);
        const pipelines::flush_result f = pipelines::flush_replies(conf, *rx.service, rx.port);
        EXPECT_EQ(f.dropped_count, 0u);
        counts(general, before_general);
        general.reply = take_reply();

        ASSERT_EQ(lane.reply.size(), 90u);
        ASSERT_EQ(general.reply.size(), lane.reply.size());
        EXPECT_TRUE(udp_checksum_verifies(lane.reply));
        EXPECT_TRUE(udp_checksum_verifies(general.reply));
        // The receive stamps differ by the uniqueness step only: the same window.
        EXPECT_EQ(be64_at(general.reply.data() + 74) - be64_at(lane.reply.data() + 74), 1u);
        for (const std::size_t at : {40, 41}) {  // the UDP checksum
            lane.reply[at] = general.reply[at] = 0;
        }
        for (std::size_t at = 74; at < 90; ++at) {  // receive and transmit stamps
            lane.reply[at] = general.reply[at] = 0;
        }
        EXPECT_EQ(lane.reply, general.reply);
        EXPECT_EQ(lane.classes, general.classes);
        EXPECT_EQ(lane.server, general.server);
        EXPECT_EQ(lane.classes[pipelines::index_of(pipelines::counter::ntp_mode_client)], 1u);
        EXPECT_EQ(lane.server[static_cast<std::size_t>(sc::replies)], 1u);
    }
}

TEST_F(NtpLane, APlainRequestToAnotherAddressIsCountedOnceAndPassesOn) {
    start(0);
    client_.dst_ip4 = {192, 0, 2, 99};  // not a service address: transit
    send(basic(gen::ntp_timestamp(1)));
    EXPECT_EQ(poll(), 1);
    EXPECT_TRUE(replies().empty());
    EXPECT_EQ(conf_->counters->values[pipelines::index_of(pipelines::counter::ntp_mode_client)],
              1u);
    EXPECT_EQ(server(sc::requests), 0u);
    const auto f = test::fates(rt_);
    EXPECT_EQ(f.released, 1u);
    EXPECT_EQ(f.accounted(), f.rx);
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new eal_environment("ports-ntp-stamps", 256, 4095));
    return RUN_ALL_TESTS();
}
