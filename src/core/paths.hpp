// Where dcgan looks for files that ship beside it (internal to the library): the npm data
// packages under .deps/ (data/dataset.cpp) and the feature networks under models/
// (eval/classifier_find.cpp) are searched in every folder above the running executable, so
// build/dcgan and build/tests/* find the repository's.
#pragma once
#include <filesystem>
#include <vector>

namespace dcgan {

// The running executable's folder and every folder above it, innermost first (empty when
// /proc/self/exe cannot be read).
std::vector<std::filesystem::path> executable_ancestors();

}  // namespace dcgan
