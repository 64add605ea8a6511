export { violations } from '../../agent/src/lab/invariants.js';
