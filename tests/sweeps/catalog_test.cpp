#include "sweeps/catalog.h"

#include <gtest/gtest.h>

#include <map>

#include "common/error.h"
#include "support/test_data.h"
#include "sweeps/split_file.h"

namespace pg::sweeps {
namespace {

TEST(Catalog, HasTheElevenBenchmarkDatasetsWithTheirClassCounts) {
  // DESIGN §1 / the CoOp paper's dataset table.
  const std::map<std::string, int> expected = {
      {"imagenet", 1000}, {"caltech101", 100}, {"oxford_pets", 37}, {"stanford_cars", 196},
      {"oxford_flowers", 102}, {"food101", 101}, {"fgvc_aircraft", 100}, {"sun397", 397},
      {"dtd", 47}, {"eurosat", 10}, {"ucf101", 101}};
  ASSERT_EQ(benchmark_datasets().size(), expected.size());
  for (const DatasetInfo& dataset : benchmark_datasets()) {
    ASSERT_EQ(expected.count(dataset.name), 1u) << dataset.name;
    EXPECT_EQ(dataset.num_classes, expected.at(dataset.name)) << dataset.name;
  }
}

TEST(Catalog, TemplatesAreCoOpsCustomTemplates) {
  EXPECT_EQ(find_dataset("oxford_pets").prompt_template, "a photo of a {}, a type of pet.");
  EXPECT_EQ(find_dataset("oxford_flowers").prompt_template, "a photo of a {}, a type of flower.");
  EXPECT_EQ(find_dataset("fgvc_aircraft").prompt_template, "a photo of a {}, a type of aircraft.");
  EXPECT_EQ(find_dataset("dtd").prompt_template, "{} texture.");
  EXPECT_EQ(find_dataset("eurosat").prompt_template, "a centered satellite photo of {}.");
  EXPECT_EQ(find_dataset("stanford_cars").prompt_template, "a photo of a {}.");
  EXPECT_EQ(find_dataset("food101").prompt_template, "a photo of {}, a type of food.");
  EXPECT_EQ(find_dataset("sun397").prompt_template, "a photo of a {}.");
  EXPECT_EQ(find_dataset("caltech101").prompt_template, "a photo of a {}.");
  EXPECT_EQ(find_dataset("ucf101").prompt_template, "a photo of a person doing {}.");
  EXPECT_EQ(find_dataset("imagenet").prompt_template, "a photo of a {}.");
}

TEST(Catalog, SplitFileNames) {
  EXPECT_EQ(find_dataset("caltech101").split_file, "split_zhou_Caltech101.json");
  EXPECT_EQ(find_dataset("oxford_pets").split_file, "split_zhou_OxfordPets.json");
  EXPECT_EQ(find_dataset("stanford_cars").split_file, "split_zhou_StanfordCars.json");
  EXPECT_EQ(find_dataset("oxford_flowers").split_file, "split_zhou_OxfordFlowers.json");
  EXPECT_EQ(find_dataset("food101").split_file, "split_zhou_Food101.json");
  EXPECT_EQ(find_dataset("sun397").split_file, "split_zhou_SUN397.json");
  EXPECT_EQ(find_dataset("dtd").split_file, "split_zhou_DescribableTextures.json");
  EXPECT_EQ(find_dataset("eurosat").split_file, "split_zhou_EuroSAT.json");
  EXPECT_EQ(find_dataset("ucf101").split_file, "split_zhou_UCF101.json");
  EXPECT_EQ(find_dataset("imagenet").split_file, "");
  EXPECT_EQ(find_dataset("fgvc_aircraft").split_file, "");
}

TEST(Catalog, ClassCountsAgreeWithTheRealSplitFiles) {
  for (const char* name : {"dtd", "eurosat", "oxford_pets"}) {
    const DatasetInfo& dataset = find_dataset(name);
    const SplitFile split = read_split_file(testing::shared_data("splits/" + dataset.split_file));
    EXPECT_EQ(static_cast<int>(classnames_by_label(split).size()), dataset.num_classes) << name;
  }
}

TEST(Catalog, UnknownDatasetListsTheKnownOnes) {
  try {
    find_dataset("pets");
    FAIL() << "an unknown name must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'pets'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("oxford_pets"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ucf101"), std::string::npos) << e.what();
  }
}

TEST(Catalog, CoOpEpochSchedule) {
  EXPECT_EQ(coop_epochs("dtd", 1), 50);
  EXPECT_EQ(coop_epochs("dtd", 2), 100);
  EXPECT_EQ(coop_epochs("dtd", 4), 100);
  EXPECT_EQ(coop_epochs("dtd", 8), 200);
  EXPECT_EQ(coop_epochs("eurosat", 16), 200);
  EXPECT_EQ(coop_epochs("eurosat", 32), 200);
  for (int shots : {1, 2, 4, 8, 16}) EXPECT_EQ(coop_epochs("imagenet", shots), 50);
  EXPECT_THROW(coop_epochs("mnist", 1), Error);
  try {
    coop_epochs("dtd", 0);
    FAIL() << "0 shots must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("0 shots"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pg::sweeps
