// Weft's browser SDK as an ES module:
//   import { paragon } from 'https://weft.example.com/sdk/connect.mjs';
// The SDK itself is connect.js (a classic script, evaluated here as a module
// for its effect: `globalThis.paragon`); this file names the server the SDK
// talks to, the origin this module was loaded from.
import './connect.js';

const { paragon } = globalThis;
paragon.useScriptUrl(import.meta.url);

export { paragon };
export default paragon;
