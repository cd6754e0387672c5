#!/usr/bin/env node
// The published entry point runs the compiled CLI; `npm run build` produces it.
import '../dist/src/cli/main.js';
