// Training curves: pictures of what runs logged in metrics.jsonl. Every `dcgan train` run keeps
// one in RUN/samples/curves.png (train/observer.hpp, make_curves_writer); `dcgan plot` draws
// several runs on one chart to compare them.
//
//   std::vector<dcgan::RunCurves> runs = {dcgan::read_run_curves("runs/a"), dcgan::read_run_curves("runs/b")};
//   dcgan::write_curves_png("compare.png", runs);
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dcgan/io/image.hpp"

namespace dcgan {

// What one run logged. A quantity missing from a line (or logged as null, e.g. a NaN loss) is NaN.
struct RunCurves {
  struct Step {
    int64_t step = 0;
    double d_loss, g_loss, d_x, d_g_z, img_per_s;
    double elapsed_s;  // the run's wall time at this step (NaN when not logged)
  };
  struct Fid {
    int64_t step = 0;
    double fid;
    double elapsed_s;
  };
  std::string name;         // the legend's label
  std::vector<Step> steps;  // the lines with "d_loss": one per logged step
  std::vector<Fid> fid;     // the lines with "fid": one per --eval-every evaluation
};

// Reads `path`: a run directory (its metrics.jsonl) or a metrics.jsonl file. `name` defaults to
// the run directory's name. Lines that are not JSON objects (a line cut by a kill mid-write) are
// skipped, as `dcgan train --resume` skips them. Throws FileError naming metrics.jsonl when it is
// missing or unreadable.
RunCurves read_run_curves(const std::filesystem::path& path, std::string name = "");

inline constexpr int kCurvesWidth = 1200, kCurvesHeight = 800;

// What the panels' x axis is: the global step, or the run's wall time (elapsed_s; compares runs
// whose steps cost different times, e.g. two architectures).
enum class CurvesX { step, seconds };

// Four panels against step (or seconds): D's and G's losses; D(x) and D(G(z)); img/s; FID (a note saying how to
// get one when no run has any). One run: a colour per quantity. Several: a colour per run (a
// legend with their names above the panels), D's loss and D(x) solid, G's loss and D(G(z))
// dashed. RGB, width x height (at least 400 x 300).
ImageU8 draw_curves(const std::vector<RunCurves>& runs, int width = kCurvesWidth, int height = kCurvesHeight,
                    CurvesX x = CurvesX::step);

// draw_curves, written as a PNG atomically (io/image.hpp's write_png).
void write_curves_png(const std::string& path, const std::vector<RunCurves>& runs, int width = kCurvesWidth,
                      int height = kCurvesHeight, CurvesX x = CurvesX::step);

}  // namespace dcgan
