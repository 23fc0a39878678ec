// The child-process probe: what a reader that crashes, fails or hangs in the child becomes in the parent.
#include "storage/hdf5_probe.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "common/error.h"
#include "support/test_data.h"

namespace pg::storage {
namespace {

using pg::testing::error_message;

TEST(Hdf5Probe, ACrashInTheChildIsAnErrorInTheParent) {
  const std::string message = error_message([] { probe_in_child("store.h5", [] { std::raise(SIGSEGV); }); });
  EXPECT_NE(message.find("store.h5: reading it crashed the HDF5 library (signal 11"), std::string::npos) << message;
  const std::string aborted = error_message([] { probe_in_child("store.h5", [] { std::abort(); }); });
  EXPECT_NE(aborted.find("crashed the HDF5 library (signal 6"), std::string::npos) << aborted;
}

TEST(Hdf5Probe, TheChildsOwnErrorComesBackUnchanged) {
  const std::string message =
      error_message([] { probe_in_child("store.h5", [] { throw Error("store.h5: /dtd: group is missing"); }); });
  EXPECT_EQ(message, "store.h5: /dtd: group is missing");
  EXPECT_NO_THROW(probe_in_child("store.h5", [] {}));
}

TEST(Hdf5Probe, AHangingChildIsStoppedAtTheTimeLimit) {
  const auto start = std::chrono::steady_clock::now();
  const std::string message = error_message(
      [] { probe_in_child("store.h5", [] { std::this_thread::sleep_for(std::chrono::seconds(30)); }, 1); });
  EXPECT_NE(message.find("store.h5: reading it took over 1 s, so it was stopped"), std::string::npos) << message;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

}  // namespace
}  // namespace pg::storage
