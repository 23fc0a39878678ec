// The hostile-input probe of issue #5, end to end through the real binary: every case that crashed,
// hung, lost data or printed a silent wrong number now exits 2 with a `promptgrid: error:` message
// (or, where the input is legitimate, records a warning), and leaves no file damaged or half-written.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/files.h"
#include "storage/feature_store.h"
#include "storage/npy.h"
#include "support/test_data.h"
#include "worker/clip/state_dict.h"

namespace pg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::make_temp_dir;
using testing::read_bytes;
using testing::run_promptgrid;
using testing::run_shell;

void expect_user_error(const testing::CommandResult& result, const std::vector<std::string>& parts) {
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("promptgrid: error: "), std::string::npos) << result.output;
  for (const auto& part : parts) EXPECT_NE(result.output.find(part), std::string::npos) << "'" << part << "' not in:\n" << result.output;
  EXPECT_EQ(result.output.find("frame #"), std::string::npos) << "a C++ backtrace reached the user:\n" << result.output;
}

std::vector<std::string> folder_entries(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class Hardening : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_dir_ = new std::string(make_temp_dir("hardening_synth"));
    const auto synth = run_promptgrid("synth --out " + *shared_dir_ + " --datasets eurosat --threads 1");
    ASSERT_EQ(synth.exit_code, 0) << synth.output;
  }
  static void TearDownTestSuite() { delete shared_dir_; }

  void SetUp() override { dir_ = make_temp_dir("hardening"); }

  static std::string store() { return *shared_dir_ + "/features.h5"; }
  static std::string checkpoint() { return *shared_dir_ + "/clip.safetensors"; }
  static std::string vocab() { return *shared_dir_ + "/vocab_bytes.txt"; }

  std::string train_args(const std::string& features, const std::string& extra) const {
    return "train --features " + features + " --clip " + checkpoint() + " --bpe " + vocab() + " --out " + dir_ +
           "/results --threads 1 " + extra;
  }

  // A split file and .npy features for `features import`: `rows` rows per split, 3 classes, D = dim.
  void write_import_inputs(int64_t rows, int64_t dim) {
    json split;
    for (const char* part : {"train", "val", "test"}) {
      split[part] = json::array();
      for (int64_t i = 0; i < rows; ++i) split[part].push_back({"c" + std::to_string(i % 3) + "/" + std::to_string(i) + ".jpg", i % 3, "class " + std::to_string(i % 3)});
    }
    write_json_file_atomic(dir_ + "/split.json", split);
    std::vector<float> values(static_cast<size_t>(rows * dim));
    for (size_t i = 0; i < values.size(); ++i) values[i] = 0.5f + static_cast<float>(i % 97) / 97.0f;
    for (const char* part : {"train", "val", "test"}) storage::write_npy(dir_ + "/" + part + ".npy", rows, dim, values);
  }

  std::string import_args(const std::string& out, const std::string& dataset, const std::string& extra = "") const {
    return "features import --split " + dir_ + "/split.json --dataset " + dataset + " --template '{}.' --out " + out +
           " --backbone ViT-B/16 --train " + dir_ + "/train.npy --val " + dir_ + "/val.npy --test " + dir_ +
           "/test.npy --dtype float32 " + extra;
  }

  json read_record(const std::string& output) const {
    const size_t at = output.find("record: ");
    if (at == std::string::npos) {
      ADD_FAILURE() << "no record line in: " << output;
      return json();
    }
    return testing::read_json(output.substr(at + 8, output.find('\n', at) - at - 8));
  }

  static std::string* shared_dir_;
  std::string dir_;
};

std::string* Hardening::shared_dir_ = nullptr;

// Case 3: one damaged byte in the global heap crashed libhdf5 under `train`, while `info` said ok.
TEST_F(Hardening, DamagedHeapIsAnErrorForInfoAndTrainAlike) {
  std::string bytes = read_bytes(store());
  const size_t collection = bytes.find("GCOL");
  ASSERT_NE(collection, std::string::npos);
  for (int i = 0; i < 4; ++i) bytes[collection + 24 + static_cast<size_t>(i)] = '\xff';  // object 1's size
  const std::string damaged = dir_ + "/damaged.h5";
  std::ofstream(damaged, std::ios::binary) << bytes;
  expect_user_error(run_promptgrid("features info " + damaged), {damaged, "is damaged"});
  expect_user_error(run_promptgrid(train_args(damaged, "--dataset eurosat --method zeroshot")), {damaged, "is damaged"});
}

