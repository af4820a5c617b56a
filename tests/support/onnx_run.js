// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node, in .deps/node_modules: run with
// NODE_PATH=.deps/node_modules) on one float32 .npy input and writes its one output as .npy:
//
//   node tests/support/onnx_run.js MODEL.onnx INPUT_NAME IN.npy OUTPUT_NAME OUT.npy
//
// The tests' independent runtime for `dcgan export` (tests/e2e/test_export.cpp): no code of ours
// reads the model, so a wrong graph cannot be hidden by a matching mistake on our side.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

// A little-endian float32, C-order .npy (what `dcgan sample` and numpy.save write).
function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  if (!/'descr': '<f4'/.test(header) || /'fortran_order': True/.test(header))
    throw new Error(`${path}: want little-endian float32 in C order, header ${header}`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const offset = start + headerLen;
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + count * 4));
  return { shape, data };
}

function writeNpy(path, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const [model, inputName, inPath, outputName, outPath] = process.argv.slice(2);
  if (!outPath) throw new Error('usage: onnx_run.js MODEL.onnx INPUT_NAME IN.npy OUTPUT_NAME OUT.npy');
  const session = await ort.InferenceSession.create(model);
  const x = readNpy(inPath);
  const result = await session.run({ [inputName]: new ort.Tensor('float32', x.data, x.shape) });
  const y = result[outputName];
  if (!y) throw new Error(`${model}: no output named ${outputName} (has ${session.outputNames.join(', ')})`);
  writeNpy(outPath, y.dims, y.data);
  console.log(`ran ${model}: ${inputName} [${x.shape}] -> ${outputName} [${y.dims}]`);
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
