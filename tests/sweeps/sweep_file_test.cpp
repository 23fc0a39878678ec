#include "sweeps/sweep_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "support/test_data.h"

namespace pg::sweeps {
namespace {

// A folder with the three input files a sweep names (their contents do not matter to parsing).
class SweepFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("sweep_file");
    for (const char* name : {"features.h5", "clip.pt", "vocab.txt.gz"}) std::ofstream(dir_ + "/" + name) << "x";
  }
  Sweep parse(const std::string& body, const std::vector<std::string>& overrides = {}) {
    return parse_sweep(kInputs + body, "sweep.yaml", dir_, overrides);
  }
  std::string error_of(const std::string& body, const std::vector<std::string>& overrides = {}) {
    return testing::error_message([&] { parse(body, overrides); });
  }
  static std::vector<DatasetFacts> store() {
    return {{"dtd", 47, 2820, 60, 1692, 3}, {"eurosat", 10, 13500, 1000, 8100, 4}, {"ucf101", 101, 400, 4, 3783, 5}};
  }

  static constexpr const char* kInputs = "features: features.h5\nclip: clip.pt\nvocab: vocab.txt.gz\n";
  std::string dir_;
};

TEST_F(SweepFile, GridIsTheCartesianProductInAFixedOrder) {
  const Sweep sweep = parse(
      "protocol: fewshot\n"
      "datasets: [dtd, eurosat]\n"
      "shots: [1, 16]\n"
      "seeds: [1, 2, 3]\n"
      "methods:\n"
      "  - name: zeroshot\n"
      "  - name: coop\n"
      "    lr: [0.002, 0.01]\n"
      "    n_ctx: [4, 16]\n");
  ASSERT_EQ(sweep.methods.size(), 5u);  // zero-shot + 2 x 2 CoOp settings
  EXPECT_EQ(sweep.methods[1].settings["n_ctx"], 4);  // n_ctx nests outside lr (kCoOpKeys order)
  EXPECT_EQ(sweep.methods[1].settings["lr"], 0.002);
  EXPECT_EQ(sweep.methods[2].settings["lr"], 0.01);
  const std::vector<TaskSpec> tasks = expand_sweep(sweep, store());
  // Per dataset: 1 zero-shot + 4 settings x 2 shots x 3 seeds.
  ASSERT_EQ(tasks.size(), 2u * (1 + 4 * 2 * 3));
  EXPECT_EQ(tasks[0].method, "zeroshot");
  EXPECT_EQ(tasks[0].dataset, "dtd");
  EXPECT_EQ(tasks[1].shots, 1);
  EXPECT_EQ(tasks[1].seed, 1);
  EXPECT_EQ(tasks[2].seed, 2);
  EXPECT_EQ(tasks[1].setting<int>("epochs"), 50);   // auto: CoOp's 50 epochs for 1 shot
  EXPECT_EQ(tasks[4].setting<int>("epochs"), 200);  // 200 for 16 shots
  std::set<std::string> ids;
  for (const auto& task : tasks) ids.insert(task.id());
  EXPECT_EQ(ids.size(), tasks.size());
  // Deterministic: the same file expands to the same ids in the same order.
  const std::vector<TaskSpec> again = expand_sweep(parse(
      "protocol: fewshot\ndatasets: [dtd, eurosat]\nshots: [1, 16]\nseeds: [1, 2, 3]\nmethods:\n  - name: zeroshot\n"
      "  - name: coop\n    lr: [0.002, 0.01]\n    n_ctx: [4, 16]\n"), store());
  for (size_t i = 0; i < tasks.size(); ++i) EXPECT_EQ(again[i].id(), tasks[i].id());
}

TEST_F(SweepFile, AllDatasetsMeansEveryDatasetOfTheStore) {
  const auto tasks = expand_sweep(parse("datasets: all\nmethods: [{name: zeroshot}]\n"), store());
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[2].dataset, "ucf101");
}

