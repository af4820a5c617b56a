// `dcgan train --serve`: a read-only web page of the running job (its fixed-noise grid and its
// losses against step), as a TrainingObserver. The training thread hands it numbers and, now and
// then, a freshly encoded grid; HTTP threads only read those copies under a mutex, so a request
// never touches the run or its networks. Endpoints: docs/serving.md.
#pragma once
#include <memory>

#include "dcgan/train/observer.hpp"
#include "serve/server.hpp"

namespace dcgan::serve {

// Starts the server in on_start (so a taken port stops the run before any training) and prints
// its address to stderr; stops it when the observer is destroyed, at the end of the run.
std::unique_ptr<TrainingObserver> make_live_view(const ServerOptions& options);

}  // namespace dcgan::serve