// Cases 4 and 11: a full disk during import crashed at exit, and a failed append broke the store.
TEST_F(Hardening, AFullDiskFailsTheImportCleanlyAndLeavesTheStoreAsItWas) {
  write_import_inputs(3000, 64);  // 3 x 768 KB of features
  const std::string out = dir_ + "/new.h5";
  const auto created = testing::run_promptgrid_with_file_limit(import_args(out, "dtd"), 1024);
  expect_user_error(created, {out, "File too large"});
  EXPECT_FALSE(fs::exists(out));

  // A store to append to, then an append that runs out of space after the copy was made.
  const std::string existing = dir_ + "/store.h5";
  ASSERT_EQ(run_promptgrid(import_args(existing, "first")).exit_code, 0);
  const std::string before = read_bytes(existing);
  const int limit_kb = static_cast<int>(before.size() / 1024) + 512;
  const auto appended = testing::run_promptgrid_with_file_limit(import_args(existing, "second", "--append"), limit_kb);
  expect_user_error(appended, {existing, "the store is unchanged"});
  EXPECT_EQ(read_bytes(existing), before);
  const std::vector<std::string> expected = {"split.json", "store.h5", "test.npy", "train.npy", "val.npy"};
  EXPECT_EQ(folder_entries(dir_), expected) << "temporary or lock files were left behind";
  // ... and the same import, with space, then works: nothing half-written counts as present.
  const auto again = run_promptgrid(import_args(existing, "second", "--append"));
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(storage::FeatureStoreReader(existing).datasets(), (std::vector<std::string>{"first", "second"}));
}

// Case 12: two imports to the same new store both reported success, and one dataset was lost.
TEST_F(Hardening, TwoImportsToOneNewStoreCannotBothSucceed) {
  write_import_inputs(2000, 64);
  const std::string out = dir_ + "/race.h5";
  const auto race = run_shell("(\"$PG\" " + import_args(out, "first") + " > /dev/null 2>&1; echo first=$?) & (\"$PG\" " +
                              import_args(out, "second") + " > /dev/null 2>&1; echo second=$?) & wait");
  const bool first_ok = race.output.find("first=0") != std::string::npos;
  const bool second_ok = race.output.find("second=0") != std::string::npos;
  EXPECT_NE(first_ok, second_ok) << race.output;
  EXPECT_NE(race.output.find(first_ok ? "second=2" : "first=2"), std::string::npos) << race.output;
  EXPECT_EQ(storage::FeatureStoreReader(out).datasets(), std::vector<std::string>{first_ok ? "first" : "second"});
}

// Case 13: synth silently replaced a real store and checkpoint.
TEST_F(Hardening, SynthRefusesToReplaceFilesUnlessForced) {
  const std::string out = dir_ + "/synthetic";
  ASSERT_EQ(run_promptgrid("synth --out " + out + " --datasets eurosat --threads 1").exit_code, 0);
  const std::string before = read_bytes(out + "/features.h5");
  expect_user_error(run_promptgrid("synth --out " + out + " --datasets dtd --threads 1"), {"already exists", "--force"});
  EXPECT_EQ(read_bytes(out + "/features.h5"), before);
  ASSERT_EQ(run_promptgrid("synth --out " + out + " --datasets dtd --threads 1 --force").exit_code, 0);
  EXPECT_EQ(storage::FeatureStoreReader(out + "/features.h5").datasets(), std::vector<std::string>{"dtd"});
}

// Case 15: a failed synth left half-filled folders.
TEST_F(Hardening, AFailedSynthLeavesNoHalfFilledFolder) {
  const std::string out = dir_ + "/never";
  expect_user_error(run_promptgrid("synth --out " + out + " --datasets eurosat,no_such_dataset --threads 1"),
                    {"no_such_dataset"});
  EXPECT_FALSE(fs::exists(out));
}

