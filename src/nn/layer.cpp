#include "nn/layer.hpp"

#include "dcgan/error.hpp"

namespace dcgan {

Shape Layer::prepare_layout(const Shape& in, ops::Impl impl, int in_block, bool, int& out_block) {
  DCGAN_CHECK(in_block == 0, "[{}] this layer takes NCHW input only (got channel block {})",
              name_.empty() ? describe() : name_, in_block);
  out_block = 0;
  return prepare(in, impl);
}

}  // namespace dcgan