TEST_F(SweepFile, OverridesApplyBeforeExpansionAndAreNamedInErrors) {
  const std::string body = "datasets: [dtd]\nshots: [1, 2, 4]\nseeds: [1]\nmethods:\n  - name: coop\n    lr: 0.002\n";
  const Sweep sweep = parse(body, {"shots=[1,16]", "methods.0.lr=0.01", "datasets=[dtd,eurosat]"});
  EXPECT_EQ(sweep.shots, (std::vector<int>{1, 16}));
  EXPECT_EQ(sweep.methods.at(0).settings["lr"], 0.01);
  EXPECT_EQ(sweep.datasets, (std::vector<std::string>{"dtd", "eurosat"}));
  EXPECT_NE(sweep.resolved_yaml.find("0.01"), std::string::npos) << sweep.resolved_yaml;
  const std::string wrong = error_of(body, {"methods.0.lr=fast"});
  EXPECT_NE(wrong.find("override 'methods.0.lr=fast'"), std::string::npos) << wrong;
  EXPECT_NE(wrong.find("expected a number"), std::string::npos) << wrong;
  EXPECT_NE(error_of(body, {"methods.3.lr=1"}).find("index it with 0 to 0"), std::string::npos);
  EXPECT_NE(error_of(body, {"shots"}).find("is not key=value"), std::string::npos);
}