// Case 15: kill -9 during an import left a 247 MB temporary file forever.
TEST_F(Hardening, TemporaryFilesOfKilledRunsAreRemovedByTheNextRun) {
  write_import_inputs(30, 8);
  const std::string out = dir_ + "/store.h5";
  const std::string stale = testing::temporary_of_a_dead_process(out);
  std::ofstream(stale) << "half a store";
  ASSERT_EQ(run_promptgrid(import_args(out, "dtd")).exit_code, 0);
  EXPECT_FALSE(fs::exists(stale));

  fs::create_directories(dir_ + "/results");
  const std::string stale_record = testing::temporary_of_a_dead_process(dir_ + "/results/0123456789abcdef.json");
  std::ofstream(stale_record) << "{";
  ASSERT_EQ(run_promptgrid(train_args(store(), "--dataset eurosat --method zeroshot")).exit_code, 0);
  EXPECT_FALSE(fs::exists(stale_record));
}

// Case 14: the task id ignored which store and checkpoint were used.
TEST_F(Hardening, TheTaskIdFollowsTheContentsOfTheInputs) {
  const std::string other = dir_ + "/other";
  ASSERT_EQ(run_promptgrid("synth --out " + other + " --datasets eurosat --seed 7 --threads 1").exit_code, 0);
  EXPECT_EQ(storage::FeatureStoreReader(other + "/features.h5").backbone(), storage::FeatureStoreReader(store()).backbone());
  const auto first = run_promptgrid(train_args(store(), "--dataset eurosat --method zeroshot"));
  const auto second = run_promptgrid(train_args(other + "/features.h5", "--dataset eurosat --method zeroshot"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(second.exit_code, 0) << second.output;
  const json a = read_record(first.output), b = read_record(second.output);
  EXPECT_NE(a["task_id"], b["task_id"]);
  EXPECT_NE(a["spec"]["inputs"]["features"], b["spec"]["inputs"]["features"]);
  EXPECT_EQ(a["spec"]["inputs"]["checkpoint"].get<std::string>().size(), 16u);
  EXPECT_EQ(a["status"], "ok");
  EXPECT_EQ(b["status"], "ok");
}

// Case 14: a finished record was replaced by a failed run of the same task.
TEST_F(Hardening, AFailedRerunNeverReplacesAFinishedRecord) {
  const std::string args = train_args(store(), "--dataset eurosat --shots 1 --epochs 1");
  const auto first = run_promptgrid(args);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const json record = read_record(first.output);
  const std::string id = record["task_id"];
  const std::string record_path = dir_ + "/results/" + id + ".json";
  const std::string finished = read_bytes(record_path);
  // A run that fails while saving its result: the prompt file's path is taken by a folder.
  fs::remove(dir_ + "/results/" + id + ".prompts.h5");
  fs::create_directories(dir_ + "/results/" + id + ".prompts.h5");
  const auto rerun = run_promptgrid(args + " --rerun");
  EXPECT_EQ(rerun.exit_code, 2) << rerun.output;
  EXPECT_EQ(read_bytes(record_path), finished);
  // Without --rerun the finished record is reported, not recomputed.
  const auto again = run_promptgrid(args);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("finished before"), std::string::npos) << again.output;
}

// A finished record that lacks its metric (hand-edited, or cut short) is not reported as finished.
TEST_F(Hardening, AnIncompleteFinishedRecordIsRunAgain) {
  const std::string args = train_args(store(), "--dataset eurosat --method zeroshot");
  const auto first = run_promptgrid(args);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string record_path = dir_ + "/results/" + read_record(first.output)["task_id"].get<std::string>() + ".json";
  json edited = testing::read_json(record_path);
  const double accuracy = edited["metrics"]["accuracy"];
  edited["metrics"].erase("accuracy");
  write_json_file_atomic(record_path, edited);
  const auto again = run_promptgrid(args);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("it has no 'accuracy' metric; the task runs again"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("finished before"), std::string::npos) << again.output;
  EXPECT_EQ(testing::read_json(record_path)["metrics"]["accuracy"].get<double>(), accuracy);
}

// Case 15: a task whose record cannot be written left an orphan prompt file.
TEST_F(Hardening, NoPromptFileWithoutItsRecord) {
  const std::string args = train_args(store(), "--dataset eurosat --shots 1 --epochs 1 --seed 5");
  const auto first = run_promptgrid(args);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string id = read_record(first.output)["task_id"];
  fs::remove(dir_ + "/results/" + id + ".json");
  fs::remove(dir_ + "/results/" + id + ".prompts.h5");
  fs::create_directories(dir_ + "/results/" + id + ".json");  // the record's path is taken
  const auto failed = run_promptgrid(args);
  EXPECT_EQ(failed.exit_code, 2) << failed.output;
  EXPECT_FALSE(fs::exists(dir_ + "/results/" + id + ".prompts.h5"));
}

// Case 20: a train split without some classes shrank the classifier silently.
TEST_F(Hardening, ClassesMissingFromTheTrainSplitAreAWarningAndScoredAsErrors) {
  // The synthetic eurosat without any train or val image of class 3.
  const storage::FeatureStoreReader full(store());
  storage::DatasetFeatures dataset;
  dataset.name = "eurosat";
  dataset.classnames = full.classnames("eurosat");
  dataset.prompt_template = full.prompt_template("eurosat");
  for (const char* part : {"train", "val", "test"}) {
    const storage::SplitFeatures split = full.read_split("eurosat", part);
    storage::SplitFeatures kept;
    kept.dim = split.dim;
    for (int64_t row = 0; row < split.rows; ++row) {
      if (split.labels[row] == 3 && std::string(part) != "test") continue;
      kept.features.insert(kept.features.end(), split.features.begin() + row * split.dim,
                           split.features.begin() + (row + 1) * split.dim);
      kept.labels.push_back(split.labels[row]);
      kept.paths.push_back(split.paths[row]);
      ++kept.rows;
    }
    dataset.splits[part] = kept;
  }
  const std::string gap = dir_ + "/gap.h5";
  {
    storage::FeatureStoreWriter writer(gap, full.backbone(), full.embed_dim(), storage::FeatureDtype::float32);
    writer.write_dataset(dataset);
    writer.close();
  }
  int64_t missing_rows = 0, test_rows = 0;
  for (const int32_t label : full.read_split("eurosat", "test").labels) {
    missing_rows += label == 3;
    ++test_rows;
  }
  const auto with_all = run_promptgrid(train_args(store(), "--dataset eurosat --method zeroshot"));
  const auto with_gap = run_promptgrid(train_args(gap, "--dataset eurosat --method zeroshot"));
  ASSERT_EQ(with_all.exit_code, 0) << with_all.output;
  ASSERT_EQ(with_gap.exit_code, 0) << with_gap.output;
  const json all = read_record(with_all.output), partial = read_record(with_gap.output);
  EXPECT_EQ(all["warnings"].size(), 0u);
  ASSERT_EQ(partial["warnings"].size(), 1u);
  const std::string warning = partial["warnings"][0];
  EXPECT_NE(warning.find("no images of 1 of the 10 classes (" + dataset.classnames[3] + ")"), std::string::npos) << warning;
  EXPECT_NE(warning.find(std::to_string(missing_rows) + " test images of these classes count as errors"), std::string::npos)
      << warning;
  EXPECT_NE(with_gap.output.find("promptgrid: warning:"), std::string::npos);
  EXPECT_EQ(partial["counts"]["classes"], 9);
  EXPECT_EQ(partial["counts"]["test"], test_rows);  // every test image is scored
  // Dropping a class from the classifier can only lose the test images of that class: every other
  // image's own class is still there (a positional shift, as Dassl's lab2cname gives for a gap, would
  // wreck them all).
  const double correct_all = all["metrics"]["accuracy"].get<double>() * static_cast<double>(test_rows) / 100.0;
  const double correct_gap = partial["metrics"]["accuracy"].get<double>() * static_cast<double>(test_rows) / 100.0;
  EXPECT_GE(correct_gap + 1e-6, correct_all - static_cast<double>(missing_rows));
  EXPECT_LE(correct_gap, static_cast<double>(test_rows - missing_rows) + 1e-6);
}

// Case 6: a reader pointed at an endless file grew without bound.
TEST_F(Hardening, EndlessFilesAreErrorsAfterAFewBytes) {
  write_import_inputs(30, 8);
  expect_user_error(run_promptgrid("features import --split /dev/zero --dataset dtd --template '{}.' --out " + dir_ +
                                   "/x.h5 --backbone B --train " + dir_ + "/train.npy --val " + dir_ + "/val.npy --test " +
                                   dir_ + "/test.npy"),
                    {"/dev/zero: larger than 256 MiB"});
  expect_user_error(run_promptgrid(import_args(dir_ + "/y.h5", "dtd", "--train-views /dev/zero")),
                    {"/dev/zero: not a .npy file"});
}

// Readers never wait forever on a named pipe that nobody writes (nor read a device without end), and
// read pipes that are written: by a writer that comes a little later, or by a shell's <(command).
TEST_F(Hardening, ReadersDoNotHangOnPipesOrDevices) {
  write_import_inputs(30, 8);
  const std::string pipe = dir_ + "/pipe";
  ASSERT_EQ(run_shell("mkfifo " + pipe).exit_code, 0);
  // `timeout` turns a hang into a failure here rather than at ctest's limit.
  const auto within_a_minute = [](const std::string& arguments) { return run_shell("timeout 60 \"$PG\" " + arguments); };
  const std::string split_import = "features import --dataset dtd --template '{}.' --backbone B --train " + dir_ +
                                   "/train.npy --val " + dir_ + "/val.npy --test " + dir_ + "/test.npy --split ";
  const std::string nobody = pipe + ": a named pipe that nothing writes to";
  expect_user_error(within_a_minute(split_import + pipe + " --out " + dir_ + "/x.h5"), {nobody, "a CoOp split file"});
  expect_user_error(within_a_minute(import_args(dir_ + "/y.h5", "dtd", "--train-views " + pipe)), {nobody, ".npy"});
  expect_user_error(within_a_minute("tokenize --bpe " + pipe + " dog"), {nobody, "BPE vocabulary"});
  expect_user_error(within_a_minute("encode-text --clip " + pipe + " --bpe " + vocab() + " dog"),
                    {pipe + ": is not a regular file"});
  expect_user_error(within_a_minute("encode-text --clip /dev/zero --bpe " + vocab() + " dog"),
                    {"/dev/zero: is not a regular file"});

  const auto late_writer = run_shell("(sleep 1; cat " + dir_ + "/split.json > " + pipe + ") & timeout 60 \"$PG\" " +
                                     split_import + pipe + " --out " + dir_ + "/late.h5; status=$?; wait; exit $status");
  EXPECT_EQ(late_writer.exit_code, 0) << late_writer.output;
  const auto substituted = run_shell("bash -c 'timeout 60 \"$PG\" tokenize --bpe <(cat " + vocab() + ") dog'");
  const auto direct = run_promptgrid("tokenize --bpe " + vocab() + " dog");
  EXPECT_EQ(substituted.exit_code, 0) << substituted.output;
  EXPECT_EQ(substituted.output, direct.output);
}

// Case 7: impossible sizes reached LibTorch and printed its backtrace.
TEST_F(Hardening, ImpossibleSizesAreMessagesNotBacktraces) {
  expect_user_error(run_promptgrid("bench --width 1000000"), {"--width 1000000 is outside [1, 16384]"});
  expect_user_error(run_promptgrid("bench --width 16384 --layers 256 --classes 1000000 --steps 1 --warmup 0"),
                    {"GiB, more than this machine's"});
}

// Case 8: non-UTF-8 bytes became an "internal error ... json type_error.316".
TEST_F(Hardening, TextThatIsNotUtf8IsRefusedAtTheEdges) {
  expect_user_error(run_promptgrid(train_args(store(), "--dataset eurosat --ctx-init \"$(printf 'a\\377')\"")),
                    {"is not valid UTF-8 (byte 0xff at offset 1 of \"a\\xff\")"});
  expect_user_error(run_promptgrid(train_args(store(), "--dataset \"$(printf 'euro\\376')\"")), {"is not valid UTF-8"});
  std::ofstream(dir_ + "/bad.json") << "{\"train\": [[\"a\xff.jpg\", 0, \"x\"]], \"val\": [], \"test\": []}";
  write_import_inputs(3, 4);
  expect_user_error(run_promptgrid("features import --split " + dir_ + "/bad.json --dataset d --template '{}.' --out " +
                                   dir_ + "/z.h5 --backbone B --train " + dir_ + "/train.npy --val " + dir_ +
                                   "/val.npy --test " + dir_ + "/test.npy"),
                    {dir_ + "/bad.json: not valid JSON"});
}

// Case 9: --threads 100000 spawned threads until the machine gave up.
TEST_F(Hardening, ThreadsAreCappedAtTheCoresAvailable) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const int cores = CPU_COUNT(&set);
  const auto result = run_promptgrid("bench --threads 100000 --width 64 --layers 1 --classes 2 --steps 1 --warmup 0 --truncate on");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("--threads 100000: this process may use " + std::to_string(cores) + " cores"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("(" + std::to_string(cores) + " threads)"), std::string::npos) << result.output;
}

