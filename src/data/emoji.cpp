// The built-in "emoji" source: the 64x64 PNGs of the npm package emoji-datasource-google
// (img/google/64/) with labels and a held-out split taken from the package's emoji.json.
//
// Labels: the emoji's `category` ("Activities", "Animals & Nature", "Component", "Flags",
// "Food & Drink", "Objects", "People & Body", "Smileys & Emotion", "Symbols", "Travel & Places"),
// numbered in sorted order of the names found in the file; a skin-tone variant (an entry of
// `skin_variations`) has its base emoji's category.
// Split: an emoji and all its skin-tone variants are held out ("test") when the 32-bit FNV-1a
// hash of the base emoji's image name (e.g. "1f600.png") is 0 modulo 5, so a variant never sits on
// the other side of the split from its base (they differ only in skin colour). With the package's
// 3786 images that holds out 750 (20 %); the rule depends only on names, so it is stable across
// machines and package versions.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dcgan/error.hpp"
#include "data/formats.hpp"

namespace dcgan::data_detail {

namespace fs = std::filesystem;

namespace {

constexpr const char* kReinstall =
    "reinstall the package: rm -rf .deps/node_modules/emoji-datasource-google && scripts/setup.sh";

uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

struct EmojiEntry {
  std::string category;
  bool test = false;
};

// image file name -> category and split, plus the sorted category names.
struct EmojiIndex {
  std::map<std::string, EmojiEntry> by_file;
  std::vector<std::string> categories;
};

EmojiIndex read_index(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw FileError(path, "cannot open the emoji metadata", kReinstall);
  nlohmann::json doc = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array())
    throw FileError(path, "is not the package's emoji list (a JSON array of emoji)", kReinstall);
  EmojiIndex idx;
  std::set<std::string> cats;
  for (const auto& e : doc) {
    if (!e.is_object() || !e.contains("image") || !e["image"].is_string() || !e.contains("category") ||
        !e["category"].is_string())
      throw FileError(path, "has an entry without a string 'image' and 'category'", kReinstall);
    const std::string base = e["image"].get<std::string>(), cat = e["category"].get<std::string>();
    const bool test = fnv1a(base) % 5 == 0;
    cats.insert(cat);
    idx.by_file[base] = {cat, test};
    if (e.contains("skin_variations") && e["skin_variations"].is_object())
      for (const auto& [tone, v] : e["skin_variations"].items())
        if (v.is_object() && v.contains("image") && v["image"].is_string())
          idx.by_file[v["image"].get<std::string>()] = {cat, test};
  }
  if (idx.by_file.empty()) throw FileError(path, "lists no emoji", kReinstall);
  if (cats.size() > 256) throw FileError(path, fmt::format("has {} categories (at most 256)", cats.size()), kReinstall);
  idx.categories.assign(cats.begin(), cats.end());
  return idx;
}

}  // namespace

std::string find_emoji_metadata(const std::string& img_dir) {
  // The package layout: <package>/img/google/64 and <package>/emoji.json; or a copy beside the images.
  fs::path dir = fs::path(img_dir).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "a/b/" -> "a/b"
  for (const fs::path& p : {dir / "emoji.json", dir.parent_path().parent_path().parent_path() / "emoji.json"}) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.lexically_normal().string();
  }
  return "";
}

Dataset load_emoji(const std::string& img_dir, const DataSpec& spec) {
  const std::string meta = find_emoji_metadata(img_dir);
  if (meta.empty()) {
    if (spec.split == "test")
      throw FileError(img_dir, "has no emoji.json beside it (or three levels up, as in the npm package), so it has "
                               "no held-out split",
                      "use the package's folder (scripts/setup.sh installs it), or load the images as a plain "
                      "folder with --data PATH");
    Dataset ds = load_image_folder(img_dir, spec);
    ds.description = "emoji without metadata (no emoji.json: no labels, no split): " + ds.description;
    return ds;
  }
  const EmojiIndex idx = read_index(meta);
  const std::vector<std::string> all = list_image_folder(img_dir);
  std::vector<std::string> files;
  std::vector<uint8_t> labels;
  int64_t unknown = 0, other_split = 0;
  for (const std::string& f : all) {
    auto it = idx.by_file.find(fs::path(f).filename().string());
    if (it == idx.by_file.end()) {
      ++unknown;
      continue;
    }
    if (it->second.test != (spec.split == "test")) {
      ++other_split;
      continue;
    }
    files.push_back(f);
    const auto c = std::lower_bound(idx.categories.begin(), idx.categories.end(), it->second.category);
    labels.push_back(static_cast<uint8_t>(c - idx.categories.begin()));
  }
  if (files.empty())
    throw FileError(img_dir, fmt::format("none of its {} files is a {}-split emoji of {}", all.size(), spec.split, meta),
                    kReinstall);
  std::vector<int64_t> kept;
  Dataset ds = load_image_files(img_dir, files, spec, &kept);
  ds.labels.resize(kept.size());
  for (size_t i = 0; i < kept.size(); ++i) ds.labels[i] = labels[static_cast<size_t>(kept[i])];
  std::string cats;
  for (size_t i = 0; i < idx.categories.size(); ++i)
    cats += fmt::format("{}{} {}", i ? ", " : "", i, idx.categories[i]);
  ds.description = fmt::format(
      "emoji, {} split ({} images; {} in the other split{}); labels: the category in {} ({}); {}", spec.split, ds.n,
      other_split, unknown ? fmt::format(", {} file{} not in emoji.json skipped", unknown, unknown == 1 ? "" : "s") : std::string(), meta, cats,
      ds.description);
  return ds;
}

}  // namespace dcgan::data_detail
