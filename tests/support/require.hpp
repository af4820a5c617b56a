// A test's outside dependency (a Python module, a data set, the fuzz seed corpus, the reference
// data): skipped when missing in a plain `ctest` run, a FAILURE under scripts/test.sh, which sets
// DCGAN_TEST_REQUIRE_ALL=1 (it installs and generates all of them first, so a missing one there
// means a broken set-up, not an optional extra).
//
//   DCGAN_REQUIRE_OR_SKIP(have_numpy(), "Python module numpy", "apt install python3-numpy");
//
// A macro, because GTEST_SKIP and FAIL return from the test body. Skips that depend on what the
// machine allows (mounting, file attributes, switching users) are not dependencies: they stay
// plain GTEST_SKIP, listed with their reasons in docs/reliability.md.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace dcgan::testing {

// True when DCGAN_TEST_REQUIRE_ALL is set to anything but "" or "0".
inline bool require_all() {
  const char* v = std::getenv("DCGAN_TEST_REQUIRE_ALL");
  return v && *v && std::string(v) != "0";
}

}  // namespace dcgan::testing

#define DCGAN_REQUIRE_OR_SKIP(available, what, hint)                                              \
  do {                                                                                            \
    if (!(available)) {                                                                           \
      if (::dcgan::testing::require_all()) {                                                      \
        FAIL() << (what) << " is missing (" << (hint)                                             \
               << "); DCGAN_TEST_REQUIRE_ALL is set (by scripts/test.sh): a missing dependency "  \
                  "is a failure";                                                                 \
      } else {                                                                                    \
        GTEST_SKIP() << (what) << " is missing (" << (hint)                                       \
                     << "); skipped (under scripts/test.sh, which sets DCGAN_TEST_REQUIRE_ALL=1, " \
                        "this is a failure)";                                                     \
      }                                                                                           \
    }                                                                                             \
  } while (0)
