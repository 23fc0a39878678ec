// Checkpoint reading: TorchScript archives (zip + restricted pickle), safetensors, Hugging Face key
// mapping, and every kind of broken file the readers must reject with a message naming the file.
#include "worker/clip/state_dict.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "support/test_data.h"
#include "worker/clip/pickle_reader.h"
#include "worker/clip/zip_archive.h"

namespace pg::worker {
namespace {

using pg::testing::make_temp_dir;
using pg::testing::shared_data;

std::string from_hex(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

void put_le(std::string& out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// A zip archive as the ZIP application note lays it out: local headers + data, central directory,
// (zip64 end record and locator,) end record. `zip64` saturates the 32-bit fields and moves the real
// values into zip64 extra fields, as writers do for archives over 4 GiB. `method` is stored as given
// (8 = deflate) but the data is written as is.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries, bool zip64 = false,
                     uint16_t method = 0) {
  std::string out;
  std::string directory;
  for (const auto& [name, data] : entries) {
    const uint64_t offset = out.size();
    const auto crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(data.data()),
                                                 static_cast<uInt>(data.size())));
    put_le(out, 0x04034b50, 4);
    put_le(out, 20, 2);
    put_le(out, 0, 2);
    put_le(out, method, 2);
    put_le(out, 0, 4);  // time, date
    put_le(out, crc, 4);
    put_le(out, data.size(), 4);
    put_le(out, data.size(), 4);
    put_le(out, name.size(), 2);
    put_le(out, 0, 2);
    out += name + data;

    std::string extra;
    if (zip64) {
      put_le(extra, 0x0001, 2);
      put_le(extra, 24, 2);
      put_le(extra, data.size(), 8);
      put_le(extra, data.size(), 8);
      put_le(extra, offset, 8);
    }
    const uint64_t saturated = 0xffffffff;
    put_le(directory, 0x02014b50, 4);
    put_le(directory, 45, 2);
    put_le(directory, 45, 2);
    put_le(directory, 0, 2);
    put_le(directory, method, 2);
    put_le(directory, 0, 4);
    put_le(directory, crc, 4);
    put_le(directory, zip64 ? saturated : data.size(), 4);
    put_le(directory, zip64 ? saturated : data.size(), 4);
    put_le(directory, name.size(), 2);
    put_le(directory, extra.size(), 2);
    put_le(directory, 0, 2);  // comment
    put_le(directory, 0, 2);  // disk
    put_le(directory, 0, 2);
    put_le(directory, 0, 4);
    put_le(directory, zip64 ? saturated : offset, 4);
    directory += name + extra;
  }
  const uint64_t directory_offset = out.size();
  out += directory;
  if (zip64) {
    const uint64_t zip64_end_offset = out.size();
    put_le(out, 0x06064b50, 4);
    put_le(out, 44, 8);
    put_le(out, 45, 2);
    put_le(out, 45, 2);
    put_le(out, 0, 4);
    put_le(out, 0, 4);
    put_le(out, entries.size(), 8);
    put_le(out, entries.size(), 8);
    put_le(out, directory.size(), 8);
    put_le(out, directory_offset, 8);
    put_le(out, 0x07064b50, 4);
    put_le(out, 0, 4);
    put_le(out, zip64_end_offset, 8);
    put_le(out, 1, 4);
  }
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 4);
  put_le(out, zip64 ? 0xffff : entries.size(), 2);
  put_le(out, zip64 ? 0xffff : entries.size(), 2);
  put_le(out, zip64 ? 0xffffffff : directory.size(), 4);
  put_le(out, zip64 ? 0xffffffff : directory_offset, 4);
  put_le(out, 0, 2);
  return out;
}

std::string write_temp(const std::string& name, const std::string& contents) {
  const std::string path = make_temp_dir("state_dict") + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}


TEST(StateDict, TorchScriptAndSafetensorsAreBitIdentical) {
  const StateDict from_archive = load_state_dict(shared_data("golden/tiny_clip.pt"));
  const StateDict from_safetensors = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  ASSERT_EQ(from_archive.size(), from_safetensors.size());
  for (const auto& [key, tensor] : from_safetensors) {
    ASSERT_EQ(from_archive.count(key), 1u) << key;
    EXPECT_EQ(from_archive.at(key).scalar_type(), torch::kFloat32) << key;
    EXPECT_TRUE(torch::equal(from_archive.at(key), tensor)) << key;
  }
}

