#include "orchestrator/extraction_plan.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/strings.h"

namespace pg::orchestrator {
namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kUnitSuffix = ".chunk";
// Larger than any unit: a batch of 4096 images of a 4096-wide tower.
constexpr uint64_t kMaxUnitBytes = uint64_t{1} << 27;

uint64_t checksum(const std::vector<float>& values) {
  ContentHasher hasher;
  hasher.update(values.data(), values.size() * sizeof(float));
  return hasher.digest();
}

}  // namespace

std::string ExtractionUnit::name() const {
  char row[32];
  std::snprintf(row, sizeof(row), "%07lld", static_cast<long long>(first_row));
  return split + (view < 0 ? std::string(".image.") : ".view" + std::to_string(view) + ".") + row;
}

std::vector<ExtractionUnit> plan_units(const sweeps::SplitFile& split_file, const std::vector<std::string>& splits,
                                       int views, int batch_size) {
  if (batch_size < 1) throw Error("--batch-size " + std::to_string(batch_size) + ": give at least 1");
  std::vector<ExtractionUnit> units;
  auto add_split = [&](const std::string& split, int view) {
    const int64_t total = static_cast<int64_t>(split_file.split(split).size());
    for (int64_t first = 0; first < total; first += batch_size) {
      units.push_back({split, view, first, std::min<int64_t>(batch_size, total - first)});
    }
  };
  for (const auto& split : splits) add_split(split, -1);
  const bool has_train = std::find(splits.begin(), splits.end(), "train") != splits.end();
  if (has_train) {
    for (int view = 0; view < views; ++view) add_split("train", view);
  }
  return units;
}

std::string encode_unit(const UnitResult& result) {
  nlohmann::json header = {{"unit", result.unit}, {"rows", result.rows}, {"dim", result.dim},
                           {"settings", result.settings}, {"checksum", to_hex16(checksum(result.features))}};
  header["failed"] = nlohmann::json::array();
  for (const FailedImage& failure : result.failed) header["failed"].push_back({failure.row, failure.reason});
  std::string bytes = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const size_t offset = bytes.size();
  bytes.resize(offset + result.features.size() * sizeof(float));
  std::memcpy(bytes.data() + offset, result.features.data(), result.features.size() * sizeof(float));
  return bytes;
}

UnitResult decode_unit(const std::string& bytes, const std::string& where) {
  const size_t newline = bytes.find('\n');
  if (newline == std::string::npos) throw Error(where + ": not a unit of features extraction (no header line)");
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(0, newline), nullptr, false);
  UnitResult result;
  try {
    result.unit = header.at("unit").get<int64_t>();
    result.rows = header.at("rows").get<int64_t>();
    result.dim = header.at("dim").get<int64_t>();
    result.settings = header.value("settings", "");
    for (const auto& failure : header.at("failed")) {
      result.failed.push_back({failure.at(0).get<int64_t>(), failure.at(1).get<std::string>()});
    }
  } catch (const nlohmann::json::exception&) {
    throw Error(where + ": its header is not a unit of features extraction");
  }
  if (result.rows < 0 || result.dim < 0 || result.rows > (1 << 20) || result.dim > (1 << 16)) {
    throw Error(where + ": header gives " + std::to_string(result.rows) + " x " + std::to_string(result.dim) + " values");
  }
  const size_t expected = static_cast<size_t>(result.rows * result.dim) * sizeof(float);
  if (bytes.size() - newline - 1 != expected) {
    throw Error(where + ": holds " + std::to_string(bytes.size() - newline - 1) + " bytes of values, expected " +
                std::to_string(expected) + " (cut short?)");
  }
  result.features.resize(static_cast<size_t>(result.rows * result.dim));
  std::memcpy(result.features.data(), bytes.data() + newline + 1, expected);
  if (header.value("checksum", "") != to_hex16(checksum(result.features))) {
    throw Error(where + ": its values do not match their checksum (damaged)");
  }
  return result;
}

ExtractionWorkFolder::ExtractionWorkFolder(std::string folder, const nlohmann::json& settings)
    : folder_(std::move(folder)), settings_digest_(to_hex16(fnv1a_64(settings.dump()))) {
  make_directories(folder_);
  lock_ = std::make_unique<FileLock>(folder_, "extracting features into");
  remove_stale_temporaries_in(folder_);
  const std::string manifest = path_of(kManifest);
  nlohmann::json earlier;
  std::string why;
  if (!file_exists(manifest)) {
    why = "no manifest";
  } else {
    try {
      earlier = read_json_file(manifest, "the manifest of an earlier extraction");
    } catch (const Error&) {
      why = "an unreadable manifest";
    }
  }
  if (why.empty() && earlier == settings) return;  // resume
  if (why.empty()) {
    std::vector<std::string> changed;
    for (const auto& [key, value] : settings.items()) {
      if (!earlier.is_object() || !earlier.contains(key) || earlier[key] != value) changed.push_back(key);
    }
    why = "other settings: " + join(changed, ", ");
  }
  int removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder_)) {
    if (entry.path().extension() != kUnitSuffix) continue;
    remove_file_quietly(entry.path().string());
    ++removed;
  }
  if (removed > 0) {
    log_warning(folder_ + ": " + std::to_string(removed) + " units of an earlier extraction were left with " + why +
                "; starting over");
  }
  write_json_file_atomic(manifest, settings);
}

std::string ExtractionWorkFolder::path_of(const std::string& name) const { return folder_ + "/" + name; }

bool ExtractionWorkFolder::finished(int64_t index, const ExtractionUnit& unit, int64_t dim) const {
  const std::string path = path_of(unit.name() + kUnitSuffix);
  if (!file_exists(path)) return false;
  try {
    return load(index, unit, dim).failed.empty();
  } catch (const Error& e) {
    log_warning(std::string(e.what()) + "; computing it again");
    return false;
  }
}

void ExtractionWorkFolder::save(const ExtractionUnit& unit, UnitResult result) const {
  result.settings = settings_digest_;
  write_file_atomic(path_of(unit.name() + kUnitSuffix), encode_unit(result));
}

UnitResult ExtractionWorkFolder::load(int64_t index, const ExtractionUnit& unit, int64_t dim) const {
  const std::string path = path_of(unit.name() + kUnitSuffix);
  UnitResult result = decode_unit(read_file(path, kMaxUnitBytes, "a unit of features extraction"), path);
  if (result.unit != index || result.rows != unit.rows || result.dim != dim || result.settings != settings_digest_) {
    throw Error(path + ": holds unit " + std::to_string(result.unit) + " of " + std::to_string(result.rows) + " x " +
                std::to_string(result.dim) + " values (settings " + result.settings + "), expected unit " +
                std::to_string(index) + " of " + std::to_string(unit.rows) + " x " + std::to_string(dim) +
                " (settings " + settings_digest_ + ")");
  }
  return result;
}

void ExtractionWorkFolder::remove() const {
  std::error_code ignored;
  std::filesystem::remove_all(folder_, ignored);
}

}  // namespace pg::orchestrator
