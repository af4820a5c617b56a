// dcgan plot: the training curves of one or more runs on one chart (dcgan/plot/curves.hpp).
#include <set>

#include "dcgan/error.hpp"
#include "dcgan/plot/curves.hpp"
#include "io/atomic_file.hpp"
#include "cli/commands.hpp"

namespace dcgan::cli {

void add_plot(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "plot", "Draw the training curves of runs on one chart to compare them (losses, D(x) and D(G(z)), img/s, FID "
              "against step; each run also keeps its own in RUN/samples/curves.png)");
  struct Opts {
    std::vector<std::string> runs;
    std::string out = "curves.png";
    int width = kCurvesWidth, height = kCurvesHeight;
    std::string x = "step";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("runs", o->runs, "Run directories (each holds metrics.jsonl) or metrics.jsonl files, 1 to 10")
      ->required();
  cmd->add_option("--out", o->out, "The chart, a PNG")->capture_default_str();
  cmd->add_option("--width", o->width, "Width in pixels, 400 to 8192")->check(CLI::Range(400, 8192))
      ->capture_default_str();
  cmd->add_option("--height", o->height, "Height in pixels, 300 to 8192")->check(CLI::Range(300, 8192))
      ->capture_default_str();
  cmd->add_option("--x", o->x, "The x axis: step, or seconds (each run's training wall time, elapsed_s: compares "
                               "runs whose steps cost different times)")
      ->check(CLI::IsMember({"step", "seconds"}))->capture_default_str();
  cmd->callback([o] {
    if (o->runs.size() > 10)
      throw ConfigError(fmt::format("dcgan plot: {} runs given, at most 10 fit on one chart", o->runs.size()),
                        "plot them in groups");
    std::vector<RunCurves> runs;
    std::multiset<std::string> names;
    for (const std::string& r : o->runs) {
      runs.push_back(read_run_curves(r));
      names.insert(runs.back().name);
    }
    // Two runs of the same name (a/run, b/run) are labelled by the paths given instead.
    for (size_t i = 0; i < runs.size(); ++i)
      if (names.count(runs[i].name) > 1) runs[i].name = o->runs[i];
    prepare_output_file(o->out);  // an unwritable --out is refused before drawing
    write_curves_png(o->out, runs, o->width, o->height, o->x == "seconds" ? CurvesX::seconds : CurvesX::step);
    size_t logged = 0;
    for (const RunCurves& r : runs) logged += r.steps.size();
    fmt::print("wrote {} ({}x{}): {} run(s), {} logged steps\n", o->out, o->width, o->height, runs.size(), logged);
  });
}

}  // namespace dcgan::cli