TEST(StateDict, KeysShapesAndLogitScaleMatchTheModelDescription) {
  const nlohmann::json description = read_json_file(shared_data("golden/tiny_clip.json"));
  for (const std::string file : {"golden/tiny_clip.pt", "golden/tiny_clip.safetensors"}) {
    const StateDict tensors = load_state_dict(shared_data(file));
    EXPECT_EQ(tensors.size(), description["keys"].size()) << file;
    for (const auto& [key, info] : description["keys"].items()) {
      ASSERT_EQ(tensors.count(key), 1u) << file << ": " << key;
      EXPECT_EQ(tensors.at(key).sizes().vec(), info["shape"].get<std::vector<int64_t>>()) << file << ": " << key;
    }
    EXPECT_EQ(tensors.at("logit_scale").item<float>(), description["logit_scale"].get<float>()) << file;
  }
}

TEST(StateDict, HuggingFaceTextKeysAreMappedToOpenAiNames) {
  const StateDict openai = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  // Re-key the tiny model as transformers' CLIPModel stores it.
  StateDict hf;
  hf["text_model.embeddings.token_embedding.weight"] = openai.at("token_embedding.weight");
  hf["text_model.embeddings.position_embedding.weight"] = openai.at("positional_embedding");
  hf["text_model.embeddings.position_ids"] = torch::arange(77).unsqueeze(0).to(torch::kFloat32);
  hf["text_model.final_layer_norm.weight"] = openai.at("ln_final.weight");
  hf["text_model.final_layer_norm.bias"] = openai.at("ln_final.bias");
  hf["text_projection.weight"] = openai.at("text_projection").t().contiguous();
  hf["logit_scale"] = openai.at("logit_scale");
  hf["vision_model.embeddings.class_embedding"] = openai.at("visual.class_embedding");
  for (int layer = 0; layer < 2; ++layer) {
    const std::string from = "transformer.resblocks." + std::to_string(layer) + ".";
    const std::string to = "text_model.encoder.layers." + std::to_string(layer) + ".";
    const auto weights = openai.at(from + "attn.in_proj_weight").chunk(3, 0);
    const auto biases = openai.at(from + "attn.in_proj_bias").chunk(3, 0);
    const char* names[] = {"q", "k", "v"};
    for (int i = 0; i < 3; ++i) {
      hf[to + "self_attn." + names[i] + "_proj.weight"] = weights[i].contiguous();
      hf[to + "self_attn." + names[i] + "_proj.bias"] = biases[i].contiguous();
    }
    for (const std::string suffix : {"weight", "bias"}) {
      hf[to + "self_attn.out_proj." + suffix] = openai.at(from + "attn.out_proj." + suffix);
      hf[to + "layer_norm1." + suffix] = openai.at(from + "ln_1." + suffix);
      hf[to + "layer_norm2." + suffix] = openai.at(from + "ln_2." + suffix);
      hf[to + "mlp.fc1." + suffix] = openai.at(from + "mlp.c_fc." + suffix);
      hf[to + "mlp.fc2." + suffix] = openai.at(from + "mlp.c_proj." + suffix);
    }
  }
  const std::string path = make_temp_dir("hf") + "/model.safetensors";
  write_safetensors(path, hf);
  const StateDict mapped = load_state_dict(path);

  std::vector<std::string> expected_keys;
  for (const auto& [key, tensor] : openai) {
    if (key.rfind("visual.", 0) != 0) expected_keys.push_back(key);
  }
  expected_keys.push_back("vision_model.embeddings.class_embedding");  // not text: passes through
  std::sort(expected_keys.begin(), expected_keys.end());
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : mapped) keys.push_back(key);
  EXPECT_EQ(keys, expected_keys);
  for (const auto& [key, tensor] : mapped) {
    const torch::Tensor& expected =
        key == "vision_model.embeddings.class_embedding" ? openai.at("visual.class_embedding") : openai.at(key);
    EXPECT_TRUE(torch::equal(tensor, expected)) << key;
  }
}

TEST(StateDict, IncompleteHuggingFaceAttentionIsLeftForTheStrictCheck) {
  StateDict hf;
  hf["text_model.embeddings.token_embedding.weight"] = torch::zeros({4, 2});
  hf["text_model.encoder.layers.0.self_attn.q_proj.weight"] = torch::zeros({2, 2});
  hf["text_model.encoder.layers.0.self_attn.k_proj.weight"] = torch::zeros({2, 2});
  const std::string path = make_temp_dir("hf_partial") + "/model.safetensors";
  write_safetensors(path, hf);
  const StateDict mapped = load_state_dict(path);
  EXPECT_EQ(mapped.count("text_model.encoder.layers.0.self_attn.q_proj.weight"), 1u);
  EXPECT_EQ(mapped.count("text_model.encoder.layers.0.self_attn.k_proj.weight"), 1u);
  EXPECT_EQ(mapped.count("transformer.resblocks.0.attn.in_proj_weight"), 0u);
  EXPECT_EQ(mapped.count("token_embedding.weight"), 1u);
}

