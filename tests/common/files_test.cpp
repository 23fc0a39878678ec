// The file layer: bounded reads, durable publishing that never replaces by surprise, stale temporary
// files of dead processes, and the writer lock.
#include "common/files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/test_data.h"

namespace pg {
namespace {

using testing::error_message;
using testing::make_temp_dir;

// "<host>" as temporary names spell it, from a temporary name of this process.
std::string host_part(const std::string& path) {
  const std::string name = temporary_path_for(path);
  const size_t begin = path.size() + std::string(".tmp.").size();
  return name.substr(begin, name.rfind('.') - begin);
}

TEST(Files, ReadsAreCappedEvenForEndlessFiles) {
  const std::string message = error_message([] { read_file("/dev/zero", 1 << 20, "a split file"); });
  EXPECT_NE(message.find("/dev/zero: larger than 1 MiB, far larger than a split file can be"), std::string::npos)
      << message;
  const std::string dir = make_temp_dir("files");
  write_file_atomic(dir + "/small.txt", "hello");
  EXPECT_EQ(read_file(dir + "/small.txt", 5, "text"), "hello");
  EXPECT_NE(error_message([&] { read_file(dir, 5, "text"); }).find("is a folder"), std::string::npos);
}

TEST(Files, PublishingWithoutReplaceLeavesAnExistingFileAlone) {
  const std::string dir = make_temp_dir("files");
  const std::string path = dir + "/store.h5";
  write_file_atomic(path, "the first writer's store");
  const std::string temporary = temporary_path_for(path);
  std::ofstream(temporary) << "a second store";
  const std::string message = error_message([&] { publish_file(temporary, path, /*replace=*/false); });
  EXPECT_NE(message.find("was created by another process"), std::string::npos) << message;
  EXPECT_EQ(testing::read_bytes(path), "the first writer's store");
  EXPECT_FALSE(std::filesystem::exists(temporary));
}

TEST(Files, StaleTemporariesOfDeadProcessesAreRemoved) {
  const std::string dir = make_temp_dir("files");
  const std::string path = dir + "/features.h5";
  const std::string stale = testing::temporary_of_a_dead_process(path);
  const std::string live = path + ".tmp." + host_part(path) + "." + std::to_string(::getppid());
  const std::string other_host = path + ".tmp.some-other-host." + stale.substr(stale.rfind('.') + 1);
  const std::string other_file = testing::temporary_of_a_dead_process(dir + "/record.json");
  for (const auto& file : {stale, live, other_host, other_file}) std::ofstream(file) << "x";
  EXPECT_EQ(remove_stale_temporaries(path), 1);
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(live));        // its process runs
  EXPECT_TRUE(std::filesystem::exists(other_host));  // may run elsewhere (a shared file system)
  EXPECT_TRUE(std::filesystem::exists(other_file));  // another file's
  EXPECT_EQ(remove_stale_temporaries_in(dir), 1);
  EXPECT_FALSE(std::filesystem::exists(other_file));
}

TEST(Files, ASecondLockOfAPathFailsAndNamesTheHolder) {
  const std::string dir = make_temp_dir("files");
  const std::string path = dir + "/features.h5";
  {
    FileLock first(path, "writing");
    const std::string message = error_message([&] { FileLock second(path, "writing"); });
    EXPECT_NE(message.find(path + ": another promptgrid process (pid " + std::to_string(::getpid())), std::string::npos)
        << message;
    EXPECT_NE(message.find("is writing it"), std::string::npos) << message;
  }
  FileLock again(path, "writing");  // released with the first
  EXPECT_TRUE(std::filesystem::exists(path + ".lock"));
}

TEST(Files, CopiesWholeFiles) {
  const std::string dir = make_temp_dir("files");
  std::string bytes;
  for (int i = 0; i < 300000; ++i) bytes.push_back(static_cast<char>(i % 251));
  write_file_atomic(dir + "/a", bytes);
  copy_file(dir + "/a", dir + "/b");
  EXPECT_EQ(testing::read_bytes(dir + "/b"), bytes);
}

}  // namespace
}  // namespace pg