// Case 10: CLI11's own errors lacked the prefix; `eval` was reported as "a subcommand is required".
TEST_F(Hardening, EveryCommandLineMistakeHasThePrefixAndExitCodeTwo) {
  expect_user_error(run_promptgrid("eval"), {"'eval' is not a command of promptgrid", "train", "features"});
  expect_user_error(run_promptgrid("features eval x"), {"'eval' is not a command of promptgrid features", "import, extract, info"});
  expect_user_error(run_promptgrid("train --dataset x"), {"--features is required", "promptgrid train --help"});
  expect_user_error(run_promptgrid(train_args(store(), "--dataset eurosat --shots many")), {"--shots"});
  expect_user_error(run_promptgrid(train_args(store(), "--dataset eurosat --no-such-option")), {"--no-such-option"});
  expect_user_error(run_promptgrid(train_args(store(), "--dataset eurosat --seed -4")), {"'seed' is -4"});
  const auto big_seed = run_promptgrid(train_args(store(), "--dataset eurosat --shots 1 --epochs 1 --seed 9223372036854775807"));
  EXPECT_EQ(big_seed.exit_code, 0) << big_seed.output;
  EXPECT_EQ(read_record(big_seed.output)["spec"]["seed"].get<int64_t>(), INT64_MAX);
}

