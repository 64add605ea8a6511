// The install step of the netlink addon (run by `npm install` / `npm ci`): a prebuild for this
// platform if one is shipped, else a build from source with node-gyp. It never fails the
// install: without the addon the agent falls back to the ffi backend and says so at start.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function loads() {
  try {
    require('node-gyp-build')(dir);
    return true;
  } catch {
    return false;
  }
}

if (process.env.INFRAVISOR_SKIP_NATIVE === '1') process.exit(0);
if (loads()) {
  console.log('infravisor: netlink addon ready (prebuild or earlier build)');
  process.exit(0);
}
const gyp = (() => {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return null;
  }
})();
const r = gyp ? spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: dir, stdio: 'inherit' }) : { status: 1 };
if (r.status === 0 && loads()) {
  console.log('infravisor: netlink addon built from source');
} else {
  console.warn('infravisor: the netlink addon could not be built here (a C++ toolchain and Node headers are needed); the agent will use the ffi backend');
}
