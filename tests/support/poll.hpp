// The tests' one way to wait for something (C++; the python tests have wait_for in
// tests/integration/common.py): poll the condition itself every `step` until it holds or the
// deadline passes. The predicate may do work (drain a ring) before it answers.
#pragma once

#include <chrono>
#include <thread>

namespace ports::test {

// True as soon as p() is; false when it still is not after `limit` (p() is asked once more at
// the deadline).
template <typename Predicate>
bool eventually(Predicate p, std::chrono::steady_clock::duration limit = std::chrono::seconds(3),
                std::chrono::steady_clock::duration step = std::chrono::milliseconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!p()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return p();
        }
        std::this_thread::sleep_for(step);
    }
    return true;
}

}  // namespace ports::test
