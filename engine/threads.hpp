// Where the engine's threads run. Worker lcores busy-poll their queues on their own CPUs; every
// other thread - the control loop, the rules compiler, the alert writer, oneTBB's workers, the
// SNMP subagent, NTS-KE, EAL's interrupt and telemetry threads - runs on the control CPUs: the
// CPUs this process may use that no worker lcore's CPU set contains. A thread that shares a
// worker's CPU takes that CPU from the worker for as long as it runs, and every frame waiting
// in the worker's RX ring meanwhile is stamped late (issue 11).
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>  // declarations only: json.hpp costs each includer ~3 s
#include <string>
#include <vector>

namespace ports::engine::threads {

// Before rte_eal_init (which pins the calling thread to the main lcore): remembers the CPUs
// the process may use. Without it the machine's online CPUs stand for them.
void note_process_cpus();

struct placement {
    std::vector<unsigned> worker_cpus;
    std::vector<unsigned> control_cpus;
    // No CPU is left over: the control threads share the main lcore's CPUs (EAL's choice for
    // its own control threads in that case) with its worker.
    bool shared = false;
};

// Computes the placement for these worker lcores (warns once when no CPU is spare), moves the
// threads that exist already (EAL's) off the worker CPUs and sizes the TBB arena. Once.
const placement& place(const std::vector<unsigned>& worker_lcores);

// The control CPUs once placed; before (or in a program that never places: tests, benches)
// the CPUs no EAL lcore runs on, as before, empty when the lcores take them all.
std::vector<unsigned> control_cpus();

// Names the calling thread (at most 15 characters shown) and, once placed, pins it to the
// control CPUs. Logs the thread and its CPUs at debug level.
void pin_self(const std::string& name);

// On a worker's own thread, before its loop: marks the thread as worker lcore `lcore`.
void register_worker(unsigned lcore);
// How many workers have registered.
unsigned workers_registered();

// Moves every thread that is not a worker and may run on a worker's CPU to the control CPUs:
// threads that libraries start on their own (EAL's, a client thread of the telemetry socket).
// Returns how many it moved. No-op before place() and when the placement is shared.
unsigned sweep();

// Runs fn in the engine's TBB arena: as many slots as control CPUs, its worker threads pinned
// to them as they join. Before place() fn runs as it is.
void in_control_arena(const std::function<void()>& fn);

// The placement and one row per thread of the process (from /proc/self/task): tid, name,
// role (worker lcore / other), allowed CPUs, the CPU it last ran on, and whether a non-worker
// thread may run on a worker's CPU.
nlohmann::ordered_json json();

// Every thread and its CPUs at debug level.
void log_threads();

// "0-3,6" for a set of CPUs.
std::string cpu_list_text(const std::vector<unsigned>& cpus);

}  // namespace ports::engine::threads