TEST(Safetensors, WritesTheStandardLayoutAndReadsItBack) {
  StateDict tensors;
  tensors["b.matrix"] = torch::arange(6, torch::kFloat32).view({2, 3}) * 0.25;
  tensors["a.scalar"] = torch::full({}, -1.5);
  tensors["c.half"] = torch::tensor({1.0, 2.0}).to(torch::kFloat16);  // written as F32
  const std::string path = make_temp_dir("safetensors") + "/t.safetensors";
  write_safetensors(path, tensors);

  const std::string bytes = read_file(path);
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(header_length % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, header_length));
  EXPECT_EQ(header["b.matrix"]["dtype"], "F32");
  EXPECT_EQ(header["b.matrix"]["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(header["c.half"]["dtype"], "F32");
  EXPECT_EQ(bytes.size(), 8 + header_length + (6 + 1 + 2) * 4);
  const auto offsets = header["b.matrix"]["data_offsets"].get<std::vector<uint64_t>>();
  float third;
  std::memcpy(&third, bytes.data() + 8 + header_length + offsets[0] + 2 * 4, 4);
  EXPECT_EQ(third, 0.5f);

  const StateDict read = read_safetensors(path);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_TRUE(torch::equal(read.at("b.matrix"), tensors["b.matrix"]));
  EXPECT_EQ(read.at("a.scalar").dim(), 0);
  EXPECT_EQ(read.at("a.scalar").item<float>(), -1.5f);
  EXPECT_TRUE(torch::equal(read.at("c.half"), torch::tensor({1.0f, 2.0f})));
}

TEST(Safetensors, ReadsFloat16AndBfloat16AsFloat32) {
  // F16 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800; BF16 1.0 = 0x3f80, -2.0 = 0xc000.
  const std::string header = R"({"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},)"
                             R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[6,10]}})";
  std::string file;
  put_le(file, header.size(), 8);
  file += header;
  for (uint16_t value : {0x3c00, 0xc000, 0x3800, 0x3f80, 0xc000}) put_le(file, value, 2);
  const StateDict read = read_safetensors(write_temp("half.safetensors", file));
  EXPECT_TRUE(torch::equal(read.at("h"), torch::tensor({1.0f, -2.0f, 0.5f})));
  EXPECT_TRUE(torch::equal(read.at("b"), torch::tensor({1.0f, -2.0f})));
}

TEST(StateDict, ReadsZip64Archives) {
  // A torch.save-style archive holding {"w": tensor([1.5, -2.0])} built by hand, with zip64 records.
  std::string storage;
  for (float value : {1.5f, -2.0f}) storage.append(reinterpret_cast<const char*>(&value), 4);
  // pickle.dumps protocol 2 of {'w': _rebuild_tensor_v2(persistent_id(('storage', torch.FloatStorage, '0',
  // 'cpu', 2)), 0, (2,), (1,), False, OrderedDict())}, as torch.save writes it (checked with pickletools).
  const std::string pickle = from_hex(
      "80027d7100580100000077710163746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a7102282858070000"
      "0073746f72616765710363746f7263680a466c6f617453746f726167650a71045801000000307105580300000063707571064b0274"
      "7107514b004b02854b01858963636f6c6c656374696f6e730a4f726465726564446963740a29527452732e");
  const std::string path =
      write_temp("z64.pt", make_zip({{"archive/data.pkl", pickle}, {"archive/data/0", storage}}, /*zip64=*/true));
  const StateDict tensors = load_state_dict(path);
  ASSERT_EQ(tensors.count("w"), 1u);
  EXPECT_TRUE(torch::equal(tensors.at("w"), torch::tensor({1.5f, -2.0f})));
}