// Case 16: NaN in the weights gave `null` features and a zero-shot accuracy with status ok.
TEST_F(Hardening, NonFiniteWeightsAreRefusedNamingTheTensor) {
  worker::StateDict weights = worker::load_state_dict(checkpoint());
  weights.at("transformer.resblocks.0.mlp.c_fc.weight")[0][3] = std::nanf("");
  weights.at("ln_final.bias")[1] = INFINITY;
  const std::string broken = dir_ + "/broken.safetensors";
  worker::write_safetensors(broken, weights);
  expect_user_error(run_promptgrid("encode-text --clip " + broken + " --bpe " + vocab() + " 'a dog'"),
                    {broken, "NaN or infinite", "transformer.resblocks.0.mlp.c_fc.weight (1 of", "ln_final.bias"});
  const auto zeroshot = run_promptgrid("train --features " + store() + " --clip " + broken + " --bpe " + vocab() +
                                       " --out " + dir_ + "/r --dataset eurosat --method zeroshot");
  expect_user_error(zeroshot, {"NaN or infinite"});
}

// Case 19: an all-zero feature row scored as chance with status ok.
TEST_F(Hardening, AnAllZeroFeatureRowFailsTheTaskNamingTheRow) {
  // A store whose test row 2 is all zeros: written with a marker row, then the marker zeroed in the file
  // (the writer itself refuses zero rows).
  constexpr int64_t kDim = 64;  // the synthetic checkpoint's embed_dim
  write_import_inputs(9, kDim);
  std::vector<float> test(9 * kDim, 0.75f);
  for (int64_t i = 0; i < kDim; ++i) test[static_cast<size_t>(2 * kDim + i)] = 1234.5f;
  storage::write_npy(dir_ + "/test.npy", 9, kDim, test);
  const std::string out = dir_ + "/zero.h5";
  ASSERT_EQ(run_promptgrid(import_args(out, "eurosat")).exit_code, 0);
  std::string bytes = read_bytes(out);
  std::string marker;
  for (int64_t i = 0; i < kDim; ++i) marker.append(reinterpret_cast<const char*>(&test[static_cast<size_t>(2 * kDim)]), 4);
  const size_t at = bytes.find(marker);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, marker.size(), std::string(marker.size(), '\0'));
  std::ofstream(out, std::ios::binary | std::ios::trunc) << bytes;
  expect_user_error(run_promptgrid("features info " + out), {out + ": /eurosat/test/features: row 2 is all zeros"});
  const auto task = run_promptgrid("train --features " + out + " --clip " + checkpoint() + " --bpe " + vocab() +
                                   " --out " + dir_ + "/r --dataset eurosat --method zeroshot --threads 1");
  EXPECT_EQ(task.exit_code, 2) << task.output;
  EXPECT_NE(task.output.find("row 2 is all zeros"), std::string::npos) << task.output;
}

}  // namespace
}  // namespace pg