TEST_F(SweepFile, UnknownKeyNamesLineAndClosestKey) {
  const std::string message = error_of("datasets: [dtd]\nshots: [1]\nseeds: [1]\nmethods:\n  - name: coop\n    lrr: 0.01\n");
  EXPECT_NE(message.find("sweep.yaml:9"), std::string::npos) << message;  // 3 lines of inputs + 6
  EXPECT_NE(message.find("methods.0.lrr"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'lr'"), std::string::npos) << message;
  const std::string top = error_of("dataset: [dtd]\nmethods: [{name: zeroshot}]\n");
  EXPECT_NE(top.find("did you mean 'datasets'"), std::string::npos) << top;
}

TEST_F(SweepFile, WrongTypesNameTheKeyAndTheExpectedType) {
  const std::string shots = error_of("datasets: [dtd]\nshots: [1, many]\nseeds: [1]\nmethods: [{name: coop}]\n");
  EXPECT_NE(shots.find("sweep.yaml:5"), std::string::npos) << shots;
  EXPECT_NE(shots.find("'shots' is 'many'"), std::string::npos) << shots;
  const std::string csc = error_of("datasets: [dtd]\nshots: [1]\nseeds: [1]\nmethods: [{name: coop, csc: maybe}]\n");
  EXPECT_NE(csc.find("true or false"), std::string::npos) << csc;
  const std::string method = error_of("datasets: [dtd]\nmethods: [{name: cocoopp}]\n");
  EXPECT_NE(method.find("the methods are: zeroshot, coop, kgcoop, cocoop, linear_probe"), std::string::npos) << method;
  const std::string protocol = error_of("protocol: base-to-novel\ndatasets: [dtd]\nmethods: [{name: zeroshot}]\n");
  EXPECT_NE(protocol.find("fewshot, base2novel"), std::string::npos) << protocol;
}

TEST_F(SweepFile, MissingPathIsNamedWithItsLine) {
  const std::string message = testing::error_message([&] {
    parse_sweep("features: nowhere.h5\nclip: clip.pt\nvocab: vocab.txt.gz\ndatasets: all\nmethods: [{name: zeroshot}]\n",
                "sweep.yaml", dir_);
  });
  EXPECT_NE(message.find("sweep.yaml:1"), std::string::npos) << message;
  EXPECT_NE(message.find("nowhere.h5"), std::string::npos) << message;
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
}

TEST_F(SweepFile, UnknownDatasetListsTheStoresDatasets) {
  const Sweep sweep = parse("datasets: [dtd, imagenet]\nmethods: [{name: zeroshot}]\n");
  const std::string message = testing::error_message([&] { expand_sweep(sweep, store()); });
  EXPECT_NE(message.find("sweep.yaml:4"), std::string::npos) << message;
  EXPECT_NE(message.find("imagenet"), std::string::npos) << message;
  EXPECT_NE(message.find("dtd, eurosat, ucf101"), std::string::npos) << message;
}

TEST_F(SweepFile, ShotsADatasetCannotProvideAreAnError) {
  const Sweep sweep = parse("datasets: [dtd, ucf101]\nshots: [4, 8]\nseeds: [1]\nmethods: [{name: coop}]\n");
  const std::string message = testing::error_message([&] { expand_sweep(sweep, store()); });
  EXPECT_NE(message.find("sweep.yaml:5"), std::string::npos) << message;
  EXPECT_NE(message.find("ucf101 has only 4"), std::string::npos) << message;
}

TEST_F(SweepFile, ClassSpecificContextIsRefusedForBaseToNovelBeforeAnythingRuns) {
  const Sweep sweep = parse("protocol: base2novel\ndatasets: [dtd]\nshots: [16]\nseeds: [1]\nmethods:\n"
                            "  - name: coop\n    csc: [false, true]\n");
  const std::string message = testing::error_message([&] { expand_sweep(sweep, store()); });
  EXPECT_NE(message.find("sweep.yaml:9 (methods.0)"), std::string::npos) << message;
  EXPECT_NE(message.find("CSC"), std::string::npos) << message;
}

TEST_F(SweepFile, RandomSearchIsDeterministicFromItsSeedAndInRange) {
  const std::string body =
      "datasets: [dtd]\nshots: [1]\nseeds: [1]\nmethods: [{name: coop}]\n"
      "search: {samples: 20, seed: 7, space: {coop.lr: {log_uniform: [1e-4, 1e-1]}, coop.n_ctx: {choice: [4, 8, 16]}}}\n";
  const Sweep first = parse(body), second = parse(body);
  ASSERT_EQ(first.methods.size(), 21u);  // the file's entry + 20 samples
  std::set<int> n_ctx_seen;
  for (size_t i = 1; i < first.methods.size(); ++i) {
    EXPECT_EQ(first.methods[i].settings["lr"], second.methods[i].settings["lr"]);
    EXPECT_GE(first.methods[i].settings["lr"].get<double>(), 1e-4);
    EXPECT_LE(first.methods[i].settings["lr"].get<double>(), 1e-1);
    n_ctx_seen.insert(first.methods[i].settings["n_ctx"].get<int>());
  }
  EXPECT_EQ(n_ctx_seen, (std::set<int>{4, 8, 16}));
  const Sweep other = parse(body, {"search.seed=8"});
  EXPECT_NE(other.methods[1].settings["lr"], first.methods[1].settings["lr"]);
  const std::string bad = error_of("datasets: [dtd]\nshots: [1]\nseeds: [1]\nmethods: [{name: coop}]\n"
                                   "search: {samples: 2, space: {coop.lrate: {uniform: [0.1, 0.2]}}}\n");
  EXPECT_NE(bad.find("did you mean 'coop.lr'"), std::string::npos) << bad;
  const std::string head = "datasets: [dtd]\nshots: [1]\nseeds: [1]\nmethods: [{name: coop}]\n";
  const std::string uniform_ints = error_of(head + "search: {samples: 2, space: {coop.n_ctx: {uniform: [2, 9]}}}\n");
  EXPECT_NE(uniform_ints.find("sweep.yaml:8"), std::string::npos) << uniform_ints;
  EXPECT_NE(uniform_ints.find("takes {choice: [...]}"), std::string::npos) << uniform_ints;
  const std::string bad_choice = error_of(head + "search:\n  samples: 2\n  space:\n    coop.n_ctx: {choice: [4, many]}\n");
  EXPECT_NE(bad_choice.find("sweep.yaml:11: 'search.space.coop.n_ctx.choice' is 'many'"), std::string::npos) << bad_choice;
}

TEST_F(SweepFile, OverrideErrorsNameTheOverrideThatSetTheValue) {
  const std::string body = "datasets: [dtd]\nshots: [1, 2]\nseeds: [1]\nmethods: [{name: coop}]\n";
  const std::string last = error_of(body, {"shots=[1,2]", "shots=[0]"});
  EXPECT_NE(last.find("override 'shots=[0]'"), std::string::npos) << last;
  const std::string part = error_of(body, {"shots.1=abc"});
  EXPECT_NE(part.find("override 'shots.1=abc'"), std::string::npos) << part;
}

TEST_F(SweepFile, MissingPartsOfASearchAreNamedNotThrownFromYamlCpp) {
  // Found by fuzzing: yaml-cpp throws on any question but IsDefined() about a missing key.
  const std::string body = "datasets: [dtd]\nshots: 1\nseeds: 1\nmethods: [{name: coop}]\n";
  EXPECT_NE(error_of(body + "search: {samples: 3, }\n").find("'search.space' must map"), std::string::npos);
  EXPECT_NE(error_of(body + "search: {space: {coop.lr: {choice: [1]}}}\n").find("'search.samples' is missing"),
            std::string::npos);
  const std::string deep = error_of(body + "search: " + std::string(200, '[') + std::string(200, ']') + "\n");
  EXPECT_NE(deep.find("nested deeper than 64"), std::string::npos) << deep;
}

TEST_F(SweepFile, ScaleSectionSetsPackingAndSplittingAndNamesItsErrors) {
  const std::string body = "datasets: [dtd]\nshots: [1]\nseeds: [1]\nmethods: [{name: coop}]\n";
  const Sweep defaults = parse(body);
  EXPECT_EQ(defaults.scale.pack_tasks, 8);
  EXPECT_EQ(defaults.scale.split_workers, 4);
  const Sweep sweep = parse(body + "scale: {pack_tasks: 3, pack_below_classes: 20, pack_memory_gb: 0.5, "
                                   "split_workers: 2, split_from_classes: 900}\n");
  EXPECT_EQ(sweep.scale.pack_tasks, 3);
  EXPECT_EQ(sweep.scale.pack_below_classes, 20);
  EXPECT_DOUBLE_EQ(sweep.scale.pack_memory_gb, 0.5);
  EXPECT_EQ(sweep.scale.split_workers, 2);
  EXPECT_EQ(sweep.scale.split_from_classes, 900);
  EXPECT_EQ(parse(body, {"scale.pack_tasks=1"}).scale.pack_tasks, 1);
  // Task ids do not depend on it.
  EXPECT_EQ(expand_sweep(sweep, store()).front().id(), expand_sweep(defaults, store()).front().id());

  std::string message = error_of(body + "scale: {pack_task: 3}\n");
  EXPECT_NE(message.find("sweep.yaml:8: 'scale.pack_task' is not a key here; did you mean 'pack_tasks'"),
            std::string::npos) << message;
  message = error_of(body + "scale: {split_workers: 0}\n");
  EXPECT_NE(message.find("'scale.split_workers' is 0; give 1 to 1000000"), std::string::npos) << message;
  message = error_of(body + "scale: {pack_memory_gb: -2}\n");
  EXPECT_NE(message.find("'scale.pack_memory_gb' must be a positive number of GB"), std::string::npos) << message;
  message = error_of(body + "scale: 8\n");
  EXPECT_NE(message.find("'scale' must be a mapping"), std::string::npos) << message;
}

TEST_F(SweepFile, TheSameTaskInTwoSweepFilesHasTheSameId) {
  const auto a = expand_sweep(parse("datasets: [eurosat]\nshots: [2]\nseeds: [3]\nmethods: [{name: coop}]\n"), store());
  const auto b = expand_sweep(
      parse("datasets: [dtd, eurosat]\nshots: [1, 2]\nseeds: [1, 3]\nmethods: [{name: coop, lr: [0.002, 0.1]}]\n"),
      store());
  bool found = false;
  for (const auto& task : b) found = found || task.id() == a.at(0).id();
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace pg::sweeps

namespace pg::sweeps {
namespace {

class TransferSweep : public SweepFile {
 protected:
  // A source with a train split, two other datasets, and two test-only shifts of the source.
  static std::vector<DatasetFacts> transfer_store() {
    std::vector<DatasetFacts> facts = {{"imagenet", 1000, 16000, 16, 50000, 6},
                                       {"dtd", 47, 2820, 60, 1692, 3},
                                       {"eurosat", 10, 13500, 1000, 8100, 4},
                                       {"imagenet_sketch", 1000, 0, 0, 50889, 6},
                                       {"imagenet_a", 200, 0, 0, 7500, 6}};
    facts[3].source = facts[4].source = "imagenet";
    return facts;
  }
  static constexpr const char* kBody = "datasets: all\nshots: [16]\nseeds: [1]\nmethods: [{name: coop}, {name: zeroshot}]\n";
};

TEST_F(TransferSweep, TargetsAreTheOtherDatasetsOrTheSourcesShiftsAndDatasetsAllSkipsTestOnlyOnes) {
  const Sweep sweep = parse(std::string("protocol: [fewshot, cross_dataset, domain_generalization]\n") + kBody);
  const std::vector<TaskSpec> tasks = expand_sweep(sweep, transfer_store());
  std::map<std::string, std::set<std::string>> datasets;
  for (const auto& task : tasks) {
    datasets[task.protocol].insert(task.dataset);
    if (task.protocol == "cross_dataset") EXPECT_EQ(task.targets, (std::vector<std::string>{"dtd", "eurosat"}));
    if (task.protocol == "domain_generalization") {
      EXPECT_EQ(task.targets, (std::vector<std::string>{"imagenet_sketch", "imagenet_a"}));
    }
    if (task.protocol == "fewshot") EXPECT_TRUE(task.targets.empty());
  }
  EXPECT_EQ(datasets["fewshot"], (std::set<std::string>{"imagenet", "dtd", "eurosat"}));  // no test-only dataset
  EXPECT_EQ(datasets["cross_dataset"], (std::set<std::string>{"imagenet"}));
  EXPECT_EQ(datasets["domain_generalization"], (std::set<std::string>{"imagenet"}));
  // Targets are part of the id: the same training with other targets is another task.
  TaskSpec spec = tasks.back();
  const std::string id = spec.id();
  spec.targets.pop_back();
  EXPECT_NE(spec.id(), id);
}

TEST_F(TransferSweep, AMissingSourceOrNoTargetsIsAnErrorThatSaysWhy) {
  const Sweep other_source = parse(std::string("protocol: cross_dataset\nsource: caltech101\n") + kBody);
  const std::string missing = testing::error_message([&] { expand_sweep(other_source, transfer_store()); });
  EXPECT_NE(missing.find("sweep.yaml:5"), std::string::npos) << missing;
  EXPECT_NE(missing.find("caltech101"), std::string::npos) << missing;
  const Sweep shifts = parse(std::string("protocol: domain_generalization\nsource: dtd\n") + kBody);
  const std::string none = testing::error_message([&] { expand_sweep(shifts, transfer_store()); });
  EXPECT_NE(none.find("test-only datasets whose source is dtd"), std::string::npos) << none;
}

TEST_F(SweepFile, EveryMethodsFieldsAreGridAxesAndAnEntryCanBeLimitedToSomeDatasets) {
  const Sweep sweep = parse(
      "datasets: [dtd, eurosat]\nshots: [1]\nseeds: [1]\n"
      "methods:\n"
      "  - {name: kgcoop, w: [1, 8]}\n"
      "  - {name: cocoop, epochs: 2, datasets: [eurosat]}\n"
      "  - {name: linear_probe, search_steps: 0}\n");
  const std::vector<TaskSpec> tasks = expand_sweep(sweep, store());
  std::multiset<std::string> seen;
  for (const auto& task : tasks) seen.insert(task.method + "/" + task.dataset);
  EXPECT_EQ(seen.count("kgcoop/dtd"), 2u);
  EXPECT_EQ(seen.count("cocoop/dtd"), 0u);
  EXPECT_EQ(seen.count("cocoop/eurosat"), 1u);
  EXPECT_EQ(seen.count("linear_probe/eurosat"), 1u);
  for (const auto& task : tasks) {
    if (task.method == "cocoop") {
      EXPECT_EQ(task.setting<int>("epochs"), 2);
      EXPECT_EQ(task.setting<int>("batch_size"), 1);  // CoCoOp's own default, not CoOp's 32
      EXPECT_EQ(task.setting<std::string>("ctx_init"), "a photo of a");
    }
  }
  const std::string wrong = error_of("datasets: [dtd]\nshots: [1]\nseeds: [1]\nmethods: [{name: linear_probe, w: 3}]\n");
  EXPECT_NE(wrong.find("'methods.0.w' is not a key here"), std::string::npos) << wrong;
  const std::string unknown = testing::error_message([&] {
    expand_sweep(parse("datasets: [dtd]\nshots: [1]\nseeds: [1]\nmethods: [{name: cocoop, datasets: [imagenet]}]\n"), store());
  });
  EXPECT_NE(unknown.find("names imagenet"), std::string::npos) << unknown;
  const std::string range = testing::error_message([&] {
    expand_sweep(parse("datasets: [dtd]\nshots: [1]\nseeds: [1]\nmethods: [{name: kgcoop, w: -1}]\n"), store());
  });
  EXPECT_NE(range.find("'w'"), std::string::npos) << range;
}

TEST_F(SweepFile, SearchSpacesReachEveryMethodsNumberFields) {
  const Sweep sweep = parse(
      "datasets: [dtd]\nshots: [1]\nseeds: [1]\nmethods: [{name: coop}, {name: kgcoop}]\n"
      "search: {samples: 3, seed: 1, space: {kgcoop.w: {uniform: [1, 10]}}}\n");
  ASSERT_EQ(sweep.methods.size(), 5u);  // the two entries, and 3 samples of the kgcoop one only
  for (size_t i = 2; i < 5; ++i) {
    EXPECT_EQ(sweep.methods[i].name, "kgcoop");
    EXPECT_GE(sweep.methods[i].settings["w"].get<double>(), 1.0);
  }
}

}  // namespace
}  // namespace pg::sweeps

namespace pg::sweeps {
namespace {

TEST_F(SweepFile, SettingsThatWouldBeIgnoredOrGiveNoTaskAreErrors) {
  const std::string head = "datasets: [dtd]\nshots: [1]\nseeds: [1]\n";
  // kgcoop's context comes from "a photo of a": an n_ctx alone would be silently ignored.
  const std::string ignored =
      testing::error_message([&] { expand_sweep(parse(head + "methods: [{name: kgcoop, n_ctx: [4, 8]}]\n"), store()); });
  EXPECT_NE(ignored.find("ctx_init: \"\""), std::string::npos) << ignored;
  EXPECT_EQ(expand_sweep(parse(head + "methods: [{name: kgcoop, n_ctx: [4, 8], ctx_init: \"\"}]\n"), store()).size(), 2u);
  // An entry limited to datasets the sweep does not train on gives no task.
  const std::string none = testing::error_message(
      [&] { expand_sweep(parse(head + "methods: [{name: coop}, {name: cocoop, datasets: [eurosat]}]\n"), store()); });
  EXPECT_NE(none.find("gives no task"), std::string::npos) << none;
  // A context longer than a prompt can hold is refused before any tensor is made.
  const std::string huge =
      testing::error_message([&] { expand_sweep(parse(head + "methods: [{name: coop, n_ctx: 1000000000}]\n"), store()); });
  EXPECT_NE(huge.find("from 0 to 73"), std::string::npos) << huge;
}

}  // namespace
}  // namespace pg::sweeps