TEST(Pickle, BuildsTheValueTreeOfProtocol3) {
  // pickle.dumps({'a': [1, 2.5, None, True, l], 'b': (b'xy', 'z', -3, 2**40, -2**40, False, 70000, l)},
  // protocol=3) with l = [7], from CPython 3.11.
  const std::string bytes = from_hex(
      "80037d71002858010000006171015d7102284b014740040000000000004e885d71034b07616558010000006271042843027879710558"
      "010000007a71064afdffffff8a060000000000018a060000000000ff894a701101006803747107752e");
  const PickleValuePtr root = read_pickle(bytes, "test");
  using Kind = PickleValue::Kind;
  ASSERT_TRUE(root->is(Kind::dict));
  ASSERT_EQ(root->entries.size(), 2u);
  EXPECT_EQ(root->entries[0].first->text, "a");
  const auto& list = root->entries[0].second->items;
  ASSERT_EQ(list.size(), 5u);
  EXPECT_EQ(list[0]->integer, 1);
  EXPECT_EQ(list[1]->floating, 2.5);
  EXPECT_TRUE(list[2]->is(Kind::none));
  EXPECT_TRUE(list[3]->boolean);
  ASSERT_TRUE(list[4]->is(Kind::list));
  EXPECT_EQ(list[4]->items.at(0)->integer, 7);
  const auto& tuple = root->entries[1].second->items;
  ASSERT_EQ(tuple.size(), 8u);
  EXPECT_TRUE(tuple[0]->is(Kind::bytes));
  EXPECT_EQ(tuple[0]->text, "xy");
  EXPECT_EQ(tuple[1]->text, "z");
  EXPECT_EQ(tuple[2]->integer, -3);
  EXPECT_EQ(tuple[3]->integer, int64_t{1} << 40);
  EXPECT_EQ(tuple[4]->integer, -(int64_t{1} << 40));
  EXPECT_FALSE(tuple[5]->boolean);
  EXPECT_EQ(tuple[6]->integer, 70000);
  EXPECT_EQ(tuple[7].get(), list[4].get());  // BINGET returns the memoized object itself
}

TEST(Pickle, ReadsProtocol4FramesStackGlobalAndMemoize) {
  // pickle.dumps(OrderedDict([('k', 300), ('m', (1, 2, 3, 4))]), protocol=4)
  const std::string bytes = from_hex(
      "8004953a000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c016b944d2c018c016d"
      "94284b014b024b034b047494752e");
  const PickleValuePtr root = read_pickle(bytes, "test");
  ASSERT_TRUE(root->is(PickleValue::Kind::dict));
  ASSERT_EQ(root->entries.size(), 2u);
  EXPECT_EQ(root->entries[0].first->text, "k");
  EXPECT_EQ(root->entries[0].second->integer, 300);
  EXPECT_EQ(root->entries[1].second->items.size(), 4u);
  EXPECT_EQ(root->entries[1].second->items[3]->integer, 4);
}

TEST(Pickle, RefusesUnknownOpcodesAndTruncation) {
  // INST ('i'), a protocol-0 opcode that can call anything.
  EXPECT_NE(pg::testing::error_message([] { read_pickle(std::string("\x80\x02i", 3) + "os\nsystem\n.", "f.pt: a/data.pkl"); })
                .find("f.pt: a/data.pkl: unsupported pickle opcode 0x69 ('i') at byte 2"),
            std::string::npos);
  EXPECT_NE(pg::testing::error_message([] { read_pickle(std::string("\x80\x02X\x10\x00\x00\x00" "abc", 9), "f.pt: a/data.pkl"); })
                .find("f.pt: a/data.pkl: pickle ends early"),
            std::string::npos);
  EXPECT_NE(pg::testing::error_message([] { read_pickle(std::string("\x80\x02t.", 4), "src"); }).find("src: malformed pickle"),
            std::string::npos);
}

TEST(Pickle, TorchScriptTypedListHelpersStayInertObjects) {
  // PROTO 2, GLOBAL 'torch.jit._pickle build_intlist', EMPTY_LIST, BININT1 1, APPEND, TUPLE1, REDUCE, STOP:
  // how TorchScript pickles an int-list attribute; read as an object, nothing is called.
  const std::string bytes = std::string("\x80\x02" "ctorch.jit._pickle\nbuild_intlist\n" "]K\x01" "a\x85R.", 42);
  const PickleValuePtr root = read_pickle(bytes, "test");
  EXPECT_TRUE(root->is_object_of("torch.jit._pickle.build_intlist"));
}

TEST(StateDictErrors, ForbiddenGlobalInAPickle) {
  // PROTO 2, GLOBAL 'os system', BINUNICODE 'ls', TUPLE1, REDUCE, STOP.
  const std::string pickle = std::string("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00ls\x85R.", 22);
  const std::string path = write_temp("evil.pt", make_zip({{"evil/data.pkl", pickle}}));
  const std::string message = pg::testing::error_message([&] { load_state_dict(path); });
  EXPECT_NE(message.find(path + ": evil/data.pkl: pickle refers to global os.system"), std::string::npos) << message;
}

