#!/usr/bin/env node
// A native-solc command line over solc-js (npm `solc`), for py-solc-x / ape-solidity / forge.
// No native solc can be installed on this project's machines (see README, "Toolchain").
// Speaks the subset those tools use: `--version` and `--standard-json` (stdin -> stdout),
// accepting and honouring --base-path / --include-path / --allow-paths.
'use strict';
const fs = require('fs');
const path = require('path');

const projectRoot = path.resolve(__dirname, '..');
const solc = require(path.join(projectRoot, 'node_modules', 'solc'));

function writeAll(fd, text) {
  // solc-js exits right after writing when used as a CLI, which truncates piped output at 64 KiB.
  // Writing synchronously in a loop (retrying EAGAIN on non-blocking pipes) delivers every byte.
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function readStdin() {
  const chunks = [];
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') continue; // non-blocking pipe not ready yet
      if (e.code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function main(argv) {
  if (argv.includes('--version')) {
    writeAll(1, `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    return 0;
  }
  if (!argv.includes('--standard-json')) {
    writeAll(2, 'solc-shim: only --version and --standard-json are supported\n');
    return 1;
  }
  const roots = [];
  for (const flag of ['--base-path', '--include-path', '--allow-paths']) {
    argv.forEach((a, i) => {
      if (a === flag && argv[i + 1]) roots.push(...argv[i + 1].split(','));
    });
  }
  roots.push(process.cwd());
  const findImports = (p) => {
    const candidates = path.isAbsolute(p) ? [p] : roots.map((r) => path.resolve(r, p));
    for (const c of candidates) {
      if (fs.existsSync(c) && fs.statSync(c).isFile()) return { contents: fs.readFileSync(c, 'utf8') };
    }
    return { error: `File not found: ${p} (searched ${roots.join(', ')})` };
  };
  const input = readStdin();
  writeAll(1, solc.compile(input, { import: findImports }));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