TEST(StateDictErrors, CompressedZipEntry) {
  const std::string path = write_temp("deflated.pt", make_zip({{"m/data.pkl", "xx"}}, false, /*method=*/8));
  const std::string message = pg::testing::error_message([&] { load_state_dict(path); });
  EXPECT_NE(message.find(path + ": zip entry m/data.pkl is compressed (method 8)"), std::string::npos) << message;
}

TEST(StateDictErrors, ZipWithoutDataPkl) {
  const std::string path = write_temp("other.zip", make_zip({{"docs/readme.txt", "hello"}}));
  const std::string message = pg::testing::error_message([&] { load_state_dict(path); });
  EXPECT_NE(message.find(path + ": zip archive has no <top folder>/data.pkl"), std::string::npos) << message;
}

TEST(StateDictErrors, NotACheckpoint) {
  const std::string path = write_temp("notes.txt", "these are not weights\n");
  const std::string message = pg::testing::error_message([&] { load_state_dict(path); });
  EXPECT_NE(message.find(path + ": not a CLIP checkpoint"), std::string::npos) << message;
  const std::string missing = make_temp_dir("missing") + "/nothing.pt";
  EXPECT_NE(pg::testing::error_message([&] { load_state_dict(missing); }).find(missing + ": cannot open file"), std::string::npos);
}

TEST(StateDictErrors, TruncatedTorchScriptArchive) {
  const std::string original = read_file(shared_data("golden/tiny_clip.pt"));
  for (const size_t length : {size_t{3}, size_t{4}, size_t{100}, original.size() / 2, original.size() - 23,
                              original.size() - 1}) {
    const std::string path = write_temp("cut.pt", original.substr(0, length));
    const std::string message = pg::testing::error_message([&] { load_state_dict(path); });
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << length << ": " << message;
  }
  const std::string path = write_temp("cut.pt", original.substr(0, original.size() / 2));
  EXPECT_NE(pg::testing::error_message([&] { load_state_dict(path); }).find("no end-of-central-directory record"), std::string::npos);
}

TEST(StateDictErrors, CorruptStorageFailsItsChecksum) {
  std::string bytes = read_file(shared_data("golden/tiny_clip.pt"));
  bytes[6'000'000] = static_cast<char>(bytes[6'000'000] ^ 0x40);  // inside tiny_clip/data/47 (token_embedding)
  const std::string path = write_temp("flipped.pt", bytes);
  const std::string message = pg::testing::error_message([&] { load_state_dict(path); });
  EXPECT_NE(message.find(path + ": zip entry tiny_clip/data/47 fails its CRC-32 check"), std::string::npos) << message;
}

TEST(StateDictErrors, TruncatedSafetensors) {
  const std::string original = read_file(shared_data("golden/tiny_clip.safetensors"));
  const std::string path = write_temp("cut.safetensors", original.substr(0, original.size() / 2));
  const std::string message = pg::testing::error_message([&] { load_state_dict(path); });
  EXPECT_NE(message.find(path + ": tensor "), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(StateDictErrors, SafetensorsHeaderLengthBeyondFileSize) {
  std::string file;
  put_le(file, 1'000'000'000'000ull, 8);
  file += "{}";
  const std::string path = write_temp("huge.safetensors", file);
  const std::string message = pg::testing::error_message([&] { load_state_dict(path); });
  EXPECT_NE(message.find(path + ": safetensors header length 1000000000000 exceeds the file size (10 bytes)"),
            std::string::npos)
      << message;
}

TEST(StateDictErrors, SafetensorsBadEntries) {
  auto file_with = [](const std::string& header) {
    std::string file;
    put_le(file, header.size(), 8);
    return file + header + std::string(8, '\0');
  };
  const std::string mismatch =
      write_temp("a.safetensors", file_with(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})"));
  EXPECT_NE(pg::testing::error_message([&] { read_safetensors(mismatch); })
                .find(mismatch + ": tensor w: data_offsets span 8 bytes but shape [1] of F32 needs 4"),
            std::string::npos);
  const std::string dtype =
      write_temp("b.safetensors", file_with(R"({"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})"));
  EXPECT_NE(pg::testing::error_message([&] { read_safetensors(dtype); }).find(dtype + ": tensor w has dtype C64"), std::string::npos);
  const std::string json = write_temp("c.safetensors", file_with("{not json}"));
  EXPECT_NE(pg::testing::error_message([&] { read_safetensors(json); }).find(json + ": safetensors header is not valid JSON"),
            std::string::npos);
  const std::string huge = write_temp(
      "d.safetensors", file_with(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})"));
  EXPECT_NE(pg::testing::error_message([&] { read_safetensors(huge); }).find(huge + ": tensor w: shape"), std::string::npos);
}

}  // namespace
}  // namespace pg::worker
